"""Deterministic work units over parquet / JSONL inputs, and atomic per-unit output files.

A resumable, exactly-once bulk job cuts its input into units fixed before anything runs: a run of
consecutive row groups of one parquet file, or a byte range of one JSONL file (a unit owns the lines
that start inside its range, as Hadoop splits do; a gzipped file is one unit). The plan is saved in
the output folder, each unit's output is written under a name derived from the unit (temporary name,
then an atomic rename), and a rerun does only the units whose output is missing. Units partition the
input rows, so every row ends up in exactly one output file.

Paths may be local or any fsspec URL (`hf://datasets/<id>/...`, `s3://...`); a Hub dataset id is
expanded to its parquet (else JSONL) files.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from luxical_st.records import claim_record, remove_leftovers, write_atomic

PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
GZIP_SUFFIX = ".gz"
PLAN_FILE = "embed_plan.json"
COMPLETE_FILE = "COMPLETE"
PLAN_VERSION = 1
DEFAULT_UNIT_ROWS = 10_000
DEFAULT_UNIT_BYTES = 64 * 2**20
# Plan entries that are records of the input, not settings: compared on their own.
PLAN_RECORDS = ("units", "files")
# Ray's names for work lost with a node or a worker process (a crash, a preempted machine); an error
# raised on a worker that cannot be unpickled reaches the driver as text, so they are matched by name.
LOST_WORK_ERRORS = (
    "RayActorError", "ActorDiedError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError",
    "ObjectLostError", "OwnerDiedError", "ObjectReconstructionFailedError", "LocalRayletDiedError",
)  # fmt: skip


@contextmanager
def resumable_ray_job(what: str, output: str | Path) -> Iterator[None]:
    """Run the Ray part of a resumable job: work lost with a node or worker stops it with one line
    that says so and how to finish (the same command again: finished units are kept), Ray's error
    chained; errors of the job's own code pass through unchanged."""
    from ray.exceptions import RayError, RayTaskError

    try:
        yield
    except RayError as error:
        own_code = isinstance(error, RayTaskError) and not isinstance(error.cause, RayError)
        text = str(error)
        lost = [name for name in LOST_WORK_ERRORS if name in text or name == type(error).__name__]
        if own_code or not lost:
            raise
        raise RuntimeError(
            f"{what} stopped: a Ray node or worker died mid-job ({lost[0]}). The units it finished are "
            f"kept in {output}; run the same command again to do the rest."
        ) from error


def _format(path: str) -> str | None:
    name = path.lower().removesuffix(GZIP_SUFFIX)
    if name.endswith(PARQUET_SUFFIXES) and not path.lower().endswith(GZIP_SUFFIX):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def _open(path: str, mode: str = "rb") -> Any:
    if "://" in path:
        import fsspec

        return fsspec.open(path, mode).open()
    return open(path, mode)


def looks_local(name: str) -> bool:
    """Whether `name` can only mean a local path (not a Hub id `org/name`): absolute, starting with `.`
    or `~`, more than one `/`, a backslash, or a data file suffix."""
    return (
        Path(name).is_absolute()
        or name.startswith((".", "~"))
        or name.count("/") > 1
        or "\\" in name
        or _format(name) is not None
    )


def list_input_files(source: str, data_files: str | None = None) -> list[str]:
    """The parquet/JSONL files of a file, folder, glob or Hub dataset id, sorted."""
    path = Path(source)
    if path.is_file():
        files = [str(path)]
    elif path.is_dir():
        files = sorted(str(p) for p in path.rglob("*") if p.is_file() and _format(p.name))
    elif any(ch in source for ch in "*?[") and "://" not in source:
        files = sorted(p for p in glob.glob(source, recursive=True) if Path(p).is_file())
    elif "://" not in source and looks_local(source):
        raise FileNotFoundError(f"{source} does not exist (no such local file or folder)")
    elif "://" in source or re.fullmatch(r"[\w.-]+/[\w.-]+", source):
        from huggingface_hub import HfFileSystem

        root = source if "://" in source else f"hf://datasets/{source}"
        fs = HfFileSystem()
        base = root.removeprefix("hf://")
        pattern = data_files or "**"
        try:
            found = sorted(fs.glob(f"{base}/{pattern}"))
        except Exception as error:  # offline, unknown repo, no access: one line, not a traceback
            raise FileNotFoundError(
                f"{source} is no local file or folder, and listing it as a Hub dataset failed: "
                f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
            ) from None
        files = [f"hf://{p}" for p in found if _format(p) == "parquet"] or [
            f"hf://{p}" for p in found if _format(p) == "jsonl"
        ]
    else:
        raise FileNotFoundError(f"{source} is not a file, folder, glob or Hub dataset id")
    if not files:
        raise ValueError(f"{source} holds no .parquet or .jsonl/.json files")
    unknown = [f for f in files if _format(f) is None]
    if unknown:
        raise ValueError(f"{source}: not parquet or JSONL: {unknown[:3]}")
    return files


def _unit_name(path: str, kind: str, start: int, stop: int) -> str:
    stem = re.sub(r"[^\w.-]", "_", Path(path.split("://")[-1]).name)[:60]
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    return f"{stem}-{digest}-{kind}{start:012d}-{stop:012d}.parquet"


def plan_units(
    files: Sequence[str], unit_rows: int = DEFAULT_UNIT_ROWS, unit_bytes: int = DEFAULT_UNIT_BYTES
) -> list[dict[str, Any]]:
    """Units over `files`: parquet row groups gathered up to `unit_rows` rows or `unit_bytes`
    uncompressed bytes (at least one row group), JSONL byte ranges of `unit_bytes`, a .gz file whole.
    Each unit is a dict {name, path, format, start, stop, rows (None when unknown)}."""
    import pyarrow.parquet as pq

    if unit_rows < 1 or unit_bytes < 1:
        raise ValueError(f"unit_rows and unit_bytes must be >= 1, got {unit_rows}, {unit_bytes}")
    units: list[dict[str, Any]] = []
    for path in files:
        kind = _format(path)
        if kind == "parquet":
            with _open(path) as handle:
                metadata = pq.ParquetFile(handle).metadata
            start = rows = size = 0
            for group in range(metadata.num_row_groups):
                rows += metadata.row_group(group).num_rows
                size += metadata.row_group(group).total_byte_size
                if rows >= unit_rows or size >= unit_bytes or group == metadata.num_row_groups - 1:
                    if rows:
                        units.append(_unit(path, "parquet", start, group + 1, rows))
                    start, rows, size = group + 1, 0, 0
        elif path.lower().endswith(GZIP_SUFFIX):
            units.append(_unit(path, "jsonl", 0, -1, None))
        else:
            with _open(path) as handle:
                total = handle.seek(0, io.SEEK_END)
            units += [
                _unit(path, "jsonl", a, min(a + unit_bytes, total), None) for a in range(0, total, unit_bytes)
            ]
    if not units:
        raise ValueError("the input holds no documents (every file is empty)")
    return units


def _unit(path: str, kind: str, start: int, stop: int, rows: int | None) -> dict[str, Any]:
    tag = "rg" if kind == "parquet" else "b"
    return {
        "name": _unit_name(path, tag, start, stop),
        "path": path,
        "format": kind,
        "start": start,
        "stop": stop,
        "rows": rows,
    }


def _jsonl_lines(unit: dict[str, Any]) -> Iterator[bytes]:
    path, start, stop = unit["path"], unit["start"], unit["stop"]
    if stop == -1:
        with _open(path) as raw, gzip.open(raw) as handle:
            yield from handle
        return
    with _open(path) as handle:
        position = start
        if start > 0:  # the line that crosses `start` belongs to the previous unit
            handle.seek(start - 1)
            position = start - 1 + len(handle.readline())
        while position < stop:
            line = handle.readline()
            if not line:
                break
            position += len(line)
            yield line


def _lines_before(unit: dict[str, Any], blank: bool) -> int:
    """How many lines of the unit's JSONL file come before its first (`blank`: counting blank lines)."""
    if unit["stop"] == -1 or unit["start"] == 0:
        return 0
    count = position = 0
    with _open(unit["path"]) as handle:
        while position < unit["start"]:  # the lines that start before the unit's range
            line = handle.readline()
            if not line:
                break
            position += len(line)
            count += bool(blank or line.strip())
    return count


def unit_first_row(unit: dict[str, Any]) -> int:
    """The row number in its file of the unit's first row (0-based; a JSONL file's rows are its
    non-blank lines), for messages that point at a row. Reads metadata or the file's head: for errors."""
    if unit["format"] == "parquet":
        import pyarrow.parquet as pq

        with _open(unit["path"]) as handle:
            metadata = pq.ParquetFile(handle).metadata
        return sum(metadata.row_group(group).num_rows for group in range(unit["start"]))
    return _lines_before(unit, blank=False)


def read_unit(unit: dict[str, Any], columns: Sequence[str], batch_rows: int = 1024) -> Iterator[Any]:
    """The unit's rows as pyarrow Tables of `columns` (at most `batch_rows` rows each)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if unit["format"] == "parquet":
        with _open(unit["path"]) as handle:
            parquet = pq.ParquetFile(handle)
            names = parquet.schema_arrow.names
            missing = [c for c in columns if c not in names]
            if missing:
                raise ValueError(f"{unit['path']} has no column {missing[0]!r}; its columns: {names}")
            groups = list(range(unit["start"], unit["stop"]))
            batches = parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=list(columns))
            for batch in batches:
                yield pa.Table.from_batches([batch])
        return
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(_jsonl_lines(unit)):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            line_number = _lines_before(unit, blank=True) + number + 1
            raise ValueError(f"{unit['path']}: line {line_number} is not JSON") from error
        missing = [c for c in columns if c not in record]
        if missing:
            raise ValueError(f"{unit['path']} has no column {missing[0]!r}; a record has {sorted(record)}")
        rows.append({c: record[c] for c in columns})
        if len(rows) >= batch_rows:
            yield pa.Table.from_pylist(rows)
            rows = []
    if rows:
        yield pa.Table.from_pylist(rows)


def write_atomic_parquet(path: Path, tables: Iterator[Any], schema: Any) -> int:
    """Write `tables` into one parquet file at `path` through a temporary name; returns the rows."""
    import pyarrow.parquet as pq

    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in tables:
                writer.write_table(table)
                rows += table.num_rows

    write_atomic(path, write)
    return rows


def load_or_save_plan(output_dir: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan saved in `output_dir`, or `plan`, saved. A saved plan is refused if its settings differ
    from `plan`'s (the message names each changed setting) or if an input file it fingerprinted
    (`plan["files"]`, {path: `file_fingerprint`}) changed since (the message names the file)."""
    from luxical_st.fingerprint import check_unchanged

    run = "a finished" if (output_dir / COMPLETE_FILE).is_file() else "part of a"
    saved = claim_record(output_dir / PLAN_FILE, plan, run=run, kept=PLAN_RECORDS)
    check_unchanged(
        saved.get("files") or {},
        f"{run} run in {output_dir}",
        "Use another output folder or delete that one to start afresh",
    )
    return saved


def pending_units(output_dir: Path, units: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The units without an output file (leftover temporary files of killed writers are removed)."""
    remove_leftovers(output_dir)
    return [unit for unit in units if not (output_dir / unit["name"]).is_file()]
