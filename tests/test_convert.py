"""Parity with the real reference: a model built by the `luxical` package itself, converted, must
embed exactly like the reference `Embedder` (within 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file
from sentence_transformers import SentenceTransformer

from luxical_st.convert import convert_reference, fnv1a_ngram_hashes, main, read_reference_arrays

luxical_embedder = pytest.importorskip("luxical.embedder")
luxical_ngrams = pytest.importorskip("luxical.ngrams")
luxical_tokenization = pytest.importorskip("luxical.tokenization")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tokenizer, news_texts, tweet_texts):
    """A reference Embedder with a vocabulary mined by its own Space-Saving code from real text."""
    arrow_tokenizer = luxical_tokenization.arrow_tokenizer_from_tokenizer(tokenizer)
    tokens = arrow_tokenizer.tokenize(
        __import__("pyarrow").array(news_texts + tweet_texts), add_special_tokens=False
    )
    summary = luxical_ngrams.space_saving_ngram_summary(
        tokens.to_numpy(zero_copy_only=False), max_ngram_length=5, num_top_items=400_000
    )
    embedder = luxical_embedder.initialize_embedder_from_ngram_summary(
        summary, arrow_tokenizer, [24, 48, 48, 16], min_ngram_count_multiple=2.0, embedder_init_seed=3
    )
    path = tmp_path_factory.mktemp("reference") / "luxical.npz"
    embedder.save(path)
    return embedder, path


@pytest.fixture(scope="module")
def parity_texts(news_texts, tweet_texts, edge_texts):
    return news_texts[-40:] + tweet_texts[-60:] + edge_texts


@pytest.mark.slow
def test_npz_conversion_matches_reference(reference, parity_texts, tmp_path):
    embedder, path = reference
    assert embedder.recognized_ngrams.shape[0] > 1000  # a real vocabulary, with n-grams up to 5
    assert (embedder.recognized_ngrams[:, 4] != np.iinfo(np.uint32).max).any()
    expected = embedder(parity_texts, batch_size=64)
    main([str(path), str(tmp_path / "st")])
    model = SentenceTransformer(str(tmp_path / "st"), trust_remote_code=True)
    ours = model.encode(parity_texts, batch_size=16)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert not np.isnan(ours).any()
    empty = parity_texts.index("")
    assert np.all(ours[empty] == 0) and np.all(expected[empty] == 0)


def test_hub_safetensors_conversion_matches_reference(reference, parity_texts, tmp_path):
    embedder, path = reference
    arrays = read_reference_arrays(path)
    renamed = {
        "embedder.tokenizer": arrays["tokenizer"],
        "embedder.recognized_ngrams": arrays["recognized_ngrams"],
        "embedder.ngram_keys": arrays["ngram_hash_to_ngram_idx_keys"],
        "embedder.ngram_vals": arrays["ngram_hash_to_ngram_idx_values"],
        "embedder.idf_values": arrays["idf_values"],
        "embedder.num_layers": np.asarray(arrays["num_nn_layers"]),
    }
    renamed.update(
        {f"embedder.nn_layer_{i}": arrays[f"nn_layer_{i}"] for i in range(int(arrays["num_nn_layers"][0]))}
    )
    save_file(renamed, str(tmp_path / "model.safetensors"))
    model = convert_reference(tmp_path)  # a folder holding model.safetensors, like a Hub snapshot
    np.testing.assert_allclose(model.encode(parity_texts[:50]), embedder(parity_texts[:50]), atol=1e-5)


def test_fnv_hashes_match_reference_hash(reference):
    embedder, _ = reference
    rows = embedder.recognized_ngrams[:500]
    expected = [luxical_ngrams.fnv1a_hash_array_to_int64(row) for row in rows]
    np.testing.assert_array_equal(fnv1a_ngram_hashes(rows), np.array(expected, dtype=np.int64))


def test_inconsistent_hash_map_is_rejected(reference, tmp_path):
    _, path = reference
    arrays = dict(np.load(path))
    arrays["ngram_hash_to_ngram_idx_values"] = arrays["ngram_hash_to_ngram_idx_values"][::-1].copy()
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="hash map does not match"):
        convert_reference(tmp_path / "bad.npz")


def test_truncated_or_foreign_files_name_the_file(reference, tmp_path):
    _, path = reference
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"truncated\.npz"):
        convert_reference(truncated)
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a Luxical model"):
        convert_reference(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        convert_reference(tmp_path / "missing.npz")


def _damaged_copy(path, tmp_path, name, change):
    arrays = dict(np.load(path))
    change(arrays)
    target = tmp_path / name
    np.savez(target, **arrays)
    return target


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("more layers", r"num_nn_layers=\d+ but lacks \['nn_layer_\d+'\]"),
        ("garbage tokenizer", "its tokenizer is not a valid tokenizer.json"),
        ("nan layer", "nn_layer_1 holds NaN or infinite values; refusing to convert"),
        ("inf idf", "idf_values holds NaN or infinite values"),
    ],
)
def test_damaged_reference_files_are_refused_naming_the_file(reference, tmp_path, damage, message):
    _, path = reference

    def change(arrays):
        if damage == "more layers":
            arrays["num_nn_layers"] = arrays["num_nn_layers"] + 1
        elif damage == "garbage tokenizer":
            arrays["tokenizer"] = np.frombuffer(b'{"not": "a tokenizer"}', dtype=np.uint8)
        elif damage == "nan layer":
            arrays["nn_layer_1"] = arrays["nn_layer_1"].copy()
            arrays["nn_layer_1"][0, 0] = np.nan
        else:
            arrays["idf_values"] = arrays["idf_values"].copy()
            arrays["idf_values"][3] = np.inf

    damaged = _damaged_copy(path, tmp_path, "damaged.npz", change)
    with pytest.raises(ValueError, match=f"damaged.npz.*{message}"):
        convert_reference(damaged, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_plain_npy_and_mistyped_folders_are_named(tmp_path, monkeypatch, capsys):
    npy = tmp_path / "layer.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match=r"layer\.npy is not a readable Luxical \.npz"):
        convert_reference(npy)
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="models/luxcal does not exist: no such local file or folder"):
        convert_reference("models/luxcal")
    with pytest.raises(SystemExit) as exit_info:
        main(["models/luxcal", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "models/luxcal does not exist" in capsys.readouterr().err
