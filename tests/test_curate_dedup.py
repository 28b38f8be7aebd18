"""Semantic dedup on real news with planted near-duplicates (a tiny trained Luxical student), exact dedup."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("faiss")

from luxical_st.curate.dedup import exact_dedup, main, semantic_dedup
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS
from luxical_st.evaluation.sources import news_articles


@pytest.fixture(scope="module")
def corpus():
    """300 distinct articles, then a light-edited copy of 0..19, an exact copy of 20..29 and an empty text."""
    originals = list(dict.fromkeys(a.text for a in news_articles()[:330]))[:300]
    rng = random.Random(0)
    copies = [NEAR_DUPLICATE_KINDS["light_edit"](originals[i], rng) for i in range(20)]
    return originals + copies + originals[20:30] + [""]


@pytest.fixture(scope="module")
def embeddings(trained_model_path, corpus):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)
    return model.encode(corpus, convert_to_numpy=True)


def test_planted_duplicates_are_grouped_and_one_is_kept(corpus, embeddings):
    result = semantic_dedup(embeddings, threshold=0.95, k=3, seed=0)
    planted = [(i, 300 + i) for i in range(20)] + [(20 + i, 320 + i) for i in range(10)]
    found = sum(result.group[a] >= 0 and result.group[a] == result.group[b] for a, b in planted)
    assert found >= 28
    for members in result.groups:
        assert result.keep[members[0]] and not result.keep[members[1:]].any()
        assert members[0] == members.min()  # keep="first"
    assert result.keep.sum() == len(corpus) - sum(len(m) - 1 for m in result.groups)
    assert result.keep[-1] and result.group[-1] == -1  # the empty text is never a duplicate
    assert result.removed <= 35  # a few genuine same-story pairs at most, besides the 30 planted
    central = semantic_dedup(embeddings, threshold=0.95, k=3, seed=0, keep="central")
    assert central.removed == result.removed


def test_exact_dedup_and_cli(corpus, embeddings, tmp_path):
    keep = exact_dedup(corpus)
    assert not keep[320:330].any() and keep[300:320].all() and keep.sum() == len(corpus) - 10
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "emb.parquet"
    pq.write_table(pa.table({"embedding": embeddings.tolist()}), data)
    main(["--input", str(data), "--embedding-column", "embedding", "--threshold", "0.95", "--k", "3",
          "--output", str(tmp_path / "keep.parquet")])  # fmt: skip
    table = pq.read_table(tmp_path / "keep.parquet")
    assert table.column_names == ["id", "keep", "group", "cluster"] and table.num_rows == len(corpus)
    with pytest.raises(ValueError, match="threshold"):
        semantic_dedup(embeddings, threshold=2.0)
