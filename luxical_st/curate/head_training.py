"""Fit, calibrate and evaluate classifier heads with scikit-learn; the result is a numpy `ClassifierHead`.

scikit-learn only fits: its coefficients are copied into `ClassifierHead.layers`, so a saved head
never holds a pickled estimator and predicts without scikit-learn.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from luxical_st.curate.head_model import ClassifierHead, _softmax
from luxical_st.extras import require_extra

ECE_BINS = 10
_CONSTANT_LOGIT = 10.0


def fit_layers(
    x: np.ndarray, y: np.ndarray, task: str, kind: str, seed: int = 42, c: float = 1.0, hidden: int = 256
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fit a head with scikit-learn and return its layers as (weight (in, out), bias) pairs.

    `y`: class indices (binary, multiclass), a 0/1 indicator matrix (multilabel) or floats (regression).
    `c` is logistic regression's C; ridge uses alpha = 1 / c.
    """
    require_extra("curate", "fitting a classifier head")
    from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if kind == "mlp":
        mlp_kwargs = {"hidden_layer_sizes": (hidden,), "early_stopping": len(x) >= 50, "max_iter": 300}
        mlp: Any = (MLPRegressor if task == "regression" else MLPClassifier)(random_state=seed, **mlp_kwargs)
        mlp.fit(x, y)
        return list(zip(mlp.coefs_, mlp.intercepts_, strict=True))
    if kind == "ridge":
        if task == "regression":
            model: Any = Ridge(alpha=1.0 / c).fit(x, y)
            return [(model.coef_.reshape(1, -1).T, np.atleast_1d(model.intercept_))]
        if task == "multilabel":
            model = Ridge(alpha=1.0 / c).fit(x, 2.0 * y - 1.0)
        else:
            model = RidgeClassifier(alpha=1.0 / c).fit(x, y)  # binary: coef_ may be 1-d
        return [(np.atleast_2d(model.coef_).T, np.atleast_1d(model.intercept_))]
    if task == "regression":
        raise ValueError("logistic regression does not fit a regression task; use --kind ridge or mlp")
    if task == "multilabel":
        weights, biases = [], []
        for column in y.T:
            if column.min() == column.max():  # a label that is always (or never) on: a constant logit
                weights.append(np.zeros(x.shape[1]))
                biases.append(_CONSTANT_LOGIT if column[0] else -_CONSTANT_LOGIT)
                continue
            fitted = LogisticRegression(C=c, max_iter=2000).fit(x, column)
            weights.append(fitted.coef_[0])
            biases.append(float(fitted.intercept_[0]))
        return [(np.stack(weights, axis=1), np.asarray(biases))]
    model = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    return [(model.coef_.T, np.atleast_1d(model.intercept_))]


def calibrate(head: ClassifierHead, x: np.ndarray, y: np.ndarray) -> None:
    """Fit the head's calibration on held-out embeddings `x`: Platt scaling per output (binary,
    multilabel), a softmax temperature (multiclass); regression heads are left as they are."""
    from scipy.optimize import minimize_scalar
    from sklearn.linear_model import LogisticRegression

    head.calibration, head.slope, head.intercept = "none", None, None
    if head.task == "regression" or len(x) == 0:
        return
    scores = head.decision_function(x).astype(np.float64)
    if head.task == "multiclass":
        onehot = np.eye(len(head.labels))[y]

        def nll(log_t: float) -> float:
            probabilities = _softmax(scores / np.exp(log_t))
            return float(-np.mean(np.log((probabilities * onehot).sum(axis=1) + 1e-12)))

        best = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
        head.calibration, head.slope = "temperature", np.array([np.exp(best.x)])
        return
    targets = y.reshape(len(y), -1)
    slopes, intercepts = np.ones(scores.shape[1]), np.zeros(scores.shape[1])
    for j in range(scores.shape[1]):
        if targets[:, j].min() != targets[:, j].max():
            platt = LogisticRegression(C=1e4, max_iter=1000).fit(scores[:, j : j + 1], targets[:, j])
            slopes[j], intercepts[j] = platt.coef_[0, 0], platt.intercept_[0]
    head.calibration, head.slope, head.intercept = "platt", slopes, intercepts


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


def fasttext_probabilities(
    train_texts: Sequence[str],
    train_y: np.ndarray,
    test_texts: Sequence[str],
    num_classes: int,
    seed: int = 42,
    epoch: int = 10,
    word_ngrams: int = 2,
    dim: int = 64,
    lr: float = 0.5,
) -> tuple[np.ndarray, float]:
    """A supervised fastText classifier on the raw texts (one thread, seeded), as in the project's edu
    experiment: probabilities (n_test, num_classes) and seconds to predict the test set."""
    try:
        import fasttext  # noqa: F401  (only to name the package when it is missing)
    except ImportError as error:
        raise ImportError(
            "the fastText comparison needs fastText: pip install fasttext-wheel (or luxical-st[eval])"
        ) from error

    from luxical_st.evaluation.edu import fasttext_line, train_fasttext

    classifier = train_fasttext(
        train_texts, train_y, seed=seed, epoch=epoch, word_ngrams=word_ngrams, dim=dim, lr=lr
    )
    start = time.perf_counter()
    probabilities = np.zeros((len(test_texts), num_classes))
    for row, text in enumerate(test_texts):
        # `f.predict` per line: fasttext-wheel 0.9.2's list `predict` returns wrong probabilities
        for probability, label in classifier.f.predict(fasttext_line(text) + "\n", -1, 0.0, "replace"):
            probabilities[row, int(label.removeprefix("__label__"))] = probability
    sums = probabilities.sum(axis=1, keepdims=True)
    probabilities = np.divide(
        probabilities, sums, out=np.full_like(probabilities, 1 / num_classes), where=sums > 0
    )
    return probabilities, time.perf_counter() - start


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
    "calibrate",
    "classification_metrics",
    "evaluate_head",
    "expected_calibration_error",
    "fasttext_metrics",
    "fit_layers",
    "regression_metrics",
    "uncalibrated_metrics",
]
