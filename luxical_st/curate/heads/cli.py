"""Classifier heads on Luxical (or any SentenceTransformer) embeddings: train from a labelled dataset,
evaluate on held-out data, save, load and predict: the command line (`python -m luxical_st.curate.heads`).

    python -m luxical_st.curate.heads train --model MODEL --dataset offline:rotten_tomatoes --output DIR
    python -m luxical_st.curate.heads predict --head DIR --input texts.parquet --output scores.parquet

`--dataset` takes a Hub id, a local parquet/JSON/CSV file, a `save_to_disk` folder, or one of the
packaged sets `offline:rotten_tomatoes`, `offline:news_outlets` and `offline:wiki_topics`
(`curate.heads.labelled`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.curate.heads.fitting import train_head
from luxical_st.curate.heads.labelled import load_labelled
from luxical_st.curate.inputs import text_list
from luxical_st.embedding_format import FORMAT_FILE, embeddings_of, format_of, read_stored
from luxical_st.extras import require_extra
from luxical_st.head_model import KINDS, TASKS, ClassifierHead

PREDICT_ROWS = 65_536


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


__all__ = ["check_same_model", "main", "parser"]
