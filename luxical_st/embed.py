"""`python -m luxical_st.embed INPUT OUTPUT_DIR --model MODEL`: embed a corpus into parquet shards on Ray.

INPUT is a parquet or JSONL file, folder or glob, or a Hub dataset id; OUTPUT_DIR receives one parquet
shard per input unit (the id column, `embedding` stored at `--precision`, a `score_<head>` column per
`--head`), `luxical_embedding.json` (how to dequantise) and, at the end, a COMPLETE marker. Rerunning
the same command after a kill embeds only the unfinished units: every document ends up exactly once.
Local Ray on this machine's CPUs by default; `--ray-address` joins a running cluster.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence


def parse_size(text: str) -> int:
    """Bytes from `4194304`, `4M`, `4MiB`, `512k`, `1G`."""
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    suffix = value[-1] if value and value[-1] in "kmg" else ""
    try:
        number = float(value[: len(value) - len(suffix)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4M, 512k)") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return int(number * units[suffix])


def build_parser() -> argparse.ArgumentParser:
    from luxical_st.quantization import STORED_PRECISIONS
    from luxical_st.scale.encoder import DEFAULT_BATCH_BYTES
    from luxical_st.scale.units import DEFAULT_UNIT_ROWS

    parser = argparse.ArgumentParser(
        prog="luxical-embed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("input", help="parquet/JSONL file, folder or glob, or a Hub dataset id")
    parser.add_argument("output_dir", help="folder of the embedding shards (resumed if it exists)")
    parser.add_argument("--model", required=True, help="Luxical SentenceTransformer folder or Hub id")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--precision", default="float32", choices=STORED_PRECISIONS)
    parser.add_argument("--head", action="append", default=[], help="classifier head folder (repeatable)")
    parser.add_argument("--workers", type=int, default=None, help="actors (default: CPUs / threads)")
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument(
        "--batch-bytes", type=parse_size, default=DEFAULT_BATCH_BYTES, help="text bytes per encode call"
    )
    parser.add_argument("--unit-rows", type=int, default=DEFAULT_UNIT_ROWS, help="rows per output shard")
    parser.add_argument("--data-files", default=None, help="glob inside a Hub dataset")
    parser.add_argument("--ray-address", default=None, help="join this Ray cluster (default: local Ray)")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow a model that ships code")
    parser.add_argument("--max-units", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`luxical-embed`; returns the exit status."""
    from luxical_st.extras import require_extra

    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.workers is not None and args.workers < 1) or args.threads_per_worker < 1:
        parser.error("--workers and --threads-per-worker must be >= 1")
    try:
        require_extra("scale", "luxical-embed")
    except ImportError as error:
        print(f"luxical-embed: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from luxical_st.scale.ray_embed import embed_files

    try:
        summary = embed_files(
            args.input,
            args.output_dir,
            args.model,
            text_column=args.text_column,
            id_column=args.id_column,
            precision=args.precision,
            heads=args.head,
            workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            batch_bytes=args.batch_bytes,
            unit_rows=args.unit_rows,
            data_files=args.data_files,
            ray_address=args.ray_address,
            trust_remote_code=args.trust_remote_code,
            max_units=args.max_units,
        )
    except (ValueError, TypeError, OSError) as error:  # OSError: a file, or a Hub id not reachable
        message = " ".join(str(error).split())
        if not isinstance(error, FileNotFoundError) and isinstance(error, OSError):
            from pathlib import Path

            if not Path(args.model).exists():
                message = (
                    f"--model {args.model} is no local folder, and loading it from the Hub failed: {message}"
                )
        print(f"luxical-embed: {message}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
