"""Clustering on Luxical embeddings: faiss spherical k-means trained on a sample, every document
assigned, optional agglomerative merging into coarser levels, clusters labelled by their top n-grams,
and a picture (cluster sizes, a 2-D map of a sample).

    python -m luxical_st.curate.cluster --model MODEL --input docs.parquet --k 100 --output clusters.parquet

A Luxical model reads text as TF-IDF weighted n-grams, so a cluster is explained by the n-grams whose
TF-IDF weight it holds far more of than the corpus does (`labels.top_ngrams`): no other model offers that.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from luxical_st.curate.inputs import add_input_arguments, joined_texts, read_input
from luxical_st.curate.labels import top_ngrams
from luxical_st.embedding_format import StoredRows
from luxical_st.extras import require_extra

POINTS_PER_CENTROID = 256  # faiss' own default cap on the training sample per centroid


@dataclass
class Clustering:
    """Centroids (k, d), each document's cluster and cosine to its centroid, coarser levels
    ({n_clusters: (k,) map fine cluster -> coarse cluster}), and timings in seconds."""

    centroids: np.ndarray
    assignments: np.ndarray
    similarities: np.ndarray
    levels: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    def sizes(self) -> np.ndarray:
        return np.bincount(self.assignments, minlength=self.k)

    def level(self, n_clusters: int) -> np.ndarray:
        """Every document's cluster at a coarser level built by `merge`."""
        return self.levels[n_clusters][self.assignments]


Embeddings = np.ndarray | StoredRows  # a float matrix, or stored int8 / binary rows read on demand


def normalized(embeddings: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit length (all-zero rows stay zero), C-contiguous for faiss."""
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms)


def spherical_kmeans(
    embeddings: Embeddings, k: int, sample_size: int | None = None, niter: int = 20, seed: int = 0
) -> np.ndarray:
    """Unit-norm centroids of faiss' spherical k-means, trained on at most `sample_size` rows
    (default k x 256, faiss' own cap) drawn with `seed`."""
    require_extra("curate", "clustering")
    import faiss

    n = len(embeddings)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] (the number of documents), got {k}")
    sample_size = min(n, sample_size or k * POINTS_PER_CENTROID)
    if sample_size < k:
        raise ValueError(f"sample_size {sample_size} is smaller than k {k}")
    if sample_size < n:
        x = normalized(embeddings[np.sort(np.random.default_rng(seed).choice(n, sample_size, replace=False))])
    else:
        x = normalized(embeddings[:])
    kmeans = faiss.Kmeans(
        x.shape[1], k, niter=niter, spherical=True, seed=seed, verbose=False,
        max_points_per_centroid=max(POINTS_PER_CENTROID, -(-sample_size // k)), min_points_per_centroid=1,
    )  # fmt: skip
    kmeans.train(x)
    return normalized(np.asarray(kmeans.centroids))


def assign(
    embeddings: Embeddings, centroids: np.ndarray, batch_size: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid by cosine (exact inner-product search) of every row, in batches:
    (cluster ids int64, cosine float32). An all-zero row goes to cluster 0 with cosine 0."""
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(normalized(centroids))
    ids = np.empty(len(embeddings), dtype=np.int64)
    similarities = np.empty(len(embeddings), dtype=np.float32)
    for start in range(0, len(embeddings), batch_size):
        batch = normalized(embeddings[start : start + batch_size])
        scores, nearest = index.search(batch, 1)
        ids[start : start + len(batch)] = nearest[:, 0]
        similarities[start : start + len(batch)] = scores[:, 0]
    return ids, similarities


def merge(centroids: np.ndarray, n_clusters: int) -> np.ndarray:
    """Agglomerative (average-linkage, cosine) merging of the centroids into `n_clusters` groups:
    a (k,) map fine cluster -> coarse cluster."""
    from sklearn.cluster import AgglomerativeClustering

    if not 1 <= n_clusters <= len(centroids):
        raise ValueError(f"n_clusters must be in [1, {len(centroids)}], got {n_clusters}")
    if n_clusters == len(centroids):
        return np.arange(len(centroids), dtype=np.int64)
    merged = AgglomerativeClustering(n_clusters=n_clusters, metric="cosine", linkage="average")
    return np.asarray(merged.fit_predict(centroids), dtype=np.int64)


def cluster_embeddings(
    embeddings: Embeddings,
    k: int,
    sample_size: int | None = None,
    levels: Sequence[int] = (),
    niter: int = 20,
    seed: int = 0,
) -> Clustering:
    """Train on a sample, assign every row, merge into each coarser level of `levels`."""
    start = time.perf_counter()
    centroids = spherical_kmeans(embeddings, k, sample_size=sample_size, niter=niter, seed=seed)
    trained = time.perf_counter()
    ids, similarities = assign(embeddings, centroids)
    assigned = time.perf_counter()
    result = Clustering(centroids, ids, similarities)
    for n_clusters in levels:
        result.levels[int(n_clusters)] = merge(centroids, int(n_clusters))
    result.seconds = {
        "train": trained - start,
        "assign": assigned - trained,
        "merge": time.perf_counter() - assigned,
    }
    return result


def map_2d(embeddings: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """2-D coordinates of (a sample of) embeddings: t-SNE on cosine (sklearn, PCA start) or plain PCA."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in ("tsne", "pca"):
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")
    x = normalized(embeddings)
    if len(x) < 3:  # too few points for two components: one on a line (two points), or at the origin
        points = np.zeros((len(x), 2))
        if len(x) == 2:
            points[:, 0] = PCA(n_components=1, random_state=seed).fit_transform(x)[:, 0]
        return points
    if method == "pca" or len(x) < 5:
        return np.asarray(PCA(n_components=2, random_state=seed).fit_transform(x))
    perplexity = min(30.0, (len(x) - 1) / 3)
    tsne = TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity, random_state=seed)
    return np.asarray(tsne.fit_transform(x))


def plot_clusters(
    embeddings: Embeddings,
    assignments: np.ndarray,
    labels: Sequence[Sequence[str]] | None,
    path: str | Path,
    sample: int = 3000,
    shown: int = 20,
    method: str = "tsne",
    seed: int = 0,
) -> Path:
    """A PNG: the `shown` largest clusters' sizes, each named by its top n-grams, and a 2-D map (t-SNE or
    PCA) of a sample of documents; those clusters in their own colour (the bar's) and numbered at their
    middle, every other cluster in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = np.bincount(assignments)
    order = np.argsort(-sizes, kind="stable")[:shown]
    tab20, tab20b = plt.get_cmap("tab20"), plt.get_cmap("tab20b")
    palette = [tab20(i) for i in range(20) if i not in (14, 15)] + [tab20b(0), tab20b(8)]  # no greys
    colours = [palette[i % len(palette)] for i in range(len(order))]
    names = [", ".join(list(labels[c])[:4]) if labels else "" for c in order]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(embeddings), min(sample, len(embeddings)), replace=False))
    points = map_2d(embeddings[chosen], method=method, seed=seed)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(18, max(7.0, 0.38 * len(order))), gridspec_kw={"width_ratios": [1, 1.15]}
    )
    rows = np.arange(len(order))[::-1]
    left.barh(rows, sizes[order], color=colours)
    left.set_yticks(rows, [f"#{c}  {n}" for c, n in zip(order, names, strict=True)], fontsize=9)
    left.set_xlabel("documents")
    left.set_title(f"largest {len(order)} of {len(sizes):,} clusters ({len(assignments):,} documents)")
    left.margins(y=0.01)
    cluster_of = assignments[chosen]
    other = ~np.isin(cluster_of, order)
    right.scatter(points[other, 0], points[other, 1], c="lightgrey", s=3, linewidths=0)
    for colour, cluster in zip(colours, order, strict=True):
        inside = cluster_of == cluster
        if inside.any():
            right.scatter(points[inside, 0], points[inside, 1], color=colour, s=6, linewidths=0)
            x, y = np.median(points[inside], axis=0)
            right.annotate(
                f"#{cluster}", (x, y), fontsize=9, ha="center", va="center", weight="bold",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour, "alpha": 0.85},
            )  # fmt: skip
    right.set_xticks([])
    right.set_yticks([])
    title = "PCA" if method == "pca" else "t-SNE"
    right.set_title(
        f"{title} map of {len(chosen):,} documents (grey: clusters beyond the largest {len(order)})"
    )
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


# ---------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m luxical_st.curate.cluster", description=__doc__.split("\n")[0]
    )
    add_input_arguments(parser, "Luxical model folder or Hub id (to embed texts, and for the labels)")
    parser.add_argument("--output", required=True, help="parquet file: id, cluster, similarity, cluster_N")
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--levels", type=int, nargs="*", default=[], help="coarser levels, e.g. 1000 40")
    parser.add_argument("--sample-size", type=int, default=None)
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--top", type=int, default=8, help="n-grams per cluster label")
    parser.add_argument(
        "--label-texts",
        default=None,
        help="texts for the labels, joined by --id-column (parquet, folder, glob)",
    )
    parser.add_argument("--label-docs", type=int, default=100_000, help="texts read for the labels")
    parser.add_argument("--plot", default=None, help="PNG of cluster sizes and a 2-D map")
    parser.add_argument("--map", choices=["tsne", "pca"], default="tsne", help="the picture's 2-D map")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    require_extra("curate", "clustering")
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = read_input(args, parser, texts_wanted=bool(args.model))  # texts for the labels
    embeddings, model, texts = data.embeddings, data.model, data.texts
    result = cluster_embeddings(embeddings, args.k, args.sample_size, args.levels, args.niter, args.seed)
    columns = {
        "id": data.ids,
        "cluster": pa.array(result.assignments),
        "similarity": pa.array(result.similarities),
    }
    for n_clusters in result.levels:
        columns[f"cluster_{n_clusters}"] = pa.array(result.level(n_clusters))
    pq.write_table(pa.table(columns), args.output)
    assignments = result.assignments
    if args.label_texts:  # stored embeddings clustered, texts elsewhere: label from a sample joined by id
        if not args.id_column or not model:
            parser.error("--label-texts needs --id-column (to join) and --model (the Luxical model)")
        texts, rows = joined_texts(
            args.label_texts, data.ids, args.id_column, args.text_column, args.label_docs
        )
        assignments = assignments[rows]
    labels = top_ngrams(model, texts, assignments, result.k, args.top) if model and texts else None
    summary = {
        "k": result.k,
        "documents": len(embeddings),
        "seconds": result.seconds,
        "sizes": result.sizes().tolist(),
    }
    if labels is not None:
        summary["labels"] = labels
    Path(args.output).with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if args.plot:
        plot_clusters(embeddings, result.assignments, labels, args.plot, method=args.map, seed=args.seed)
    print(f"{len(embeddings):,} documents in {result.k} clusters -> {args.output}; seconds {result.seconds}")


if __name__ == "__main__":
    main(sys.argv[1:])
