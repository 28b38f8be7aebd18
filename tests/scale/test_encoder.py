"""The shared encoder of the scale steps (`luxical_st.scale.encoder`): byte-bounded batching, equality with
`model.encode` on real news articles, stored columns and text checks. The stored embedding format itself
is a core module: tests/test_embedding_format.py."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("datatrove")

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
