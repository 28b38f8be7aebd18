"""Classifier heads on Luxical (or any SentenceTransformer) embeddings: train from a labelled dataset,
evaluate on held-out data, save, load and predict.

    python -m luxical_st.curate.heads train --model MODEL --dataset offline:rotten_tomatoes --output DIR
    python -m luxical_st.curate.heads predict --head DIR --input texts.parquet --output scores.parquet

`--dataset` takes a Hub id, a local parquet/JSON/CSV file, a `save_to_disk` folder, or one of the
packaged sets `offline:rotten_tomatoes` (12.8k review snippets, fresh/rotten) and
`offline:news_outlets` (3.8k news articles, 9 outlets) and `offline:wiki_topics` (9k Wikipedia lead
summaries, 11 vital-article topics), which Luxical training never reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.curate.head_model import KINDS, PROBE_TEXT, TASKS, ClassifierHead
from luxical_st.curate.head_training import (
    calibrate,
    evaluate_head,
    fasttext_metrics,
    fit_layers,
    uncalibrated_metrics,
)
from luxical_st.curate.inputs import text_list
from luxical_st.embedding_format import FORMAT_FILE, embeddings_of, format_of, read_stored
from luxical_st.extras import require_extra

PREDICT_ROWS = 65_536

OFFLINE_PREFIX = "offline:"
OFFLINE_DATASETS = ("rotten_tomatoes", "news_outlets", "wiki_topics")


def _offline(name: str) -> tuple[list[str], list[Any]]:
    if name == "rotten_tomatoes":
        from luxical_st.evaluation.sources import rotten_tomatoes_reviews

        texts, labels = rotten_tomatoes_reviews()
        return texts, ["fresh" if label else "rotten" for label in labels]
    if name == "news_outlets":
        from luxical_st.evaluation.sources import news_articles

        articles = news_articles()
        return [a.text for a in articles], [a.outlet for a in articles]
    if name == "wiki_topics":
        from luxical_st.evaluation.sources import wikipedia_articles

        pages = [a for a in wikipedia_articles() if a.topic and a.topic != "Uncategorized"]
        return [a.text for a in pages], [a.topic for a in pages]
    raise ValueError(f"unknown packaged dataset {OFFLINE_PREFIX}{name}; known: {', '.join(OFFLINE_DATASETS)}")


def load_labelled(
    dataset: str, text_column: str = "text", label_column: str = "label", split: str = "train"
) -> tuple[list[str], list[Any]]:
    """Texts and raw labels (ClassLabel ids become their names) of a labelled dataset."""
    if dataset.startswith(OFFLINE_PREFIX):
        return _offline(dataset.removeprefix(OFFLINE_PREFIX))
    from datasets import ClassLabel, Dataset, load_dataset, load_from_disk

    path = Path(dataset)
    if path.is_dir() and (path / "dataset_info.json").exists():
        data: Any = load_from_disk(str(path))
    elif path.is_file():
        builder = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}.get(path.suffix)
        if builder is None:
            raise ValueError(f"{dataset}: use a .parquet, .csv, .json or .jsonl file")
        data = load_dataset(builder, data_files=str(path), split="train")
    else:
        data = load_dataset(dataset, split=split)
    if not isinstance(data, Dataset):
        data = data[split]
    missing = [c for c in (text_column, label_column) if c not in data.column_names]
    if missing:
        raise ValueError(f"{dataset} has no column(s) {missing}; columns: {data.column_names}")
    labels = list(data[label_column])
    feature = data.features[label_column]
    inner = getattr(feature, "feature", None)
    if isinstance(feature, ClassLabel):
        labels = [feature.int2str(v) for v in labels]
    elif isinstance(inner, ClassLabel):
        labels = [[inner.int2str(v) for v in row] for row in labels]
    return [str(t) for t in data[text_column]], labels


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # None or NaN


def check_labels(labels: Sequence[Any]) -> None:
    """Refuse labels that would silently become wrong classes: a null (None or NaN) label, which would
    be a class 'None' of its own, and a plain value among multi-label lists (a string would be split
    into its characters), or a null inside a list."""
    rows = [i for i, value in enumerate(labels) if _is_null(value)]
    if rows:
        raise ValueError(f"{len(rows)} labels are null (rows {rows[:5]}): drop or label those rows")
    lists = [isinstance(v, list | tuple) for v in labels]
    if any(lists) and not all(lists):
        row = lists.index(False)
        raise ValueError(
            f"multi-label rows are lists of labels, but row {row} holds {labels[row]!r}: "
            f"write it as [{labels[row]!r}]"
        )
    for row, values in enumerate(labels):
        if isinstance(values, list | tuple) and any(
            _is_null(v) or isinstance(v, list | tuple) for v in values
        ):
            raise ValueError(f"row {row}'s labels {values!r} hold a null or a nested list")


def infer_task(labels: Sequence[Any]) -> str:
    """multilabel for list labels, regression for non-integer numbers, else binary or multiclass."""
    if any(isinstance(v, list | tuple) for v in labels):
        return "multilabel"
    numbers = [v for v in labels if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(labels) and any(float(v) != int(v) for v in numbers):
        return "regression"
    return "binary" if len(set(labels)) == 2 else "multiclass"


@dataclass
class Targets:
    """Labels encoded for fitting: class indices, an indicator matrix or floats, and the label names."""

    y: np.ndarray
    names: list[str]


def encode_targets(labels: Sequence[Any], task: str, names: list[str] | None = None) -> Targets:
    """Encode raw labels; pass `names` to encode a test split with the training split's label order."""
    if task == "regression":
        return Targets(np.asarray(labels, dtype=np.float64), [])
    if task == "multilabel":
        names = names or sorted({str(v) for row in labels for v in row})
        index = {name: i for i, name in enumerate(names)}
        y = np.zeros((len(labels), len(names)), dtype=np.int64)
        for row, values in enumerate(labels):
            for value in values:
                if str(value) in index:
                    y[row, index[str(value)]] = 1
        return Targets(y, names)
    strings = [str(v) for v in labels]
    names = names or sorted(set(strings), key=lambda s: (len(s), s) if s.lstrip("-").isdigit() else (0, s))
    if task == "binary" and len(names) != 2:
        raise ValueError(f"a binary task needs exactly 2 labels, got {len(names)}: {names[:10]}")
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(strings) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown[:10]} were not seen in training")
    return Targets(np.array([index[s] for s in strings], dtype=np.int64), names)


def split_indices(
    n: int, y: np.ndarray, fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held out) row indices, sorted; `fraction` of the rows held out, stratified by `y` if asked."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(n)
    if fraction <= 0:
        return indices, indices[:0]
    try:
        first, second = train_test_split(
            indices, test_size=fraction, random_state=seed, stratify=y if stratify else None
        )
    except ValueError:  # a class too small to stratify
        first, second = train_test_split(indices, test_size=fraction, random_state=seed)
    return np.sort(first), np.sort(second)


def fit_head(
    embeddings: np.ndarray,
    labels: Sequence[Any],
    task: str | None = None,
    kind: str = "logreg",
    test_fraction: float = 0.2,
    calibration_fraction: float = 0.1,
    binarize_at: float | None = None,
    seed: int = 42,
    c: float = 1.0,
    hidden: int = 256,
    texts: Sequence[str] | None = None,
    fasttext: bool = False,
) -> ClassifierHead:
    """Fit a head on stored embeddings: a stratified held-out test split (metrics), a calibration split
    (Platt scaling or a temperature), the rest to fit. `binarize_at`: binary task of label >= value for
    classification; for regression, also report ROC AUC at that value. With `texts` and `fasttext`, a
    fastText classifier on the same split is evaluated beside it (binary and multiclass)."""
    require_extra("curate", "training a classifier head")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    x = np.asarray(embeddings, dtype=np.float32)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} embeddings but {len(labels)} labels")
    raw = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
    check_labels(raw)
    if binarize_at is not None and task != "regression":
        raw = [int(float(v) >= binarize_at) for v in raw]
        task = "binary"
    task = task or infer_task(raw)
    targets = encode_targets(raw, task)
    stratify = task in ("binary", "multiclass")
    rest, test = split_indices(len(x), targets.y, test_fraction, seed, stratify)
    calibrating = task != "regression" and calibration_fraction > 0
    fit_part, cal_part = split_indices(
        len(rest), targets.y[rest], calibration_fraction if calibrating else 0, seed, stratify
    )
    fit_idx, cal_idx = rest[fit_part], rest[cal_part]
    layers = fit_layers(x[fit_idx], targets.y[fit_idx], task, kind, seed=seed, c=c, hidden=hidden)
    value_range = None
    if task == "regression":
        value_range = (float(targets.y[fit_idx].min()), float(targets.y[fit_idx].max()))
    head = ClassifierHead(task=task, kind=kind, layers=layers, labels=targets.names, value_range=value_range)
    calibrate(head, x[cal_idx], targets.y[cal_idx])
    metrics: dict[str, Any] = {"n_fit": len(fit_idx), "n_calibration": len(cal_idx), "n_test": len(test)}
    if len(test):
        metrics["test"] = evaluate_head(head, x[test], targets.y[test], binarize_at=binarize_at)
        if head.calibration != "none":
            metrics["test_uncalibrated"] = uncalibrated_metrics(head, x[test], targets.y[test])
        if fasttext and texts is not None and task in ("binary", "multiclass"):
            train_idx = rest  # fastText has nothing to calibrate: it fits on fit + calibration rows
            metrics["fasttext"] = fasttext_metrics(
                task,
                [texts[i] for i in train_idx],
                targets.y[train_idx],
                [texts[i] for i in test],
                targets.y[test],
                len(targets.names),
                seed=seed,
            )
    head.metrics = metrics
    return head


def train_head(
    model: Any,
    texts: Sequence[str],
    labels: Sequence[Any],
    batch_size: int = 256,
    reference: str | None = None,
    trust_remote_code: bool = False,
    **kwargs: Any,
) -> ClassifierHead:
    """Embed `texts` with `model` (a folder or Hub id, or a loaded SentenceTransformer with its folder or
    Hub id as `reference`) and `fit_head` on them; the head keeps the reference and the model's probe
    embedding. A model that ships its own code loads only with `trust_remote_code`. kwargs go to
    `fit_head`."""
    from luxical_st.loading import load_sentence_transformer

    if isinstance(model, str | Path):
        reference = reference or str(model)
        encoder = load_sentence_transformer(
            str(model), trust_remote_code, how_to_opt_in="--trust-remote-code"
        )
    else:
        encoder = model
    embeddings = encoder.encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
    )
    head = fit_head(embeddings, labels, texts=texts, **kwargs)
    head.model = reference
    head.probe = np.asarray(encoder.encode([PROBE_TEXT], convert_to_numpy=True), np.float32)[0]
    head.set_encoder(encoder)
    return head


# ---------------------------------------------------------------------- command line


def _train(args: argparse.Namespace) -> None:
    from luxical_st.remote_code import check_remote_code

    check_remote_code(args.model, args.trust_remote_code, "--trust-remote-code")
    texts, labels = load_labelled(args.dataset, args.text_column, args.label_column, args.split)
    if args.max_docs and args.max_docs < len(texts):
        keep = np.sort(np.random.default_rng(args.seed).permutation(len(texts))[: args.max_docs])
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    head = train_head(
        args.model, texts, labels, batch_size=args.batch_size, trust_remote_code=args.trust_remote_code,
        task=args.task, kind=args.kind,
        test_fraction=args.test_fraction, calibration_fraction=args.calibration_fraction,
        binarize_at=args.binarize_at, seed=args.seed, c=args.c, hidden=args.hidden, fasttext=args.fasttext,
    )  # fmt: skip
    head.info = {
        "dataset": args.dataset,
        "split": args.split,
        "text_column": args.text_column,
        "label_column": args.label_column,
        "max_docs": args.max_docs,
        "binarize_at": args.binarize_at,
        "seed": args.seed,
    }
    head.save(args.output)
    print(json.dumps({"output": args.output, "task": head.task, "kind": head.kind, **head.metrics}, indent=2))


def _same_reference(a: str, b: str) -> bool:
    if a == b:
        return True
    try:  # one local folder named two ways
        return Path(a).exists() and Path(b).exists() and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def check_same_model(stored: str | None, head_model: str | None, where: str, head: str) -> None:
    """Refuse stored embeddings whose format file names another model than the head was trained on
    (either reference unknown: nothing to compare)."""
    if stored and head_model and not _same_reference(stored, head_model):
        raise ValueError(
            f"the stored embeddings are of model {stored!r} ({where}), but the head {head} was trained "
            f"on {head_model!r}: its scores of them would be meaningless; embed the texts with the "
            "head's model, or predict from the text column"
        )


def _predict(args: argparse.Namespace) -> None:
    require_extra("curate", "predicting with a classifier head")
    import pyarrow as pa
    import pyarrow.parquet as pq

    head = ClassifierHead.load(args.head, trust_remote_code=args.trust_remote_code)
    column = args.embedding_column or args.text_column
    table = read_stored(args.input, [column] + ([args.id_column] if args.id_column else []))
    if args.embedding_column:
        where = f"{args.input}: column {column!r}"
        fmt = format_of(args.input)
        check_same_model(fmt.model if fmt else None, head.model, f"{args.input}'s {FORMAT_FILE}", args.head)
        inputs: Any = embeddings_of(table.column(column), fmt, where, lazy=True)
    else:
        inputs = text_list(table.column(column), f"{args.input}: column {column!r}")
    values: list[Any] = []
    probabilities = []
    for start in range(0, len(inputs), PREDICT_ROWS):  # one chunk of floats in memory at a time
        embeddings = head.embed(inputs[start : start + PREDICT_ROWS], batch_size=args.batch_size)
        predictions = head.predict(embeddings)  # texts are embedded once, for both calls
        values += predictions.tolist() if isinstance(predictions, np.ndarray) else predictions
        if head.task != "regression":
            probabilities.append(head.predict_proba(embeddings).astype(np.float32))
    columns: dict[str, Any] = {args.id_column: table.column(args.id_column)} if args.id_column else {}
    columns["prediction"] = pa.array(values)
    if head.task != "regression":
        stacked = np.concatenate([np.zeros((0, len(head.labels)), np.float32), *probabilities])
        columns.update({f"p_{name}": pa.array(stacked[:, j]) for j, name in enumerate(head.labels)})
    pq.write_table(pa.table(columns), args.output)
    print(f"wrote {len(inputs)} predictions to {args.output}")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m luxical_st.curate.heads", description=__doc__.split("\n")[0]
    )
    commands = main.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train, evaluate and save a head")
    train.add_argument("--model", required=True, help="embedding model folder or Hub id")
    train.add_argument(
        "--dataset", required=True, help="Hub id, parquet/CSV/JSON file, folder or offline:NAME"
    )
    train.add_argument("--text-column", default="text")
    train.add_argument("--label-column", default="label")
    train.add_argument("--split", default="train")
    train.add_argument("--output", required=True, help="folder of the saved head")
    train.add_argument("--task", choices=TASKS, default=None, help="default: inferred from the labels")
    train.add_argument("--kind", choices=KINDS, default="logreg")
    train.add_argument("--binarize-at", type=float, default=None, help="label >= value is positive")
    train.add_argument("--test-fraction", type=float, default=0.2)
    train.add_argument("--calibration-fraction", type=float, default=0.1)
    train.add_argument("--max-docs", type=int, default=None)
    train.add_argument("--c", type=float, default=1.0, help="logistic C (ridge alpha = 1/C)")
    train.add_argument("--hidden", type=int, default=256, help="MLP hidden width")
    train.add_argument("--fasttext", action="store_true", help="evaluate fastText on the same split")
    predict = commands.add_parser("predict", help="predict a parquet file's texts or embeddings")
    predict.add_argument("--head", required=True, help="head folder or Hub repo id")
    predict.add_argument("--input", required=True, help="parquet file, folder of parquet shards or glob")
    predict.add_argument("--output", required=True, help="parquet file of ids, predictions, probabilities")
    predict.add_argument("--text-column", default="text")
    predict.add_argument(
        "--embedding-column", default=None, help="stored embeddings (e.g. luxical-embed's) instead of texts"
    )
    predict.add_argument("--id-column", default=None)
    for command in (train, predict):
        command.add_argument("--batch-size", type=int, default=256)
        command.add_argument("--seed", type=int, default=42)
        command.add_argument("--trust-remote-code", action="store_true", help="run code a Hub model ships")
    return main


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    (_train if args.command == "train" else _predict)(args)


if __name__ == "__main__":
    main(sys.argv[1:])

__all__ = [
    "ClassifierHead",
    "encode_targets",
    "fit_head",
    "infer_task",
    "load_labelled",
    "main",
    "split_indices",
    "train_head",
]
