"""What a cheaper teacher pass costs in target quality: docs/s of the offline teacher (all-MiniLM-L6-v2)
in float32, in bfloat16, as ONNX Runtime graphs in float32 and dynamically quantised int8, and as OpenVINO
models (float32, bfloat16, int8 weights, int8 weights and activations), with every row's cosine to the
float32 embedding (the issue's bar for adopting a faster pass: >= 0.99 on every row).

    OMP_NUM_THREADS=2 python benchmarks/bench_teacher.py --texts 3000 --output runs/bench_teacher.json

The texts are the first `--texts` documents of the quickstart blend (passages up to 128 tokens, as the
quickstart's teacher reads them). The ONNX rows need `onnxruntime` and `onnx` (not dependencies of
luxical-st; sentence-transformers' own `backend="onnx"` needs optimum-onnx, whose release pins
transformers 4.x, so the graph is exported here with `torch.onnx.export` and quantised with
`onnxruntime.quantization.quantize_dynamic`); without them those rows are left out. The OpenVINO rows
need `openvino` and `nncf` (sentence-transformers' `backend="openvino"` needs optimum-intel): the ONNX
graph is read by `openvino.convert_model`, its weights compressed with `nncf.compress_weights` and, for
the last row, weights and activations quantised with `nncf.quantize` on 300 other blend texts. bfloat16 is
only fast on CPUs with AVX512-BF16 or AMX: elsewhere it is emulated and slower than float32.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from luxical_st.data.corpus import load_quickstart_corpus
from luxical_st.data.teacher import load_teacher

MAX_TOKENS = 128
CALIBRATION_TEXTS = 300
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


class _MeanPooled(torch.nn.Module):
    """The teacher's transformer with its mean pooling, as one graph for export."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        hidden = self.transformer(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


Batch = tuple[np.ndarray, dict[str, np.ndarray]]
"""Row positions and the int64 model inputs of one batch."""


def _batches(tokenizer: Any, texts: list[str], batch_size: int) -> list[Batch]:
    """Length-bucketed batches (longest first, as encode sorts): (row positions, int64 inputs)."""
    order = np.argsort([-len(text) for text in texts])
    batches = []
    for first in range(0, len(texts), batch_size):
        chosen = order[first : first + batch_size]
        encoded = tokenizer(
            [texts[i] for i in chosen],
            padding=True,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="np",
        )
        batches.append((chosen, {name: encoded[name].astype(np.int64) for name in INPUT_NAMES}))
    return batches


def _timed(run: Any, batches: list[Batch], rows: int, dim: int) -> Any:
    out = np.zeros((rows, dim), np.float32)
    started = time.perf_counter()
    for chosen, inputs in batches:
        out[chosen] = run(inputs)
    return time.perf_counter() - started, _unit(out)


def _openvino_rows(
    float_path: Path, batches: list[Any], calibration: list[Any], rows: int, dim: int, threads: int
) -> dict[str, Any]:
    import nncf
    import openvino as ov

    core = ov.Core()
    model = ov.convert_model(str(float_path))
    variants = {
        "openvino float32": (model, "f32"),
        "openvino bfloat16": (model, "bf16"),
        "openvino int8 weights (nncf)": (
            compressed := nncf.compress_weights(ov.convert_model(str(float_path))),
            "f32",
        ),
        "openvino int8 weights (nncf), bfloat16": (compressed, "bf16"),
        "openvino int8 weights + activations (nncf)": (
            nncf.quantize(
                ov.convert_model(str(float_path)),
                nncf.Dataset([inputs for _, inputs in calibration]),
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(calibration),
            ),
            "f32",
        ),
    }
    results = {}
    for name, (variant, precision) in variants.items():
        if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            continue
        try:
            compiled = core.compile_model(
                variant, "CPU", {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads}
            )
        except RuntimeError as error:  # e.g. bf16 under ONEDNN_MAX_CPU_ISA=AVX2
            print(f"{name} left out: OpenVINO cannot compile it here ({str(error).splitlines()[-1]})")
            continue
        try:
            results[name] = _timed(lambda inputs, c=compiled: c(inputs)[0], batches, rows, dim)
        except RuntimeError as error:  # kernels missing under an ISA cap
            print(f"{name} left out: OpenVINO cannot run it here ({str(error).splitlines()[-1]})")
    return results


def _onnx_rows(
    teacher: Any, texts: list[str], calibration_texts: list[str], folder: Path, batch_size: int, threads: int
) -> dict[str, Any]:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tokenizer = teacher.tokenizer
    sample = tokenizer(["a b", "c"], return_tensors="pt", padding=True)
    names = list(INPUT_NAMES)
    float_path, int8_path = folder / "teacher.onnx", folder / "teacher-int8.onnx"
    torch.onnx.export(
        _MeanPooled(teacher[0].auto_model.eval()),
        tuple(sample[name] for name in names),
        str(float_path),
        input_names=names,
        output_names=["mean"],
        dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in names}, "mean": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    batches = _batches(tokenizer, texts, batch_size)
    dim = teacher.get_embedding_dimension()
    rows = {}
    for name, path in (("onnx float32", float_path), ("onnx int8 (dynamic, per-channel)", int8_path)):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        rows[name] = _timed(lambda inputs, s=session: s.run(None, inputs)[0], batches, len(texts), dim)
    try:
        calibration = _batches(tokenizer, calibration_texts, batch_size=1)
        rows.update(_openvino_rows(float_path, batches, calibration, len(texts), dim, threads))
    except ImportError as error:
        print(f"OpenVINO rows left out ({error}): pip install openvino nncf")
    return rows


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output", default="runs/bench_teacher.json")
    args = parser.parse_args()
    blend = load_quickstart_corpus()["text"]
    texts = list(blend[: args.texts])
    calibration_texts = list(blend[args.texts : args.texts + CALIBRATION_TEXTS])
    threads = torch.get_num_threads()
    rows: dict[str, Any] = {}
    teachers = {
        dtype: load_teacher(None, max_seq_length=MAX_TOKENS, dtype=dtype) for dtype in ("float32", "bfloat16")
    }
    for dtype, teacher in teachers.items():
        started = time.perf_counter()
        embedded = teacher.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
        rows[f"torch {dtype}"] = (time.perf_counter() - started, _unit(embedded))
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows.update(
                _onnx_rows(
                    teachers["float32"], texts, calibration_texts, Path(folder), args.batch_size, threads
                )
            )
    except ImportError as error:
        print(f"ONNX rows left out ({error}): pip install onnxruntime onnx")
    seconds_float32, reference = rows["torch float32"]
    results = []
    for name, (seconds, embedded) in rows.items():
        cosine = (embedded * reference).sum(1)
        results.append(
            {
                "pass": name,
                "docs_per_s": len(texts) / seconds,
                "speedup": seconds_float32 / seconds,
                "cosine_min": float(cosine.min()),
                "cosine_p01": float(np.percentile(cosine, 1)),
                "cosine_mean": float(cosine.mean()),
                "rows_below_0_99": int((cosine < 0.99).sum()),
            }
        )
    print(f"{len(texts)} texts (<= {MAX_TOKENS} tokens), batch {args.batch_size}, {threads} threads")
    print("| teacher pass | docs/s | x float32 | cosine to float32: min | 1st pct | mean | rows < 0.99 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['pass']} | {r['docs_per_s']:.0f} | {r['speedup']:.2f} | {r['cosine_min']:.4f} | "
            f"{r['cosine_p01']:.4f} | {r['cosine_mean']:.5f} | {r['rows_below_0_99']} |"
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    summary = {"texts": len(texts), "threads": threads, "rows": results}
    Path(args.output).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
