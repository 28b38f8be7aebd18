"""A Luxical SentenceTransformer: the exact Luxical forward pass, save/load as remote code, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from luxical_st import build_model, layer_matrices
from tests.conftest import exact_ngram_vocabulary

REPO_ROOT = Path(__file__).resolve().parents[1]
# Runs Python with luxical_st made unimportable, outside the repository, offline.
BLOCKED_PREAMBLE = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "luxical_st" or name.startswith("luxical_st."):
            raise ImportError("luxical_st is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def run_without_luxical_st(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    script = BLOCKED_PREAMBLE + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def vocabulary(tokenizer, tweet_texts):
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts[:300], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=5, min_count=2)
    return ngrams, (np.log(counts.sum()) - np.log(counts)).astype(np.float32)


@pytest.fixture(scope="module")
def model(tokenizer, vocabulary):
    return build_model(tokenizer, *vocabulary, layer_sizes=(32, 64, 64, 16), seed=1)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "luxical-tiny"
    model.save(str(path))
    return path


def luxical_forward(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """The Luxical MLP written out in numpy from the model's own TF-IDF rows and weights."""
    indices, offsets, weights = model[0].transform(texts)
    matrices = layer_matrices(model)
    dense = np.zeros((len(texts), model[0].num_features), dtype=np.float64)
    for row, (a, b) in enumerate(zip(offsets, np.append(offsets[1:], indices.size), strict=True)):
        dense[row, indices[a:b]] = weights[a:b]

    def l2norm(x: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norms == 0, 1, norms)

    hidden = dense
    for matrix in matrices[:-1]:
        hidden = l2norm(np.maximum(hidden @ matrix.T, 0))
    return l2norm(hidden @ matrices[-1].T)


def test_encode_is_the_luxical_forward_pass(model, tweet_texts, edge_texts):
    texts = tweet_texts[300:360] + edge_texts
    np.testing.assert_allclose(model.encode(texts, batch_size=16), luxical_forward(model, texts), atol=1e-5)


def test_embedding_dimension_and_norms(model, tweet_texts):
    assert model.get_embedding_dimension() == 16
    embeddings = model.encode(["", *tweet_texts[:10]])
    assert np.all(embeddings[0] == 0)
    np.testing.assert_allclose(np.linalg.norm(embeddings[1:], axis=1), 1.0, atol=1e-5)


def test_layer_sizes_and_weights_are_validated(tokenizer, vocabulary):
    with pytest.raises(ValueError, match="at least two"):
        build_model(tokenizer, *vocabulary, layer_sizes=(8,))
    with pytest.raises(ValueError, match="shape"):
        build_model(
            tokenizer, *vocabulary, layer_sizes=(8, 4), layer_weights=[np.zeros((8, 3)), np.zeros((4, 8))]
        )


def test_bias_option_trains_new_models(tokenizer, vocabulary, tweet_texts, tmp_path):
    biased = build_model(tokenizer, *vocabulary, layer_sizes=(8, 4), bias=True)
    assert biased[1].bias is not None and biased[3].linear.bias is not None
    biased.save(str(tmp_path / "biased"))
    loaded = SentenceTransformer(str(tmp_path / "biased"), trust_remote_code=True)
    np.testing.assert_allclose(loaded.encode(tweet_texts[:5]), biased.encode(tweet_texts[:5]), atol=1e-6)


def test_save_writes_versioned_files_and_remote_code(saved):
    names = {path.name for path in saved.iterdir()}
    assert {"ngram_tfidf.py", "ngrams.py", "sparse_dense.py", "persistence.py", "tokenizer.json"} <= names
    assert json.loads((saved / "ngram_tfidf_config.json").read_text())["format_version"] == 1
    assert json.loads((saved / "1_SparseDense" / "config.json").read_text())["format_version"] == 1
    types = [entry["type"] for entry in json.loads((saved / "modules.json").read_text())]
    assert types[:2] == ["ngram_tfidf.NgramTfidf", "sparse_dense.SparseDense"]


def test_loading_needs_trust_remote_code(saved):
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(saved))


@pytest.mark.slow
def test_loads_and_resaves_where_luxical_st_is_not_importable(model, saved, tweet_texts, tmp_path):
    texts = tweet_texts[:20] + ["", "[CLS]"]
    np.save(tmp_path / "texts.npy", np.array(texts, dtype=object), allow_pickle=True)
    result = run_without_luxical_st(
        f"""
        import numpy as np
        from sentence_transformers import SentenceTransformer
        texts = np.load({str(tmp_path / "texts.npy")!r}, allow_pickle=True).tolist()
        model = SentenceTransformer({str(saved)!r}, trust_remote_code=True)
        np.save({str(tmp_path / "first.npy")!r}, model.encode(texts))
        model.save({str(tmp_path / "resaved")!r})
        again = SentenceTransformer({str(tmp_path / "resaved")!r}, trust_remote_code=True)
        np.save({str(tmp_path / "second.npy")!r}, again.encode(texts))
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = model.encode(texts)
    np.testing.assert_allclose(np.load(tmp_path / "first.npy"), expected, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "second.npy"), expected, atol=1e-6)


def _copy_model(saved: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(saved, target)
    return target


@pytest.mark.parametrize(
    ("relative", "damage", "message"),
    [
        ("ngram_tfidf.safetensors", "truncate", "ngram_tfidf.safetensors is corrupt or truncated"),
        ("1_SparseDense/model.safetensors", "truncate", "model.safetensors is corrupt or truncated"),
        ("ngram_tfidf_config.json", "garbage", "ngram_tfidf_config.json is not a readable JSON"),
        ("ngram_tfidf_config.json", "newer", "newer than this code"),
        ("ngram_tfidf_config.json", "typo", "unknown keys"),
        ("1_SparseDense/config.json", "newer", "newer than this code"),
        ("tokenizer.json", "garbage", "tokenizer.json is not a valid tokenizer"),
    ],
)
def test_damaged_model_folders_give_errors_naming_the_file(saved, tmp_path, relative, damage, message):
    folder = _copy_model(saved, tmp_path / "damaged")
    path = folder / relative
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_text("{ not json")
    else:
        config = json.loads(path.read_text())
        if damage == "newer":
            config["format_version"] = 99
        else:
            config["max_ngram_lenght"] = config.pop("max_ngram_length")
        path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        SentenceTransformer(str(folder), trust_remote_code=True)


def test_missing_file_is_named(saved, tmp_path):
    folder = _copy_model(saved, tmp_path / "incomplete")
    (folder / "ngram_tfidf.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"ngram_tfidf\.safetensors"):
        SentenceTransformer(str(folder), trust_remote_code=True)


@pytest.mark.parametrize("bad", [[None], ["fine", 42], [b"bytes"]])
def test_encode_rejects_non_text(model, bad):
    with pytest.raises(TypeError):
        model.encode(bad)


def test_odd_unicode_and_control_characters_embed(model, edge_texts):
    texts = [*edge_texts, "\ud83d lone surrogate", "\x00" * 100, "\u202e right-to-left override", "\ufeffBOM"]
    embeddings = model.encode(texts)
    assert np.isfinite(embeddings).all()


@pytest.mark.parametrize("kind", ["english", "one run", "cjk", "no whitespace"])
@pytest.mark.slow
def test_ten_megabyte_document_fits_in_a_few_hundred_megabytes(saved, news_texts, tmp_path, kind):
    """10 MB documents with and without whitespace: plain English, one 10 MB token run, CJK text
    (3-byte characters), and English with its whitespace removed (cut at punctuation)."""
    text = {
        "english": "\n".join(news_texts),
        "one run": "a",
        "cjk": "日本語のテキストと中文文本。",
        "no whitespace": "".join("".join(news_texts).split()),
    }[kind]
    size = 10 * 2**20 // len(text[0].encode("utf-8"))
    text = (text * (size // len(text) + 1))[:size]
    if kind != "english":  # after real English words, so that the embedding is not all zero
        text = news_texts[0] + " " + text
    (tmp_path / "big.txt").write_text(text, encoding="utf-8")
    result = run_without_luxical_st(
        f"""
        import resource, numpy as np
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer({str(saved)!r}, trust_remote_code=True)
        text = open({str(tmp_path / "big.txt")!r}, encoding="utf-8").read()
        model.encode(["warm-up text"])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        embedding = model.encode([text])
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert np.isfinite(embedding).all() and abs(np.linalg.norm(embedding) - 1) < 1e-4
        print((after - before) / 1024)
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    extra_mib = float(result.stdout.strip().splitlines()[-1])
    assert extra_mib < 400, f"a 10 MB document needed {extra_mib:.0f} MiB extra"


def test_bfloat16_model_runs_and_stays_close(tokenizer, vocabulary, tweet_texts):
    model = build_model(tokenizer, *vocabulary, layer_sizes=(32, 64, 16), seed=2)
    expected = model.encode(tweet_texts[:30])
    fast = model.bfloat16().encode(tweet_texts[:30])
    assert fast.dtype == np.float32
    cosine = (fast * expected).sum(axis=1) / np.linalg.norm(fast, axis=1)
    assert cosine.min() > 0.99


def test_layer_matrices_of_a_loaded_model(saved, model):
    loaded = SentenceTransformer(str(saved), trust_remote_code=True)
    shapes = [matrix.shape for matrix in layer_matrices(loaded)]
    assert (
        shapes
        == [matrix.shape for matrix in layer_matrices(model)]
        == [(32, model[0].num_features), (64, 32), (64, 64), (16, 64)]
    )


def test_resaving_into_the_folder_it_was_loaded_from(saved, tweet_texts, tmp_path):
    """The SparseDense weights are a mapping of their file: saving over that file must replace it,
    never truncate it under the mapping (which would crash the process with SIGBUS)."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(saved, folder)
    loaded = SentenceTransformer(str(folder), trust_remote_code=True, device="cpu")
    expected = loaded.encode(tweet_texts[:20])
    loaded.save(str(folder))
    np.testing.assert_array_equal(loaded.encode(tweet_texts[:20]), expected)
    reloaded = SentenceTransformer(str(folder), trust_remote_code=True, device="cpu")
    np.testing.assert_array_equal(reloaded.encode(tweet_texts[:20]), expected)
    assert not list(folder.rglob("*.partial"))


@pytest.mark.slow
def test_sentence_transformers_multi_process_pool(saved, news_texts, tweet_texts):
    """`encode(..., pool=...)` (N processes, one model each) gives the single-process embeddings."""
    model = SentenceTransformer(str(saved), trust_remote_code=True, device="cpu")
    texts = news_texts[:30] + tweet_texts[:100]
    pool = model.start_multi_process_pool(["cpu", "cpu"])
    try:
        pooled = model.encode(texts, pool=pool, chunk_size=40)
    finally:
        model.stop_multi_process_pool(pool)
    np.testing.assert_allclose(pooled, model.encode(texts), atol=1e-6)
