"""Clustering: faiss spherical k-means on a real (small) Luxical model's embeddings of real news,
agglomerative levels, clusters labelled by their top n-grams, the picture and the CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("sklearn")

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from luxical_st import build_model
from luxical_st.curate.cluster import cluster_embeddings, main, plot_clusters
from luxical_st.curate.labels import top_ngrams, word_prefix_tokens
from luxical_st.data.sources import news_articles, wikipedia_articles
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def texts():
    return [a.text for a in news_articles()[:500]]


@pytest.fixture(scope="module")
def model(trained_model_path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)


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


def test_top_ngrams_rank_by_contrast_with_the_corpus(model, texts, embeddings):
    result = cluster_embeddings(embeddings, k=5, seed=0)
    labels = top_ngrams(model, texts, result.assignments, result.k, top=5, min_support=0.0, stop_words=())
    assert len(labels) == 5 and all(1 <= len(names) <= 5 for names in labels)
    # brute force for the largest cluster: p ln(p / q) of its share p against the corpus share q
    indices, offsets, weights = model[0].transform(texts)
    ends = np.append(offsets[1:], len(indices))
    summed = np.zeros((result.k, model[0].num_features))
    docs = np.zeros((result.k, model[0].num_features))
    for doc, cluster in enumerate(result.assignments):
        np.add.at(summed[cluster], indices[offsets[doc] : ends[doc]], weights[offsets[doc] : ends[doc]])
        np.add.at(docs[cluster], indices[offsets[doc] : ends[doc]], 1)
    cluster = int(np.argmax(result.sizes()))
    p = summed[cluster] / summed[cluster].sum()
    q = summed.sum(0) / summed.sum()
    score = np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.where(q > 0, q, 1)), -np.inf)
    score[docs[cluster] < 2] = -np.inf
    tokenizer = model[0].tokenizer
    followed, seen = np.zeros(tokenizer.get_vocab_size()), np.zeros(tokenizer.get_vocab_size())
    for row in (e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)):
        for token, after in zip(row, row[1:] + [None], strict=True):
            seen[token] += 1
            followed[token] += after is not None and tokenizer.id_to_token(after).startswith("##")
    for feature in np.argsort(-score, kind="stable"):
        ids = [int(t) for t in model[0].ngrams[feature] if t >= 0]
        pieces = [tokenizer.id_to_token(t) for t in ids]
        inside_word = pieces[0].startswith("##") or followed[ids[-1]] * 2 > seen[ids[-1]]
        if not inside_word and any(ch.isalnum() for piece in pieces for ch in piece):
            break
    decoded = model[0].tokenizer.decode([int(t) for t in model[0].ngrams[feature] if t >= 0])
    assert labels[cluster][0] == re.sub(r" ?([-'/]) ?", r"\1", decoded)
    lowered = " ".join(texts[i].lower() for i in np.flatnonzero(result.assignments == cluster))
    assert all(name.split()[0].strip("#") in lowered for name in labels[cluster])


def test_a_label_never_ends_inside_a_word(model):
    texts = ["photosynthesis turns light into sugar; photosynthesis needs water", "photos of plants"] * 3
    prefixes = word_prefix_tokens(model[0], texts)
    vocab = model[0].tokenizer.get_vocab()
    assert model[0].tokenizer.encode("photosynthesis", add_special_tokens=False).tokens[0] == "photos"
    assert prefixes[vocab["photos"]]  # followed by "##yn" twice in every three
    assert not prefixes[vocab["plants"]] and not prefixes[vocab["sugar"]] and not prefixes[vocab["water"]]
    flagged = {model[0].tokenizer.id_to_token(int(i)) for i in np.flatnonzero(prefixes)}
    assert flagged == {"photos", "##yn"}  # "##yn" ends inside "photosynthesis" too


@pytest.fixture(scope="module")
def topics():
    """Wikipedia lead summaries of four vital-article topics, 80 each, and each one's topic index."""
    names = ["Mathematics", "Biology and health sciences", "Geography", "Arts"]
    pages = {name: [a.text for a in wikipedia_articles() if a.topic == name][:80] for name in names}
    return [t for name in names for t in pages[name]], np.repeat(np.arange(4), 80), names


def test_labels_of_known_groups_are_distinctive_words(tokenizer, topics):
    texts, groups, _ = topics
    rows = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    wiki_model = build_model(tokenizer, ngrams, idf, layer_sizes=(64, 128, 32), seed=3)
    labels = top_ngrams(wiki_model, texts, groups, top=8)
    assert all(len(names) == 8 for names in labels)
    stop_only = [n for names in labels for n in names if set(n.split()) <= ENGLISH_STOP_WORDS | {",", "."}]
    assert not stop_only and not any(n.startswith("##") for names in labels for n in names)
    assert all(len(set(a) & set(b)) == 0 for i, a in enumerate(labels) for b in labels[i + 1 :])
    # without a stop-word list the contrast alone still keeps most labels topical and apart
    bare = top_ngrams(wiki_model, texts, groups, top=8, stop_words=())
    assert all(len(set(a) & set(b)) == 0 for i, a in enumerate(bare) for b in bare[i + 1 :])
    assert all(sum(n not in ENGLISH_STOP_WORDS for n in names) >= 4 for names in bare), bare
    # labels are whole words of the group's pages ("photosynthesis", not its first piece "photos")
    pages = [" ".join(texts[i].lower() for i in np.flatnonzero(groups == g)) for g in range(len(labels))]
    whole = [
        n for g, names in enumerate(labels) for n in names if re.search(rf"\b{re.escape(n)}\b", pages[g])
    ]
    assert len(whole) >= 0.9 * sum(len(names) for names in labels), labels
    # each group's labels come from its own pages far more than from the others'
    for group, names in enumerate(labels):
        own = " ".join(texts[i].lower() for i in np.flatnonzero(groups == group))
        rest = " ".join(texts[i].lower() for i in np.flatnonzero(groups != group))
        count = {text: [len(re.findall(rf"\b{re.escape(n)}\b", text)) for n in names] for text in (own, rest)}
        assert sum(a > 2 * b for a, b in zip(count[own], count[rest], strict=True)) >= 5, (group, names)


def test_plot_and_cli_write_png_and_parquet(model, texts, embeddings, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    result = cluster_embeddings(embeddings, k=6, seed=0)
    labels = top_ngrams(model, texts, result.assignments)
    png = plot_clusters(embeddings, result.assignments, labels, tmp_path / "c.png", method="pca")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    folder = tmp_path / "model"
    model.save(str(folder))
    data = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"doc_id": [f"d{i}" for i in range(200)], "text": texts[:200]}), data)
    main(["--model", str(folder), "--input", str(data), "--id-column", "doc_id", "--k", "4", "--levels", "2",
          "--output", str(tmp_path / "clusters.parquet"), "--plot", str(tmp_path / "cli.png"),
          "--map", "pca"])  # fmt: skip
    table = pq.read_table(tmp_path / "clusters.parquet")
    assert table.column_names == ["id", "cluster", "similarity", "cluster_2"]
    assert table.column("id").to_pylist()[:2] == ["d0", "d1"]
    summary = json.loads((tmp_path / "clusters.json").read_text())
    assert sum(summary["sizes"]) == 200 and len(summary["labels"]) == 4
    assert (tmp_path / "cli.png").stat().st_size > 1000


def test_cli_clusters_stored_int8_shards_and_labels_them_from_texts_joined_by_id(
    model, texts, embeddings, tmp_path
):
    """A luxical-embed-style folder (int8 shards + luxical_embedding.json, no texts) is dequantised and
    clustered; the labels come from a shuffled sample of the texts, stored elsewhere, joined by id."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from luxical_st.embedding_format import EmbeddingFormat

    fmt = EmbeddingFormat.calibrate("int8", embeddings, model="tiny")
    folder, ids, half = tmp_path / "emb", [f"d{i}" for i in range(len(texts))], len(texts) // 2
    folder.mkdir()
    for part, rows in enumerate((slice(0, half), slice(half, None))):
        shard = {"id": ids[rows], "embedding": fmt.to_arrow(fmt.quantize(embeddings[rows]))}
        pq.write_table(pa.table(shard), folder / f"part-{part}.parquet")
    fmt.save(folder)
    sample = np.random.default_rng(0).permutation(len(texts))[:300]
    pq.write_table(
        pa.table({"id": [ids[i] for i in sample], "text": [texts[i] for i in sample]}),
        tmp_path / "texts.parquet",
    )
    model.save(str(tmp_path / "model"))
    main(["--input", str(folder), "--embedding-column", "embedding", "--id-column", "id", "--k", "5",
          "--model", str(tmp_path / "model"), "--label-texts", str(tmp_path / "texts.parquet"),
          "--output", str(tmp_path / "c.parquet")])  # fmt: skip
    table = pq.read_table(tmp_path / "c.parquet")
    expected = cluster_embeddings(fmt.dequantize(fmt.quantize(embeddings)), k=5, seed=0)
    assert table.column("id").to_pylist() == ids
    assert table.column("cluster").to_pylist() == expected.assignments.tolist()
    labels = json.loads((tmp_path / "c.json").read_text())["labels"]
    assert labels == top_ngrams(model, [texts[i] for i in sample], expected.assignments[sample], 5)
