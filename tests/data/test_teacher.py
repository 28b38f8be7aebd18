"""Teacher targets: the real MiniLM teacher, its stored codes, and resuming really interrupted runs (the
codec itself: tests/test_quantization.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

from luxical_st.data.targets import (
    COMPLETE_FILE,
    METADATA_FILE,
    compute_teacher_targets,
    load_teacher_targets,
    read_targets_metadata,
    subset_targets,
    targets_complete,
)
from luxical_st.data.teacher import embed_documents, load_teacher
from luxical_st.inference import native_bfloat16
from luxical_st.quantization import dequantize_targets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def teacher():
    return load_teacher()


@pytest.fixture(scope="module")
def corpus(tweet_texts: list[str]) -> datasets.Dataset:
    texts = tweet_texts[:60]
    return datasets.Dataset.from_dict({"id": [f"tweet-{i}" for i in range(len(texts))], "text": texts})


def test_bfloat16_teacher_targets_stay_within_one_step(teacher, tweet_texts: list[str]) -> None:
    fast = load_teacher(dtype="bfloat16")
    assert next(fast.parameters()).dtype == torch.bfloat16
    texts = tweet_texts[:40]
    codes = [embed_documents(m, texts, dimensions=384, limit=0.3, batch_size=16) for m in (teacher, fast)]
    assert codes[1].dtype == np.uint8
    assert np.abs(codes[0].astype(np.int16) - codes[1].astype(np.int16)).max() <= 2
    auto = load_teacher(dtype="auto")
    expected = torch.bfloat16 if native_bfloat16() else torch.float32
    assert next(auto.parameters()).dtype == expected
    with pytest.raises(ValueError, match="dtype must be 'auto' or a torch floating-point type"):
        load_teacher(dtype="int8")


def test_targets_are_the_teachers_truncated_normalised_embeddings(teacher, corpus, tmp_path: Path) -> None:
    output = compute_teacher_targets(
        corpus, teacher, tmp_path / "t", dimensions=256, batch_size=16, shard_size=25
    )
    metadata = json.loads((output / METADATA_FILE).read_text())
    assert metadata["count"] == 60 and metadata["shards"] == 3 and metadata["dimensions"] == 256
    targets = load_teacher_targets(output)
    assert targets.column_names == ["id", "text", "embedding"]
    assert list(targets["id"]) == list(corpus["id"]) and list(targets["text"]) == list(corpus["text"])
    codes = np.array(targets["embedding"], dtype=np.uint8)
    assert codes.shape == (60, 256)
    full = teacher.encode(list(corpus["text"][:60]), convert_to_numpy=True)[:, :256]
    expected = full / np.linalg.norm(full, axis=1, keepdims=True)
    rows = dequantize_targets(codes)
    cosine = (rows * expected).sum(1) / np.linalg.norm(rows, axis=1)
    assert cosine.min() > 0.999
    assert np.abs(rows - expected).max() <= 0.3 / 255 + 1e-6  # MiniLM values stay inside +-0.3
    streamed = load_teacher_targets(output, streaming=True)
    assert [row["id"] for row in streamed] == list(corpus["id"])
    # No truncation when the teacher is smaller than the requested width.
    wide = compute_teacher_targets(corpus.select(range(4)), teacher, tmp_path / "w", dimensions=1024)
    assert np.array(load_teacher_targets(wide)["embedding"]).shape == (4, 384)

    # A prefix of the run (as benchmarks/bench_recipe.py trains on): the same rows and codes, in order.
    subset = subset_targets(output, tmp_path / "prefix", lambda identifier: identifier < "tweet-3")
    kept = load_teacher_targets(subset)
    expected_ids = [i for i in corpus["id"] if i < "tweet-3"]
    assert list(kept["id"]) == expected_ids and read_targets_metadata(subset)["count"] == len(expected_ids)
    position = {identifier: index for index, identifier in enumerate(corpus["id"])}
    np.testing.assert_array_equal(
        np.array(kept["embedding"], dtype=np.uint8), codes[[position[i] for i in expected_ids]]
    )
    assert read_targets_metadata(subset)["dimensions"] == 256


class InterruptedRunError(RuntimeError):
    pass


def test_interrupted_run_resumes_with_every_document_once(teacher, corpus, tmp_path: Path) -> None:
    output = tmp_path / "targets"

    def crash_after_second_shard(index: int) -> None:
        if index == 1:
            raise InterruptedRunError

    with pytest.raises(InterruptedRunError):
        compute_teacher_targets(
            corpus, teacher, output, shard_size=10, on_shard_written=crash_after_second_shard
        )
    assert not targets_complete(output)
    with pytest.raises(ValueError, match="incomplete"):
        load_teacher_targets(output)
    finished = {p.name: p.stat().st_mtime_ns for p in output.glob("shard-*.parquet")}
    assert sorted(finished) == ["shard-00000.parquet", "shard-00001.parquet"]
    with pytest.raises(ValueError, match="other settings"):
        compute_teacher_targets(corpus, teacher, output, shard_size=20)

    written: list[int] = []
    compute_teacher_targets(corpus, teacher, output, shard_size=10, on_shard_written=written.append)
    assert written == [2, 3, 4, 5]  # only the unfinished shards were embedded
    assert {name: (output / name).stat().st_mtime_ns for name in finished} == finished
    ids = list(load_teacher_targets(output)["id"])
    assert ids == list(corpus["id"])


@pytest.mark.slow
def test_killed_process_resumes_from_streaming_input(teacher, tweet_texts: list[str], tmp_path: Path) -> None:
    """A real SIGKILL mid-run (a child process embedding a jsonl file), then an in-process resume
    over a streamed IterableDataset."""
    rows = [{"id": f"doc-{i}", "text": text} for i, text in enumerate(tweet_texts[:120])]
    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "targets"
    script = (
        "import sys, time\n"
        "from luxical_st.data.corpus import load_text_dataset\n"
        "from luxical_st.data.targets import compute_teacher_targets\n"
        "from luxical_st.data.teacher import load_teacher\n"
        "data = load_text_dataset(sys.argv[1], streaming=True)\n"
        "compute_teacher_targets(data, load_teacher(), sys.argv[2], shard_size=10, batch_size=10,\n"
        "                        on_shard_written=lambda index: time.sleep(0.5))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(corpus_file), str(output)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not (output / "shard-00002.parquet").exists():
            assert child.poll() is None, "the child process ended before it could be killed"
            assert time.monotonic() < deadline, "the child process wrote no shards in time"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (output / COMPLETE_FILE).exists()
    done_before = len(list(output.glob("shard-*.parquet")))
    assert 3 <= done_before < 12

    from luxical_st.data.corpus import load_text_dataset

    streamed = load_text_dataset(str(corpus_file), streaming=True)
    compute_teacher_targets(streamed, teacher, output, shard_size=10, batch_size=10)
    ids = list(load_teacher_targets(output)["id"])
    assert ids == [row["id"] for row in rows]  # every document exactly once, in order


def test_bad_requests_fail_clearly(teacher, corpus, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="columns 'body'"):
        compute_teacher_targets(corpus, teacher, tmp_path / "x", text_column="body")
    with pytest.raises(ValueError, match="positive"):
        compute_teacher_targets(corpus, teacher, tmp_path / "x", dimensions=0)
    with pytest.raises(FileNotFoundError):
        load_teacher_targets(tmp_path / "missing")
    output = compute_teacher_targets(corpus.select(range(3)), teacher, tmp_path / "v")
    metadata = json.loads((output / METADATA_FILE).read_text())
    (output / METADATA_FILE).write_text(json.dumps({**metadata, "format_version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        load_teacher_targets(output)


def test_command_line(tweet_texts: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from luxical_st.data.commands import main

    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in tweet_texts[:12]), encoding="utf-8"
    )
    output = tmp_path / "targets"
    main(["teacher", "--dataset", str(corpus_file), "--output", str(output), "--shard-size", "5"])
    metadata = read_targets_metadata(output)
    assert (metadata["count"], metadata["shards"], metadata["dimensions"]) == (12, 3, 256)
    assert json.loads(capsys.readouterr().out) == metadata
    assert list(load_teacher_targets(output)["id"]) == [str(i) for i in range(12)]
