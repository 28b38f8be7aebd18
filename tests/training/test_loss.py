"""LuxicalDistillLoss against a direct numpy computation, and on a real Luxical student."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from luxical_st.training.loss import (
    LuxicalDistillLoss,
    QuantizedEmbedDistillLoss,
    build_loss,
    dequantize_labels,
    gram_kl_divergence,
)


def numpy_gram_kl(student: np.ndarray, teacher: np.ndarray, tau: float) -> float:
    """τ²·mean_i KL(p_i ‖ q_i), p/q = softmax over j != i of Gram/τ, written out the slow way."""
    student = student / np.linalg.norm(student, axis=1, keepdims=True)
    teacher = teacher / np.linalg.norm(teacher, axis=1, keepdims=True)
    total = 0.0
    for i in range(len(student)):
        others = [j for j in range(len(student)) if j != i]
        logits_t = np.array([teacher[i] @ teacher[j] for j in others], dtype=np.float64) / tau
        logits_s = np.array([student[i] @ student[j] for j in others], dtype=np.float64) / tau
        p = np.exp(logits_t - logits_t.max())
        p /= p.sum()
        q = np.exp(logits_s - logits_s.max())
        q /= q.sum()
        total += float(np.sum(p * (np.log(p) - np.log(q))))
    return tau**2 * total / len(student)


@pytest.fixture(scope="module")
def student_model(tokenizer, tweet_texts):
    """A small real Luxical student over an exact n-gram vocabulary of real tweets."""
    from luxical_st.model import build_model
    from tests.conftest import exact_ngram_vocabulary

    rows = [encoding.ids for encoding in tokenizer.encode_batch(tweet_texts, add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return build_model(tokenizer, ngrams, idf, layer_sizes=(16, 32, 24), seed=0)


@pytest.mark.parametrize("tau", [1.0, 3.0])
def test_gram_kl_matches_numpy(tau: float) -> None:
    rng = np.random.default_rng(0)
    student, teacher = rng.normal(size=(9, 12)), rng.normal(size=(9, 20))  # widths differ
    got = gram_kl_divergence(torch.tensor(student), torch.tensor(teacher), tau)
    assert got.item() == pytest.approx(numpy_gram_kl(student, teacher, tau), rel=1e-5, abs=1e-7)


def test_gram_kl_vanishes_when_student_is_teacher() -> None:
    teacher = torch.randn(32, 64, generator=torch.Generator().manual_seed(1))
    assert gram_kl_divergence(teacher, teacher, 3.0).item() == pytest.approx(0.0, abs=1e-6)
    # Rescaled rows give the same Gram matrix after the L2 normalisation.
    assert gram_kl_divergence(teacher * 5.0, teacher, 3.0).item() == pytest.approx(0.0, abs=1e-6)
    assert gram_kl_divergence(torch.randn(32, 64), teacher, 3.0).item() > 1e-3


def test_gram_kl_rejects_bad_batches() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        gram_kl_divergence(torch.ones(1, 4), torch.ones(1, 4), 3.0)
    with pytest.raises(ValueError, match="rows"):
        gram_kl_divergence(torch.ones(3, 4), torch.ones(4, 4), 3.0)


def test_dequantize_labels_matches_the_data_helper() -> None:
    from luxical_st.quantization import dequantize_targets, quantize_targets

    codes = quantize_targets(
        np.random.default_rng(2).uniform(-0.4, 0.4, size=(5, 16)).astype(np.float32), limit=0.3
    )
    expected = dequantize_targets(codes, limit=0.3)
    # The ST collator widens uint8 lists to int64; both dtypes must give the same rows.
    for labels in (torch.from_numpy(codes), torch.from_numpy(codes).long()):
        np.testing.assert_allclose(dequantize_labels(labels, 0.3).numpy(), expected, atol=1e-6)
    floats = torch.rand(3, 4)
    assert torch.equal(dequantize_labels(floats, 0.3), floats)
    with pytest.raises(ValueError, match="codes in"):
        dequantize_labels(torch.tensor([[300, 1]]), 0.3)
    with pytest.raises(ValueError, match="2-D"):
        dequantize_labels(torch.zeros(4, dtype=torch.uint8), 0.3)


def test_loss_on_a_real_student(student_model, tweet_texts) -> None:
    texts = tweet_texts[:16]
    features = student_model.preprocess(texts)
    codes = torch.randint(
        0, 256, (len(texts), 48), generator=torch.Generator().manual_seed(3), dtype=torch.uint8
    )
    loss_fn = LuxicalDistillLoss(student_model, temperature=3.0)
    loss = loss_fn([dict(features)], codes)
    loss.backward()
    assert loss.item() > 0
    assert student_model[1].embedding.weight.grad is not None
    # The same numbers as the formula applied to the model's own embeddings.
    with torch.no_grad():
        student = student_model(dict(features))["sentence_embedding"].numpy()
    teacher = dequantize_labels(codes, 0.3).numpy()
    assert loss.item() == pytest.approx(numpy_gram_kl(student, teacher, 3.0), rel=1e-4)
    # Teacher = the student's own embeddings: nothing left to learn.
    assert loss_fn([dict(features)], torch.from_numpy(student)).item() == pytest.approx(0.0, abs=1e-6)
    assert loss_fn.get_config_dict() == {
        "temperature": 3.0,
        "quantization_limit": 0.3,
        "lexical_kl_weight": 0.0,
    }
    with pytest.raises(ValueError, match="label"):
        loss_fn([dict(features)], None)


@pytest.mark.parametrize("name", ["mse", "cosine"])
def test_embedding_distillation_projects_to_the_teacher_width(student_model, tweet_texts, name: str) -> None:
    texts = tweet_texts[:8]
    codes = torch.randint(
        0, 256, (len(texts), 48), generator=torch.Generator().manual_seed(4), dtype=torch.uint8
    )
    loss_fn = build_loss(name, student_model, teacher_dim=48)
    assert isinstance(loss_fn, QuantizedEmbedDistillLoss)
    assert loss_fn.projection is not None and loss_fn.projection.out_features == 48
    loss = loss_fn([student_model.preprocess(texts)], codes)
    loss.backward()
    assert loss.item() > 0 and loss_fn.projection.weight.grad is not None
    same_width = build_loss(name, student_model, teacher_dim=24)
    assert same_width.projection is None


def test_build_loss_rejects_unknown_names(student_model) -> None:
    with pytest.raises(ValueError, match="unknown loss 'triplet'"):
        build_loss("triplet", student_model, teacher_dim=8)
    with pytest.raises(ValueError, match="temperature"):
        LuxicalDistillLoss(student_model, temperature=0)


def test_gram_kl_weight_adds_the_gram_loss_on_the_unprojected_student(student_model, tweet_texts) -> None:
    texts = tweet_texts[:12]
    codes = torch.randint(
        0, 256, (len(texts), 48), generator=torch.Generator().manual_seed(5), dtype=torch.uint8
    )
    plain = build_loss("cosine", student_model, teacher_dim=48)
    mixed = build_loss("cosine", student_model, teacher_dim=48, temperature=2.0, gram_kl_weight=0.5)
    mixed.projection.load_state_dict(plain.projection.state_dict())
    features = student_model.preprocess(texts)
    with torch.no_grad():
        student = student_model(dict(features))["sentence_embedding"].numpy()
        cosine = plain([dict(features)], codes).item()
        total = mixed([dict(features)], codes).item()
    teacher = dequantize_labels(codes, 0.3).numpy()
    assert total == pytest.approx(cosine + 0.5 * numpy_gram_kl(student, teacher, 2.0), rel=1e-4)
    assert mixed.get_config_dict()["gram_kl_weight"] == 0.5
    with pytest.raises(ValueError, match="gram_kl_weight"):
        build_loss("mse", student_model, teacher_dim=48, gram_kl_weight=-1.0)


def test_tfidf_gram_is_the_cosine_of_the_tfidf_rows() -> None:
    from luxical_st.model import build_model
    from luxical_st.tokenizer import load_wordpiece_tokenizer
    from luxical_st.training.loss import lexical_kl_divergence, tfidf_gram

    tokenizer = load_wordpiece_tokenizer()
    texts = ["the cat sat on the mat", "a cat on a mat", "stock markets fell sharply", ""]
    ids = sorted({i for e in tokenizer.encode_batch(texts, add_special_tokens=False) for i in e.ids})
    ngrams = np.full((len(ids), 2), -1, dtype=np.int32)
    ngrams[:, 0] = ids
    model = build_model(tokenizer, ngrams, np.linspace(1, 2, len(ids)).astype(np.float32), (8, 4))
    features = model[0].preprocess(texts)
    dense = np.zeros((len(texts), len(ids)), dtype=np.float32)
    offsets = features["offsets"].tolist() + [len(features["input_ids"])]
    for row in range(len(texts)):
        for position in range(offsets[row], offsets[row + 1]):
            dense[row, int(features["input_ids"][position])] += float(
                features["per_sample_weights"][position]
            )
    np.testing.assert_allclose(tfidf_gram(features).numpy(), dense @ dense.T, atol=1e-6)
    student = model(dict(features))["sentence_embedding"]
    assert torch.isfinite(lexical_kl_divergence(student, features, 3.0))
