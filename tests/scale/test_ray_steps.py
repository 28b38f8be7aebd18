"""Luxical steps 1-2 on a real local Ray: sharded n-gram mining equals single-process mining (and the exact
count) when the summary does not fill and keeps the Space-Saving guarantees when it does; `engine: ray`
writes the same teacher targets and vocabulary as `engine: local`, resuming a partial run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("datatrove")

from luxical_st.data.vocabulary import mine_vocabulary
from luxical_st.scale.ray_mining import ray_mine_vocabulary
from tests.conftest import exact_ngram_vocabulary


def as_dict(ngrams: np.ndarray, counts: np.ndarray) -> dict[tuple[int, ...], int]:
    return {tuple(int(t) for t in row if t >= 0): int(c) for row, c in zip(ngrams, counts, strict=True)}


def test_sharded_mining_equals_single_process_and_exact_counts(ray_local, tokenizer, tweet_texts):
    settings = {"capacity": 1_000_000, "max_ngram_length": 3, "min_count_multiple": 2.0}
    ray_vocabulary = ray_mine_vocabulary(tweet_texts, None, shard_documents=60, **settings)  # 9 shards
    local = mine_vocabulary(tweet_texts, tokenizer, show_progress=False, **settings)
    assert np.array_equal(ray_vocabulary.ngrams, local.ngrams)
    assert np.array_equal(ray_vocabulary.counts, local.counts)
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts, add_special_tokens=False)]
    exact = as_dict(*exact_ngram_vocabulary(rows, max_n=3, min_count=2))
    assert as_dict(ray_vocabulary.ngrams, ray_vocabulary.counts) == exact


def test_sharded_mining_keeps_space_saving_guarantees_when_full(ray_local, tokenizer, tweet_texts):
    capacity = 3000
    vocabulary = ray_mine_vocabulary(
        tweet_texts, None, capacity=capacity, max_ngram_length=3, min_count_multiple=1e-9, shard_documents=50
    )
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts, add_special_tokens=False)]
    true: Counter[tuple[int, ...]] = Counter()
    for row in rows:
        for n in range(1, 4):
            true.update(tuple(row[i : i + n]) for i in range(len(row) - n + 1))
    total = sum(true.values())
    assert len(true) > 3 * capacity  # the summaries fill
    kept = as_dict(vocabulary.ngrams, vocabulary.counts)
    assert len(kept) == capacity
    for gram, count in kept.items():
        assert true[gram] <= count <= true[gram] + total / capacity
    heavy = [gram for gram, count in true.items() if count > total / capacity]
    assert heavy and all(gram in kept for gram in heavy)


@pytest.mark.slow
def test_ray_engine_writes_the_local_targets_and_vocabulary(ray_local, tweet_texts, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from luxical_st.config import load_config
    from luxical_st.data.targets import load_teacher_targets, read_targets_metadata
    from luxical_st.pipeline import load_corpus, teacher_arguments, teacher_targets_step, vocabulary_step
    from luxical_st.scale.ray_teacher import ray_teacher_targets

    corpus = tmp_path / "tweets.parquet"
    texts = tweet_texts[:150]
    pq.write_table(pa.table({"id": [f"t{i}" for i in range(len(texts))], "text": texts}), corpus)
    overrides = [
        f"--corpus={corpus}", "--teacher_dimensions=128", "--teacher_max_seq_length=64",
        "--teacher_batch_size=16", "--target_shard_size=40", "--vocabulary_capacity=100000",
        "--max_ngram_length=3", "--min_count_multiple=2", "--max_vocabulary_size=20000",
    ]  # fmt: skip
    local = load_config(None, [*overrides, f"--output_dir={tmp_path / 'local'}"])
    engine = ["--engine=ray", "--ray_workers=2"]
    ray = load_config(None, [*overrides, f"--output_dir={tmp_path / 'ray'}", *engine])
    for config in (local, ray):
        Path(config.output.output_dir).mkdir()

    local_targets = teacher_targets_step(local, Path(local.output.output_dir), lambda: load_corpus(local))
    partial = ray_teacher_targets(  # as on a cluster: the driver reads the shards, in waves of one
        load_corpus(ray), Path(ray.output.output_dir) / "targets", teacher_arguments(ray),
        dimensions=128, limit=0.3, batch_size=16, shard_size=40, max_shards=2, wave_shards=1,
        ray_address=ray_local.get_runtime_context().gcs_address,
    )  # fmt: skip
    assert len(list(partial.glob("shard-*.parquet"))) == 2 and not (partial / "COMPLETE").exists()
    ray_targets = teacher_targets_step(ray, Path(ray.output.output_dir), lambda: load_corpus(ray))
    assert ray_targets == partial

    assert read_targets_metadata(ray_targets) == read_targets_metadata(local_targets)
    local_rows, ray_rows = load_teacher_targets(local_targets), load_teacher_targets(ray_targets)
    assert local_rows["id"] == ray_rows["id"] == [f"t{i}" for i in range(150)]
    assert ray_rows["text"] == texts
    local_codes = np.asarray(local_rows["embedding"], np.int16)
    ray_codes = np.asarray(ray_rows["embedding"], np.int16)
    assert np.abs(local_codes - ray_codes).max() <= 1  # the same shards, batches and teacher
    for shard in local_targets.glob("shard-*.parquet"):
        assert pq.read_table(ray_targets / shard.name).num_rows == pq.read_table(shard).num_rows

    local_vocabulary = vocabulary_step(local, Path(local.output.output_dir), lambda: load_corpus(local))
    ray_vocabulary = vocabulary_step(ray, Path(ray.output.output_dir), lambda: load_corpus(ray))
    assert np.array_equal(local_vocabulary.ngrams, ray_vocabulary.ngrams)
    assert np.array_equal(local_vocabulary.counts, ray_vocabulary.counts)
