"""Fit and calibrate classifier heads with scikit-learn; the result is a numpy `ClassifierHead`.

scikit-learn only fits: its coefficients are copied into `ClassifierHead.layers`, so a saved head
never holds a pickled estimator and predicts without scikit-learn. `fit_head` fits on stored
embeddings (held-out test split, calibration split, the rest to fit); `train_head` embeds texts first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.curate.heads.labelled import check_labels, encode_targets, infer_task
from luxical_st.curate.heads.metrics import evaluate_head, fasttext_metrics, uncalibrated_metrics
from luxical_st.extras import require_extra
from luxical_st.head_model import KINDS, PROBE_TEXT, TASKS, ClassifierHead, softmax

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


def calibrate_head(head: ClassifierHead, x: np.ndarray, y: np.ndarray) -> None:
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
            probabilities = softmax(scores / np.exp(log_t))
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


def split_indices(
    n: int, y: np.ndarray, fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held out) row indices, sorted; `fraction` of the rows held out, stratified by `y` if asked."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(n)
    if fraction <= 0:
        return indices, indices[:0]
    try:
        first, second = train_test_split(
            indices, test_size=fraction, random_state=seed, stratify=y if stratify else None
        )
    except ValueError:  # a class too small to stratify
        first, second = train_test_split(indices, test_size=fraction, random_state=seed)
    return np.sort(first), np.sort(second)


def fit_head(
    embeddings: np.ndarray,
    labels: Sequence[Any],
    task: str | None = None,
    kind: str = "logreg",
    test_fraction: float = 0.2,
    calibration_fraction: float = 0.1,
    binarize_at: float | None = None,
    seed: int = 42,
    c: float = 1.0,
    hidden: int = 256,
    texts: Sequence[str] | None = None,
    fasttext: bool = False,
) -> ClassifierHead:
    """Fit a head on stored embeddings: a stratified held-out test split (metrics), a calibration split
    (Platt scaling or a temperature), the rest to fit. `binarize_at`: binary task of label >= value for
    classification; for regression, also report ROC AUC at that value. With `texts` and `fasttext`, a
    fastText classifier on the same split is evaluated beside it (binary and multiclass)."""
    require_extra("curate", "training a classifier head")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    x = np.asarray(embeddings, dtype=np.float32)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} embeddings but {len(labels)} labels")
    raw = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
    check_labels(raw)
    if binarize_at is not None and task != "regression":
        raw = [int(float(v) >= binarize_at) for v in raw]
        task = "binary"
    task = task or infer_task(raw)
    targets = encode_targets(raw, task)
    stratify = task in ("binary", "multiclass")
    rest, test = split_indices(len(x), targets.y, test_fraction, seed, stratify)
    calibrating = task != "regression" and calibration_fraction > 0
    fit_part, cal_part = split_indices(
        len(rest), targets.y[rest], calibration_fraction if calibrating else 0, seed, stratify
    )
    fit_idx, cal_idx = rest[fit_part], rest[cal_part]
    layers = fit_layers(x[fit_idx], targets.y[fit_idx], task, kind, seed=seed, c=c, hidden=hidden)
    value_range = None
    if task == "regression":
        value_range = (float(targets.y[fit_idx].min()), float(targets.y[fit_idx].max()))
    head = ClassifierHead(task=task, kind=kind, layers=layers, labels=targets.names, value_range=value_range)
    calibrate_head(head, x[cal_idx], targets.y[cal_idx])
    metrics: dict[str, Any] = {"n_fit": len(fit_idx), "n_calibration": len(cal_idx), "n_test": len(test)}
    if len(test):
        metrics["test"] = evaluate_head(head, x[test], targets.y[test], binarize_at=binarize_at)
        if head.calibration != "none":
            metrics["test_uncalibrated"] = uncalibrated_metrics(head, x[test], targets.y[test])
        if fasttext and texts is not None and task in ("binary", "multiclass"):
            train_idx = rest  # fastText has nothing to calibrate: it fits on fit + calibration rows
            metrics["fasttext"] = fasttext_metrics(
                task,
                [texts[i] for i in train_idx],
                targets.y[train_idx],
                [texts[i] for i in test],
                targets.y[test],
                len(targets.names),
                seed=seed,
            )
    head.metrics = metrics
    return head


def train_head(
    model: Any,
    texts: Sequence[str],
    labels: Sequence[Any],
    batch_size: int = 256,
    reference: str | None = None,
    trust_remote_code: bool = False,
    **kwargs: Any,
) -> ClassifierHead:
    """Embed `texts` with `model` (a folder or Hub id, or a loaded SentenceTransformer with its folder or
    Hub id as `reference`) and `fit_head` on them; the head keeps the reference and the model's probe
    embedding. A model that ships its own code loads only with `trust_remote_code`. kwargs go to
    `fit_head`."""
    from luxical_st.loading import load_sentence_transformer

    if isinstance(model, str | Path):
        reference = reference or str(model)
        encoder = load_sentence_transformer(
            str(model), trust_remote_code, how_to_opt_in="--trust-remote-code"
        )
    else:
        encoder = model
    embeddings = encoder.encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
    )
    head = fit_head(embeddings, labels, texts=texts, **kwargs)
    head.model = reference
    head.probe = np.asarray(encoder.encode([PROBE_TEXT], convert_to_numpy=True), np.float32)[0]
    head.set_encoder(encoder)
    return head


__all__ = ["calibrate_head", "fit_head", "fit_layers", "split_indices", "train_head"]
