"""The datatrove step's speed next to plain `model.encode`, on the same news articles (~3.3 KB each).

    python benchmarks/bench_datatrove.py --model runs/quickstart/model [--documents 2000]

One datatrove task (LocalPipelineExecutor, tasks=1, workers=1: in this process), one torch thread
everywhere, the model loaded (once, shared by the jobs) and warm before any clock starts; every row runs
`--repeats` times, interleaved, and the best is kept. Rates are per CPU second of this process
(`time.process_time`: a paused or time-shared process does not count the time it waits), wall-clock rates
beside them. Rows: plain `model.encode`; JsonlReader -> LuxicalEmbed with the parquet side output only;
JsonlReader -> LuxicalEmbed (float32 into metadata) -> JsonlWriter (gzip), with datatrove's default
adapter and with `shallow_adapter`. For the datatrove rows, `step` is LuxicalEmbed's own (wall) time from
datatrove's stats and `job` the whole executor run (reading and writing included). The side output is
checked against `model.encode` (max abs difference).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

FILES = 4


def cpu_kind() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_corpus(texts: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part in range(FILES):
        with open(folder / f"news_{part}.jsonl", "w", encoding="utf-8") as handle:
            for index in range(part, len(texts), FILES):
                handle.write(json.dumps({"id": f"news-{index:05d}", "text": texts[index]}) + "\n")


def step_seconds(logs: Path) -> float:
    """LuxicalEmbed's own time (datatrove's time_stats of the block) in a finished job's stats.json."""
    from luxical_st.scale.datatrove_steps import LuxicalEmbed

    blocks = json.loads((logs / "stats.json").read_text())
    (block,) = [b for b in blocks if b["name"].endswith(LuxicalEmbed.name)]
    time_stats = block["time_stats"]
    return float(time_stats["total"] if isinstance(time_stats, dict) else time_stats)


def run_datatrove(model: str, corpus: Path, work: Path, writer: str | None) -> dict[str, float]:
    """One job: JsonlReader -> LuxicalEmbed -> (writer None: parquet side output only; "default" or
    "shallow": float32 into metadata, then JsonlWriter with datatrove's default adapter or ours)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from luxical_st.scale.datatrove_steps import LuxicalEmbed, shallow_adapter

    shutil.rmtree(work, ignore_errors=True)
    pipeline: list[Any] = [JsonlReader(str(corpus))]
    if writer is not None:
        adapter = shallow_adapter if writer == "shallow" else None
        pipeline += [LuxicalEmbed(model, threads=1), JsonlWriter(str(work / "out"), adapter=adapter)]
    else:
        pipeline += [LuxicalEmbed(model, output_folder=str(work / "side"), metadata_key=None, threads=1)]
    start, cpu = time.perf_counter(), time.process_time()
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(work / "logs")).run()
    return {
        "job_cpu_seconds": time.process_time() - cpu,
        "job_seconds": time.perf_counter() - start,
        "step_seconds": step_seconds(work / "logs"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a Luxical model folder or Hub id")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of every row; the best is reported")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/bench_datatrove"))
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import pyarrow.parquet as pq
    import torch
    from sentence_transformers import SentenceTransformer

    from luxical_st.data.sources import news_articles
    from luxical_st.embedding_format import EmbeddingFormat
    from luxical_st.scale.datatrove_steps import shared_encoder

    torch.set_num_threads(1)
    texts = [article.text for article in news_articles()][: args.documents]
    mib = sum(len(text.encode("utf-8")) for text in texts) / 2**20
    corpus = args.work_dir / "corpus"
    shutil.rmtree(args.work_dir, ignore_errors=True)
    write_corpus(texts, corpus)

    model = SentenceTransformer(args.model, device="cpu", trust_remote_code=True)
    expected = model.encode(texts, batch_size=256, convert_to_numpy=True)  # also the warm-up
    shared_encoder(args.model, threads=1).encode(texts[:64])  # the datatrove jobs' model, loaded and warm

    def plain() -> dict[str, float]:
        start, cpu = time.perf_counter(), time.process_time()
        model.encode(texts, batch_size=256, convert_to_numpy=True)
        seconds = time.perf_counter() - start
        return {"step_seconds": seconds, "job_seconds": seconds, "job_cpu_seconds": time.process_time() - cpu}

    rows: dict[str, Any] = {
        "plain model.encode": plain,
        "datatrove, parquet side output": None,
        "datatrove, metadata -> JsonlWriter (default adapter)": "default",
        "datatrove, metadata -> JsonlWriter (shallow_adapter)": "shallow",
    }
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats):  # rows interleaved, the best time of each kept
        for name, row in rows.items():
            if callable(row):
                result = row()
            else:
                result = run_datatrove(args.model, corpus, args.work_dir / (row or "side"), row)
            best = results.setdefault(name, result)
            for key, value in result.items():
                best[key] = min(best[key], value)

    side = args.work_dir / "side" / "side"
    fmt = EmbeddingFormat.load(side)
    table = pq.read_table(side / "00000.parquet")
    order = [int(i.removeprefix("news-")) for i in table.column("id").to_pylist()]
    difference = float(
        np.abs(fmt.dequantize(fmt.from_arrow(table.column("embedding"))) - expected[order]).max()
    )

    print(f"{len(texts)} documents, {mib:.2f} MiB, 1 torch thread, best of {args.repeats}, CPU: {cpu_kind()}")
    print(
        "| path | docs/s per CPU s (job) | MiB/s per CPU s (job) | docs/s wall (job) | docs/s wall (step) |"
    )
    print("|---|---|---|---|---|")
    for name, result in results.items():
        cpu, job, step = (result[key] for key in ("job_cpu_seconds", "job_seconds", "step_seconds"))
        n = len(texts)
        print(f"| {name} | {n / cpu:.0f} | {mib / cpu:.2f} | {n / job:.0f} | {n / step:.0f} |")
    print(f"side output vs model.encode: max abs difference {difference:.2e}")
    summary = {
        "documents": len(texts),
        "mib": mib,
        "cpu": cpu_kind(),
        "results": results,
        "max_diff": difference,
    }
    (args.work_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
