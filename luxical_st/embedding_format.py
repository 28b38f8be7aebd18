"""The one format of a stored embedding column: precision, (de)quantisation ranges and Arrow type.

Every scale-out path (the Ray embedding step, the datatrove step, the `luxical_st.embed` CLI) writes
embeddings through `EmbeddingFormat`, and saves it as `FORMAT_FILE` next to the shards, so a reader can
dequantise what any of them wrote (`read_stored` and `embeddings_of`, used by the curate CLIs).
Quantisation is sentence-transformers' `quantize_embeddings`; the int8/uint8 ranges are fixed once,
before the job starts, from a calibration sample, so every worker and every shard uses the same buckets.
"""

from __future__ import annotations

import glob
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.quantization import STORED_PRECISIONS, dequantize_stored, quantize_stored

FORMAT_FILE = "luxical_embedding.json"
EMBEDDING_COLUMN = "embedding"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class EmbeddingFormat:
    """How an embedding column is stored; `ranges` is (2, dimensions) for int8 and uint8, else None."""

    precision: str
    dimensions: int
    model: str = ""
    ranges: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.precision not in STORED_PRECISIONS:
            raise ValueError(f"precision must be one of {STORED_PRECISIONS}, got {self.precision!r}")
        if self.precision in ("int8", "uint8") and (
            self.ranges is None or any(len(row) != self.dimensions for row in self.ranges)
        ):
            raise ValueError(f"{self.precision} needs ranges of shape (2, {self.dimensions})")
        if isinstance(self.dimensions, bool) or not isinstance(self.dimensions, int) or self.dimensions < 1:
            raise ValueError(f"dimensions must be a positive integer, got {self.dimensions!r}")
        if self.ranges is not None:
            try:
                ranges = np.asarray(self.ranges, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError("ranges must be two rows of numbers") from None
            if ranges.shape != (2, self.dimensions):
                raise ValueError(f"ranges must have shape (2, {self.dimensions}), got {ranges.shape}")
            if not np.isfinite(ranges).all():
                bad = int(np.flatnonzero(~np.isfinite(ranges).all(0))[0])
                raise ValueError(
                    f"ranges must be finite numbers; dimension {bad} has {ranges[:, bad].tolist()}"
                )
            if (ranges[0] > ranges[1]).any():
                bad = int(np.flatnonzero(ranges[0] > ranges[1])[0])
                raise ValueError(
                    f"ranges must have start <= end; dimension {bad} has {ranges[:, bad].tolist()}"
                )

    @classmethod
    def calibrate(cls, precision: str, calibration: np.ndarray, model: str = "") -> EmbeddingFormat:
        """The format for `precision`, with int8/uint8 ranges taken as the per-dimension min and max of
        `calibration` (float embeddings of a sample of the corpus)."""
        calibration = np.asarray(calibration, dtype=np.float32)
        if calibration.ndim != 2 or len(calibration) < 2:
            raise ValueError("calibration must be a 2-D array of at least two embeddings")
        ranges = None
        if precision in ("int8", "uint8"):
            ranges = (tuple(calibration.min(0).tolist()), tuple(calibration.max(0).tolist()))
        return cls(precision=precision, dimensions=calibration.shape[1], model=model, ranges=ranges)

    @property
    def width(self) -> int:
        """Values per stored row (binary packs eight dimensions into a byte)."""
        return (self.dimensions + 7) // 8 if self.precision == "binary" else self.dimensions

    def quantize(self, embeddings: np.ndarray) -> np.ndarray:
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dimensions:
            raise ValueError(f"expected embeddings of shape (n, {self.dimensions}), got {embeddings.shape}")
        ranges = None if self.ranges is None else np.asarray(self.ranges, dtype=np.float32)
        return quantize_stored(embeddings, self.precision, ranges)

    def dequantize(self, values: np.ndarray) -> np.ndarray:
        """Float32 embeddings back from stored values (`quantization.dequantize_stored`)."""
        ranges = None if self.ranges is None else np.asarray(self.ranges, dtype=np.float32)
        return dequantize_stored(values, self.precision, self.dimensions, ranges)

    def arrow_type(self) -> Any:
        import pyarrow as pa

        value_type = {
            "float32": pa.float32(),
            "float16": pa.float16(),
            "int8": pa.int8(),
            "uint8": pa.uint8(),
            "binary": pa.int8(),
        }[self.precision]
        return pa.list_(value_type, self.width)

    def to_arrow(self, values: np.ndarray) -> Any:
        """A FixedSizeListArray of the stored values (one row per embedding), zero-copy where possible."""
        import pyarrow as pa

        values = np.ascontiguousarray(values)
        if values.ndim != 2 or values.shape[1] != self.width:
            raise ValueError(f"expected stored values of shape (n, {self.width}), got {values.shape}")
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), self.width)

    def from_arrow(self, column: Any) -> np.ndarray:
        """The stored values of an Arrow (chunked) column as an (n, width) array."""
        import pyarrow as pa

        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        return column.flatten().to_numpy(zero_copy_only=False).reshape(-1, self.width)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / FORMAT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> EmbeddingFormat:
        path = Path(folder) / FORMAT_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: is {folder} an embedding output folder?")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"{path} is damaged (not JSON: {error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} is damaged: a JSON object was expected, got {type(data).__name__}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: format_version {data.get('format_version')}, expected {FORMAT_VERSION}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown key {unknown[0]!r} (known keys: {sorted(known)})")
        missing = sorted(name for name in ("precision", "dimensions") if name not in data)
        if missing:
            raise ValueError(f"{path}: missing key {missing[0]!r}")
        ranges = data.get("ranges")
        try:
            data["ranges"] = None if ranges is None else tuple(tuple(row) for row in ranges)
            return cls(**data)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from None


class StoredRows:
    """Stored values seen as float32 embeddings, dequantised only for the rows indexed (a slice or an
    index array), so a corpus stays in memory at its stored size: int8 a quarter of float32, binary a
    32nd. The curate functions take it wherever they take an embedding matrix."""

    def __init__(self, values: np.ndarray, fmt: EmbeddingFormat) -> None:
        if values.ndim != 2 or values.shape[1] != fmt.width:
            raise ValueError(f"expected stored values of shape (n, {fmt.width}), got {values.shape}")
        self.values, self.fmt = values, fmt

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.values), self.fmt.dimensions

    def __getitem__(self, index: slice | np.ndarray | list[int]) -> np.ndarray:
        if not isinstance(index, slice | np.ndarray | list):
            raise TypeError(f"index StoredRows with a slice or an index array, got {type(index).__name__}")
        return self.fmt.dequantize(self.values[index])


def parquet_files(source: str | Path) -> list[Path]:
    """The parquet files of `source`: a file, a folder of shards (`*.parquet`, hidden and `_` files
    skipped, sorted by name) or a glob."""
    path = Path(source)
    if path.is_dir():
        files = [f for f in sorted(path.glob("*.parquet")) if not f.name.startswith((".", "_"))]
    elif path.is_file():
        files = [path]
    else:
        files = [Path(f) for f in sorted(glob.glob(str(source))) if f.endswith(".parquet")]
    if not files:
        raise FileNotFoundError(
            f"{source}: no parquet file (give a .parquet file, a folder of them or a glob)"
        )
    return files


def format_of(source: str | Path) -> EmbeddingFormat | None:
    """The `FORMAT_FILE` beside `source` (in the folder, or in the folder of the file or glob), if any."""
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    return EmbeddingFormat.load(folder) if (folder / FORMAT_FILE).is_file() else None


def read_stored(source: str | Path, columns: list[str] | None = None) -> Any:
    """One pyarrow table of `source`'s parquet files (see `parquet_files`), only `columns` if given."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for file in parquet_files(source):
        names = pq.read_schema(file).names
        missing = [c for c in columns or [] if c not in names]
        if missing:
            raise ValueError(f"{file}: no column {missing[0]!r} (columns: {names})")
        tables.append(pq.read_table(file, columns=columns))
    return pa.concat_tables(tables)


def embeddings_of(
    column: Any, fmt: EmbeddingFormat | None, where: str, lazy: bool = False
) -> np.ndarray | StoredRows:
    """Float32 (n, d) embeddings from a stored list column: dequantised by `fmt` when the column was
    written through one (`lazy`: int8 / uint8 / binary values kept as `StoredRows`), else read as floats.
    Quantised values without their format are refused, since their raw codes are not the embedding."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_list(column.type) and not pa.types.is_fixed_size_list(column.type):
        raise ValueError(f"{where} holds {column.type}, not one list of numbers per row")
    if column.null_count or (len(column) and column.flatten().null_count):
        raise ValueError(f"{where} has missing values ({column.null_count} null rows)")
    value_type = column.type.value_type
    if fmt is not None:
        if column.type != fmt.arrow_type():
            raise ValueError(f"{where} is {column.type}, but {FORMAT_FILE} says {fmt.arrow_type()}")
        values = fmt.from_arrow(column)
        quantised = fmt.precision in ("int8", "uint8", "binary")
        return StoredRows(values, fmt) if lazy and quantised else fmt.dequantize(values)
    if not pa.types.is_floating(value_type):
        raise ValueError(
            f"{where} holds {value_type} values: quantised embeddings are read with the {FORMAT_FILE} "
            "their writer saved beside them (give the folder luxical-embed or LuxicalEmbed wrote)"
        )
    lengths = pc.unique(pc.list_value_length(column)).to_pylist() if len(column) else [0]
    if len(lengths) != 1 or not lengths[0]:
        raise ValueError(f"{where} has rows of different or zero lengths: {sorted(lengths)[:5]}")
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(column), -1)
