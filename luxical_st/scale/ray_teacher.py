"""Luxical step 1 on Ray Data: an actor pool of teacher SentenceTransformers writing exactly the target
shards that `luxical_st.data.targets.compute_teacher_targets` writes (shard i = documents
[i * shard_size, (i + 1) * shard_size), same columns, same codes, same run.json / metadata.json /
COMPLETE), through that module's own functions. Each actor takes one GPU where the cluster has GPUs,
CPUs otherwise. Shards already on disk are skipped, so a rerun after a kill finishes the rest (shards
may finish out of order here; the folder is complete, without gaps, when the COMPLETE marker is written).

On a local Ray a sized dataset is put in the object store once and each actor slices its shards out of
it; on a cluster (`ray_address`), or for a streamed dataset, the driver reads the shards and hands them
to the actors in waves of `wave_shards` shards (each wave starts its actors, so keep waves large).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .ray_embed import init_ray
from .units import resumable_ray_job

logger = logging.getLogger(__name__)


def _load(teacher_kwargs: dict[str, Any], threads: int | None) -> Any:
    from luxical_st.data.teacher import load_teacher

    if threads:
        import torch

        torch.set_num_threads(threads)
    return load_teacher(**teacher_kwargs)


def _describe(teacher_kwargs: dict[str, Any], dimensions: int, limit: float, shard_size: int) -> dict:
    from luxical_st.data.targets import run_record

    teacher = _load(teacher_kwargs, None)
    return run_record(teacher, dimensions=dimensions, limit=limit, shard_size=shard_size)


class TeacherShardWriter:
    """`map_batches` callable over rows {shard[, ids, texts]}: embeds each shard with the teacher and
    writes it with `luxical_st.data.targets.write_shard`; rows without texts are sliced out of
    `dataset` (an ObjectRef of a map-style datasets.Dataset)."""

    def __init__(
        self,
        output_dir: str,
        teacher_kwargs: dict[str, Any],
        dimensions: int,
        limit: float,
        batch_size: int,
        shard_size: int,
        dataset: Any = None,
        text_column: str = "text",
        id_column: str = "id",
        threads: int | None = None,
    ) -> None:
        import ray

        self.output = Path(output_dir)
        self.teacher = _load(teacher_kwargs, threads)
        self.dimensions, self.limit, self.batch_size = dimensions, limit, batch_size
        self.shard_size = shard_size
        self.dataset: Any = ray.get(dataset) if dataset is not None else None
        self.text_column, self.id_column = text_column, id_column

    def __call__(self, batch: Any) -> Any:
        from luxical_st.data.targets import shard_path, write_shard
        from luxical_st.data.teacher import embed_documents

        shards, rows = [], []
        for item in batch.to_pylist():
            index = int(item["shard"])
            if item.get("texts") is None:
                first = index * self.shard_size
                part = self.dataset[first : first + self.shard_size]
                ids, texts = [str(i) for i in part[self.id_column]], list(part[self.text_column])
            else:
                ids, texts = item["ids"], item["texts"]
            codes = embed_documents(
                self.teacher, texts, dimensions=self.dimensions, limit=self.limit, batch_size=self.batch_size
            )
            write_shard(shard_path(self.output, index), ids, texts, codes)
            shards.append(index)
            rows.append(len(ids))
        return {"shard": np.array(shards, np.int64), "rows": np.array(rows, np.int64)}


def _shards_on_disk(output: Path) -> set[int]:
    from luxical_st.data.targets import SHARD_GLOB

    return {int(path.stem.split("-")[1]) for path in output.glob(SHARD_GLOB)}


def _streamed_shards(
    dataset: Any, done: set[int], shard_size: int, text_column: str, id_column: str
) -> Iterator[dict[str, Any]]:
    """The rows of the shards still to do, read by the driver (a sized dataset skips finished shards
    without reading them; a stream is read through)."""
    from luxical_st.data.targets import shard_rows

    if hasattr(dataset, "__len__"):
        for index in range(-(-len(dataset) // shard_size)):
            if index not in done:
                ids, texts = next(shard_rows(dataset, index * shard_size, shard_size, text_column, id_column))
                yield {"shard": index, "ids": ids, "texts": texts}
        return
    for index, (ids, texts) in enumerate(shard_rows(dataset, 0, shard_size, text_column, id_column)):
        if index not in done:
            yield {"shard": index, "ids": ids, "texts": texts}


def ray_teacher_targets(
    dataset: Any,
    output_dir: str | os.PathLike[str],
    teacher_kwargs: dict[str, Any],
    *,
    dimensions: int = 256,
    limit: float = 0.3,
    batch_size: int = 128,
    shard_size: int = 10_000,
    text_column: str = "text",
    id_column: str = "id",
    workers: int | None = None,
    threads_per_worker: int = 1,
    ray_address: str | None = None,
    wave_shards: int | None = None,
    max_shards: int | None = None,
) -> Path:
    """`compute_teacher_targets` on Ray: `teacher_kwargs` are `load_teacher`'s (teacher name, device,
    max_seq_length, dtype, trust_remote_code); each actor loads its own teacher. `max_shards` writes at
    most that many shards and leaves the run unfinished (a rerun finishes it). Returns the folder."""
    import ray
    import ray.data

    from luxical_st.data.targets import claim_run, finish_run, start_targets

    output = start_targets(
        dataset, output_dir, text_column, id_column, dimensions, batch_size, shard_size, limit
    )
    if output is None:
        return Path(output_dir)
    init_ray(ray_address)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    per_actor: dict[str, Any] = {"num_gpus": 1} if gpus else {"num_cpus": threads_per_worker}
    kwargs = dict(teacher_kwargs, device="cuda") if gpus else dict(teacher_kwargs)
    workers = max(1, workers or (gpus if gpus else cpus // threads_per_worker))
    describe = ray.remote(**per_actor)(_describe)
    run = ray.get(describe.remote(kwargs, dimensions, limit, shard_size))
    claim_run(output, run)
    done = _shards_on_disk(output)
    constructor = {
        "output_dir": str(output),
        "teacher_kwargs": kwargs,
        "dimensions": run["dimensions"],
        "limit": limit,
        "batch_size": batch_size,
        "shard_size": shard_size,
        "text_column": text_column,
        "id_column": id_column,
        "threads": None if gpus else threads_per_worker,
    }
    total = -(-len(dataset) // shard_size) if hasattr(dataset, "__len__") else 0
    if any(index >= total for index in done) and total:
        raise ValueError(f"{output} holds shards beyond the {total} of this dataset: another corpus?")
    items: Iterator[dict[str, Any]]
    if total and not ray_address:
        # a local Ray: the dataset goes to the object store once (a datasets.Dataset may be memory-mapped
        # from this machine's cache files, which other nodes of a cluster cannot open)
        items = iter([{"shard": i} for i in range(total) if i not in done])
        constructor["dataset"] = ray.put(dataset)
        wave = total
    else:
        items = _streamed_shards(dataset, done, shard_size, text_column, id_column)
        wave = wave_shards or 4 * workers
    if max_shards is not None:
        items = itertools.islice(items, max_shards)
    while chunk := list(itertools.islice(items, wave)):
        logger.info("Teacher targets: %d shards on %d actors (%s)", len(chunk), workers, per_actor)
        with resumable_ray_job("The teacher targets", output):
            ray.data.from_items(chunk, override_num_blocks=len(chunk)).map_batches(
                TeacherShardWriter,
                fn_constructor_kwargs=constructor,
                batch_format="pyarrow",
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(chunk))),
                **per_actor,
            ).take_all()
    on_disk = _shards_on_disk(output)
    if max_shards is not None or (hasattr(dataset, "__len__") and len(on_disk) < total):
        logger.info("Teacher targets: %d shards on disk, not finished (rerun to finish)", len(on_disk))
        return output
    import pyarrow.parquet as pq

    from luxical_st.data.targets import SHARD_GLOB

    count = sum(pq.ParquetFile(path).metadata.num_rows for path in output.glob(SHARD_GLOB))
    finish_run(output, run, count)  # refuses a folder with a gap in its shard numbering
    return output
