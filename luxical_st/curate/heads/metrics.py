"""Held-out metrics of classifier heads (ROC AUC, F1, accuracy, calibration error; Spearman and RMSE for
regression), with calibration switched off for comparison, and fastText's on the same split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from luxical_st.curate.fasttext_baseline import fasttext_probabilities
from luxical_st.head_model import ClassifierHead

ECE_BINS = 10


def expected_calibration_error(probabilities: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: mean |confidence - accuracy| over equal-width confidence bins, weighted by bin size."""
    edges = np.minimum((probabilities * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = edges == b
        if inside.any():
            total += inside.mean() * abs(probabilities[inside].mean() - correct[inside].mean())
    return float(total)


def classification_metrics(task: str, probabilities: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """ROC AUC, F1, accuracy and calibration error of class probabilities against encoded targets."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    if task == "binary":
        positive = probabilities[:, 1]
        return {
            "roc_auc": float(roc_auc_score(y, positive)) if len(set(y.tolist())) == 2 else float("nan"),
            "f1": float(f1_score(y, positive >= 0.5, zero_division=0)),
            "accuracy": float(accuracy_score(y, positive >= 0.5)),
            "brier": float(np.mean((positive - y) ** 2)),
            "ece": expected_calibration_error(positive, y.astype(float)),
        }
    if task == "multiclass":
        predicted = probabilities.argmax(axis=1)
        present = np.unique(y)
        auc = float("nan")
        if len(present) == probabilities.shape[1]:
            auc = float(roc_auc_score(y, probabilities, multi_class="ovr", average="macro"))
        return {
            "accuracy": float(accuracy_score(y, predicted)),
            "macro_f1": float(f1_score(y, predicted, average="macro", zero_division=0)),
            "roc_auc": auc,
            "ece": expected_calibration_error(probabilities.max(axis=1), (predicted == y).astype(float)),
        }
    predicted = probabilities >= 0.5
    both = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    return {
        "micro_f1": float(f1_score(y, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y, predicted, average="macro", zero_division=0)),
        "roc_auc": float(roc_auc_score(y[:, both], probabilities[:, both], average="macro"))
        if both
        else float("nan"),
        "ece": expected_calibration_error(probabilities.ravel(), y.ravel().astype(float)),
    }


def regression_metrics(
    predicted: np.ndarray, y: np.ndarray, binarize_at: float | None = None
) -> dict[str, float]:
    """Spearman, Pearson, RMSE and MAE; with `binarize_at`, ROC AUC and F1 of the score against y >= it
    (how FineWeb-Edu's regression classifier is judged)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import f1_score, roc_auc_score

    metrics = {
        "spearman": float(spearmanr(predicted, y).statistic),
        "pearson": float(pearsonr(predicted, y).statistic),
        "rmse": float(np.sqrt(np.mean((predicted - y) ** 2))),
        "mae": float(np.mean(np.abs(predicted - y))),
    }
    if binarize_at is not None:
        truth = y >= binarize_at
        if 0 < truth.sum() < len(truth):
            metrics["roc_auc"] = float(roc_auc_score(truth, predicted))
        metrics["f1"] = float(f1_score(truth, predicted >= binarize_at, zero_division=0))
    return metrics


def evaluate_head(
    head: ClassifierHead, x: np.ndarray, y: np.ndarray, binarize_at: float | None = None
) -> dict[str, float]:
    """Held-out metrics of a head on embeddings `x` with encoded targets `y` (see `fit_layers`)."""
    if head.task == "regression":
        return regression_metrics(np.asarray(head.predict(x), np.float64), y, binarize_at)
    return classification_metrics(head.task, head.predict_proba(x), y)


def uncalibrated_metrics(head: ClassifierHead, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The same metrics with the calibration switched off (to show what calibration changed)."""
    saved = head.calibration, head.slope, head.intercept
    head.calibration, head.slope, head.intercept = "none", None, None
    try:
        return evaluate_head(head, x, y)
    finally:
        head.calibration, head.slope, head.intercept = saved


def fasttext_metrics(
    task: str,
    train_texts: Sequence[str],
    train_y: np.ndarray,
    test_texts: Sequence[str],
    test_y: np.ndarray,
    num_classes: int,
    seed: int = 42,
) -> dict[str, float]:
    """fastText's held-out metrics on the same split (binary and multiclass tasks)."""
    probabilities, seconds = fasttext_probabilities(train_texts, train_y, test_texts, num_classes, seed=seed)
    metrics = classification_metrics(task, probabilities, test_y)
    metrics["seconds_per_1k_docs"] = seconds / max(len(test_texts), 1) * 1000
    return metrics


__all__ = [
    "classification_metrics",
    "evaluate_head",
    "expected_calibration_error",
    "fasttext_metrics",
    "regression_metrics",
    "uncalibrated_metrics",
]
