"""Faster inference for a loaded Luxical model: the precision of its dense layers and CPU advice.

`set_precision(model, "int8")` swaps each hidden Dense layer (input width >= `INT8_MIN_IN_FEATURES`,
~99% of the arithmetic of Luxical-One) for torch's dynamically quantized int8 Linear with per-channel
weight scales; `"bfloat16"` runs those layers in bfloat16 (fast only on CPUs with AMX or AVX512-BF16);
`"auto"` picks bfloat16 where the CPU has native bf16 and float32 elsewhere. The first layers (the sparse
input layer and the first Dense, which reads the narrow projection) stay float32: quantizing them costs
accuracy and saves almost no time. `benchmarks/bench_inference.py` measures the speed and the per-row
cosine to float32 of each choice.

The change is made in place, for inference: a model whose layers were swapped is not for saving or
training (reload it from disk for that).

`encode(model, texts)` is `model.encode` for bulk work with the two halves of a batch overlapped: the
input module (tokenizing, n-gram matching: single-threaded Python and numpy) prepares the next batch in a
background thread while torch runs the layers on this one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from luxical_st.modules.ngram_tfidf import check_texts

Precision = Literal["float32", "int8", "bfloat16", "auto"]
COMPUTE_PRECISIONS: tuple[str, ...] = ("float32", "int8", "bfloat16", "auto")
INT8_MIN_IN_FEATURES = 1024
"""Dense layers at least this wide at their input are quantized: the 3072 x 3072 layer of Luxical-One."""


# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) below the first with bfloat16 instructions (AVX512_CORE_BF16)
ISA_CAPS_WITHOUT_BF16 = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16), and torch and oneDNN may use it
    (no `ATEN_CPU_CAPABILITY` / `ONEDNN_MAX_CPU_ISA` cap below AVX-512 BF16); without it bf16 is emulated
    and many times slower than float32."""
    cpu: Any = torch.cpu
    if not (cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported()):
        return False
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in ISA_CAPS_WITHOUT_BF16:
        return False
    return torch.backends.cpu.get_cpu_capability() not in ("DEFAULT", "AVX2")  # ATEN_CPU_CAPABILITY


def resolve_precision(precision: str) -> str:
    if precision not in COMPUTE_PRECISIONS:
        raise ValueError(f"precision must be one of {COMPUTE_PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


class _Bfloat16Linear(nn.Module):
    """A Linear computed in bfloat16, taking and returning float32."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear.to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.to(torch.bfloat16)).to(torch.float32)


def _int8_linear(linear: nn.Linear) -> nn.Module:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch marks eager quantization as deprecated in favour of torchao
        warnings.simplefilter("ignore")
        wrapped = quantize_dynamic(
            nn.Sequential(linear), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )
    return wrapped[0]


def _float_linear(module: nn.Module) -> nn.Linear | None:
    """The float32 nn.Linear of an unswapped sentence-transformers Dense layer, else None."""
    linear = getattr(module, "linear", None)
    if type(linear) is nn.Linear and linear.weight.dtype == torch.float32:
        return linear
    return None


def set_precision(model: Any, precision: Precision = "auto") -> str:
    """Run the hidden Dense layers of a loaded Luxical `SentenceTransformer` in `precision`; returns the
    precision chosen (`auto` resolved). float32 leaves the model as it is."""
    chosen = resolve_precision(precision)
    if not hasattr(model, "__iter__") or type(next(iter(model), None)).__name__ != "NgramTfidf":
        raise TypeError("set_precision takes a Luxical SentenceTransformer (first module NgramTfidf)")
    if chosen == "float32":
        return chosen
    if str(getattr(model, "device", "cpu")) != "cpu":
        raise ValueError(f"set_precision is for CPU inference; the model is on {model.device}")
    dense = [module for module in model if _float_linear(module) is not None]
    swapped = 0
    for module in dense[1:]:  # the first Dense reads the narrow projection of the sparse layer
        linear = _float_linear(module)
        assert linear is not None
        if chosen == "int8" and linear.in_features < INT8_MIN_IN_FEATURES:
            continue
        module.linear = _int8_linear(linear) if chosen == "int8" else _Bfloat16Linear(linear)
        swapped += 1
    if not swapped and dense:
        warnings.warn(f"no Dense layer of this model is wide enough to run in {chosen}", stacklevel=2)
    return chosen


def encode(model: Any, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
    """The float32 embeddings of `texts`, as `model.encode(texts, batch_size=batch_size)` gives them
    (identical values), with the input module's work on batch k + 1 overlapped with the layers on
    batch k. Like `encode`, texts are batched by length (longest first)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    texts = check_texts(texts)
    modules = list(model)
    if not modules or type(modules[0]).__name__ != "NgramTfidf":
        raise TypeError("encode takes a Luxical SentenceTransformer (first module NgramTfidf)")
    if not texts:
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    order = np.argsort([-len(text) if isinstance(text, str) else 0 for text in texts], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
    output = np.empty((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    model.eval()
    with ThreadPoolExecutor(1) as worker, torch.inference_mode():
        pending = worker.submit(modules[0].preprocess, [texts[i] for i in batches[0]])
        for k, rows in enumerate(batches):
            features = pending.result()
            if k + 1 < len(batches):
                pending = worker.submit(modules[0].preprocess, [texts[i] for i in batches[k + 1]])
            output[rows] = model.forward(features)["sentence_embedding"].float().cpu().numpy()
    return output
