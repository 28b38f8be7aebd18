"""SemDeDup of a stored-embedding corpus on Ray Data, for corpora no single machine holds (extra: scale).

    python -m luxical_st.curate.ray_dedup outputs/emb outputs/dedup --threshold 0.9 [--k 100000]

The input is what `luxical-embed` (or `LuxicalEmbed`) wrote: parquet shards with an id and an embedding
column, quantised values read through the `luxical_embedding.json` beside them. The steps:
1. spherical k-means (faiss) on a sample drawn from randomly chosen row groups, on the driver;
2. every document assigned to its nearest centroid, one unit of row groups per Ray task;
3. a shuffle by cluster (`groupby("cluster").map_groups`): each group is one cluster, whose cosine pairs
   at or above the threshold are found in memory (a worker holds one cluster, as stored);
4. duplicate groups from the pairs alone (connected components) on the driver; in each group the first
   document in input order (or, with `keep="central"`, the one closest to its centroid) is kept.

Written to OUTPUT_DIR: `duplicates.parquet` (id, position in the input, group, keep) for every document
that has a duplicate, anything not listed being unique, and `dedup_summary.json`.

Resumable: the plan (units of row groups and the settings), the centroids and each unit's assignment
(`assigned/<unit>.parquet`: ids, positions, clusters and the stored values, a copy of the input's size)
are kept in OUTPUT_DIR and written atomically. A rerun after a kill assigns only the missing units, then
redoes the shuffle and the pairs; a rerun with another `--threshold` or `--keep` reuses every
assignment; one with other settings (k, sample, seed, columns, source) is refused, and so is one
whose stored embeddings (a shard or the format file, fingerprinted in the plan) changed since.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.curate.cluster import assign, spherical_kmeans
from luxical_st.curate.dedup import DOCS_PER_CLUSTER, cluster_pairs, groups_from_pairs
from luxical_st.embedding_format import (
    EMBEDDING_COLUMN,
    FORMAT_FILE,
    EmbeddingFormat,
    embeddings_of,
    format_of,
    parquet_files,
)
from luxical_st.fingerprint import fingerprints
from luxical_st.records import write_atomic, write_json
from luxical_st.scale.ray_embed import init_ray
from luxical_st.scale.units import (
    PLAN_FILE,
    PLAN_VERSION,
    load_or_save_plan,
    pending_units,
    plan_units,
    read_unit,
    resumable_ray_job,
    write_atomic_parquet,
)

DUPLICATES_FILE = "duplicates.parquet"
ASSIGNED_DIR = "assigned"
CENTROIDS_FILE = "centroids.npy"
SUMMARY_FILE = "dedup_summary.json"
SAMPLE_UNIT_FACTOR = 2  # sample units holding about twice the k-means sample, then rows among them


def _unit_embeddings(
    unit: dict[str, Any], columns: list[str], fmt: EmbeddingFormat | None
) -> tuple[Any, Any]:
    """One unit's (Arrow table of `columns`, its embeddings as float32 or lazily dequantised rows)."""
    import pyarrow as pa

    table = pa.concat_tables(read_unit(unit, columns, batch_rows=65_536))
    where = f"{unit['path']}: column {columns[-1]!r}"
    return table, embeddings_of(table.column(columns[-1]), fmt, where, lazy=True)


def sample_embeddings(
    units: Sequence[dict[str, Any]], column: str, fmt: EmbeddingFormat | None, size: int, seed: int
) -> np.ndarray:
    """About `size` embeddings from randomly chosen units (row-group runs), rows drawn among them."""
    rng = np.random.default_rng(seed)
    rows = np.array([unit["rows"] for unit in units])
    chosen, held = [], 0
    for index in rng.permutation(len(units)):
        chosen.append(int(index))
        held += int(rows[index])
        if held >= SAMPLE_UNIT_FACTOR * size:
            break
    parts = [_unit_embeddings(units[i], [column], fmt)[1][:] for i in sorted(chosen)]  # k-means normalises
    sample = np.concatenate(parts)
    return sample[np.sort(rng.choice(len(sample), min(size, len(sample)), replace=False))]


def assign_units(
    batch: Any,
    centroids: np.ndarray,
    id_column: str,
    embedding_column: str,
    fmt: dict[str, Any] | None,
    output_dir: str,
) -> Any:
    """`map_batches` function over units: writes each unit's ids, input positions, clusters, cosine to
    the centroid and embedding values as stored (the shuffle moves the stored bytes, not floats) to
    `output_dir/<unit name>`, atomically; returns (name, rows) per unit."""
    import pyarrow as pa

    stored_format = EmbeddingFormat(**fmt) if fmt else None
    names, counts = [], []
    for unit in batch.to_pylist():
        table, embeddings = _unit_embeddings(unit, [id_column, embedding_column], stored_format)
        ids = table.column(id_column)
        if ids.null_count:
            raise ValueError(f"{unit['path']}: id column {id_column!r} has null values")
        clusters, similarity = assign(embeddings, centroids)
        positions = np.arange(len(table), dtype=np.int64) + int(unit["offset"])
        columns = {"id": ids.cast(pa.string()), "position": positions, "cluster": clusters}
        stored = table.column(embedding_column).combine_chunks()
        assigned = pa.table({**columns, "similarity": similarity, "stored": stored})
        counts.append(
            write_atomic_parquet(Path(output_dir) / unit["name"], iter([assigned]), assigned.schema)
        )
        names.append(unit["name"])
    return pa.table({"name": names, "rows": counts})


def cluster_pair_rows(group: Any, threshold: float, fmt: dict[str, Any] | None) -> Any:
    """`map_groups` function: one cluster's pairs at or above `threshold`, by input position, with their
    ids and each side's cosine to the centroid."""
    import pyarrow as pa

    stored_format = EmbeddingFormat(**fmt) if fmt else None
    embeddings = embeddings_of(group.column("stored"), stored_format, "stored embeddings")[:]
    left, right = cluster_pairs(embeddings, np.arange(len(group)), threshold)  # rows of the group
    positions, similarity = group.column("position").to_numpy(), group.column("similarity").to_numpy()
    ids = group.column("id")
    return pa.table(
        {
            "left": pa.array(positions[left], pa.int64()),
            "right": pa.array(positions[right], pa.int64()),
            "left_id": ids.take(pa.array(left, pa.int64())).cast(pa.string()),
            "right_id": ids.take(pa.array(right, pa.int64())).cast(pa.string()),
            "left_similarity": pa.array(similarity[left], pa.float32()),
            "right_similarity": pa.array(similarity[right], pa.float32()),
        }
    )


def ray_semantic_dedup(
    source: str,
    output_dir: str | os.PathLike[str],
    threshold: float = 0.9,
    k: int | None = None,
    sample_size: int | None = None,
    id_column: str = "id",
    embedding_column: str = EMBEDDING_COLUMN,
    keep: str = "first",
    seed: int = 0,
    ray_address: str | None = None,
    max_units: int | None = None,
) -> dict[str, Any]:
    """SemDeDup of the stored embeddings under `source` (see the module docstring); the summary.

    `max_units` stops after assigning that many units (a partial run, finished by a rerun)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray.data

    if keep not in ("first", "central"):
        raise ValueError(f"keep must be 'first' or 'central', got {keep!r}")
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a cosine in [-1, 1], got {threshold}")
    started = time.perf_counter()
    fmt = format_of(source)
    output = Path(output_dir)
    files = [str(path) for path in parquet_files(source)]
    units = plan_units(files)
    offsets = np.cumsum([0] + [int(unit["rows"]) for unit in units])
    n = int(offsets[-1])
    k = max(1, min(n, k or round(n / DOCS_PER_CLUSTER)))
    settings = {"version": PLAN_VERSION, "source": str(source), "id_column": id_column, "k": k,
                "embedding_column": embedding_column, "sample_size": sample_size, "seed": seed}  # fmt: skip
    plan: dict[str, Any] = {
        **settings,
        "units": [{**u, "offset": int(o)} for u, o in zip(units, offsets, strict=False)],
    }
    if (output / PLAN_FILE).is_file():  # a rerun: the saved plan, refused if settings or inputs changed
        plan = load_or_save_plan(output, plan)
    else:  # the stored embeddings' fingerprints: a rerun over changed ones is refused, naming the file
        folder = Path(source) if Path(source).is_dir() else Path(source).parent
        plan["files"] = fingerprints(files + ([str(folder / FORMAT_FILE)] if fmt is not None else []))
    saved = output / CENTROIDS_FILE  # k-means once per run, so every rerun assigns alike
    if saved.is_file():
        centroids = np.load(saved)
    else:  # a fresh run: nothing is written before the sample was read and k-means trained
        sample = sample_embeddings(plan["units"], embedding_column, fmt, min(n, sample_size or k * 256), seed)
        centroids = spherical_kmeans(sample, k, seed=seed)
        plan = load_or_save_plan(output, plan)
        write_atomic(saved, lambda tmp: np.save(tmp, centroids))
    items: list[dict[str, Any]] = plan["units"]
    trained = time.perf_counter()
    init_ray(ray_address)
    fmt_dict = None if fmt is None else asdict(fmt)
    assigned_dir = output / ASSIGNED_DIR
    assigned_dir.mkdir(exist_ok=True)
    todo = pending_units(assigned_dir, items)[:max_units]
    if todo:  # resumable: a unit's shard exists once it is complete, and a rerun skips it
        columns = {"id_column": id_column, "embedding_column": embedding_column}
        step = partial(
            assign_units, centroids=centroids, fmt=fmt_dict, output_dir=str(assigned_dir), **columns
        )
        with resumable_ray_job("The dedup", output):
            ray.data.from_items(todo, override_num_blocks=len(todo)).map_batches(
                step, batch_format="pyarrow", batch_size=1
            ).take_all()
    remaining = len(pending_units(assigned_dir, items))
    if remaining:
        return {"documents": n, "k": k, "units": len(items), "units_remaining": remaining}
    assigned = ray.data.read_parquet([str(assigned_dir / unit["name"]) for unit in items])
    pairs_step = partial(cluster_pair_rows, threshold=threshold, fmt=fmt_dict)
    pairs_ds = assigned.groupby("cluster").map_groups(pairs_step, batch_format="pyarrow")
    with resumable_ray_job("The dedup", output):
        batches = pairs_ds.iter_batches(batch_size=None, batch_format="pyarrow")
        blocks = [table for table in batches if len(table)]
    result = _duplicates(pa.concat_tables(blocks) if blocks else None, keep)
    write_atomic(output / DUPLICATES_FILE, lambda tmp: pq.write_table(result, tmp))
    kept = result.column("keep").to_numpy(zero_copy_only=False)
    summary = {
        "documents": n,
        "k": k,
        "threshold": threshold,
        "units": len(items),
        "units_remaining": 0,
        "pairs": sum(len(table) for table in blocks),
        "groups": int(kept.sum()),
        "removed": int((~kept).sum()),
        "seconds": {"kmeans": trained - started, "total": time.perf_counter() - started},
    }
    write_json(output / SUMMARY_FILE, summary, indent=1)
    return summary


def _duplicates(pairs: Any, keep: str) -> Any:
    """(id, position, group, keep) of every document in a duplicate group, groups numbered by their
    first position, from the pairs alone."""
    import pyarrow as pa

    if pairs is None:
        schema = {"id": pa.string(), "position": pa.int64(), "group": pa.int64(), "keep": pa.bool_()}
        return pa.table({name: pa.array([], kind) for name, kind in schema.items()})
    ends = np.concatenate([pairs.column("left").to_numpy(), pairs.column("right").to_numpy()])
    positions, nodes = np.unique(ends, return_inverse=True)  # compact node numbers, in input order
    half = len(pairs)
    group, groups = groups_from_pairs(len(positions), nodes[:half], nodes[half:])
    ids = pa.concat_arrays(
        [pairs.column("left_id").combine_chunks(), pairs.column("right_id").combine_chunks()]
    )
    first_seen = np.unique(nodes, return_index=True)[1]
    node_ids = ids.take(pa.array(first_seen, pa.int64()))
    kept = np.zeros(len(positions), dtype=bool)
    if keep == "first":
        kept[[members.min() for members in groups]] = True
    else:
        sims = np.concatenate(
            [pairs.column("left_similarity").to_numpy(), pairs.column("right_similarity").to_numpy()]
        )
        node_similarity = sims[first_seen]
        kept[[members[np.argmax(node_similarity[members])] for members in groups]] = True
    return pa.table({"id": node_ids, "position": positions, "group": group, "keep": kept})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m luxical_st.curate.ray_dedup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("input", help="folder (or glob) of stored-embedding parquet shards")
    parser.add_argument("output_dir")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--k", type=int, default=None, help="clusters (default: documents / 1000)")
    parser.add_argument("--sample-size", type=int, default=None, help="k-means sample (default: k x 256)")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--embedding-column", default=EMBEDDING_COLUMN)
    parser.add_argument("--keep", choices=("first", "central"), default="first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args(argv)
    summary = ray_semantic_dedup(
        args.input, args.output_dir, args.threshold, args.k, args.sample_size, args.id_column,
        args.embedding_column, args.keep, args.seed, args.ray_address,
    )  # fmt: skip
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
