"""Command line of the data steps: argument parsing only, the work is the library functions'.

    python -m luxical_st.data.commands teacher --dataset quickstart --output DIR
    python -m luxical_st.data.commands vocabulary --dataset quickstart --output vocab.npz --capacity 2000000

`teacher` writes uint8 teacher targets (Luxical step 1: `targets.compute_teacher_targets`), `vocabulary`
mines and saves the n-gram vocabulary (step 2: `vocabulary.mine_vocabulary`). Both read the corpus that
the `--dataset ...` options describe (`corpus.load_text_dataset`).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from typing import Any

from luxical_st.data.corpus import first_documents, load_text_dataset
from luxical_st.data.targets import compute_teacher_targets, read_targets_metadata
from luxical_st.data.teacher import DEFAULT_TEACHER, TEACHER_BACKENDS, TEACHER_DTYPES, load_teacher
from luxical_st.data.vocabulary import mine_vocabulary
from luxical_st.records import write_atomic

PROG = "python -m luxical_st.data.commands"


def _add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose a corpus, shared by both commands."""
    parser.add_argument("--dataset", default="quickstart", help="'quickstart', a local path or a Hub id")
    parser.add_argument("--split", default="train")
    parser.add_argument("--data-files", default=None, help="glob of data files inside a Hub dataset")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--streaming", action="store_true", help="stream the dataset")
    parser.add_argument("--max-documents", type=int, default=None, help="use only the first N documents")


def _corpus(args: argparse.Namespace) -> Any:
    """The corpus that the corpus options describe, cut to --max-documents."""
    dataset = load_text_dataset(
        args.dataset,
        split=args.split,
        text_column=args.text_column,
        id_column=args.id_column,
        streaming=args.streaming,
        data_files=args.data_files,
    )
    return first_documents(dataset, args.max_documents)


def _add_teacher_command(commands: Any) -> None:
    parser = commands.add_parser("teacher", help="Luxical step 1: uint8 teacher targets of a corpus")
    _add_corpus_arguments(parser)
    parser.add_argument("--output", required=True, help="folder for the target shards")
    parser.add_argument(
        "--teacher", default=None, help=f"teacher id or folder (default offline MiniLM; or {DEFAULT_TEACHER})"
    )
    parser.add_argument("--dimensions", type=int, default=256, help="leading (Matryoshka) dims kept")
    parser.add_argument("--limit", type=float, default=0.3, help="uint8 codes cover [-limit, limit]")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--shard-size", type=int, default=10_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let the teacher run the code it ships (Arctic needs it)",
    )
    parser.add_argument("--dtype", default="float32", choices=TEACHER_DTYPES)
    parser.add_argument(
        "--backend", default="torch", choices=TEACHER_BACKENDS, help="torch or OpenVINO (CPU)"
    )
    parser.set_defaults(run=_teacher)


def _teacher(args: argparse.Namespace) -> None:
    dataset = _corpus(args)
    teacher = load_teacher(
        args.teacher,
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
        backend=args.backend,
    )
    output = compute_teacher_targets(
        dataset,
        teacher,
        args.output,
        dimensions=args.dimensions,
        limit=args.limit,
        batch_size=args.batch_size,
        shard_size=args.shard_size,
    )
    print(json.dumps(read_targets_metadata(output), indent=2))


def _add_vocabulary_command(commands: Any) -> None:
    parser = commands.add_parser("vocabulary", help="Luxical step 2: the n-gram vocabulary of a corpus")
    _add_corpus_arguments(parser)
    parser.add_argument("--output", required=True, help="vocabulary .npz file to write")
    parser.add_argument("--capacity", type=int, required=True, help="Space-Saving summary slots")
    parser.add_argument("--max-ngram-length", type=int, default=5)
    parser.add_argument("--min-count-multiple", type=float, default=8.0)
    parser.add_argument("--max-vocabulary-size", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=1000, help="documents tokenized per batch")
    parser.add_argument(
        "--tokenizer", default=None, help="tokenizer.json/folder/Hub id (default bert-base-uncased)"
    )
    parser.set_defaults(run=_vocabulary)


def _vocabulary(args: argparse.Namespace) -> None:
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    vocabulary = mine_vocabulary(
        (row["text"] for row in _corpus(args)),
        load_wordpiece_tokenizer(args.tokenizer),
        capacity=args.capacity,
        max_ngram_length=args.max_ngram_length,
        min_count_multiple=args.min_count_multiple,
        max_vocabulary_size=args.max_vocabulary_size,
        batch_size=args.batch_size,
    )
    output = write_atomic(args.output, vocabulary.save)
    counts = vocabulary.counts
    print(f"{len(vocabulary):,} n-grams (counts {counts[0]:,} to {counts[-1]:,}) -> {output}")


def main(argv: Sequence[str] | None = None) -> None:
    """`teacher ...` or `vocabulary ...`: one data step on a corpus."""
    parser = argparse.ArgumentParser(prog=PROG, description="Luxical's data steps.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{teacher,vocabulary}")
    _add_teacher_command(commands)
    _add_vocabulary_command(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.run(args)


if __name__ == "__main__":
    main()
