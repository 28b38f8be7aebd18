"""Write an evaluation as JSON, a Markdown table and PNG plots (ROC curves; quality against speed).

The results dict (its scores and tables: `luxical_st.results`):
`{"models": {name: {"path", "facts"}}, "mteb": {name: {task: {"main_score", "metric", ...}}},
"edu": run_edu_experiment(...) | None, "speed": {name: SpeedResult dict} | None}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.results import (
    CLASSIFIER_LABELS,
    DOCS_PER_TIMING,
    category_scores,
    markdown_table,
    mteb_average,
    task_categories,
)

CLASSIFIER_STYLES = {"logreg": "-", "mlp": "-."}
FASTTEXT_COLOR = "black"


def model_colors(models: list[str]) -> dict[str, str]:
    """One matplotlib colour per model, the same in every plot."""
    return {model: f"C{index % 10}" for index, model in enumerate(models)}


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
