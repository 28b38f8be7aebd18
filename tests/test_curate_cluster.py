"""Clustering: faiss spherical k-means on a real (small) Luxical model's embeddings of real news,
agglomerative levels, clusters labelled by their top n-grams, the picture and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("sklearn")

from luxical_st import build_model
from luxical_st.curate.cluster import cluster_embeddings, main, plot_clusters, top_ngrams
from luxical_st.evaluation.sources import news_articles
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def texts():
    return [a.text for a in news_articles()[:500]]


@pytest.fixture(scope="module")
def model(tokenizer, texts):
    rows = [e.ids for e in tokenizer.encode_batch(texts[:200], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return build_model(tokenizer, ngrams, idf, layer_sizes=(64, 128, 32), seed=3)


@pytest.fixture(scope="module")
def embeddings(model, texts):
    return model.encode(texts, convert_to_numpy=True)


def test_kmeans_on_a_sample_assigns_every_document(embeddings):
    result = cluster_embeddings(embeddings, k=8, sample_size=300, levels=[3], seed=0)
    assert result.centroids.shape == (8, embeddings.shape[1])
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1, atol=1e-5)
    assert result.assignments.shape == (len(embeddings),) and result.sizes().sum() == len(embeddings)
    # each document's cluster is its nearest centroid by cosine
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    np.testing.assert_array_equal(result.assignments, (unit @ result.centroids.T).argmax(axis=1))
    np.testing.assert_allclose(
        result.similarities, (unit * result.centroids[result.assignments]).sum(1), atol=1e-5
    )
    coarse = result.level(3)
    assert set(coarse.tolist()) == {0, 1, 2}
    # merging never splits a fine cluster
    assert all(len(set(coarse[result.assignments == c].tolist())) <= 1 for c in range(8))
    again = cluster_embeddings(embeddings, k=8, sample_size=300, seed=0)
    np.testing.assert_array_equal(again.assignments, result.assignments)
    with pytest.raises(ValueError, match="k must be"):
        cluster_embeddings(embeddings, k=0)


def test_top_ngrams_are_the_clusters_own_heaviest_ngrams(model, texts, embeddings):
    result = cluster_embeddings(embeddings, k=5, seed=0)
    labels = top_ngrams(model, texts, result.assignments, result.k, top=5)
    assert len(labels) == 5 and all(len(names) == 5 for names in labels)
    # brute force for one cluster: sum the TF-IDF rows of its documents
    indices, offsets, weights = model[0].transform(texts)
    cluster = int(np.argmax(result.sizes()))
    summed = np.zeros(model[0].num_features)
    ends = np.append(offsets[1:], len(indices))
    for doc in np.flatnonzero(result.assignments == cluster):
        np.add.at(summed, indices[offsets[doc] : ends[doc]], weights[offsets[doc] : ends[doc]])
    best = int(np.argmax(summed))
    decoded = model[0].tokenizer.decode([int(t) for t in model[0].ngrams[best] if t >= 0])
    assert labels[cluster][0] == decoded
    lowered = " ".join(texts[i].lower() for i in np.flatnonzero(result.assignments == cluster))
    assert all(name.split()[0].strip("#") in lowered for name in labels[cluster])


def test_plot_and_cli_write_png_and_parquet(model, texts, embeddings, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    result = cluster_embeddings(embeddings, k=6, seed=0)
    png = plot_clusters(
        embeddings, result.assignments, top_ngrams(model, texts, result.assignments), tmp_path / "c.png"
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    folder = tmp_path / "model"
    model.save(str(folder))
    data = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"doc_id": [f"d{i}" for i in range(200)], "text": texts[:200]}), data)
    main(["--model", str(folder), "--input", str(data), "--id-column", "doc_id", "--k", "4", "--levels", "2",
          "--output", str(tmp_path / "clusters.parquet"), "--plot", str(tmp_path / "cli.png")])  # fmt: skip
    table = pq.read_table(tmp_path / "clusters.parquet")
    assert table.column_names == ["id", "cluster", "similarity", "cluster_2"]
    assert table.column("id").to_pylist()[:2] == ["d0", "d1"]
    summary = json.loads((tmp_path / "clusters.json").read_text())
    assert sum(summary["sizes"]) == 200 and len(summary["labels"]) == 4
    assert (tmp_path / "cli.png").stat().st_size > 1000
