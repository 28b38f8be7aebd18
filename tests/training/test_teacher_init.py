"""Seeding the n-gram table from the teacher: token texts, n-gram means, sign-split PCA, the real teacher."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from luxical_st.model import build_model
from luxical_st.training import teacher_init


def test_token_strings_strip_continuations_and_skip_special_tokens(tokenizer) -> None:
    strings = teacher_init.token_strings(tokenizer)
    vocabulary = tokenizer.get_vocab()
    assert len(strings) == tokenizer.get_vocab_size(with_added_tokens=True)
    assert strings[vocabulary["the"]] == "the"
    assert strings[vocabulary["##ing"]] == "ing"
    for special in ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "[unused0]", "[unused993]"):
        assert strings[vocabulary[special]] == ""


def test_ngram_embeddings_are_token_means() -> None:
    tokens = np.arange(12, dtype=np.float32).reshape(4, 3)
    ngrams = np.array([[2, -1, -1], [0, 1, -1], [3, 3, 1]])
    expected = np.stack([tokens[2], (tokens[0] + tokens[1]) / 2, (2 * tokens[3] + tokens[1]) / 3])
    np.testing.assert_allclose(teacher_init.ngram_embeddings(ngrams, tokens), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="outside the 4 token embeddings"):
        teacher_init.ngram_embeddings(np.array([[4, -1]]), tokens)


def test_first_layer_seed_keeps_both_signs_of_the_principal_components() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 3)) @ np.diag([5.0, 2.0, 0.5]) @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    seed = teacher_init.first_layer_seed(vectors, width=5, row_norm=2.0)
    assert seed.shape == (500, 5) and seed.dtype == np.float32
    positive, negative = seed[:, :2], seed[:, 2:4]
    np.testing.assert_array_equal(positive, -negative)
    assert not seed[:, 4].any()  # odd width: one zero column
    # After the layer's ReLU both halves together still hold the full projection.
    relu = np.maximum(seed, 0)
    np.testing.assert_allclose(relu[:, :2] - relu[:, 2:4], positive)
    assert np.linalg.norm(positive, axis=1).mean() == pytest.approx(2.0, rel=1e-5)
    # The kept directions are the top two principal axes (each up to its sign).
    centred = vectors - vectors.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
    expected = centred @ axes.T
    expected *= 2.0 / np.linalg.norm(expected, axis=1).mean()
    np.testing.assert_allclose(np.abs(positive), np.abs(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_seed_first_layer_from_the_real_teacher(tokenizer) -> None:
    from luxical_st.data.teacher import load_teacher

    teacher = load_teacher()
    embeddings = teacher_init.teacher_token_embeddings(teacher, tokenizer, show_progress_bar=False)
    vocabulary = tokenizer.get_vocab()
    assert embeddings.shape == (len(teacher_init.token_strings(tokenizer)), 384)
    assert not embeddings[vocabulary["[CLS]"]].any()
    np.testing.assert_allclose(np.linalg.norm(embeddings[vocabulary["doctor"]]), 1.0, rtol=1e-5)
    direct = teacher.encode(["doctor"], normalize_embeddings=True)[0]
    np.testing.assert_allclose(embeddings[vocabulary["doctor"]], direct, atol=1e-5)

    words = ["doctor", "physician", "nurse", "banana", "apple", "stock", "market"]
    ngrams = np.full((len(words), 2), -1, dtype=np.int32)
    ngrams[:, 0] = [vocabulary[word] for word in words]
    model = build_model(tokenizer, ngrams, np.ones(len(words), dtype=np.float32), layer_sizes=(16, 8))
    teacher_init.seed_first_layer(model, embeddings, row_norm=1.0)
    rows = model[1].get_parameter("embedding.weight").detach().numpy()
    hidden = np.maximum(rows, 0)
    hidden /= np.linalg.norm(hidden, axis=1, keepdims=True)
    similarity = hidden @ hidden.T
    # The seeded first layer already places related words together, before any training.
    assert similarity[0, 1] > similarity[0, 3] and similarity[3, 4] > similarity[3, 5]


def test_identity_start_makes_the_network_the_seeded_static_embedding(tokenizer, news_texts) -> None:
    """With `hidden_init: identity` the untrained network computes exactly (up to the small noise of
    the other weights) `l2norm(sum_i tfidf_i * p_i)`, p_i the seeded principal components of n-gram
    i: the model2vec-style start is the network's function, not just its first layer."""
    from tests.conftest import exact_ngram_vocabulary

    rows = [e.ids for e in tokenizer.encode_batch(news_texts[:100], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    rng = np.random.default_rng(1)
    token_embeddings = rng.normal(size=(tokenizer.get_vocab_size(), 24)).astype(np.float32)
    model = build_model(tokenizer, ngrams, idf, layer_sizes=(16, 40, 32, 6))
    axes = teacher_init.seed_first_layer(model, token_embeddings)
    assert axes.shape == (24, 8)
    table = model[1].get_parameter("embedding.weight").detach().numpy()[:, :8]

    texts = [text for text in news_texts[100:140] if text.strip()][:20]
    features = model[0].preprocess(texts)
    bounds = [*features["offsets"].tolist(), len(features["input_ids"])]
    ids, weights = features["input_ids"].numpy(), features["per_sample_weights"].numpy()
    static = np.stack([weights[a:b] @ table[ids[a:b]] for a, b in itertools.pairwise(bounds)])
    expected = static[:, :6] / np.linalg.norm(static[:, :6], axis=1, keepdims=True)

    teacher_init.seed_identity_path(model, axes.shape[1], noise=0.0)
    np.testing.assert_allclose(model.encode(texts), expected, atol=1e-5)
    teacher_init.seed_identity_path(model, axes.shape[1], noise=0.1)
    noisy = model.encode(texts)
    assert np.min(np.sum(noisy * expected, axis=1)) > 0.95
    # Every weight is non-zero, so every unit learns.
    assert all(
        (module.linear.weight != 0).float().mean() > 0.99
        for module in list(model)[3:]
        if hasattr(module, "linear")
    )
    with pytest.raises(ValueError, match="at least 16 wide"):
        teacher_init.seed_identity_path(build_model(tokenizer, ngrams, idf, layer_sizes=(16, 8, 6)), 8)


def test_identity_start_needs_a_seeded_table_and_wide_middle_layers() -> None:
    from luxical_st.config import load_config

    with pytest.raises(ValueError, match="hidden_init"):
        load_config(None, ["--hidden_init", "identity"])
    with pytest.raises(ValueError, match="hidden_init"):
        load_config(
            None, ["--hidden_init", "identity", "--teacher_init", "true", "--layer_sizes", "64", "32", "8"]
        )
    with pytest.raises(ValueError, match="hidden_init"):
        load_config(None, ["--hidden_init", "zeros"])
    config = load_config(None, ["--hidden_init", "identity", "--teacher_init", "true"])
    assert config.model.hidden_init == "identity"
