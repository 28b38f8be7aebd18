"""Small-list helpers on a tiny trained Luxical student and real Wikipedia lead summaries with planted
near-duplicates: similarity, rank, topk, filter, deduplicate, cluster, and loading by folder."""

from __future__ import annotations

import random

import numpy as np
import pytest

from luxical_st.curate import lists
from luxical_st.data.sources import sentences, wikipedia_articles
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS


@pytest.fixture(scope="module")
def pages():
    """120 distinct Wikipedia lead summaries of at least three sentences."""
    texts = [a.text for a in wikipedia_articles()[::40] if len(sentences(a.text)) >= 3]
    return list(dict.fromkeys(texts))[:120]


@pytest.fixture(scope="module")
def model(trained_model_path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)


def edited(text: str, seed: int) -> str:
    return NEAR_DUPLICATE_KINDS["light_edit"](text, random.Random(seed))


def test_similarity_is_cosine_and_a_copy_beats_another_page(model, pages):
    copy = edited(pages[0], 0)
    assert copy != pages[0]
    assert lists.similarity(model, pages[0], pages[0]) == pytest.approx(1.0, abs=1e-5)
    assert lists.similarity(model, pages[0], copy) > max(
        lists.similarity(model, pages[0], p) for p in pages[1:]
    )
    matrix = lists.similarity(model, pages[:3], pages[:5])
    assert isinstance(matrix, np.ndarray) and matrix.shape == (3, 5)
    np.testing.assert_allclose(np.diag(matrix[:, :3]), 1.0, atol=1e-5)
    embeddings = model.encode(pages[:5], normalize_embeddings=True)
    np.testing.assert_allclose(matrix, embeddings[:3] @ embeddings.T, atol=1e-5)


def test_rank_topk_and_filter_find_the_page_a_sentence_came_from(model, pages):
    hits = 0
    for i in range(0, 100, 10):
        query = sentences(pages[i])[1]
        ranked = lists.rank(model, query, pages)
        assert len(ranked) == len(pages) and sorted(d for d, _ in ranked) == sorted(pages)
        scores = [s for _, s in ranked]
        assert scores == sorted(scores, reverse=True)
        assert lists.topk(model, query, pages, k=3) == [d for d, _ in ranked[:3]]
        hits += ranked[0][0] == pages[i]
        kept = lists.filter(model, query, pages, threshold=scores[4])
        assert len(kept) >= 5 and set(kept) == {d for d, s in ranked if s >= scores[4]}
        assert kept == [p for p in pages if p in set(kept)]  # the docs' own order
    assert hits >= 8  # the page holding the sentence usually ranks first
    assert lists.rank(model, "anything", []) == [] and lists.topk(model, "x", pages, k=0) == []


def test_deduplicate_drops_planted_copies_and_keeps_every_original(model, pages):
    originals = pages[:100]
    docs = originals + [edited(originals[i], i) for i in range(10)] + originals[10:15]
    kept = lists.deduplicate(model, docs, threshold=0.8, return_indices=True)  # pages <= 0.78, copies >= 0.95
    assert kept == list(range(100))
    assert lists.deduplicate(model, docs, threshold=0.8) == originals
    with pytest.raises(ValueError, match=r"cosine in \[-1, 1\]"):  # none is above 1: refused, not "keep all"
        lists.deduplicate(model, docs, threshold=1.01)
    assert lists.deduplicate(model, ["one text"]) == ["one text"]


def test_cluster_groups_each_page_with_its_copies(model, pages):
    docs = pages[:40] + [edited(pages[i], 100 + r * 10 + i) for r in range(2) for i in range(10)]
    groups = lists.cluster(model, docs, threshold=0.85, min_size=3, return_indices=True)
    assert sorted(sorted(g) for g in groups) == [sorted([i, 40 + i, 50 + i]) for i in range(10)]
    texts = lists.cluster(model, docs, threshold=0.85, min_size=3)
    assert [[docs[i] for i in g] for g in groups] == texts


def test_a_saved_folder_loads_once_and_bad_input_is_named(model, pages, tmp_path):
    folder = tmp_path / "luxical"
    model.save(str(folder))
    assert lists.load(folder) is lists.load(str(folder))
    assert lists.topk(str(folder), sentences(pages[3])[1], pages, k=1) == [pages[3]]
    with pytest.raises(TypeError, match="docs must be a list of strings"):
        lists.rank(model, "query", "not a list")
    with pytest.raises(TypeError, match="not a string"):
        lists.filter(model, "query", ["text", 3])
    with pytest.raises(TypeError, match="SentenceTransformer or a folder"):
        lists.similarity(42, "a", "b")
