"""NgramTfidf and NgramIndex against a slow, obviously-correct oracle on real text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from luxical_st.modules import NgramIndex, NgramTfidf
from luxical_st.modules.ngrams import PackedHashTable
from tests.conftest import exact_ngram_vocabulary, oracle_ngram_counts, oracle_rows


@pytest.fixture(scope="module")
def vocabulary(tokenizer, tweet_texts, news_texts):
    """Every 1..5-gram seen at least twice in 200 tweets and 100 articles, counted exactly."""
    rows = [
        e.ids for e in tokenizer.encode_batch(tweet_texts[:200] + news_texts[:100], add_special_tokens=False)
    ]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=5, min_count=2)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return ngrams, idf


@pytest.fixture(scope="module")
def tfidf(tokenizer, vocabulary):
    return NgramTfidf(tokenizer, *vocabulary)


def as_rows(indices: np.ndarray, offsets: np.ndarray, weights: np.ndarray) -> list[dict]:
    ends = np.append(offsets[1:], indices.size)
    return [
        dict(zip(indices[a:b].tolist(), weights[a:b].tolist(), strict=True))
        for a, b in zip(offsets, ends, strict=True)
    ]


def assert_rows_close(ours: list[dict], expected: list[dict]) -> None:
    assert len(ours) == len(expected)
    for got, want in zip(ours, expected, strict=True):
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-6)


def test_vocabulary_is_real(vocabulary):
    ngrams, _ = vocabulary
    lengths = (ngrams >= 0).sum(axis=1)
    assert len(ngrams) > 5000
    assert set(np.unique(lengths).tolist()) == {1, 2, 3, 4, 5}


def test_transform_matches_oracle_on_real_text(
    tokenizer, vocabulary, tfidf, tweet_texts, news_texts, edge_texts
):
    texts = tweet_texts[200:260] + news_texts[100:110] + edge_texts[:-1]
    assert_rows_close(as_rows(*tfidf.transform(texts)), oracle_rows(tokenizer, *vocabulary, texts))


def test_shorter_max_ngram_length_counts_only_short_ngrams(tokenizer, vocabulary, tweet_texts):
    model = NgramTfidf(tokenizer, *vocabulary, max_ngram_length=2)
    texts = tweet_texts[300:330]
    assert_rows_close(as_rows(*model.transform(texts)), oracle_rows(tokenizer, *vocabulary, texts, max_n=2))


def test_rows_are_unit_or_zero_and_sorted(tfidf, edge_texts, tweet_texts):
    indices, offsets, weights = tfidf.transform(edge_texts + tweet_texts[:50])
    rows = as_rows(indices, offsets, weights)
    for row in rows:
        norm = math.sqrt(sum(w * w for w in row.values()))
        assert norm == pytest.approx(1.0, abs=1e-5) or not row
        assert list(row) == sorted(row)
    assert not rows[0] and not rows[1]  # "" and whitespace only
    assert np.isfinite(weights).all()


def test_batching_does_not_change_rows(tfidf, tweet_texts, news_texts):
    texts = tweet_texts[:40] + news_texts[:10]
    whole = as_rows(*tfidf.transform(texts))
    pieces = as_rows(*tfidf.transform(texts[:7])) + as_rows(*tfidf.transform(texts[7:]))
    assert_rows_close(pieces, whole)


def test_long_document_split_into_pieces_tokenizes_identically(tfidf, news_texts):
    long_text = "\n".join(news_texts[:60])  # ~200 KB: goes through the piecewise path
    assert len(long_text) > 3 * 2**16
    ids = tfidf.token_ids([long_text])[0]
    assert ids == tfidf.tokenizer.encode(long_text, add_special_tokens=False).ids


def test_chunked_matching_equals_single_chunk(tfidf, news_texts, monkeypatch):
    import luxical_st.modules.ngram_tfidf as module

    texts = news_texts[:30]
    whole = as_rows(*tfidf.transform(texts))
    monkeypatch.setattr(module, "_CHUNK_TOKENS", 2000)  # forces many chunks
    assert_rows_close(as_rows(*tfidf.transform(texts)), whole)


def test_preprocess_gives_embedding_bag_layout(tfidf, tweet_texts):
    features = tfidf.preprocess([*tweet_texts[:5], ""])
    assert set(features) == {"input_ids", "offsets", "per_sample_weights", "counts"}
    assert features["offsets"].shape == (6,)
    assert features["input_ids"].shape == features["per_sample_weights"].shape == features["counts"].shape
    assert int(features["offsets"][-1]) == features["input_ids"].numel()  # empty last text


def test_prompt_is_prepended(tfidf):
    features = tfidf.preprocess(["cats and dogs"], prompt="news: ")
    with_prompt = as_rows(*[features[key].numpy() for key in ("input_ids", "offsets", "per_sample_weights")])
    assert_rows_close(with_prompt, as_rows(*tfidf.transform(["news: cats and dogs"])))


@pytest.mark.parametrize("bad", [None, 3, b"bytes", ["ok", None], ["ok", 1.5]])
def test_non_text_input_raises_type_error(tfidf, bad):
    with pytest.raises(TypeError):
        tfidf.transform(bad)


def test_single_string_is_rejected_with_hint(tfidf):
    with pytest.raises(TypeError, match="wrap it in a list"):
        tfidf.transform("a single text")


def test_lone_surrogates_are_replaced_not_crashing(tfidf):
    rows = as_rows(*tfidf.transform(["broken \ud800 surrogate text", "fine text"]))
    assert rows[0]  # the words around the surrogate still count


def test_bad_vocabularies_are_rejected(tokenizer):
    idf = np.ones(2, dtype=np.float32)
    with pytest.raises(ValueError, match="left-aligned"):
        NgramTfidf(tokenizer, np.array([[5, -1, 6], [7, -1, -1]]), idf)
    with pytest.raises(ValueError, match="at least one token"):
        NgramTfidf(tokenizer, np.array([[-1, 5], [7, -1]]), idf)
    with pytest.raises(ValueError, match="more than once"):
        NgramTfidf(tokenizer, np.array([[5, 6], [5, 6]]), idf)
    with pytest.raises(ValueError, match="vocabulary"):
        NgramTfidf(tokenizer, np.array([[5, 10**6], [7, -1]]), idf)
    with pytest.raises(ValueError, match="idf must have shape"):
        NgramTfidf(tokenizer, np.array([[5, 6], [7, -1]]), np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        NgramTfidf(tokenizer, np.array([[5, 6], [7, -1]]), np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="integer"):
        NgramTfidf(tokenizer, np.array([[5.0, 6.0]]), np.ones(1))
    with pytest.raises(ValueError, match="max_ngram_length"):
        NgramTfidf(tokenizer, np.array([[5, 6], [7, -1]]), idf, max_ngram_length=3)


def test_index_finds_every_occurrence(vocabulary):
    ngrams, _ = vocabulary
    index = NgramIndex(ngrams, 30522)
    # A stream made of vocabulary n-grams themselves: each must be found at its own start.
    picks = np.arange(0, len(ngrams), max(1, len(ngrams) // 300))
    rows = [[int(t) for t in ngrams[pick] if t >= 0] for pick in picks]
    stream = np.array(
        [t for row in rows for t in [*row, index.separator]] + [index.separator], dtype=np.int64
    )
    starts, features = index.match(stream)
    found = set(zip(starts.tolist(), features.tolist(), strict=True))
    position = 0
    for pick, row in zip(picks.tolist(), rows, strict=True):
        assert (position, pick) in found
        position += len(row) + 1


def test_packed_hash_table_round_trips():
    rng = np.random.default_rng(0)
    keys = rng.choice(10**12, size=50_000, replace=False)
    values = rng.integers(0, 2**20, size=keys.size)
    table = PackedHashTable(keys, values)
    np.testing.assert_array_equal(table.get(keys), values)
    absent = rng.integers(10**12, 2 * 10**12, size=10_000)
    assert (table.get(absent) == -1).all()
    with pytest.raises(ValueError, match="distinct"):
        PackedHashTable(np.array([1, 1]), np.array([0, 1]))


def test_counts_feature_is_each_entrys_count_in_its_text(
    tfidf, vocabulary, tokenizer, tweet_texts, news_texts
):
    """The "counts" preprocess emits beside the weights (what `LexicalSketch(sublinear_tf)` reads)."""
    texts = [*tweet_texts[:30], news_texts[0] * 3, "", "the the the the"]
    features = tfidf.preprocess(texts)
    bounds = [*features["offsets"].tolist(), len(features["input_ids"])]
    expected = oracle_ngram_counts(tokenizer, vocabulary[0], texts)
    for row, counts in enumerate(expected):
        ids = features["input_ids"][bounds[row] : bounds[row + 1]].tolist()
        got = features["counts"][bounds[row] : bounds[row + 1]].tolist()
        assert dict(zip(ids, got, strict=True)) == counts
