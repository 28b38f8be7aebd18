"""Semantic dedup on real news with planted near-duplicates (a tiny trained Luxical student), exact dedup."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("faiss")

from luxical_st.curate.dedup import exact_dedup, main, semantic_dedup
from luxical_st.data.sources import news_articles
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS


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


def test_cli_refuses_inputs_it_would_misread(corpus, embeddings, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    codes = np.clip(embeddings * 127, -128, 127).astype(np.int8)
    pq.write_table(pa.table({"embedding": codes.tolist()}), tmp_path / "int8.parquet")
    out = ["--output", str(tmp_path / "keep.parquet")]
    with pytest.raises(ValueError, match=r"luxical_embedding\.json"):  # raw int8 codes are not the embedding
        main(["--input", str(tmp_path / "int8.parquet"), "--embedding-column", "embedding", *out])
    pq.write_table(pa.table({"text": ["a text", None, "another"]}), tmp_path / "texts.parquet")
    with pytest.raises(TypeError, match=r"row 1 is None \(NoneType\), not a string"):
        main(["--input", str(tmp_path / "texts.parquet"), "--model", "unused-never-loaded", *out])
    with pytest.raises(SystemExit):  # a usage error naming the missing column
        main(["--input", str(tmp_path / "int8.parquet"), "--embedding-column", "vector", *out])
    with pytest.raises(FileNotFoundError, match="no parquet file"):
        main(["--input", str(tmp_path / "nothing-*.parquet"), "--embedding-column", "embedding", *out])


def test_semhash_with_a_luxical_encoder_finds_the_planted_copies(trained_model_path, corpus):
    """semhash (a usearch index over any `encode`-able model) does the in-memory work with Luxical."""
    semhash = pytest.importorskip("semhash")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)
    result = semhash.SemHash.from_records(corpus, model=model).self_deduplicate(threshold=0.95)
    removed = {record.record for record in result.filtered}
    assert sum(copy in removed for copy in corpus[300:330]) >= 28  # the light edits and exact copies
    distinct = set(corpus[:20] + corpus[30:300])  # originals without an exact copy (same string)
    assert len(removed & distinct) <= 5 and corpus[-1] not in removed
    assert len(result.selected) + len(result.filtered) == len(corpus)


def test_stored_int8_and_binary_rows_are_deduplicated_as_stored(embeddings):
    """`StoredRows` (int8 / binary as written by luxical-embed) give the same answer as their
    dequantised float matrix, read one batch or one cluster at a time."""
    from luxical_st.embedding_format import EmbeddingFormat, StoredRows

    for precision, threshold in (("int8", 0.95), ("binary", 0.8)):
        fmt = EmbeddingFormat.calibrate(precision, embeddings)
        stored = StoredRows(fmt.quantize(embeddings), fmt)
        assert stored.shape == embeddings.shape and stored.values.nbytes <= embeddings.nbytes / 4
        lazy = semantic_dedup(stored, threshold=threshold, k=3, seed=0)
        eager = semantic_dedup(stored[:], threshold=threshold, k=3, seed=0)
        np.testing.assert_array_equal(lazy.keep, eager.keep)
        np.testing.assert_array_equal(lazy.clusters, eager.clusters)
    planted = [(i, 300 + i) for i in range(20)] + [(20 + i, 320 + i) for i in range(10)]
    fmt = EmbeddingFormat.calibrate("int8", embeddings)
    result = semantic_dedup(StoredRows(fmt.quantize(embeddings), fmt), threshold=0.95, k=3, seed=0)
    assert sum(result.group[a] >= 0 and result.group[a] == result.group[b] for a, b in planted) >= 28
    with pytest.raises(TypeError, match="slice or an index array"):
        StoredRows(fmt.quantize(embeddings), fmt)[3]


def test_stored_columns_that_disagree_with_their_format_are_refused(embeddings):
    import pyarrow as pa

    from luxical_st.embedding_format import EmbeddingFormat, embeddings_of

    fmt = EmbeddingFormat.calibrate("int8", embeddings)
    floats = pa.array(embeddings.tolist(), pa.list_(pa.float32()))
    with pytest.raises(ValueError, match=r"luxical_embedding\.json says"):
        embeddings_of(floats, fmt, "column 'embedding'")
    ragged = pa.array([[0.1, 0.2], [0.3]], pa.list_(pa.float32()))
    with pytest.raises(ValueError, match="different or zero lengths"):
        embeddings_of(ragged, None, "column 'embedding'")
    with pytest.raises(ValueError, match="missing values"):
        embeddings_of(pa.array([[0.1], None], pa.list_(pa.float32())), None, "column 'embedding'")
    back = embeddings_of(fmt.to_arrow(fmt.quantize(embeddings)), fmt, "column 'embedding'")
    np.testing.assert_allclose(back, fmt.dequantize(fmt.quantize(embeddings)))
