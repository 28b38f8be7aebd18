"""The teacher-targets store of Luxical step 1: every training document's uint8 target row, on disk.

Output: parquet shards ``shard-00000.parquet`` ... with columns id, text and embedding (uint8[k]),
``run.json`` (the run's settings), ``metadata.json`` and a ``COMPLETE`` marker. Rows are the teacher's
(`teacher.embed_documents`): Matryoshka-truncated, L2-normalised, one byte per dimension, which keeps
50M documents' targets small enough to stream. Shard i holds documents
[i * shard_size, (i + 1) * shard_size) of the input order and is written atomically, so a killed run
restarts after its last finished shard and ends with every document exactly once. The Ray engine
(`luxical_st.scale.ray_teacher`) writes the same shards through the functions here.

Command line: ``python -m luxical_st.data.commands teacher --dataset quickstart --output DIR``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luxical_st.data.teacher import embed_documents, teacher_name
from luxical_st.quantization import target_step
from luxical_st.records import claim_record, remove_leftovers, write_atomic, write_json

if TYPE_CHECKING:
    import datasets
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
RUN_FILE = "run.json"
COMPLETE_FILE = "COMPLETE"
SHARD_GLOB = "shard-*.parquet"


def shard_path(output_dir: Path, index: int) -> Path:
    """The file of shard `index` in a targets folder (`shard-00007.parquet`)."""
    return output_dir / f"shard-{index:05d}.parquet"


def _finished_shards(output_dir: Path) -> int:
    """How many leading shards are on disk (a gap means a damaged folder, not a resumable one)."""
    count = 0
    while shard_path(output_dir, count).is_file():
        count += 1
    if any(int(p.stem.split("-")[1]) >= count for p in output_dir.glob(SHARD_GLOB)):
        raise ValueError(f"{output_dir} has a gap in its shard numbering; delete the folder and start again")
    return count


def write_shard(path: Path, ids: list[str], texts: list[str], codes: np.ndarray) -> None:
    """One shard, atomically: columns id, text and embedding (uint8 `codes`, one fixed-size list
    per row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dimensions = codes.shape[1]
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1), pa.uint8()), dimensions)
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    table = table.append_column("embedding", embedding)
    write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def shard_rows(
    dataset: Any, start: int, shard_size: int, text_column: str, id_column: str
) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) of each shard of a Dataset or IterableDataset from document `start` on, in input
    order (ids as strings)."""
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
    for index, (ids, texts) in enumerate(
        shard_rows(dataset, count, shard_size, text_column, id_column), done
    ):
        codes = embed_documents(teacher, texts, dimensions=dims, limit=limit, batch_size=batch_size)
        write_shard(shard_path(output, index), ids, texts, codes)
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
        "teacher": teacher_name(teacher),
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
            "compute_teacher_targets (or `python -m luxical_st.data.commands teacher`) to finish them"
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
            write_atomic(shard_path(output, shards), functools.partial(pq.write_table, kept))
            count, shards = count + kept.num_rows, shards + 1
    finish_run(output, run, count)
    return output
