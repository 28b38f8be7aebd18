"""`set_precision`: int8 and bfloat16 hidden layers stay within the documented cosine of float32."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Dense

from luxical_st import build_model
from luxical_st.inference import INT8_MIN_IN_FEATURES, resolve_precision, set_precision
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def vocabulary(tokenizer, tweet_texts):
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts[:300], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=3, min_count=2)
    return ngrams, (np.log(counts.sum()) - np.log(counts)).astype(np.float32)


def wide_model(tokenizer, vocabulary) -> SentenceTransformer:
    return build_model(tokenizer, *vocabulary, layer_sizes=(32, INT8_MIN_IN_FEATURES, 1024, 64), seed=3)


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("precision", ["int8", "bfloat16"])
def test_fast_paths_stay_close_to_float32(precision, tokenizer, vocabulary, news_texts, tweet_texts):
    texts = news_texts[:40] + tweet_texts[:200]
    model = wide_model(tokenizer, vocabulary)
    expected = model.encode(texts, batch_size=64)
    assert set_precision(model, precision) == precision
    dense = [module for module in model if isinstance(module, Dense)]
    assert type(dense[0].linear).__module__ == "torch.nn.modules.linear"  # the first Dense stays float32
    assert all(type(module.linear).__module__ != "torch.nn.modules.linear" for module in dense[1:])
    got = model.encode(texts, batch_size=64)
    assert got.dtype == np.float32 and got.shape == expected.shape
    empty = np.linalg.norm(expected, axis=1) == 0  # texts without an in-vocabulary n-gram
    assert not empty.all() and (got[empty] == 0).all()
    cosine = rowwise_cosine(got[~empty], expected[~empty])
    assert cosine.min() >= 0.999, cosine.min()
    assert cosine.min() < 1.0  # the layers really changed


def test_float32_and_bad_input(tokenizer, vocabulary):
    model = wide_model(tokenizer, vocabulary)
    before = [type(module.linear) for module in model if isinstance(module, Dense)]
    assert set_precision(model, "float32") == "float32"
    assert [type(module.linear) for module in model if isinstance(module, Dense)] == before
    assert resolve_precision("auto") in ("float32", "bfloat16")
    with pytest.raises(ValueError, match="precision must be one of"):
        set_precision(model, "int4")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Luxical SentenceTransformer"):
        set_precision(SentenceTransformer(modules=[Dense(4, 4)]), "int8")


def test_pipelined_encode_equals_model_encode(tokenizer, vocabulary, news_texts, tweet_texts, edge_texts):
    from luxical_st.inference import encode

    model = wide_model(tokenizer, vocabulary)
    texts = news_texts[:30] + tweet_texts[:150] + edge_texts
    expected = model.encode(texts, batch_size=32)
    for batch_size in (1, 32, 10_000):
        np.testing.assert_allclose(encode(model, texts, batch_size=batch_size), expected, atol=1e-6)
    assert encode(model, []).shape == (0, expected.shape[1])
    with pytest.raises(TypeError, match="must be a list of strings"):
        encode(model, "one text")
    with pytest.raises(TypeError, match="not a string"):
        encode(model, ["fine", None])  # type: ignore[list-item]


@pytest.mark.parametrize("cap", [{"ATEN_CPU_CAPABILITY": "avx2"}, {"ONEDNN_MAX_CPU_ISA": "avx2"}])
def test_bfloat16_is_not_native_under_an_isa_cap(cap: dict[str, str]) -> None:
    # torch or oneDNN held below AVX-512 BF16 emulates bfloat16 even on a CPU that has it: "auto" must
    # then choose float32 (a teacher in emulated bf16 ran ~5x slower than float32)
    code = (
        "from luxical_st.inference import native_bfloat16, resolve_precision; "
        "print(native_bfloat16(), resolve_precision('auto'))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **cap}, capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["False", "float32"]
