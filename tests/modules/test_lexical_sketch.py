"""LexicalSketch: the fixed count-sketch skip path of the TF-IDF input, concatenated to the embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from luxical_st.config import load_config
from luxical_st.model import add_lexical_sketch, build_model
from luxical_st.modules import LexicalSketch
from tests.conftest import exact_ngram_vocabulary, oracle_rows


@pytest.fixture(scope="module")
def luxical(tokenizer, news_texts: list[str]) -> SentenceTransformer:
    rows = [e.ids for e in tokenizer.encode_batch(news_texts[:200], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return build_model(tokenizer, ngrams, idf, layer_sizes=(32, 64, 16))


def tfidf_rows(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    features = model[0].preprocess(texts)
    dense = np.zeros((len(texts), model[0].num_features), dtype=np.float64)
    bounds = [*features["offsets"].tolist(), len(features["input_ids"])]
    for row in range(len(texts)):
        for position in range(bounds[row], bounds[row + 1]):
            dense[row, int(features["input_ids"][position])] += float(
                features["per_sample_weights"][position]
            )
    return dense


def test_output_mixes_the_dense_cosine_and_the_sketch_cosine(
    luxical, news_texts: list[str], tmp_path
) -> None:
    texts = [text for text in news_texts[200:260] if text.strip()][:40]
    dense = luxical.encode(texts)
    model = build_model(luxical[0].tokenizer, luxical[0].ngrams, luxical[0].idf, layer_sizes=(32, 64, 16))
    model.load_state_dict(luxical.state_dict())
    add_lexical_sketch(model, dimensions=4096, weight=0.4)
    out = model.encode(texts)
    assert out.shape == (40, 16 + 4096) and model.get_embedding_dimension() == 16 + 4096
    np.testing.assert_allclose(out[:, :16], dense * np.sqrt(0.6), atol=1e-6)
    sketch = out[:, 16:] / np.sqrt(0.4)
    np.testing.assert_allclose(np.linalg.norm(sketch, axis=1), 1.0, atol=1e-5)
    # The sketch's cosines estimate the TF-IDF cosines (a random projection: error ~ 1/sqrt(dims)).
    exact = tfidf_rows(model, texts)
    exact /= np.linalg.norm(exact, axis=1, keepdims=True)
    upper = np.triu_indices(40, 1)
    estimated, truth = (sketch @ sketch.T)[upper], (exact @ exact.T)[upper]
    assert np.abs(estimated - truth).max() < 0.08
    assert np.corrcoef(estimated, truth)[0, 1] > 0.95
    cosine = out @ out.T
    np.testing.assert_allclose(cosine, 0.6 * dense @ dense.T + 0.4 * sketch @ sketch.T, atol=1e-5)


def test_saved_model_rebuilds_the_same_sketch(luxical, news_texts: list[str], tmp_path: Path) -> None:
    model = build_model(luxical[0].tokenizer, luxical[0].ngrams, luxical[0].idf, layer_sizes=(32, 64, 16))
    add_lexical_sketch(model, dimensions=64, weight=0.3)
    texts = [*news_texts[:5], "", "   "]
    before = model.encode(texts)
    model.save(str(tmp_path / "model"))
    again = SentenceTransformer(str(tmp_path / "model"), trust_remote_code=True, device="cpu")
    assert type(again[-1]).__name__ == "LexicalSketch"
    np.testing.assert_allclose(again.encode(texts), before, atol=1e-6)
    # The reloaded model runs the folder's own code (one cache folder per module file): saving it again
    # must carry every module file, lexical_sketch.py included.
    again.save(str(tmp_path / "again"))
    assert (tmp_path / "again" / "lexical_sketch.py").read_bytes() == (
        tmp_path / "model" / "lexical_sketch.py"
    ).read_bytes()
    third = SentenceTransformer(str(tmp_path / "again"), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(third.encode(texts), before, atol=1e-6)
    assert not before[-2:].any() and np.isfinite(before).all()  # no known n-gram: all zeros
    with pytest.raises(ValueError, match="already ends"):
        add_lexical_sketch(model, dimensions=64, weight=0.3)


def test_sublinear_sketch_estimates_the_sublinear_tfidf_cosine_and_round_trips(
    luxical, news_texts: list[str], tmp_path: Path
) -> None:
    """With `sublinear_tf` the sketch's cosines estimate those of `(1 + ln count) x idf` rows counted
    from scratch, not of the input's `count x idf`; the flag is saved (format 2) and a sketch without it
    keeps the first format."""
    import json

    texts = [text for text in news_texts[300:400] if text.strip()][:40]
    texts[1] = texts[0] + " " + " ".join([texts[0].split(".")[0]] * 6)  # a sentence repeated six times
    model = build_model(luxical[0].tokenizer, luxical[0].ngrams, luxical[0].idf, layer_sizes=(32, 64, 16))
    model.load_state_dict(luxical.state_dict())
    add_lexical_sketch(model, dimensions=4096, weight=0.4, sublinear_tf=True)
    sketch = model.encode(texts)[:, 16:] / np.sqrt(0.4)

    def cosines(sublinear: bool) -> np.ndarray:
        rows = oracle_rows(
            model[0].tokenizer, model[0].ngrams, model[0].idf, texts, max_n=2, sublinear=sublinear
        )
        dense = np.zeros((len(texts), model[0].num_features))
        for i, row in enumerate(rows):
            dense[i, list(row)] = list(row.values())
        return (dense @ dense.T)[np.triu_indices(len(texts), 1)]

    estimated = (sketch @ sketch.T)[np.triu_indices(len(texts), 1)]
    assert np.abs(estimated - cosines(sublinear=True)).max() < 0.08
    assert np.corrcoef(estimated, cosines(sublinear=True))[0, 1] > 0.95
    assert abs(estimated[0] - cosines(sublinear=False)[0]) > 0.1  # the repeats weigh less: not raw TF

    model.save(str(tmp_path / "model"))
    (config_path,) = (tmp_path / "model").glob("*_LexicalSketch/config.json")
    config = json.loads(config_path.read_text())
    assert config["format_version"] == 2 and config["sublinear_tf"] is True
    again = SentenceTransformer(str(tmp_path / "model"), trust_remote_code=True, device="cpu")
    np.testing.assert_allclose(again.encode(texts), model.encode(texts), atol=1e-6)
    plain = LexicalSketch(100, 16, 64).get_config_dict()
    assert plain["format_version"] == 1 and "sublinear_tf" not in plain
    features = model[0].preprocess(texts[:2])
    del features["counts"]  # what an NgramTfidf of an older version hands over
    features["sentence_embedding"] = torch.ones(2, 16)
    with pytest.raises(ValueError, match="needs the n-gram counts"):
        model[-1](features)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="weight"):
        LexicalSketch(100, 16, 64, weight=1.0)
    with pytest.raises(ValueError, match="positive"):
        LexicalSketch(100, 16, 0)
    with pytest.raises(ValueError, match="lexical_sketch_weight"):
        load_config(None, ["--lexical_sketch_weight", "1.5"])
    with pytest.raises(ValueError, match="lexical_sketch_dimensions"):
        load_config(None, ["--lexical_sketch_dimensions", "-4"])


def test_every_row_is_unit_length_or_zero_when_one_half_is_empty(luxical, edge_texts: list[str]) -> None:
    """A text whose n-grams reach no ReLU unit has an all-zero distilled half: its output is its sketch
    alone at full length (it was 0.707 long), never a short vector that inner-product indexes misscore."""
    model = build_model(luxical[0].tokenizer, luxical[0].ngrams, luxical[0].idf, layer_sizes=(32, 64, 16))
    model.load_state_dict(luxical.state_dict())
    tfidf = model[0]
    word = "the"
    (row,) = [
        i
        for i, gram in enumerate(tfidf.ngrams)
        if gram[0] == tfidf.tokenizer.token_to_id(word) and gram[1] < 0
    ]
    weight = model[1].get_parameter("embedding.weight")
    with torch.no_grad():
        weight[row] = -weight[row].abs() - 1.0  # this n-gram's text reaches no first-layer unit
    distilled = model.encode([word, "the the the"])
    assert not distilled.any(), "the distilled half of these texts must be all zero"
    add_lexical_sketch(model, dimensions=64, weight=0.3)
    texts = [word, "the the the", *edge_texts]
    out = model.encode(texts)
    norms = np.linalg.norm(out, axis=1)
    assert np.all((np.abs(norms - 1.0) < 1e-5) | (norms == 0.0)), norms
    assert np.abs(norms[:2] - 1.0).max() < 1e-5 and not out[:2, :16].any()
    assert norms[texts.index("")] == 0.0
