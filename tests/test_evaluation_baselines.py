"""The built baselines: TF-IDF equals a by-definition computation; specs resolve; caches key on content."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from luxical_st.evaluation import baselines, model_specs
from luxical_st.evaluation.mteb_runner import is_luxical, model_meta


@pytest.fixture(scope="module")
def tfidf(tokenizer, tweet_texts):
    return baselines.tfidf_baseline(tweet_texts, tokenizer)


def test_tfidf_baseline_equals_a_direct_computation(tfidf, tokenizer, tweet_texts, news_texts) -> None:
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    counts = Counter(i for e in tokenizer.encode_batch(tweet_texts, add_special_tokens=False) for i in e.ids)
    total = sum(counts.values()) + size
    vocabulary = tokenizer.get_vocab()
    texts = [news_texts[0], tweet_texts[3], "Zyzzyva quokka!"]
    embeddings = tfidf.encode(texts, convert_to_numpy=True)
    tokens = [index for index in range(size) if not tokenizer.id_to_token(index).startswith("[")]
    column = {token: position for position, token in enumerate(tokens)}
    assert embeddings.shape == (3, len(tokens)) and len(tokens) < size
    for text, row in zip(texts, embeddings, strict=True):
        expected = np.zeros(len(tokens))
        for token, tf in Counter(tokenizer.encode(text, add_special_tokens=False).ids).items():
            expected[column[token]] = tf * (math.log(total) - math.log(counts[token] + 1))
        expected /= np.linalg.norm(expected)
        np.testing.assert_allclose(row, expected, atol=1e-6)
    assert vocabulary["[CLS]"] not in column


def test_tfidf_baseline_handles_empty_text_and_is_not_luxical(tfidf) -> None:
    embeddings = tfidf.encode(["", "   "], convert_to_numpy=True)
    assert np.isfinite(embeddings).all() and not embeddings.any()
    assert not is_luxical(tfidf)


def test_baseline_specs_label_and_revision(tfidf) -> None:
    assert model_specs(["baseline:tfidf", "m2v=baseline:model2vec"]) == {
        "tfidf": "baseline:tfidf",
        "m2v": "baseline:model2vec",
    }
    meta = model_meta(tfidf, "baseline:tfidf", label="tfidf")
    assert meta.name == "local/tfidf" and meta.revision == baselines.model_revision(tfidf)
    assert meta.embed_dim == tfidf.get_embedding_dimension()
    with pytest.raises(ValueError, match="unknown baseline 'bm25'"):
        baselines.build_baseline("baseline:bm25")


def test_model2vec_baseline_distils_the_offline_teacher() -> None:
    pytest.importorskip("model2vec.distill")
    model = baselines.model2vec_baseline(pca_dims=32)
    embeddings = model.encode(["a doctor treats patients", "a physician heals the sick", "stock prices fell"])
    assert embeddings.shape == (3, 32)
    cosine = embeddings @ embeddings.T / np.outer(*[np.linalg.norm(embeddings, axis=1)] * 2)
    assert cosine[0, 1] > cosine[0, 2]


def test_undefined_scores_count_as_zero_in_the_average() -> None:
    from luxical_st.evaluation.report import mteb_average

    results = {
        "mteb": {
            "tfidf": {"SimLex999": {"main_score": float("nan")}, "Lee": {"main_score": 0.4}},
            "partial": {"Lee": {"main_score": 0.5}},
        }
    }
    assert mteb_average(results, "tfidf") == pytest.approx(0.2)
    assert mteb_average(results, "partial") is None
