"""Space-Saving summary: the paper's guarantees against exact counts of real n-grams, merging, files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from luxical_st.data import space_saving
from luxical_st.data.space_saving import SpaceSavingSummary, count_distinct
from luxical_st.data.vocabulary import NgramCounter


def token_documents(tokenizer, texts: list[str]) -> list[np.ndarray]:
    return [
        np.array(e.ids, dtype=np.int32) for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    ]


def exact_ngram_counts(documents: list[np.ndarray], max_n: int) -> Counter[tuple[int, ...]]:
    counts: Counter[tuple[int, ...]] = Counter()
    for doc in documents:
        row = doc.tolist()
        for n in range(1, max_n + 1):
            counts.update(tuple(row[i : i + n]) for i in range(len(row) - n + 1))
    return counts


def assert_guarantees(summary: SpaceSavingSummary, exact: Counter[tuple[int, ...]]) -> None:
    """Metwally et al.'s guarantees, checked n-gram by n-gram against exact counts."""
    total = sum(exact.values())
    assert summary.total == total and len(summary) == summary.capacity
    assert summary.floor <= summary.min_count <= total / summary.capacity
    assert int(summary.counts.sum()) <= total
    estimates = {
        tuple(int(t) for t in row if t >= 0): int(c)
        for row, c in zip(summary.items, summary.counts, strict=True)
    }
    assert len(estimates) == len(summary)  # exact n-grams, no collisions
    for ngram, count in estimates.items():
        assert exact[ngram] <= count <= exact[ngram] + summary.min_count
    errors = dict(zip(map(tuple, summary.items.tolist()), summary.errors.tolist(), strict=True))
    assert all(0 <= e <= summary.floor for e in errors.values())
    for ngram, count in exact.items():
        if count > total / summary.capacity:
            assert ngram in estimates, (ngram, count)
        else:
            assert ngram in estimates or count <= summary.floor


@pytest.fixture(scope="module")
def real_documents(tokenizer, news_texts, tweet_texts) -> list[np.ndarray]:
    """500 tweets and 60 news articles (about 60k tokens)."""
    return token_documents(tokenizer, tweet_texts + news_texts[:60])


def test_guarantees_hold_on_real_ngrams(real_documents) -> None:
    exact = exact_ngram_counts(real_documents, 5)
    counter = NgramCounter(capacity=3000, max_ngram_length=5, chunk_tokens=7000)  # about 9 merges
    for start in range(0, len(real_documents), 50):
        counter.add_documents(real_documents[start : start + 50])
    summary = counter.finish()
    assert summary.min_count > 1  # the summary did evict
    assert_guarantees(summary, exact)
    # The most frequent n-grams are counted almost exactly.
    top = sorted(exact, key=exact.__getitem__)[-20:]
    rows = {
        tuple(int(t) for t in row if t >= 0): c for row, c in zip(summary.items, summary.counts, strict=True)
    }
    assert all(rows[g] - exact[g] <= summary.floor for g in top)


def test_merged_shard_summaries_keep_the_guarantees(real_documents) -> None:
    exact = exact_ngram_counts(real_documents, 3)
    shards = []
    for part in (real_documents[:300], real_documents[300:]):
        counter = NgramCounter(capacity=2000, max_ngram_length=3, chunk_tokens=5000)
        counter.add_documents(part)
        shards.append(counter.finish())
    merged = shards[0].merge(shards[1])
    assert_guarantees(merged, exact)


def test_merge_of_saved_summaries(real_documents, tmp_path: Path) -> None:
    exact = exact_ngram_counts(real_documents, 2)
    paths = []
    for index, part in enumerate((real_documents[:200], real_documents[200:400], real_documents[400:])):
        counter = NgramCounter(capacity=1500, max_ngram_length=2)
        counter.add_documents(part)
        paths.append(tmp_path / f"shard{index}.npz")
        counter.finish().save(paths[-1])
    merged = SpaceSavingSummary.load(paths[0])
    for path in paths[1:]:
        merged.merge(SpaceSavingSummary.load(path))
    assert_guarantees(merged, exact)
    merged.save(tmp_path / "merged.npz")
    again = SpaceSavingSummary.load(tmp_path / "merged.npz")
    for name in ("keys", "counts", "errors", "items"):
        np.testing.assert_array_equal(getattr(again, name), getattr(merged, name))
    assert (again.floor, again.total, again.capacity) == (merged.floor, merged.total, merged.capacity)


def test_plain_integer_keys_and_the_sort_fallback(monkeypatch) -> None:
    stream = (np.random.default_rng(0).zipf(1.3, 100_000) % 20_000).astype(np.int64)
    exact = Counter(stream.tolist())
    for limit in (space_saving.HISTOGRAM_LIMIT, 0):  # 0 forces the partition-based selection
        monkeypatch.setattr(space_saving, "HISTOGRAM_LIMIT", limit)
        summary = SpaceSavingSummary(200)
        for chunk in np.array_split(stream, 13):
            summary.update(chunk)
        assert summary.floor <= stream.size / 200 and len(summary) == 200
        for key, count in zip(summary.keys.tolist(), summary.counts.tolist(), strict=True):
            assert exact[key] <= count <= exact[key] + summary.floor
        assert {k for k, c in exact.items() if c > stream.size / 200} <= set(summary.keys.tolist())


def test_count_distinct_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    for keys in (rng.integers(0, 2**63 - 1, 50_000), rng.integers(0, 300, 50_000), np.zeros(5, np.int64)):
        payload = np.arange(keys.size, dtype=np.int64)
        distinct, counts, first = count_distinct(keys, payload)
        expected, expected_counts = np.unique(keys, return_counts=True)
        np.testing.assert_array_equal(distinct, expected)
        np.testing.assert_array_equal(counts, expected_counts)
        np.testing.assert_array_equal(keys[first], distinct)


def test_a_hash_collision_is_detected_and_counted() -> None:
    summary = SpaceSavingSummary(10, item_width=2)
    summary.update(np.array([7, 7, 9]), np.array([[1, 2], [1, 2], [3, -1]]))
    summary.update(np.array([7]), np.array([[5, 6]]))  # same key, another n-gram
    assert summary.collisions == 1
    assert dict(zip(summary.keys.tolist(), summary.counts.tolist(), strict=True)) == {7: 2, 9: 1}
    assert summary.items[0].tolist() == [1, 2]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="capacity"):
        SpaceSavingSummary(0)
    summary = SpaceSavingSummary(5)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*63\)"):
        summary.update(np.array([-1, 2]))
    with pytest.raises(TypeError, match="integer"):
        summary.update(np.array([1.5]))
    with pytest.raises(ValueError, match="ascending"):
        summary.update_counts(np.array([3, 1]), np.array([1, 1]))
    with pytest.raises(ValueError, match="pass items"):
        SpaceSavingSummary(5, item_width=2).update(np.array([1]))
    with pytest.raises(TypeError, match="SpaceSavingSummary"):
        summary.merge("summary")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="item widths"):
        summary.merge(SpaceSavingSummary(5, item_width=3))
    path = tmp_path / "s.npz"
    summary.save(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["format_version"] = np.int64(99)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="format version 99"):
        SpaceSavingSummary.load(path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.npz"):
        SpaceSavingSummary.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        SpaceSavingSummary.load(tmp_path / "missing.npz")
