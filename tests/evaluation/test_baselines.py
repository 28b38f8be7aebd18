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
    return baselines.tfidf_baseline(tweet_texts, tokenizer, max_ngram_length=2, min_count=2)


def test_tfidf_baseline_equals_a_direct_computation(tfidf, tokenizer, tweet_texts, news_texts) -> None:
    from luxical_st.tokenizer import regular_token_ids

    module = tfidf[0]
    vocabulary = {tuple(int(t) for t in row if t >= 0): index for index, row in enumerate(module.ngrams)}
    counts: Counter[tuple[int, ...]] = Counter()
    for encoding in tokenizer.encode_batch(tweet_texts, add_special_tokens=False):
        ids = encoding.ids
        counts.update(tuple(ids[i : i + n]) for n in (1, 2) for i in range(len(ids) - n + 1))
    kept = {gram for gram, count in counts.items() if count >= 2}
    unigrams = {(int(token),) for token in regular_token_ids(tokenizer)}
    assert set(vocabulary) == kept | unigrams
    total = sum(counts[gram] for gram in kept) + len(unigrams - kept)
    texts = [news_texts[0], tweet_texts[3], "Zyzzyva quokka!"]
    embeddings = tfidf.encode(texts, convert_to_numpy=True)
    assert embeddings.shape == (3, len(vocabulary))
    for text, row in zip(texts, embeddings, strict=True):
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        grams = Counter(tuple(ids[i : i + n]) for n in (1, 2) for i in range(len(ids) - n + 1))
        expected = np.zeros(len(vocabulary))
        for gram, tf in grams.items():
            if gram in vocabulary:
                count = counts[gram] if gram in kept else 1
                expected[vocabulary[gram]] = tf * (math.log(total) - math.log(count))
        expected /= np.linalg.norm(expected)
        np.testing.assert_allclose(row, expected, atol=1e-5)


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


@pytest.mark.slow
def test_model2vec_baseline_distils_the_offline_teacher() -> None:
    pytest.importorskip("model2vec.distill")
    model = baselines.model2vec_baseline(pca_dims=32)
    embeddings = model.encode(["a doctor treats patients", "a physician heals the sick", "stock prices fell"])
    assert embeddings.shape == (3, 32)
    cosine = embeddings @ embeddings.T / np.outer(*[np.linalg.norm(embeddings, axis=1)] * 2)
    assert cosine[0, 1] > cosine[0, 2]


def test_undefined_scores_count_as_zero_in_the_average() -> None:
    from luxical_st.results import mteb_average

    results = {
        "mteb": {
            "tfidf": {"SimLex999": {"main_score": float("nan")}, "Lee": {"main_score": 0.4}},
            "partial": {"Lee": {"main_score": 0.5}},
        }
    }
    assert mteb_average(results, "tfidf") == pytest.approx(0.2)
    assert mteb_average(results, "partial") is None


@pytest.mark.slow
def test_word_tfidf_is_fitted_on_each_task_and_scores_as_computed_directly(tmp_path) -> None:
    """`baseline:tfidf-words` fits scikit-learn's TfidfVectorizer on every text of the task at hand
    (queries and documents, no ids) before mteb runs it: nDCG@10 equals the ranking computed here."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from luxical_st.evaluation.mteb_runner import model_facts, resolve_tasks, run_mteb
    from luxical_st.evaluation.task_base import task_texts
    from luxical_st.evaluation.task_tfidf import VECTORIZER, task_fitted

    model = baselines.build_baseline("baseline:tfidf-words")
    assert model_facts(model)["embed_dim"] is None  # one dimension per word of each task
    tasks = resolve_tasks(["ManPageSummaryRetrieval", "WordSim353"])
    scores = run_mteb(model, "baseline:tfidf-words", tasks, use_cache=False, label="tfidf-words")

    task = tasks[0]
    data = task.dataset["default"]["test"]
    queries, corpus = data["queries"], data["corpus"]
    assert task_texts(task) == list(corpus["text"]) + list(queries["text"])  # no ids, nothing else
    vectorizer = TfidfVectorizer(**VECTORIZER).fit(task_texts(task))
    similarity = (vectorizer.transform(queries["text"]) @ vectorizer.transform(corpus["text"]).T).toarray()
    column = {doc_id: i for i, doc_id in enumerate(corpus["id"])}
    gains = []
    for row, query_id in enumerate(queries["id"]):
        (relevant,) = data["relevant_docs"][query_id]  # one relevant page per query
        rank = int((similarity[row] > similarity[row, column[relevant]]).sum()) + 1
        gains.append(1 / math.log2(rank + 1) if rank <= 10 else 0.0)
    assert scores["ManPageSummaryRetrieval"]["main_score"] == pytest.approx(np.mean(gains), abs=2e-3)
    # the last task's fit: the words of the word pairs, nothing of the man pages
    words = set(task_fitted(model).vectorizer.vocabulary_)  # type: ignore[union-attr]
    assert "pthread_create" not in words and len(words) < 500
    unfitted = baselines.build_baseline("baseline:tfidf-words")
    with pytest.raises(RuntimeError, match="only after `fit`"):
        unfitted.encode(["a text"])
    with pytest.raises(ValueError, match="the task has none"):
        task_fitted(unfitted).fit([])  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="cannot be fitted on these 2 texts"):
        task_fitted(unfitted).fit(["!", "?"])  # type: ignore[union-attr]
