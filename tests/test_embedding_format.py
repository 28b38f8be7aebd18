"""The stored embedding column format (`luxical_st.embedding_format.EmbeddingFormat`) on real Luxical
embeddings of news articles: round trips of every precision, its file, bad and damaged formats. Only the
Arrow column round trip needs pyarrow (not a core dependency)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from luxical_st.embedding_format import FORMAT_FILE, EmbeddingFormat
from luxical_st.model import build_model
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def embeddings(tokenizer, news_texts):
    rows = [e.ids for e in tokenizer.encode_batch(news_texts[:150], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    model = build_model(tokenizer, ngrams, idf, layer_sizes=(32, 64, 24), seed=5)
    return model.encode(news_texts[:300], convert_to_numpy=True)


def test_int8_and_uint8_round_trip_within_one_bucket(embeddings, tmp_path):
    for precision in ("int8", "uint8"):
        fmt = EmbeddingFormat.calibrate(precision, embeddings[:200], model="m")
        starts, ends = (np.asarray(r, np.float32) for r in fmt.ranges)  # type: ignore[union-attr]
        assert np.allclose(starts, embeddings[:200].min(0)) and np.allclose(ends, embeddings[:200].max(0))
        stored = fmt.quantize(embeddings[:200])
        assert stored.dtype == (np.int8 if precision == "int8" else np.uint8)
        back = fmt.dequantize(stored)
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
    signs = binary.dequantize(binary.quantize(embeddings))
    assert np.array_equal(signs, np.where(embeddings > 0, 1.0, -1.0))
    half = EmbeddingFormat.calibrate("float16", embeddings)
    back = half.dequantize(half.quantize(embeddings))
    assert np.allclose(back, embeddings, atol=1e-3)


@pytest.mark.parametrize("precision", ["float32", "float16", "int8", "uint8", "binary"])
def test_arrow_columns_hold_the_stored_values_exactly(embeddings, precision):
    pytest.importorskip("pyarrow")
    fmt = EmbeddingFormat.calibrate(precision, embeddings)
    stored = fmt.quantize(embeddings)
    column = fmt.to_arrow(stored)
    assert column.type == fmt.arrow_type() and len(column) == len(embeddings)
    back = fmt.from_arrow(column)
    assert back.dtype == stored.dtype and np.array_equal(back, stored)
    with pytest.raises(ValueError, match=rf"shape \(n, {fmt.width}\)"):
        fmt.to_arrow(stored[:, :-1])


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
