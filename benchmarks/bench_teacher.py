"""What a cheaper teacher pass costs in target quality: docs/s of the offline teacher (all-MiniLM-L6-v2)
in float32, in bfloat16, and as ONNX Runtime graphs in float32 and dynamically quantised int8, with every
row's cosine to the float32 embedding (the issue's bar for adopting a faster pass: >= 0.99 on every row).

    OMP_NUM_THREADS=2 python benchmarks/bench_teacher.py --texts 3000 --output runs/bench_teacher.json

The texts are the first `--texts` documents of the quickstart blend (passages up to 128 tokens, as the
quickstart's teacher reads them). The ONNX rows need `onnxruntime` and `onnx` (not dependencies of
luxical-st; sentence-transformers' own `backend="onnx"` needs optimum-onnx, whose release pins
transformers 4.x, so the graph is exported here with `torch.onnx.export` and quantised with
`onnxruntime.quantization.quantize_dynamic`); without them those rows are left out. bfloat16 is only
fast on CPUs with AVX512-BF16 or AMX: elsewhere it is emulated and slower than float32.
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


def _onnx_rows(teacher: Any, texts: list[str], folder: Path, batch_size: int, threads: int) -> dict[str, Any]:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tokenizer = teacher.tokenizer
    sample = tokenizer(["a b", "c"], return_tensors="pt", padding=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]
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
    order = np.argsort([-len(text) for text in texts])  # length-bucketed batches, as encode does
    rows = {}
    for name, path in (("onnx float32", float_path), ("onnx int8 (dynamic, per-channel)", int8_path)):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        out = np.zeros((len(texts), teacher.get_embedding_dimension()), np.float32)
        started = time.perf_counter()
        for first in range(0, len(texts), batch_size):
            chosen = order[first : first + batch_size]
            encoded = tokenizer(
                [texts[i] for i in chosen],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="np",
            )
            out[chosen] = session.run(None, {k: encoded[k].astype(np.int64) for k in names})[0]
        rows[name] = (time.perf_counter() - started, _unit(out))
    return rows


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--output", default="runs/bench_teacher.json")
    args = parser.parse_args()
    texts = list(load_quickstart_corpus()["text"][: args.texts])
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
            rows.update(_onnx_rows(teachers["float32"], texts, Path(folder), args.batch_size, threads))
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
