"""Clustering on Luxical embeddings: faiss spherical k-means trained on a sample, every document
assigned, optional agglomerative merging into coarser levels, clusters labelled by their top n-grams,
and a picture (cluster sizes, a 2-D map of a sample).

    python -m luxical_st.curate.cluster --model MODEL --input docs.parquet --k 100 --output clusters.parquet

A Luxical model reads text as TF-IDF weighted n-grams, so a cluster is explained by the n-grams
with the largest summed TF-IDF weight over its documents (`top_ngrams`): no other model offers that.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


def _normalized(embeddings: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms)


def spherical_kmeans(
    embeddings: np.ndarray, k: int, sample_size: int | None = None, niter: int = 20, seed: int = 0
) -> np.ndarray:
    """Unit-norm centroids of faiss' spherical k-means, trained on at most `sample_size` rows
    (default k x 256, faiss' own cap) drawn with `seed`."""
    require_extra("curate", "clustering")
    import faiss

    x = _normalized(embeddings)
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in [1, {len(x)}] (the number of documents), got {k}")
    sample_size = min(len(x), sample_size or k * POINTS_PER_CENTROID)
    if sample_size < k:
        raise ValueError(f"sample_size {sample_size} is smaller than k {k}")
    if sample_size < len(x):
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), sample_size, replace=False))]
    kmeans = faiss.Kmeans(
        x.shape[1], k, niter=niter, spherical=True, seed=seed, verbose=False,
        max_points_per_centroid=max(POINTS_PER_CENTROID, -(-sample_size // k)), min_points_per_centroid=1,
    )  # fmt: skip
    kmeans.train(x)
    return _normalized(np.asarray(kmeans.centroids))


def assign(
    embeddings: np.ndarray, centroids: np.ndarray, batch_size: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid by cosine (exact inner-product search) of every row, in batches:
    (cluster ids int64, cosine float32). An all-zero row goes to cluster 0 with cosine 0."""
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(_normalized(centroids))
    ids = np.empty(len(embeddings), dtype=np.int64)
    similarities = np.empty(len(embeddings), dtype=np.float32)
    for start in range(0, len(embeddings), batch_size):
        batch = _normalized(embeddings[start : start + batch_size])
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
    embeddings: np.ndarray,
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


def top_ngrams(
    model: Any, texts: Sequence[str], assignments: np.ndarray, k: int | None = None, top: int = 8
) -> list[list[str]]:
    """Each cluster's `top` n-grams with the largest summed TF-IDF weight over its documents (the
    Luxical model's own NgramTfidf features), decoded to text."""
    from scipy.sparse import csr_matrix

    tfidf = model[0]
    if type(tfidf).__name__ != "NgramTfidf":
        raise ValueError("top_ngrams needs a Luxical model (its first module is NgramTfidf)")
    if len(texts) != len(assignments):
        raise ValueError(f"{len(texts)} texts but {len(assignments)} assignments")
    k = int(assignments.max()) + 1 if k is None else k
    indices, offsets, weights = tfidf.transform(list(texts))
    rows = np.repeat(np.arange(len(texts)), np.diff(np.append(offsets, len(indices))))
    clusters = assignments[rows]
    summed = csr_matrix((weights.astype(np.float64), (clusters, indices)), shape=(k, tfidf.num_features))
    ngram_rows = tfidf.ngrams
    labels = []
    for cluster in range(k):
        row = summed.getrow(cluster)
        order = np.argsort(-row.data, kind="stable")[:top]
        features = row.indices[order]
        labels.append([tfidf.tokenizer.decode([int(t) for t in ngram_rows[f] if t >= 0]) for f in features])
    return labels


def plot_clusters(
    embeddings: np.ndarray,
    assignments: np.ndarray,
    labels: Sequence[Sequence[str]] | None,
    path: str | Path,
    sample: int = 3000,
    shown: int = 20,
    seed: int = 0,
) -> Path:
    """A PNG: cluster sizes (largest `shown`, named by their top n-grams) and a 2-D PCA map of a
    sample of documents coloured by cluster, the largest clusters named at their mean position."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    sizes = np.bincount(assignments)
    order = np.argsort(-sizes, kind="stable")[:shown]
    names = [", ".join(list(labels[c])[:3]) if labels else str(c) for c in order]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(embeddings), min(sample, len(embeddings)), replace=False))
    points = PCA(n_components=2, random_state=seed).fit_transform(_normalized(embeddings[chosen]))
    figure, (left, right) = plt.subplots(1, 2, figsize=(16, max(6, 0.32 * len(order))))
    left.barh(range(len(order))[::-1], sizes[order], color="tab:blue")
    left.set_yticks(
        range(len(order))[::-1], [f"{c}: {n}" for c, n in zip(order, names, strict=True)], fontsize=8
    )
    left.set_xlabel("documents")
    left.set_title(f"largest {len(order)} of {len(sizes)} clusters ({len(assignments):,} documents)")
    colours = assignments[chosen] % 20
    right.scatter(points[:, 0], points[:, 1], c=colours, cmap="tab20", s=4, alpha=0.6)
    for cluster, name in zip(order[:10], names[:10], strict=True):
        inside = assignments[chosen] == cluster
        if inside.any():
            x, y = points[inside].mean(axis=0)
            right.annotate(
                name, (x, y), fontsize=7, ha="center", bbox={"boxstyle": "round", "fc": "w", "alpha": 0.7}
            )
    right.set_title(f"2-D PCA map of {len(chosen):,} documents, coloured by cluster")
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


# ---------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m luxical_st.curate.cluster", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--input", required=True, help="parquet file of texts (and ids / embeddings)")
    parser.add_argument("--output", required=True, help="parquet file: id, cluster, similarity, cluster_N")
    parser.add_argument("--model", default=None, help="Luxical model folder or Hub id (texts, labels)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default=None, help="default: the row number")
    parser.add_argument("--embedding-column", default=None, help="use stored embeddings instead of texts")
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--levels", type=int, nargs="*", default=[], help="coarser levels, e.g. 1000 40")
    parser.add_argument("--sample-size", type=int, default=None)
    parser.add_argument("--niter", type=int, default=20)
    parser.add_argument("--top", type=int, default=8, help="n-grams per cluster label")
    parser.add_argument("--plot", default=None, help="PNG of cluster sizes and a 2-D map")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trust-remote-code", action="store_true")
    args = parser.parse_args(argv)
    require_extra("curate", "clustering")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(args.input)
    model = None
    if args.model:
        from sentence_transformers import SentenceTransformer

        from luxical_st.remote_code import check_remote_code

        check_remote_code(args.model, args.trust_remote_code, "--trust-remote-code")
        model = SentenceTransformer(args.model, device="cpu", trust_remote_code=True)
    texts = (
        [str(t) for t in table.column(args.text_column).to_pylist()]
        if args.text_column in table.column_names
        else None
    )
    if args.embedding_column:
        embeddings = np.asarray(table.column(args.embedding_column).to_pylist(), dtype=np.float32)
    elif model is not None and texts is not None:
        embeddings = model.encode(texts, batch_size=256, convert_to_numpy=True)
    else:
        parser.error("give --embedding-column, or --model and a text column")
    result = cluster_embeddings(embeddings, args.k, args.sample_size, args.levels, args.niter, args.seed)
    ids = table.column(args.id_column) if args.id_column else pa.array(np.arange(len(embeddings)))
    columns = {
        "id": ids,
        "cluster": pa.array(result.assignments),
        "similarity": pa.array(result.similarities),
    }
    for n_clusters in result.levels:
        columns[f"cluster_{n_clusters}"] = pa.array(result.level(n_clusters))
    pq.write_table(pa.table(columns), args.output)
    labels = top_ngrams(model, texts, result.assignments, result.k, args.top) if model and texts else None
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
        plot_clusters(embeddings, result.assignments, labels, args.plot, seed=args.seed)
    print(f"{len(embeddings):,} documents in {result.k} clusters -> {args.output}; seconds {result.seconds}")


if __name__ == "__main__":
    main(sys.argv[1:])
