"""The n-gram vocabulary: Luxical's selection rule, exactness, IDF, files, command line, NgramTfidf."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from luxical_st.data.commands import main
from luxical_st.data.vocabulary import NgramVocabulary, idf_from_counts, mine_vocabulary
from luxical_st.tokenizer import regular_token_ids
from tests.conftest import exact_ngram_vocabulary


def token_rows(tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


def as_dict(ngrams: np.ndarray, counts: np.ndarray) -> dict[tuple[int, ...], int]:
    return {tuple(int(t) for t in row): int(c) for row, c in zip(ngrams, counts, strict=True)}


def test_unsaturated_summary_gives_the_exact_vocabulary(tokenizer, tweet_texts, news_texts) -> None:
    texts = tweet_texts + news_texts[:40]
    vocabulary = mine_vocabulary(texts, tokenizer, capacity=1_000_000, batch_size=64, show_progress=False)
    # Nothing was evicted, so the smallest count is 1 and the rule keeps every n-gram seen >= 8 times.
    expected_ngrams, expected_counts = exact_ngram_vocabulary(token_rows(tokenizer, texts), 5, 8)
    assert as_dict(vocabulary.ngrams, vocabulary.counts) == as_dict(expected_ngrams, expected_counts)
    assert vocabulary.ngrams.dtype == np.int32 and vocabulary.ngrams.shape[1] == 5
    assert (np.diff(vocabulary.counts) >= 0).all()  # row 0 = rarest kept n-gram


def test_selection_rule_and_cap(tokenizer, tweet_texts, news_texts) -> None:
    texts = tweet_texts + news_texts[:40]
    full = mine_vocabulary(texts, tokenizer, capacity=1_000_000, min_count_multiple=3, show_progress=False)
    capped = mine_vocabulary(
        iter(texts),
        tokenizer,
        capacity=1_000_000,
        min_count_multiple=3,
        max_vocabulary_size=100,
        show_progress=False,
    )
    assert full.counts.min() >= 3 and len(capped) == 100
    np.testing.assert_array_equal(capped.counts, full.counts[-100:])  # the most frequent ones
    saturated = mine_vocabulary(texts, tokenizer, capacity=5000, max_ngram_length=3, show_progress=False)
    exact = as_dict(*exact_ngram_vocabulary(token_rows(tokenizer, texts), 3, 1))
    kept = as_dict(saturated.ngrams, saturated.counts)
    smallest = min(kept.values()) / 8  # every kept count is >= 8 x the summary's smallest count
    for ngram, count in kept.items():
        assert exact[ngram] <= count <= exact[ngram] + smallest


def test_idf() -> None:
    counts = np.array([1, 3, 6], dtype=np.int64)
    np.testing.assert_allclose(idf_from_counts(counts), np.log(10) - np.log(counts), rtol=1e-6)
    assert idf_from_counts(counts).dtype == np.float32
    vocabulary = NgramVocabulary(np.array([[5, -1], [5, 6], [7, -1]]), counts)
    np.testing.assert_array_equal(vocabulary.idf, idf_from_counts(counts))
    with pytest.raises(ValueError, match="positive"):
        idf_from_counts(np.array([1, 0]))
    with pytest.raises(TypeError, match="1-D"):
        idf_from_counts(np.ones((2, 2)))


def test_vocabulary_plugs_into_ngram_tfidf(tokenizer, tweet_texts) -> None:
    from luxical_st.modules import NgramTfidf

    vocabulary = mine_vocabulary(tweet_texts, tokenizer, capacity=50_000, show_progress=False)
    module = NgramTfidf(tokenizer, vocabulary.ngrams, vocabulary.idf, max_ngram_length=5)
    indices, offsets, weights = module.transform(tweet_texts[:8])
    assert len(offsets) >= 8 and indices.size == weights.size > 0
    assert indices.max() < len(vocabulary)


def test_save_load_and_bad_files(tmp_path: Path) -> None:
    vocabulary = NgramVocabulary(np.array([[4, 9, -1], [4, -1, -1]]), np.array([2, 5]))
    path = tmp_path / "partial-vocabulary.npz"
    vocabulary.save(path)
    again = NgramVocabulary.load(path)
    np.testing.assert_array_equal(again.ngrams, vocabulary.ngrams)
    np.testing.assert_array_equal(again.counts, vocabulary.counts)
    np.savez(tmp_path / "new.npz", format_version=2, ngrams=vocabulary.ngrams, counts=vocabulary.counts)
    with pytest.raises(ValueError, match="format version 2"):
        NgramVocabulary.load(tmp_path / "new.npz")
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(ValueError, match=r"other.npz lacks array\(s\)"):
        NgramVocabulary.load(tmp_path / "other.npz")
    np.savez(tmp_path / "bad.npz", format_version=1, ngrams=np.array([[-1, 3]]), counts=np.array([1]))
    with pytest.raises(ValueError, match=r"bad\.npz: every n-gram needs a token"):
        NgramVocabulary.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "bit flips", "plain npy"])
def test_damaged_vocabulary_file_names_the_file(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "vocabulary.npz"
    NgramVocabulary(np.array([[4, 9, -1], [4, -1, -1]]), np.array([2, 5])).save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not a zip file" * 50)
    elif damage == "bit flips":
        data[len(data) // 3 : len(data) // 3 + 4] = bytes(
            255 - b for b in data[len(data) // 3 : len(data) // 3 + 4]
        )
    else:
        with path.open("wb") as handle:
            np.save(handle, np.arange(5))
        data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"vocabulary\.npz is not a readable \.npz file"):
        NgramVocabulary.load(path)


def test_bad_vocabularies_and_inputs(tokenizer) -> None:
    with pytest.raises(ValueError, match="left-aligned"):
        NgramVocabulary(np.array([[3, -1, 4]]), np.array([1]))
    with pytest.raises(ValueError, match="ascending"):
        NgramVocabulary(np.array([[3], [4]]), np.array([5, 1]))
    with pytest.raises(ValueError, match="shape"):
        NgramVocabulary(np.array([[3], [4]]), np.array([1]))
    with pytest.raises(ValueError, match="corpus empty"):
        mine_vocabulary([], tokenizer, capacity=10, show_progress=False)
    with pytest.raises(ValueError, match="no n-gram is counted"):
        mine_vocabulary(["one two three"], tokenizer, capacity=100, show_progress=False)
    with pytest.raises(TypeError, match="not one string"):
        mine_vocabulary("some text", tokenizer, capacity=100, show_progress=False)
    with pytest.raises(TypeError, match=r"texts\[0:\] row 1 is None \(NoneType\), not a string"):
        mine_vocabulary(["ok", None], tokenizer, capacity=100, show_progress=False)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="capacity"):
        mine_vocabulary(["ok"], tokenizer, capacity=0, show_progress=False)


def test_command_line(tmp_path: Path, tweet_texts) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in tweet_texts), encoding="utf-8")
    output = tmp_path / "vocab.npz"
    main(
        ["vocabulary", "--dataset", str(corpus), "--output", str(output), "--capacity", "20000"]
        + ["--max-documents", "400"]
    )
    vocabulary = NgramVocabulary.load(output)
    assert 100 < len(vocabulary) < 20_000 and vocabulary.counts.min() >= 8


def test_with_unigrams_covers_every_ordinary_token(tokenizer, tweet_texts) -> None:
    from luxical_st.model import build_model

    mined = mine_vocabulary(tweet_texts[:300], tokenizer, capacity=50_000, min_count_multiple=2.0)
    ordinary = regular_token_ids(tokenizer)
    vocabulary = tokenizer.get_vocab()
    assert len(ordinary) == 30522 - 999 and vocabulary["[CLS]"] not in ordinary
    assert vocabulary["[unused0]"] not in ordinary and vocabulary["##ing"] in ordinary
    full = mined.with_unigrams(ordinary)
    unigrams = full.ngrams[(full.ngrams[:, 1:] == -1).all(axis=1), 0]
    assert set(unigrams.tolist()) == set(ordinary.tolist())
    mined_unigrams = mined.ngrams[(mined.ngrams[:, 1:] == -1).all(axis=1), 0]
    assert len(full) == len(mined) + len(np.setdiff1d(ordinary, mined_unigrams))
    # mined rows keep their counts; added ones come first with count 1
    added = len(full) - len(mined)
    assert (full.counts[:added] == 1).all() and np.array_equal(full.counts[added:], mined.counts)
    assert full.with_unigrams(ordinary).ngrams.shape == full.ngrams.shape  # idempotent
    # a word the tweets never contain now gets a non-zero TF-IDF vector
    word = "archbishop"
    assert not set(tokenizer.encode(word, add_special_tokens=False).ids) <= set(mined.ngrams[:, 0].tolist())
    model = build_model(tokenizer, full.ngrams, full.idf, layer_sizes=(8, 4))
    features = model.preprocess([word])
    assert features["input_ids"].numel() >= 1
