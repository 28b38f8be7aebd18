"""Write an evaluation as JSON, a Markdown table and PNG plots (ROC curves; quality against speed).

The results dict that every function here reads:
`{"models": {name: {"path", "facts"}}, "mteb": {name: {task: {"main_score", "metric", ...}}},
"edu": run_edu_experiment(...) | None, "speed": {name: SpeedResult dict} | None}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.evaluation.edu import DOCS_PER_TIMING

CLASSIFIER_LABELS = {"logreg": "logistic regression", "mlp": "2-layer MLP"}
CLASSIFIER_STYLES = {"logreg": "-", "mlp": "-."}
FASTTEXT_COLOR = "black"


def model_colors(models: list[str]) -> dict[str, str]:
    """One matplotlib colour per model, the same in every plot."""
    return {model: f"C{index % 10}" for index, model in enumerate(models)}


def task_names(results: dict[str, Any]) -> list[str]:
    """Every task any model was scored on, in first-seen order."""
    names: dict[str, None] = {}
    for scores in (results.get("mteb") or {}).values():
        names.update(dict.fromkeys(scores))
    return list(names)


WORD_CATEGORY = "words"
"""Single-word similarity: shown, but left out of the overall average (documents are the headline)."""


def task_categories(results: dict[str, Any]) -> dict[str, str]:
    """Task -> category (as `run_mteb` recorded it; the mteb type for tasks without one)."""
    categories: dict[str, str] = {}
    for scores in (results.get("mteb") or {}).values():
        for task, entry in scores.items():
            categories.setdefault(task, str(entry.get("category") or entry.get("type") or "other"))
    return categories


def _main_score(entry: dict[str, Any]) -> float:
    """An undefined score (NaN: e.g. TF-IDF gives every pair of distinct words similarity 0, so no rank
    correlation exists) counts as 0, the score of a model that cannot rank at all."""
    return float(np.nan_to_num(entry["main_score"], nan=0.0))


def category_scores(results: dict[str, Any], model: str) -> dict[str, float | None]:
    """Mean main score per category (None where the model lacks a task of that category)."""
    scores = (results.get("mteb") or {}).get(model, {})
    by_category: dict[str, list[str]] = {}
    for task, category in task_categories(results).items():
        by_category.setdefault(category, []).append(task)
    return {
        category: (
            float(np.mean([_main_score(scores[task]) for task in tasks]))
            if all(task in scores for task in tasks)
            else None
        )
        for category, tasks in by_category.items()
    }


def mteb_average(results: dict[str, Any], model: str) -> float | None:
    """The overall score: the mean of the category means ("words" left out unless it is all there is);
    None unless the model has a score for every task."""
    categories = category_scores(results, model)
    headline = {name: value for name, value in categories.items() if name != WORD_CATEGORY} or categories
    if not headline or any(value is None for value in headline.values()):
        return None
    return float(np.mean([value for value in headline.values() if value is not None]))


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_table(results: dict[str, Any]) -> str:
    """Rows = models; columns = category means, the overall score, edu AUCs and speed. Then one row
    per task with every model's main score, and the edu classifiers (fastText included) with AUC
    and inference seconds per 40k docs."""
    categories = list(dict.fromkeys(task_categories(results).values()))
    edu = results.get("edu")
    speed = results.get("speed") or {}
    header = ["model", "params", "dim", *categories]
    header += ["overall"] if categories else []
    header += ["edu AUC logreg", "edu AUC MLP"] if edu else []
    header += ["docs/s", "MiB/s", "x first"] if speed else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, info in results["models"].items():
        facts = info.get("facts", {})
        row = [model, f"{facts.get('n_parameters', 0) / 1e6:.1f}M", str(facts.get("embed_dim", "-"))]
        by_category = category_scores(results, model)
        row += [_number(by_category.get(category)) for category in categories]
        row += [_number(mteb_average(results, model))] if categories else []
        if edu:
            classifiers = edu["models"].get(model, {})
            row += [_number(classifiers.get(name, {}).get("auc")) for name in ("logreg", "mlp")]
        if speed:
            entry = speed.get(model)
            row += (
                [_number(entry["docs_per_s"], 0), _number(entry["mib_per_s"], 2), _number(entry["ratio"], 2)]
                if entry
                else ["-"] * 3
            )
        lines.append("| " + " | ".join(row) + " |")
    if categories:
        lines += ["", task_table(results)]
    if edu:
        lines += ["", edu_table(edu)]
    return "\n".join(lines) + "\n"


def task_table(results: dict[str, Any]) -> str:
    """One row per task (category, metric) with every model's main score."""
    models = list(results["models"])
    mteb = results.get("mteb") or {}
    lines = ["| task | category | metric | " + " | ".join(models) + " |", "|" + "---|" * (3 + len(models))]
    for task, category in task_categories(results).items():
        metric = next(scores[task]["metric"] for scores in mteb.values() if task in scores)
        row = [task, category, metric]
        row += [_number(mteb.get(m, {}).get(task, {}).get("main_score")) for m in models]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot_categories(results: dict[str, Any], path: str | Path) -> Path:
    """Grouped bars: every model's mean score per category, and the overall score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in results["models"] if (results.get("mteb") or {}).get(m)]
    categories = [*dict.fromkeys(task_categories(results).values()), "overall"]
    colors = model_colors(list(results["models"]))
    width = 0.8 / max(len(models), 1)
    figure, axis = plt.subplots(figsize=(max(8, 1.3 * len(categories)), 4.5))
    for index, model in enumerate(models):
        values = {**category_scores(results, model), "overall": mteb_average(results, model)}
        heights = [values.get(c) or 0.0 for c in categories]
        positions = np.arange(len(categories)) + (index - (len(models) - 1) / 2) * width
        axis.bar(positions, heights, width, label=model, color=colors[model])
    axis.set_xticks(np.arange(len(categories)), [c.replace(" ", "\n", 1) for c in categories], fontsize=7)
    axis.set_ylabel("mean main score")
    axis.legend(fontsize=7)
    axis.grid(True, axis="y", alpha=0.3)
    figure.suptitle("Offline suite by category (overall: mean of categories, words left out)")
    return _save(figure, path)


def edu_table(edu: dict[str, Any]) -> str:
    """The edu experiment: one row per classifier with ROC AUC and seconds per 40k documents."""
    lines = [
        f"Edu classifier on {edu['dataset']} ({edu['n_train']:,} train / {edu['n_test']:,} test, "
        f"{edu['positive_rate']:.1%} positive)",
        "",
        f"| classifier | ROC AUC | s / {DOCS_PER_TIMING // 1000}k docs |",
        "|---|---|---|",
        f"| fastText (raw text) | {edu['fasttext']['auc']:.3f} | {edu['fasttext']['seconds_per_40k']:.1f} |",
    ]
    for model, classifiers in edu["models"].items():
        for name, result in classifiers.items():
            label = f"{model} + {CLASSIFIER_LABELS.get(name, name)}"
            lines.append(f"| {label} | {result['auc']:.3f} | {result['seconds_per_40k']:.1f} |")
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def plot_roc(edu: dict[str, Any], path: str | Path) -> Path:
    """ROC curves of every edu classifier: a colour per model, a line style per classifier, fastText
    black and dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 6))
    colors = model_colors(list(edu["models"]))
    curves = [("fastText (raw text)", edu["fasttext"], "--", FASTTEXT_COLOR)]
    for model, classifiers in edu["models"].items():
        for name, result in classifiers.items():
            label = f"{model} + {CLASSIFIER_LABELS.get(name, name)}"
            curves.append((label, result, CLASSIFIER_STYLES.get(name, ":"), colors[model]))
    for label, result, style, color in curves:
        auc = result["auc"]
        axis.plot(result["fpr"], result["tpr"], style, color=color, label=f"{label} (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    axis.set(
        xlabel="false positive rate", ylabel="true positive rate", title=f"Edu classifier: {edu['dataset']}"
    )
    axis.legend(fontsize=7, loc="lower right")
    return _save(figure, path)


def plot_quality_vs_speed(results: dict[str, Any], path: str | Path) -> Path:
    """One point per model: offline-suite average against docs/s (log x); with an edu run, a second
    panel puts every edu classifier's AUC against its own inference docs/s, fastText included."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    speed = results.get("speed") or {}
    colors = model_colors(list(results["models"]))
    panels: list[tuple[str, str, list[tuple[str, float, float]]]] = []
    mteb_points = [
        (model, speed[model]["docs_per_s"], average)
        for model in results["models"]
        if model in speed and (average := mteb_average(results, model)) is not None
    ]
    if mteb_points:
        panels.append(("documents / s (log)", "MTEB average main score", mteb_points))
    edu = results.get("edu")
    if edu:
        edu_points = [
            ("fastText", DOCS_PER_TIMING / edu["fasttext"]["seconds_per_40k"], edu["fasttext"]["auc"])
        ]
        for model, classifiers in edu["models"].items():
            best = max(classifiers.values(), key=lambda result: result["auc"])
            edu_points.append((model, DOCS_PER_TIMING / best["seconds_per_40k"], best["auc"]))
        panels.append(("edu inference documents / s (log)", "edu ROC AUC (best classifier)", edu_points))
    if not panels:
        raise ValueError("quality vs speed needs speed together with MTEB scores, or an edu run")
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5), squeeze=False)
    for axis, (xlabel, ylabel, points) in zip(axes[0], panels, strict=True):
        for label, x, y in points:
            axis.scatter([x], [y], s=40, color=colors.get(label, FASTTEXT_COLOR))
            axis.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        axis.set_xscale("log")
        # Plain numbers at 1, 2 and 5 of each decade: the default minor-tick labels ("2x10^1 3x10^1 ...")
        # run into each other, and decades alone may leave a narrow range with no label at all.
        axis.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set(xlabel=xlabel, ylabel=ylabel)
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle("Quality against speed")
    return _save(figure, path)


def _save(figure: Any, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def write_report(results: dict[str, Any], output_dir: str | Path) -> dict[str, Path]:
    """results.json, results.md and the PNG plots that the results allow, in `output_dir`."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = {"json": write_json(results, folder / "results.json")}
    markdown = folder / "results.md"
    markdown.write_text(markdown_table(results), encoding="utf-8")
    written["markdown"] = markdown
    if task_categories(results):
        written["categories"] = plot_categories(results, folder / "categories.png")
    if results.get("edu"):
        written["roc"] = plot_roc(results["edu"], folder / "edu_roc.png")
    has_mteb_speed = results.get("speed") and any(
        mteb_average(results, m) is not None for m in results["models"]
    )
    if results.get("edu") or has_mteb_speed:
        written["quality_vs_speed"] = plot_quality_vs_speed(results, folder / "quality_vs_speed.png")
    return written
