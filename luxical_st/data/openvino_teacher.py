"""The teacher's transformer run by OpenVINO on the CPU: the opt-in `teacher_backend` of step 1.

`benchmarks/bench_teacher.py` measured every pass against the float32 teacher (all-MiniLM-L6-v2, 3,000
quickstart texts, 2 cores of an AMD EPYC with AVX-512 and AVX512-BF16): OpenVINO in bfloat16 2.6x the
float32 docs/s (every row's cosine >= 0.9999), with int8 weights (NNCF) 2.4x (>= 0.997); torch
bfloat16 gave 1.6-1.9x. sentence-transformers' own `backend="openvino"` needs optimum-intel, whose
release replaces this environment's torch, tokenizers and huggingface_hub, so the transformer is
converted here with `openvino.convert_model` and swapped into the loaded teacher: its tokenizer,
pooling and `encode` stay sentence-transformers' own.
"""

from __future__ import annotations

from typing import Any

import torch

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


class OpenVINOTransformer(torch.nn.Module):
    """Stands in for a Hugging Face encoder inside a sentence-transformers `Transformer` module: the
    same inputs, `last_hidden_state` computed by a compiled OpenVINO model."""

    def __init__(self, compiled: Any, config: Any, input_names: tuple[str, ...]) -> None:
        super().__init__()
        self.compiled = compiled
        self.config = config
        self.input_names = input_names

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs: Any) -> dict[str, Any]:
        inputs.update(input_ids=input_ids, attention_mask=attention_mask)
        feed = {name: inputs[name].cpu().numpy() for name in self.input_names}
        hidden = self.compiled(feed)[0]
        return {"last_hidden_state": torch.from_numpy(hidden)}


def run_on_openvino(teacher: Any, *, int8_weights: bool, bfloat16: bool) -> Any:
    """`teacher` (a CPU SentenceTransformer whose first module is a `Transformer`) with its encoder
    converted to OpenVINO, int8 weights if asked, computing in bfloat16 or float32; returned in place."""
    try:
        import openvino as ov
    except ImportError as error:
        raise ImportError("teacher_backend openvino needs `pip install 'luxical-st[openvino]'`") from error
    transformer = teacher[0]
    model = getattr(transformer, "auto_model", None)
    if model is None or not hasattr(transformer, "model"):
        raise ValueError(
            f"teacher_backend openvino needs a Transformer first module, not {type(transformer)}"
        )
    example = teacher.tokenizer(["an example", "text"], padding=True, return_tensors="pt")
    names = tuple(name for name in INPUT_NAMES if name in example)
    model = model.float().eval()
    with torch.no_grad():
        converted = ov.convert_model(model, example_input={name: example[name] for name in names})
    if int8_weights:
        try:
            import nncf
        except ImportError as error:
            raise ImportError(
                "teacher_backend openvino-int8 needs `pip install 'luxical-st[openvino]'`"
            ) from error
        converted = nncf.compress_weights(converted)
    compiled = ov.Core().compile_model(
        converted,
        "CPU",
        {
            "INFERENCE_PRECISION_HINT": "bf16" if bfloat16 else "f32",
            "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        },
    )
    transformer.model = OpenVINOTransformer(compiled, model.config, names)
    return teacher
