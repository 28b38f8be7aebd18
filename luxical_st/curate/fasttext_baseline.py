"""The supervised fastText classifier on raw texts: the baseline an embedding head must match.

One home for it: the classifier heads' `--fasttext` comparison (`curate.heads.metrics`) and the edu
experiment (`evaluation.edu`) both train and query it here. fastText comes with the curate and eval
extras (fasttext-wheel); it is imported only when a classifier is trained.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def fasttext_line(text: str) -> str:
    """fastText reads one document per line and splits on whitespace; lowercase as its examples do."""
    return " ".join(text.lower().split())


def train_fasttext(
    texts: Sequence[str],
    labels: Sequence[Any] | np.ndarray,
    seed: int = 42,
    epoch: int = 10,
    word_ngrams: int = 2,
    dim: int = 64,
    lr: float = 0.5,
) -> Any:
    """A supervised fastText classifier on the raw texts (one thread, so a seed reproduces it); its
    labels are `__label__<label>`."""
    import fasttext

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        path.write_text(
            "".join(
                f"__label__{label} {fasttext_line(text)}\n" for text, label in zip(texts, labels, strict=True)
            ),
            encoding="utf-8",
        )
        return fasttext.train_supervised(
            input=str(path),
            epoch=epoch,
            wordNgrams=word_ngrams,
            dim=dim,
            lr=lr,
            seed=seed,
            thread=1,
            verbose=0,
        )


def predict_line(classifier: Any, text: str) -> list[tuple[float, str]]:
    """(probability, `__label__<label>`) of every label for one text. `classifier.f.predict` per line:
    fasttext-wheel 0.9.2's list `predict` returns wrong probabilities and its single-text `predict`
    fails under numpy 2 (`copy=False`)."""
    return list(classifier.f.predict(fasttext_line(text) + "\n", -1, 0.0, "replace"))


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

    classifier = train_fasttext(
        train_texts, train_y, seed=seed, epoch=epoch, word_ngrams=word_ngrams, dim=dim, lr=lr
    )
    start = time.perf_counter()
    probabilities = np.zeros((len(test_texts), num_classes))
    for row, text in enumerate(test_texts):
        for probability, label in predict_line(classifier, text):
            probabilities[row, int(label.removeprefix("__label__"))] = probability
    sums = probabilities.sum(axis=1, keepdims=True)
    probabilities = np.divide(
        probabilities, sums, out=np.full_like(probabilities, 1 / num_classes), where=sums > 0
    )
    return probabilities, time.perf_counter() - start


__all__ = ["fasttext_line", "fasttext_probabilities", "predict_line", "train_fasttext"]
