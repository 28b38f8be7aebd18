"""Semantic dedup (SemDeDup, Abbas et al. 2023) on Luxical embeddings: spherical k-means, then every
pair inside a cluster whose cosine is at least a threshold is a duplicate pair; the connected pairs
form duplicate groups and one document per group is kept.

    python -m luxical_st.curate.dedup --model MODEL --input docs.parquet --threshold 0.9 --output keep.parquet

Pairs split across two clusters are missed (SemDeDup's trade of recall for linear cost); more
documents per cluster (smaller `k`) find more of them at quadratic cost inside each cluster.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from luxical_st.curate.cluster import Embeddings, assign, normalized, spherical_kmeans
from luxical_st.curate.inputs import add_input_arguments, read_input
from luxical_st.extras import require_extra

DOCS_PER_CLUSTER = 1000
BLOCK_ROWS = 2048


@dataclass
class DedupResult:
    """`keep`: one True per duplicate group and for every unique document; `group`: each document's
    duplicate group (-1 when it has no duplicate); `groups`: the members of each group (the kept one
    first); `clusters`: each document's k-means cluster."""

    keep: np.ndarray
    group: np.ndarray
    groups: list[np.ndarray]
    clusters: np.ndarray
    pairs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def removed(self) -> int:
        return int((~self.keep).sum())


def groups_from_pairs(n: int, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Connected components of the duplicate pairs: (group id per document or -1, members per group)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    group = np.full(n, -1, dtype=np.int64)
    if len(left) == 0:
        return group, []
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([left, right]))
    _, first_seen, renumbered = np.unique(component[members], return_index=True, return_inverse=True)
    order = np.argsort(first_seen, kind="stable")  # groups numbered by their first document
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group[members] = rank[renumbered]
    sorted_members = members[np.argsort(group[members], kind="stable")]
    bounds = np.cumsum(np.bincount(group[members], minlength=len(order)))[:-1]
    return group, np.split(sorted_members, bounds)


def cluster_pairs(
    embeddings: np.ndarray, members: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j, document indices) of one cluster's `members`, whose `embeddings` these rows are,
    with cosine >= threshold, in row blocks. All-zero rows (empty text) are never in a pair."""
    vectors = normalized(embeddings)
    nonzero = vectors.any(axis=1)
    vectors, members = vectors[nonzero], members[nonzero]
    lefts, rights = [], []
    for start in range(0, len(members), BLOCK_ROWS):
        block = vectors[start : start + BLOCK_ROWS] @ vectors.T
        rows, cols = np.nonzero(block >= threshold)
        upper = cols > rows + start
        lefts.append(members[rows[upper] + start])
        rights.append(members[cols[upper]])
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)


def semantic_dedup(
    embeddings: Embeddings,
    threshold: float = 0.9,
    k: int | None = None,
    sample_size: int | None = None,
    keep: str = "first",
    seed: int = 0,
) -> DedupResult:
    """SemDeDup over `embeddings` (n, d). `k` defaults to n / 1000 clusters; `keep`: "first" keeps a
    group's earliest document, "central" the one closest to its cluster centroid. All-zero rows (empty
    text) are never called duplicates. `embeddings` may be `StoredRows` (int8 / binary as stored): only
    a batch or one cluster is dequantised at a time."""
    require_extra("curate", "semantic dedup")
    if keep not in ("first", "central"):
        raise ValueError(f"keep must be 'first' or 'central', got {keep!r}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a cosine in [-1, 1], got {threshold}")
    n = len(embeddings)
    start = time.perf_counter()
    k = max(1, min(n, k or round(n / DOCS_PER_CLUSTER)))
    centroids = spherical_kmeans(embeddings, k, sample_size=sample_size, seed=seed)
    clusters, similarity = assign(embeddings, centroids)
    clustered = time.perf_counter()
    order = np.argsort(clusters, kind="stable")
    bounds = np.flatnonzero(np.diff(clusters[order])) + 1
    lefts, rights = [], []
    for members in np.split(order, bounds):  # one cluster's rows in memory at a time
        left, right = cluster_pairs(embeddings[members], members, threshold)
        lefts.append(left)
        rights.append(right)
    left = np.concatenate(lefts) if lefts else np.empty(0, np.int64)
    right = np.concatenate(rights) if rights else np.empty(0, np.int64)
    group, groups = groups_from_pairs(n, left, right)
    keep_mask = group < 0
    for index, members in enumerate(groups):
        if keep == "central":
            members = members[np.argsort(-similarity[members], kind="stable")]
            groups[index] = members
        keep_mask[members[0]] = True
    return DedupResult(
        keep=keep_mask,
        group=group,
        groups=groups,
        clusters=clusters,
        pairs=len(left),
        seconds={"cluster": clustered - start, "pairs": time.perf_counter() - clustered},
    )


def normalized_text_hash(text: str) -> bytes:
    """Exact-dedup key: blake2b of the lower-cased text with whitespace collapsed."""
    return hashlib.blake2b(" ".join(text.lower().split()).encode("utf-8"), digest_size=16).digest()


def exact_dedup(texts: Sequence[str]) -> np.ndarray:
    """Keep mask of exact dedup (after lower-casing and collapsing whitespace): first copy kept."""
    seen: set[bytes] = set()
    keep = np.zeros(len(texts), dtype=bool)
    for index, text in enumerate(texts):
        key = normalized_text_hash(text)
        if key not in seen:
            seen.add(key)
            keep[index] = True
    return keep


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m luxical_st.curate.dedup", description=__doc__.split("\n")[0]
    )
    add_input_arguments(parser, "model folder or Hub id (to embed texts)")
    parser.add_argument("--output", required=True, help="parquet file: id, keep, group, cluster")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--k", type=int, default=None)
    parser.add_argument("--keep", choices=("first", "central"), default="first")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    require_extra("curate", "semantic dedup")
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = read_input(args, parser)
    result = semantic_dedup(data.embeddings, args.threshold, args.k, keep=args.keep, seed=args.seed)
    columns = {"id": data.ids, "keep": pa.array(result.keep), "group": pa.array(result.group)}
    pq.write_table(pa.table({**columns, "cluster": pa.array(result.clusters)}), args.output)
    print(
        f"{len(data.embeddings):,} documents, {len(result.groups):,} duplicate groups, "
        f"{result.removed:,} removed -> {args.output}; seconds {result.seconds}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
