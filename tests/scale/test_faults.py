"""Scale faults beyond one process: a worker node of a real multi-node Ray (`ray.cluster_utils.Cluster`,
several raylets on this machine, as Ray's own tests run them) is killed in the middle of the Ray
embedding job, the Ray teacher targets and the Ray dedup; a datatrove rank is killed mid-shard. Each job
either finishes with every id exactly once, or stops with a clear error and a rerun resumes to that state.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")
pytest.importorskip("datatrove")

import pyarrow as pa
import pyarrow.parquet as pq

from luxical_st.scale.ray_embed import embed_files
from luxical_st.scale.units import COMPLETE_FILE
from tests.conftest import save_small_model, write_stored_embeddings

ROOT = Path(__file__).resolve().parents[2]
OBJECT_STORE = 100 * 2**20
# The tests build their model themselves; its module code may differ from a working tree being edited.
embed = functools.partial(embed_files, trust_remote_code=True)


@contextlib.contextmanager
def cluster_of_two() -> Iterator[tuple[Any, Any]]:
    """A head node and one worker node of one CPU each, the driver connected to the head; shut down on
    exit, even on failure (a session Ray started by `ray_local` is shut down first and started again)."""
    import ray
    from ray.cluster_utils import Cluster

    restore = ray.is_initialized()
    ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": OBJECT_STORE, "include_dashboard": False},
    )
    try:
        worker = cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()
        if restore:  # as conftest's ray_local started it, for the tests that run after these
            ray.init(
                num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=300 * 2**20
            )


@contextlib.contextmanager
def kill_when(ready: Callable[[], bool], kill: Callable[[], None], timeout: float = 120) -> Iterator[dict]:
    """Run `kill` from a thread as soon as `ready()` holds (polled); the dict records when it ran."""
    record: dict[str, Any] = {}
    stop = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            if ready():
                kill()
                record["killed_at"] = time.monotonic()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        stop.set()
        thread.join(timeout=60)


def killed_mid_job(
    cluster: Any, worker: Any, ready: Callable[[], bool], job: Callable[[], Any]
) -> tuple[Any, BaseException | None]:
    """Run `job`, removing `worker` (a crash: its processes killed, no graceful stop) once `ready()`;
    (the job's result, None) if it finished, else (None, its error), which must name what was lost."""
    kill = functools.partial(cluster.remove_node, worker, allow_graceful=False)
    with kill_when(ready, kill) as record:
        try:
            result, error = job(), None
        except Exception as caught:  # a stop: allowed when it says what happened
            result, error = None, caught
    assert "killed_at" in record, "the worker node was never killed"
    if error is not None:
        first_line = (str(error).strip().splitlines() or [""])[0].lower()
        assert any(word in first_line for word in ("node", "actor", "died", "lost")), repr(error)
    return result, error


def count_files(pattern: str) -> int:
    return len(glob.glob(pattern))


def both_cpus_busy() -> bool:
    """Whether the cluster's two CPUs (one per node) are both taken: work runs on the worker node too."""
    import ray

    return ray.available_resources().get("CPU", 0) < 0.5


@pytest.fixture(scope="module")
def model_path(tokenizer, news_texts, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("faults") / "luxical"
    return save_small_model(tokenizer, news_texts[:150], path, layer_sizes=(32, 64, 24))


@pytest.fixture(scope="module")
def corpus(news_texts, tweet_texts, tmp_path_factory) -> Path:
    """400 news articles and 400 tweets with ids, in parquet row groups of 50: 16 units."""
    texts = [text for pair in zip(news_texts, tweet_texts[:400], strict=True) for text in pair]
    path = tmp_path_factory.mktemp("corpus") / "news.parquet"
    pq.write_table(pa.table({"id": [f"doc-{i}" for i in range(len(texts))], "text": texts}), path, 50)
    return path


def shard_ids(folder: Path, pattern: str) -> list[str]:
    return [i for path in sorted(folder.glob(pattern)) for i in pq.read_table(path).column("id").to_pylist()]


def duplicated(ids: list[str]) -> list[str]:
    return [i for i, n in Counter(ids).items() if n > 1]


def test_lost_work_stops_with_a_resume_line_and_own_errors_pass_through(tmp_path):
    """Ray's errors for a lost node or worker, as they reach the driver (also as the text of an error
    that could not be unpickled, as a node killed mid-read gave), become one line saying how to finish;
    an error of the job's own code on a worker stays what it was."""
    from ray.exceptions import ActorDiedError, NodeDiedError, RayTaskError, UnserializableException

    from luxical_st.scale.units import resumable_ray_job

    unpicklable = UnserializableException(
        "ray.exceptions.RayTaskError: ray::ListFiles() (pid=1, ip=192.0.2.2)\n  File x, line 1\n"
        "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task."
    )
    for lost, name in [(unpicklable, "ActorDiedError"), (NodeDiedError("node 1 died"), "NodeDiedError"),
                       (ActorDiedError(), "ActorDiedError")]:  # fmt: skip
        with pytest.raises(RuntimeError) as stopped, resumable_ray_job("The dedup", tmp_path):
            raise lost
        assert str(stopped.value) == (
            f"The dedup stopped: a Ray node or worker died mid-job ({name}). The units it finished are "
            f"kept in {tmp_path}; run the same command again to do the rest."
        )
        assert stopped.value.__cause__ is lost
    own = RayTaskError("assign_units", "Traceback ...", ValueError("x.parquet: id column 'id' is null"))
    with pytest.raises(RayTaskError) as raised, resumable_ray_job("The dedup", tmp_path):
        raise own
    assert raised.value is own


@pytest.mark.slow
def test_embed_job_survives_a_killed_worker_node(model_path, corpus, tmp_path):
    output = tmp_path / "out"
    units = 16
    expected = [f"doc-{i}" for i in range(800)]
    with cluster_of_two() as (cluster, worker):
        written_at_kill: list[int] = []

        def ready() -> bool:  # a shard on disk and both actors at work, one of them on the worker node
            written = count_files(str(output / "news*.parquet"))
            if written >= 1 and both_cpus_busy():
                written_at_kill.append(written)
                return True
            return False

        job = functools.partial(
            embed, str(corpus), output, model_path, workers=2, unit_rows=50, batch_bytes=4_000, batch_size=8
        )
        summary, error = killed_mid_job(cluster, worker, ready, job)
        assert written_at_kill[0] < units, "the node was killed after the job's last unit"
        if error is not None:  # the rerun resumes (settings from the plan)
            summary = embed(str(corpus), output, model_path, workers=1)
    assert summary["rows"] == 800 and (output / COMPLETE_FILE).is_file()
    ids = shard_ids(output, "news*.parquet")
    assert not duplicated(ids) and sorted(ids) == sorted(expected)
    assert not list(output.glob(".tmp-*"))


@pytest.mark.slow
def test_teacher_targets_survive_a_killed_worker_node(tweet_texts, tmp_path):
    import datasets

    from luxical_st.data.targets import load_teacher_targets, read_targets_metadata
    from luxical_st.scale.ray_teacher import ray_teacher_targets

    texts = tweet_texts[:96]
    ids = [f"t{i}" for i in range(len(texts))]
    dataset = datasets.Dataset.from_dict({"id": ids, "text": texts})
    output = tmp_path / "targets"
    teacher = {"name_or_path": None, "device": "cpu", "max_seq_length": 64, "dtype": "float32"}
    settings: dict[str, Any] = {
        "dimensions": 128,
        "limit": 0.3,
        "batch_size": 4,
        "shard_size": 8,
    }  # 12 shards
    with cluster_of_two() as (cluster, worker):
        written_at_kill: list[int] = []

        def ready() -> bool:
            written = count_files(str(output / "shard-*.parquet"))
            if written >= 1 and both_cpus_busy():
                written_at_kill.append(written)
                return True
            return False

        job = functools.partial(  # as on a cluster: the driver reads the shards, hands them out in one wave
            ray_teacher_targets, dataset, output, teacher, workers=2, wave_shards=12,
            ray_address=cluster.address, **settings,
        )  # fmt: skip
        _, error = killed_mid_job(cluster, worker, ready, job)
        assert written_at_kill[0] < 12, "the node was killed after the job's last shard"
        if error is None:  # finished: not a folder silently left without its COMPLETE marker
            assert (output / "COMPLETE").is_file()
        else:  # the rerun writes only the missing shards
            ray_teacher_targets(dataset, output, teacher, workers=1, ray_address=cluster.address, **settings)
    assert read_targets_metadata(output)["count"] == len(texts)
    rows = load_teacher_targets(output)
    assert rows["id"] == ids and rows["text"] == texts  # every id once, each shard in its place
    assert not list(output.glob(".tmp-*"))


@pytest.fixture(scope="module")
def stored(model_path, news_texts, tweet_texts, tmp_path_factory):
    """800 news articles and tweets and an exact copy of 40 of them, embedded by the small model and
    stored as int8 in 12 files (12 dedup units), as luxical-embed writes them."""
    from sentence_transformers import SentenceTransformer

    texts = [text for pair in zip(news_texts, tweet_texts[:400], strict=True) for text in pair]
    texts += texts[100:140]
    model = SentenceTransformer(model_path, device="cpu", trust_remote_code=True)
    embeddings = model.encode(texts, convert_to_numpy=True)
    return write_stored_embeddings(embeddings, tmp_path_factory.mktemp("stored"), 12, row_group_size=35)


@pytest.mark.slow
def test_dedup_survives_a_killed_worker_node(stored, tmp_path):
    import numpy as np

    from luxical_st.curate.dedup import semantic_dedup
    from luxical_st.curate.ray_dedup import ASSIGNED_DIR, DUPLICATES_FILE, ray_semantic_dedup

    folder, ids, rows = stored
    output = tmp_path / "dedup"
    with cluster_of_two() as (cluster, worker):
        state_at_kill: list[tuple[int, bool]] = []

        def ready() -> bool:  # the first unit assigned, the others in flight on both nodes
            assigned = count_files(str(output / ASSIGNED_DIR / "*.parquet"))
            if assigned >= 1 and both_cpus_busy():
                state_at_kill.append((assigned, (output / DUPLICATES_FILE).exists()))
                return True
            return False

        job = functools.partial(ray_semantic_dedup, str(folder), output, threshold=0.95, k=1)
        summary, error = killed_mid_job(cluster, worker, ready, job)
        assert not state_at_kill[0][1], "the node was killed after the job's end"
        if error is None:  # finished: every unit assigned, the duplicates written
            assert summary["units_remaining"] == 0
        else:  # the rerun assigns only the missing units
            summary = job()
    assigned_ids = shard_ids(output / ASSIGNED_DIR, "*.parquet")
    assert not duplicated(assigned_ids) and sorted(assigned_ids) == sorted(ids)  # each assigned once
    table = pq.read_table(output / DUPLICATES_FILE)
    positions = table.column("position").to_numpy()
    expected = semantic_dedup(rows, threshold=0.95, k=1)
    assert len(set(positions.tolist())) == len(positions)  # no document listed twice
    assert sorted(positions.tolist()) == np.flatnonzero(expected.group >= 0).tolist()
    assert table.column("id").to_pylist() == [ids[p] for p in positions]
    assert summary["removed"] == expected.removed >= 40 and summary["documents"] == len(ids)


DATATROVE_JOB = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from luxical_st.scale.datatrove_steps import LuxicalEmbed, shallow_adapter

corpus, model, side, out, logs = sys.argv[1:6]
LocalPipelineExecutor(
    [
        JsonlReader(corpus),
        LuxicalEmbed(model, output_folder=side, threads=1, batch_documents=4, trust_remote_code=True),
        JsonlWriter(out, compression=None, adapter=shallow_adapter),
    ],
    tasks=2, workers=1, logging_dir=logs,
).run()
"""


@pytest.mark.slow
def test_datatrove_rank_killed_mid_shard_reruns_to_every_document_once(
    model_path, news_texts, tweet_texts, tmp_path
):
    import json

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pairs = zip(news_texts[:200], tweet_texts[:200], strict=True)
    texts = [text for pair in pairs for text in pair if text.strip()]  # datatrove's readers skip empty texts
    expected = [f"doc-{i:04d}" for i in range(len(texts))]
    for part in range(4):  # four files, two per rank
        with open(corpus / f"part_{part}.jsonl", "w", encoding="utf-8") as handle:
            for index in range(part, len(texts), 4):
                handle.write(json.dumps({"id": expected[index], "text": texts[index]}) + "\n")
    side, out, logs = tmp_path / "side", tmp_path / "out", tmp_path / "logs"
    command = [sys.executable, "-c", DATATROVE_JOB, str(corpus), model_path, str(side), str(out), str(logs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    # Its own process group: the kill takes the executor's multiprocess Manager with it (killing only
    # the executor would leave that server process waiting forever).
    job = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    partial = side / "00000.parquet.partial"
    try:  # killed once rank 0 has written row groups of its shard, before it finished
        deadline = time.monotonic() + 120
        while job.poll() is None and time.monotonic() < deadline:
            if partial.is_file() and partial.stat().st_size > 4096:
                break
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert partial.is_file() and not (side / "00000.parquet").exists(), "rank 0 was not killed mid-shard"
    assert not (logs / "completions" / "00000").exists()

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert sorted(p.name for p in side.glob("*.parquet*")) == ["00000.parquet", "00001.parquet"]
    side_ids = shard_ids(side, "*.parquet")
    assert not duplicated(side_ids) and sorted(side_ids) == expected
    written = [json.loads(line)["id"] for path in sorted(out.glob("*.jsonl")) for line in path.open()]
    assert not duplicated(written) and sorted(written) == expected
