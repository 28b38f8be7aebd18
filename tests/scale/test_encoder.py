"""The stored embedding column format (`luxical_st.embedding_format.EmbeddingFormat`) and the byte-bounded
batching of the shared encoder, on real Luxical embeddings of news articles."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("datatrove")

from luxical_st.embedding_format import FORMAT_FILE, EmbeddingFormat
from luxical_st.model import build_model
from luxical_st.modules.ngram_tfidf import check_texts
from luxical_st.scale.encoder import BatchEncoder, byte_batches, calibrate_format
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def model(tokenizer, news_texts):
    rows = [e.ids for e in tokenizer.encode_batch(news_texts[:150], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return build_model(tokenizer, ngrams, idf, layer_sizes=(32, 64, 24), seed=5)


@pytest.fixture(scope="module")
def embeddings(model, news_texts):
    return model.encode(news_texts[:300], convert_to_numpy=True)


def test_int8_and_uint8_round_trip_within_one_bucket(embeddings, tmp_path):
    for precision in ("int8", "uint8"):
        fmt = EmbeddingFormat.calibrate(precision, embeddings[:200], model="m")
        starts, ends = (np.asarray(r, np.float32) for r in fmt.ranges)  # type: ignore[union-attr]
        assert np.allclose(starts, embeddings[:200].min(0)) and np.allclose(ends, embeddings[:200].max(0))
        stored = fmt.quantize(embeddings[:200])
        assert stored.dtype == (np.int8 if precision == "int8" else np.uint8)
        column = fmt.to_arrow(stored)
        assert column.type == fmt.arrow_type()
        back = fmt.dequantize(fmt.from_arrow(column))
        step = (ends - starts) / 255
        assert np.all(np.abs(back - embeddings[:200]) <= step / 2 + 1e-6)
        fmt.save(tmp_path / precision)
        assert EmbeddingFormat.load(tmp_path / precision) == fmt
        # values outside the calibrated range saturate instead of wrapping around
        outside = fmt.dequantize(fmt.quantize(embeddings[200:] * 3))
        assert np.all(outside >= starts - step) and np.all(outside <= ends + step)


def test_binary_and_float16_round_trip(embeddings):
    binary = EmbeddingFormat.calibrate("binary", embeddings)
    assert binary.width == (embeddings.shape[1] + 7) // 8
    signs = binary.dequantize(binary.from_arrow(binary.to_arrow(binary.quantize(embeddings))))
    assert np.array_equal(signs, np.where(embeddings > 0, 1.0, -1.0))
    half = EmbeddingFormat.calibrate("float16", embeddings)
    back = half.dequantize(half.from_arrow(half.to_arrow(half.quantize(embeddings))))
    assert np.allclose(back, embeddings, atol=1e-3)


def test_bad_formats_are_refused(embeddings, tmp_path):
    with pytest.raises(ValueError, match="precision must be one of"):
        EmbeddingFormat("int4", 8)
    with pytest.raises(ValueError, match="needs ranges"):
        EmbeddingFormat("int8", 8)
    with pytest.raises(ValueError, match="at least two"):
        EmbeddingFormat.calibrate("int8", embeddings[:1])
    with pytest.raises(FileNotFoundError, match="embedding output folder"):
        EmbeddingFormat.load(tmp_path)
    (tmp_path / FORMAT_FILE).write_text('{"format_version": 99}')
    with pytest.raises(ValueError, match="format_version 99"):
        EmbeddingFormat.load(tmp_path)


def test_damaged_or_crafted_format_files_are_refused_naming_the_file(embeddings, tmp_path):
    import json
    import re

    good = json.loads(EmbeddingFormat.calibrate("int8", embeddings, model="m").save(tmp_path).read_text())
    path = re.escape(str(tmp_path / FORMAT_FILE))
    for bad in (float("nan"), float("inf"), float("-inf")):
        ranges = [list(good["ranges"][0]), list(good["ranges"][1])]
        ranges[1][3] = bad
        (tmp_path / FORMAT_FILE).write_text(json.dumps({**good, "ranges": ranges}))  # NaN, Infinity
        with pytest.raises(ValueError, match=rf"{path}: ranges must be finite numbers; dimension 3"):
            EmbeddingFormat.load(tmp_path)
    (tmp_path / FORMAT_FILE).write_text(json.dumps({**good, "compression": "zstd"}))
    with pytest.raises(ValueError, match=rf"{path}: unknown key 'compression'"):
        EmbeddingFormat.load(tmp_path)
    (tmp_path / FORMAT_FILE).write_text(json.dumps(good)[:-20])
    with pytest.raises(ValueError, match=rf"{path} is damaged"):
        EmbeddingFormat.load(tmp_path)
    (tmp_path / FORMAT_FILE).write_text(json.dumps({**good, "dimensions": "24"}))
    with pytest.raises(ValueError, match=path):
        EmbeddingFormat.load(tmp_path)
    swapped = {**good, "ranges": [good["ranges"][1], good["ranges"][0]]}
    (tmp_path / FORMAT_FILE).write_text(json.dumps(swapped))
    with pytest.raises(ValueError, match="start <= end"):
        EmbeddingFormat.load(tmp_path)


def test_byte_batches_bound_bytes_not_rows():
    lengths = [3000] * 10 + [10_000_000] + [3000] * 5
    slices = byte_batches(lengths, batch_bytes=10_000, batch_size=256)
    covered = [i for piece in slices for i in range(piece.start, piece.stop)]
    assert covered == list(range(len(lengths)))
    for piece in slices:
        size = sum(lengths[piece])
        assert size <= 10_000 or piece.stop - piece.start == 1  # a long text goes alone
    assert slice(10, 11) in slices
    assert all(p.stop - p.start <= 2 for p in byte_batches([1] * 9, 100, batch_size=2))
    with pytest.raises(ValueError):
        byte_batches([1], 0, 1)


def test_encoder_equals_model_encode_and_checks_texts(model, news_texts, edge_texts):
    texts = news_texts[:120] + edge_texts
    encoder = BatchEncoder(model, batch_bytes=20_000)  # many sub-batches
    expected = model.encode(texts, convert_to_numpy=True)
    assert np.abs(encoder.encode(texts) - expected).max() <= 1e-6
    fmt = calibrate_format(encoder, texts, "int8")
    columns = BatchEncoder(model, fmt=fmt).columns(texts)
    assert list(columns) == ["embedding"] and len(columns["embedding"]) == len(texts)
    with pytest.raises(TypeError, match="row 1 is None"):
        check_texts(["a", None])
    with pytest.raises(TypeError, match="not a single string"):
        encoder.encode("one text")
    with pytest.raises(ValueError, match="precision must be one of"):
        calibrate_format(encoder, texts, "int4")
    assert encoder.encode([]).shape == (0, encoder.dimensions)
