"""SemDeDup at corpus scale: in memory (`curate.dedup.semantic_dedup` on int8 `StoredRows`) against Ray
Data (`curate.ray_dedup`, shuffle by cluster), on the same stored int8 shards of real offline texts.

    python benchmarks/bench_ray_dedup.py --model runs/quickstart/model --docs 100000 --threshold 0.9

The texts (the quickstart blend, Wikipedia, news, WordNet glosses; `bench_cluster.timing_corpus`) are
embedded once and written as int8 shards with their `luxical_embedding.json`, as luxical-embed writes
them. Both paths use k = documents / 1000; they sample k-means differently, so their removals agree
closely but not exactly (reported as the Jaccard overlap of the removed sets).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from bench_cluster import cpu_name, timing_corpus  # run from the repository root or benchmarks/

from luxical_st.curate.dedup import semantic_dedup
from luxical_st.curate.ray_dedup import DUPLICATES_FILE, ray_semantic_dedup
from luxical_st.embedding_format import EmbeddingFormat, StoredRows


def write_shards(values: np.ndarray, fmt: EmbeddingFormat, folder: Path, shard_rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(values), shard_rows):
        rows = np.arange(start, min(start + shard_rows, len(values)))
        table = pa.table({"id": [f"doc-{i}" for i in rows], "embedding": fmt.to_arrow(values[rows])})
        pq.write_table(table, folder / f"part-{start // shard_rows:05d}.parquet", row_group_size=10_000)
    fmt.save(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--shard-rows", type=int, default=20_000)
    parser.add_argument("--work", default="runs/bench_ray_dedup", help="folder of the shards and outputs")
    parser.add_argument("--output", default=None, help="JSON file of the results")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    work = Path(args.work)
    folder = work / "shards"
    if not (folder / "luxical_embedding.json").is_file():
        model = SentenceTransformer(args.model, device="cpu", trust_remote_code=True)
        embeddings = model.encode(timing_corpus(args.docs), batch_size=1024, show_progress_bar=True)
        fmt = EmbeddingFormat.calibrate("int8", embeddings[:10_000], model=args.model)
        write_shards(fmt.quantize(embeddings), fmt, folder, args.shard_rows)
        del embeddings
    fmt = EmbeddingFormat.load(folder)
    table = pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.parquet")))
    stored = StoredRows(fmt.from_arrow(table.column("embedding")), fmt)
    runs: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    local = semantic_dedup(stored, threshold=args.threshold)
    runs["in_memory"] = {"seconds": time.perf_counter() - start, "removed": local.removed}
    runs["in_memory"]["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(work / "ray", ignore_errors=True)  # a fresh run, not a resumed one
    start = time.perf_counter()
    summary = ray_semantic_dedup(str(folder), work / "ray", threshold=args.threshold)
    runs["ray"] = {"seconds": time.perf_counter() - start, "removed": summary["removed"]}
    duplicates = pq.read_table(work / "ray" / DUPLICATES_FILE)
    removed = duplicates.filter(pa.compute.invert(duplicates.column("keep")))
    removed_ray = set(removed.column("position").to_pylist())
    removed_local = set(np.flatnonzero(~local.keep).tolist())
    jaccard = len(removed_ray & removed_local) / max(len(removed_ray | removed_local), 1)
    for name, run in runs.items():
        rate = len(stored) / run["seconds"]
        print(f"{name}: {run['seconds']:.1f} s ({rate:,.0f} docs/s), removed {run['removed']:.0f}")
    print(
        f"removed sets overlap (Jaccard): {jaccard:.3f}; stored int8: {stored.values.nbytes / 2**20:,.0f} MiB"
    )
    report = {"cpu": cpu_name(), "documents": len(stored), "threshold": args.threshold, "runs": runs,
              "ray_summary": summary, "removed_jaccard": jaccard}  # fmt: skip
    print(json.dumps(report, indent=1))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
