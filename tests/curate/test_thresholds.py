"""The curate helpers refuse thresholds that would silently keep or drop everything (NaN compares false
with every score), and the cluster CLI's picture works for a single document. A small (untrained)
Luxical model over real news; no training run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

import pyarrow as pa
import pyarrow.parquet as pq

from luxical_st.curate import lists
from luxical_st.curate.dedup import semantic_dedup
from luxical_st.embedding_format import EmbeddingFormat
from tests.conftest import save_small_model


@pytest.fixture(scope="module")
def model(tokenizer, news_texts, tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    path = save_small_model(tokenizer, news_texts[:150], tmp_path_factory.mktemp("m") / "m", (32, 64, 24))
    return SentenceTransformer(path, device="cpu", trust_remote_code=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1.5, -2.0, "0.9", None])
def test_nan_and_out_of_range_thresholds_are_refused(model, news_texts, bad):
    docs = news_texts[:8]
    with pytest.raises(ValueError, match=r"threshold must be .*cosine in \[-1, 1\]"):
        lists.deduplicate(model, docs, threshold=bad)
    with pytest.raises(ValueError, match=r"threshold must be .*cosine in \[-1, 1\]"):
        lists.filter(model, "elections", docs, threshold=bad)
    with pytest.raises(ValueError, match=r"threshold must be .*cosine in \[-1, 1\]"):
        lists.cluster(model, docs, threshold=bad)
    if isinstance(bad, float):
        with pytest.raises(ValueError, match="threshold is a cosine"):
            semantic_dedup(model.encode(docs), threshold=bad, k=1)


def test_valid_thresholds_and_sizes(model, news_texts):
    docs = news_texts[:8]
    assert lists.deduplicate(model, docs, threshold=0.999) == docs  # eight distinct articles
    assert lists.deduplicate(model, docs + [docs[2]], threshold=0.999, return_indices=True) == list(range(8))
    assert lists.filter(model, "x", docs, threshold=-1.0) == docs
    with pytest.raises(ValueError, match="min_size must be an integer >= 1"):
        lists.cluster(model, docs, min_size=0)
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        lists.deduplicate(model, docs, top_k=0)


@pytest.mark.parametrize("documents", [1, 2])
@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_cluster_cli_plots_a_single_document(model, news_texts, tmp_path, documents, method):
    from luxical_st.curate.cluster import main

    embeddings = model.encode(news_texts[:documents], convert_to_numpy=True)
    fmt = EmbeddingFormat("float32", embeddings.shape[1])
    table = pa.table({"id": [f"d{i}" for i in range(documents)], "embedding": fmt.to_arrow(embeddings)})
    (tmp_path / "stored").mkdir()
    pq.write_table(table, tmp_path / "stored" / "part-0.parquet")
    fmt.save(tmp_path / "stored")
    main(["--input", str(tmp_path / "stored"), "--embedding-column", "embedding", "--id-column", "id",
          "--k", "1", "--output", str(tmp_path / "c.parquet"), "--plot", str(tmp_path / "c.png"),
          "--map", method])  # fmt: skip
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert pq.read_table(tmp_path / "c.parquet").column("cluster").to_pylist() == [0] * documents
    assert np.isfinite(embeddings).all()
