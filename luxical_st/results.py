"""evaluate.py's results: their layout, the check of a results file, the scores read from them (category
means, the overall score) and their Markdown tables. evaluate.py writes them and the model card reads
them, so they live in the core, below both.

The layout: `{"models": {name: {"path", "facts"}}, "mteb": {name: {task: {"main_score", "metric",
"category", ...}}} | None, "edu": {...} | None, "speed": {name: {"docs_per_s", "mib_per_s", "ratio", ...}}
| None}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

DOCS_PER_TIMING = 40_000
"""The edu experiment reports classifier inference time per this many documents."""
CLASSIFIER_LABELS = {"logreg": "logistic regression", "mlp": "2-layer MLP"}


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


def is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_evaluation_results(results: Any) -> dict[str, Any]:
    """evaluate.py's results (the layout above), checked where the card reads them:
    {"models": {name: {"path", "facts"}}, "mteb": {name: {task: {"main_score", "metric"}}} | None,
    "edu": ... | None, "speed": {name: {"docs_per_s", "mib_per_s", "ratio", ...}} | None}."""
    if not isinstance(results, Mapping):
        raise ValueError(f"evaluation results must be a JSON object, got {type(results).__name__}")
    if not isinstance(results.get("models"), Mapping) or not results["models"]:
        raise ValueError("evaluation results need a non-empty 'models' object (evaluate.py's results.json)")
    for name, scores in (results.get("mteb") or {}).items():
        for task, score in scores.items():
            if not isinstance(score, Mapping) or not is_number(score.get("main_score")):
                raise ValueError(
                    f"evaluation results: mteb score of {name!r} on {task!r} has no numeric main_score"
                )
            if "metric" not in score:
                raise ValueError(f"evaluation results: mteb score of {name!r} on {task!r} has no metric")
    for name, entry in (results.get("speed") or {}).items():
        if not isinstance(entry, Mapping) or not all(
            is_number(entry.get(key)) for key in ("docs_per_s", "mib_per_s", "ratio")
        ):
            raise ValueError(f"evaluation results: speed of {name!r} needs docs_per_s, mib_per_s and ratio")
    return dict(results)


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
        dimension = facts.get("embed_dim", "-") or "per task"  # None: a baseline fitted on each task
        row = [model, f"{facts.get('n_parameters', 0) / 1e6:.1f}M", str(dimension)]
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
