"""Bulk embedding on Ray Data: a callable class for `Dataset.map_batches(batch_format="pyarrow")`, and a
resumable, exactly-once job from parquet/JSONL files to parquet shards (`embed_files`, the CLI's engine).

`LuxicalEmbedder` loads the model once per actor (`BatchEncoder`) and appends `embedding` (and head
scores) to each batch: use it on any Ray dataset with `embed_dataset`. `embed_files` cuts the input
into units (`luxical_st.scale.units`), runs a `UnitEmbedder` actor pool over the unfinished ones, each
actor reading its unit in row batches and writing one shard per unit atomically, and leaves the
`EmbeddingFormat` sidecar and a COMPLETE marker beside the shards.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from luxical_st.embedding_format import FORMAT_FILE, EmbeddingFormat
from luxical_st.fingerprint import fingerprints
from luxical_st.quantization import STORED_PRECISIONS
from luxical_st.records import write_json

from .encoder import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE, BatchEncoder, calibrate_format
from .units import (
    COMPLETE_FILE,
    DEFAULT_UNIT_BYTES,
    DEFAULT_UNIT_ROWS,
    PLAN_FILE,
    PLAN_VERSION,
    list_input_files,
    load_or_save_plan,
    looks_local,
    pending_units,
    plan_units,
    read_unit,
    resumable_ray_job,
    unit_first_row,
    write_atomic_parquet,
)

logger = logging.getLogger(__name__)

CALIBRATION_DOCUMENTS = 1000
READ_BATCH_ROWS = 1024


def init_ray(address: str | None = None, num_cpus: int | None = None) -> float:
    """Join the cluster at `address`, or start a local Ray (this machine's CPUs, no dashboard); a Ray
    already initialised in this process is reused. Returns the seconds it took."""
    import ray

    started = time.perf_counter()
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False)
    return time.perf_counter() - started


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM) in MiB, 0 where /proc is unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def text_array(table: Any, column: str, where: str, first_row: Callable[[], int] | int = 0) -> Any:
    """The string column `column` of a pyarrow table; a clear error when absent, not text, or null.
    `first_row` (or a function giving it, called only for the message) is the table's first row number
    in the file `where` names, so a null is reported at its row in the file."""
    import pyarrow as pa

    if column not in table.column_names:
        raise ValueError(f"{where} has no text column {column!r}; its columns: {table.column_names}")
    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"{where}: text column {column!r} holds {values.type}, not strings")
    if values.null_count:
        row = values.is_null().index(True).as_py() + (first_row() if callable(first_row) else first_row)
        raise TypeError(f"{where}: text column {column!r} is null in row {row}")
    return values


class LuxicalEmbedder:
    """`map_batches` callable (pyarrow batches): appends `embedding` (+ `score_<head>`) for `text_column`.

    `fmt` is an `EmbeddingFormat` or its dict (as `asdict` gives; calibrate int8/uint8 before the job).
    """

    def __init__(
        self,
        model: str,
        fmt: EmbeddingFormat | dict[str, Any] | None = None,
        heads: Sequence[str] = (),
        text_column: str = "text",
        threads: int | None = 1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        trust_remote_code: bool = False,
    ) -> None:
        if isinstance(fmt, dict):
            ranges = fmt.get("ranges")
            fmt = EmbeddingFormat(**{**fmt, "ranges": None if ranges is None else tuple(map(tuple, ranges))})
        self.text_column = text_column
        self.encoder = BatchEncoder(
            model,
            fmt=fmt,
            heads=heads,
            threads=threads,
            batch_size=batch_size,
            batch_bytes=batch_bytes,
            trust_remote_code=trust_remote_code,
        )

    def __call__(self, batch: Any) -> Any:
        texts = text_array(batch, self.text_column, "the batch")
        for name, values in self.encoder.columns(texts.to_pylist()).items():
            batch = batch.append_column(name, values)
        return batch


def embed_dataset(dataset: Any, model: str, workers: int = 1, threads: int = 1, **kwargs: Any) -> Any:
    """`dataset` (a ray.data.Dataset with a text column) with the embedding columns appended, by an
    actor pool of `workers` LuxicalEmbedder actors of `threads` CPUs each (kwargs: LuxicalEmbedder's)."""
    import ray.data

    return dataset.map_batches(
        LuxicalEmbedder,
        fn_constructor_kwargs={"model": model, "threads": threads, **kwargs},
        batch_format="pyarrow",
        batch_size=READ_BATCH_ROWS,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=threads,
    )


class UnitEmbedder(LuxicalEmbedder):
    """`map_batches` callable over a dataset of units: each unit is read, embedded and written to
    `output_dir/<unit name>` atomically; returns one row per unit (name, rows, seconds)."""

    def __init__(self, output_dir: str, id_column: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_dir = Path(output_dir)
        self.id_column = id_column
        self._schema: Any = None
        self.schema()  # embeds a probe text: the model's first-call costs are paid at actor start

    def _tables(self, unit: dict[str, Any]) -> Iterator[Any]:
        import pyarrow as pa

        where, done = unit["path"], 0
        for table in read_unit(unit, [self.id_column, self.text_column], READ_BATCH_ROWS):
            texts = text_array(table, self.text_column, where, _row_of(unit, done))
            ids = table.column(self.id_column)
            if ids.null_count:
                row = ids.is_null().index(True).as_py() + _row_of(unit, done)()
                raise ValueError(f"{where}: id column {self.id_column!r} is null in row {row}")
            done += table.num_rows
            columns = {self.id_column: ids.cast(pa.string())}
            columns.update(self.encoder.columns(texts.to_pylist()))
            yield pa.table(columns)

    def schema(self) -> Any:
        """The shards' schema: id (string), embedding, one float32 (list) column per head."""
        import pyarrow as pa

        if self._schema is not None:
            return self._schema
        fields = [pa.field(self.id_column, pa.string()), pa.field("embedding", self.encoder.fmt.arrow_type())]
        probe = self.encoder.scores(self.encoder.encode(["schema probe"]))
        for name, values in probe.items():
            kind = pa.float32() if values.ndim == 1 else pa.list_(pa.float32(), values.shape[1])
            fields.append(pa.field(name, kind))
        self._schema = pa.schema(fields)
        return self._schema

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        names, rows, seconds, errors = [], [], [], []
        for unit in batch.to_pylist():
            started = time.perf_counter()
            path = self.output_dir / unit["name"]
            try:
                rows.append(write_atomic_parquet(path, self._tables(unit), self.schema()))
                errors.append("")
            except (ValueError, TypeError, OSError) as error:  # bad input: reported by the driver
                rows.append(0)
                errors.append(f"{type(error).__name__}: {error}")
            names.append(unit["name"])
            seconds.append(time.perf_counter() - started)
        count = len(names)
        return pa.table(
            {
                "name": names,
                "rows": rows,
                "seconds": seconds,
                "pid": [os.getpid()] * count,
                "peak_rss_mib": [peak_rss_mib()] * count,
                "error": errors,
            }
        )


def _row_of(unit: dict[str, Any], done: int) -> Callable[[], int]:
    """A function giving the file row number of the unit's row `done` (asked only for a message)."""
    return lambda: unit_first_row(unit) + done


def _first_texts(units: Sequence[dict[str, Any]], text_column: str, count: int) -> list[str]:
    """Up to `count` texts from the first units (the calibration sample; also checks the text column)."""
    texts: list[str] = []
    for unit in units:
        done = 0
        for table in read_unit(unit, [text_column], READ_BATCH_ROWS):
            texts += text_array(table, text_column, unit["path"], _row_of(unit, done)).to_pylist()
            done += table.num_rows
            if len(texts) >= count:
                return texts[:count]
    return texts


def embed_files(
    source: str,
    output_dir: str | os.PathLike[str],
    model: str,
    *,
    text_column: str = "text",
    id_column: str = "id",
    precision: str = "float32",
    heads: Sequence[str] = (),
    workers: int | None = None,
    threads_per_worker: int = 1,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    unit_rows: int = DEFAULT_UNIT_ROWS,
    unit_bytes: int = DEFAULT_UNIT_BYTES,
    data_files: str | None = None,
    ray_address: str | None = None,
    trust_remote_code: bool = False,
    max_units: int | None = None,
) -> dict[str, Any]:
    """Embed every document of `source` (parquet/JSONL file, folder, glob or Hub dataset id) into
    parquet shards under `output_dir`, resuming an interrupted run; returns a summary dict.

    `max_units` stops after that many units (a partial run, finished by a rerun)."""
    import ray
    import ray.data

    from luxical_st.remote_code import check_remote_code

    if precision not in STORED_PRECISIONS:
        raise ValueError(f"precision must be one of {STORED_PRECISIONS}, got {precision!r}")
    _check_model_path(model)
    check_remote_code(model, trust_remote_code, "--trust-remote-code")
    output = Path(output_dir)
    settings = {
        "version": PLAN_VERSION,
        "source": source,
        "data_files": data_files,
        "text_column": text_column,
        "id_column": id_column,
        "model": model,
        "precision": precision,
        "heads": [str(h) for h in heads],
    }
    if (output / PLAN_FILE).is_file():  # a rerun: refused if the settings or an input file changed
        plan = load_or_save_plan(output, {**settings, "units": []})
        if (output / COMPLETE_FILE).is_file():
            return dict(json.loads((output / COMPLETE_FILE).read_text(encoding="utf-8")))
        fmt = _embedding_format(
            output, plan["units"], model, precision, text_column, True, trust_remote_code, heads
        )
    else:  # a fresh run: nothing is written before the input was read and the format calibrated
        files = list_input_files(source, data_files)
        planned = plan_units(files, unit_rows, unit_bytes)
        fmt = _embedding_format(
            output, planned, model, precision, text_column, False, trust_remote_code, heads
        )
        plan = load_or_save_plan(output, {**settings, "files": fingerprints(files), "units": planned})
        fmt.save(output)
    units = plan["units"]
    todo = pending_units(output, units)
    if max_units is not None:
        todo = todo[:max_units]
    startup = init_ray(ray_address)
    workers = workers or int(ray.cluster_resources().get("CPU", 1)) // threads_per_worker
    workers = max(1, min(workers, len(todo)))
    started = time.perf_counter()
    written: list[dict[str, Any]] = []
    if todo:
        logger.info("Embedding %d of %d units with %d actors", len(todo), len(units), workers)
        results = ray.data.from_items(todo, override_num_blocks=len(todo)).map_batches(
            UnitEmbedder,
            fn_constructor_kwargs={
                "output_dir": str(output),
                "id_column": id_column,
                "model": model,
                "fmt": asdict(fmt),
                "heads": list(heads),
                "text_column": text_column,
                "threads": threads_per_worker,
                "batch_size": batch_size,
                "batch_bytes": batch_bytes,
                "trust_remote_code": trust_remote_code,
            },
            batch_format="pyarrow",
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads_per_worker,
        )
        with resumable_ray_job("The embedding job", output):
            written = results.take_all()
        failed = [row for row in written if row["error"]]
        if failed:
            raise ValueError(
                f"{len(failed)} of {len(todo)} units failed (their shards are not written, the others "
                f"are; an input fixed in place is refused here as changed: embed it into a new folder); "
                f"first: {failed[0]['error']}"
            )
    elapsed = time.perf_counter() - started
    summary: dict[str, Any] = {
        "units": len(units),
        "units_written": len(written),
        "rows_written": sum(int(row["rows"]) for row in written),
        "seconds": elapsed,
        "ray_startup_seconds": startup,
        "workers": workers,
    }
    actors: dict[int, dict[str, float]] = {}
    for row in written:
        actor = actors.setdefault(int(row["pid"]), {"busy_seconds": 0.0, "rows": 0, "peak_rss_mib": 0.0})
        actor["busy_seconds"] += float(row["seconds"])
        actor["rows"] += int(row["rows"])
        actor["peak_rss_mib"] = max(actor["peak_rss_mib"], float(row["peak_rss_mib"]))
    summary["actors"] = list(actors.values())
    remaining = pending_units(output, units)
    if not remaining:
        summary["rows"] = _count_rows(output, units)
        write_json(output / COMPLETE_FILE, summary, indent=1)
    summary["units_remaining"] = len(remaining)
    return summary


def _embedding_format(
    output: Path,
    units: Sequence[dict[str, Any]],
    model: str,
    precision: str,
    text_column: str,
    reuse: bool,
    trust_remote_code: bool = False,
    heads: Sequence[str] = (),
) -> EmbeddingFormat:
    """The run's format: the saved sidecar on a rerun (`reuse`), else calibrated on the first unit's
    texts (saved by the caller). The driver's one encoder also loads the `heads`, so a head of another
    model is refused here in one line, before any actor starts (inside one it is a Ray traceback)."""
    if reuse and (output / FORMAT_FILE).is_file():
        if heads:
            BatchEncoder(model, threads=None, heads=heads, trust_remote_code=trust_remote_code)
        return EmbeddingFormat.load(output)
    wanted = CALIBRATION_DOCUMENTS if precision in ("int8", "uint8") else 2  # others need no ranges
    texts = _first_texts(units, text_column, wanted)  # a missing or bad text column is found here
    if len(texts) < 2:
        if precision in ("int8", "uint8"):
            raise ValueError(f"{precision} ranges need at least two documents; the input has {len(texts)}")
        texts += [f"dimension probe {i}" for i in range(2 - len(texts))]  # only the width is needed
    encoder = BatchEncoder(model, threads=None, heads=heads, trust_remote_code=trust_remote_code)
    return calibrate_format(encoder, texts, precision)


def _check_model_path(model: str) -> None:
    """A clear error for a model path that does not exist (not a Hub lookup of a mistyped path)."""
    parent = Path(model).parent
    if not Path(model).exists() and (looks_local(model) or (parent != Path(".") and parent.is_dir())):
        raise FileNotFoundError(f"--model {model}: no such local folder (nor a Hub id `org/name`)")


def _count_rows(output: Path, units: Sequence[dict[str, Any]]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(output / unit["name"]).metadata.num_rows for unit in units)
