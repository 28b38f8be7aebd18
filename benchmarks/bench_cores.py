"""How to spend N cores: threads in one process vs sentence-transformers' multi-process encode pool.

Embeds the long and the short set of `bench_inference.py` with its Luxical-One-shaped model (build it
first by running that benchmark once) in three ways: one process with one thread, one process with N
threads, and `model.encode(texts, pool=...)` with N processes of one thread each. Processes share the
mapped SparseDense weights, so N processes cost little more memory than one.

    python benchmarks/bench_cores.py [--processes 2] [--work-dir outputs/bench]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench_inference import cpu_name, text_sets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--snippets", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/bench"))
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the pool's workers: one thread each
    import torch
    from sentence_transformers import SentenceTransformer

    path = args.work_dir / "luxical-one-shaped-st"
    model = SentenceTransformer(str(path), trust_remote_code=True, device="cpu")
    sets = text_sets(args.documents, args.snippets)
    warm_up = text_sets(args.documents // 2, args.snippets // 2, warm_up=True)
    pool = model.start_multi_process_pool(["cpu"] * args.processes)
    rates: dict[str, dict[str, float]] = {}
    try:
        for name, texts in sets.items():
            for label, threads, use_pool in (
                ("1 process, 1 thread", 1, False),
                (f"1 process, {args.processes} threads", args.processes, False),
                (f"{args.processes} processes (ST pool), 1 thread each", 1, True),
            ):
                torch.set_num_threads(threads)
                chunk = max(1, min(args.batch_size, len(texts) // (4 * args.processes)))
                kwargs = {"pool": pool, "chunk_size": chunk} if use_pool else {}
                cache = getattr(model[0].encoder, "_word_cache", None)
                if cache is not None:  # every way starts from the same state: words of other texts only
                    cache._clear()
                model.encode(warm_up[name], batch_size=args.batch_size, **kwargs)
                start = time.perf_counter()
                model.encode(texts, batch_size=args.batch_size, **kwargs)
                rates.setdefault(label, {})[name] = len(texts) / (time.perf_counter() - start)
    finally:
        model.stop_multi_process_pool(pool)
    columns = " | ".join(f"{name} (texts/s)" for name in sets)
    print(f"{cpu_name()}\n\n| how | {columns} | scaling vs 1 thread |")
    print("|---|" + "---|" * (len(sets) + 1))
    base = rates["1 process, 1 thread"]
    for label, row in rates.items():
        scaling = " / ".join(f"{row[name] / base[name]:.2f}x" for name in sets)
        print(f"| {label} | " + " | ".join(f"{row[name]:,.0f}" for name in sets) + f" | {scaling} |")


if __name__ == "__main__":
    main()
