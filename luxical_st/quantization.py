"""Every stored code of the project, in one place.

- Teacher targets: uint8 codes over a symmetric range [-limit, limit] (`quantize_targets`,
  `dequantize_targets`; Luxical-One: 256 dims, limit 0.3), one byte per dimension so that the targets of
  50M documents stream from disk.
- Stored embeddings (the scale-out and curate outputs): float32, float16, int8 / uint8 over per-dimension
  calibrated ranges, or packed binary (`quantize_stored`, `dequantize_stored`); quantisation is
  sentence-transformers' own `quantize_embeddings`. `EmbeddingFormat` records which one a folder holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

import numpy as np

if TYPE_CHECKING:
    import torch

TARGET_LEVELS = 255
"""The largest uint8 target code: codes 0..255 cover [-limit, limit] in 255 steps."""
STORED_PRECISIONS = ("float32", "float16", "int8", "uint8", "binary")


def target_step(limit: float) -> float:
    """The width of one uint8 target code over [-limit, limit]; refuses a limit that is not positive."""
    if not np.isfinite(limit) or limit <= 0:
        raise ValueError(f"quantisation limit must be a positive number, got {limit}")
    return 2.0 * limit / TARGET_LEVELS


def quantize_targets(x: np.ndarray, limit: float = 0.3) -> np.ndarray:
    """uint8 codes ``round(clip(x + limit, 0, 2 limit) / (2 limit / 255))``: values outside
    [-limit, limit] saturate; inside it the round trip errs by at most half a step (limit / 255)."""
    step = target_step(limit)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"quantize_targets expects a float array, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError("quantize_targets got NaN or infinite values")
    return np.rint(np.clip(x + limit, 0.0, 2.0 * limit) / step).astype(np.uint8)


@overload
def dequantize_targets(q: np.ndarray, limit: float = 0.3) -> np.ndarray: ...
@overload
def dequantize_targets(q: torch.Tensor, limit: float = 0.3) -> torch.Tensor: ...
def dequantize_targets(q: np.ndarray | torch.Tensor, limit: float = 0.3) -> np.ndarray | torch.Tensor:
    """float32 values of uint8 target codes (numpy in, numpy out; torch in, torch out)."""
    step = target_step(limit)
    if not isinstance(q, np.ndarray):
        import torch

        if not isinstance(q, torch.Tensor):
            raise TypeError(
                f"dequantize_targets expects a numpy array or torch tensor, got {type(q).__name__}"
            )
        if q.is_floating_point() or q.is_complex() or q.dtype == torch.bool:
            raise TypeError(f"dequantize_targets expects integer codes, got dtype {q.dtype}")
        if q.numel() and (int(q.min()) < 0 or int(q.max()) > TARGET_LEVELS):
            raise ValueError("dequantize_targets expects codes in [0, 255]")
        return q.float() * step - limit
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"dequantize_targets expects integer codes, got dtype {q.dtype}")
    if q.size and (q.min() < 0 or q.max() > TARGET_LEVELS):
        raise ValueError("dequantize_targets expects codes in [0, 255]")
    return (q.astype(np.float32) * np.float32(step) - np.float32(limit)).astype(np.float32)


def quantize_stored(embeddings: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """The stored values of float32 `embeddings` (n, d) at `precision`; int8/uint8 need `ranges` (2, d)."""
    if precision not in STORED_PRECISIONS:
        raise ValueError(f"precision must be one of {STORED_PRECISIONS}, got {precision!r}")
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if precision == "float32":
        return embeddings
    if precision == "float16":
        return embeddings.astype(np.float16)
    from sentence_transformers.util.quantization import quantize_embeddings

    if ranges is not None:
        ranges = np.asarray(ranges, dtype=np.float32)
    return np.asarray(quantize_embeddings(embeddings, precision, ranges=ranges))  # type: ignore[arg-type]


def dequantize_stored(
    values: np.ndarray, precision: str, dimensions: int, ranges: np.ndarray | None = None
) -> np.ndarray:
    """Float32 embeddings back from stored values: bucket centres for int8/uint8 (an all-zero embedding
    comes back as bucket centres, not zeros), +-1 for binary."""
    values = np.asarray(values)
    if precision in ("float32", "float16"):
        return values.astype(np.float32)
    if precision == "binary":
        bits = np.unpackbits((values.astype(np.int16) + 128).astype(np.uint8), axis=-1)
        return bits[:, :dimensions].astype(np.float32) * 2 - 1
    if precision not in ("int8", "uint8") or ranges is None:
        raise ValueError(f"{precision!r} values cannot be dequantised without int8/uint8 ranges")
    starts, ends = (np.asarray(row, dtype=np.float32) for row in ranges)
    steps = (ends - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    buckets = values.astype(np.float32) + (128 if precision == "int8" else 0)
    return starts + (buckets + 0.5) * steps
