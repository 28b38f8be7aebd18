"""Sparse word TF-IDF fitted on each task's own texts: the strongest cheap lexical reference point.

`baseline:tfidf-words` is scikit-learn's `TfidfVectorizer` (words of two or more letters or digits,
lowercased, smoothed IDF, L2-normalised rows), fitted on every text of the task being evaluated, both
sides of every split, before that task runs; the held-out reports measure Luxical against this. It
sees each task's vocabulary and document frequencies, which no pretrained model does, so it is a
transductive ceiling for lexical matching rather than a model a user could ship. Rows are handed to
mteb dense (texts encoded x the task's vocabulary, float32): mind the memory on large tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule

VECTORIZER = {"lowercase": True, "sublinear_tf": False, "smooth_idf": True, "norm": "l2", "dtype": np.float32}


class TaskFittedTfidf(InputModule):
    """Word TF-IDF whose vocabulary and IDF are fitted (`fit`) on the texts of the task about to be
    evaluated; the output is the dense TF-IDF row, one dimension per word of that task. In memory
    only: refitted per task, never saved."""

    config_keys: list[str] = []
    fits_each_task = True
    revision_key = "tfidf-words-v1 " + repr(sorted(VECTORIZER.items()))

    def __init__(self) -> None:
        super().__init__()
        self.vectorizer: Any = None

    def fit(self, texts: Sequence[str]) -> TaskFittedTfidf:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.utils._param_validation import InvalidParameterError

        texts = list(dict.fromkeys(texts))
        if not texts:
            raise ValueError("tfidf-words is fitted on a task's texts: the task has none")
        try:
            self.vectorizer = TfidfVectorizer(**VECTORIZER).fit(texts)
        except (ValueError, InvalidParameterError) as error:  # e.g. every text is punctuation
            raise ValueError(f"tfidf-words cannot be fitted on these {len(texts)} texts: {error}") from None
        return self

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.vectorizer is None:
            raise RuntimeError("tfidf-words embeds only after `fit` on the texts of the task at hand")
        texts = [prompt + text for text in inputs] if prompt else list(inputs)
        return {"sentence_embedding": torch.from_numpy(self.vectorizer.transform(texts).toarray())}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return features

    def get_embedding_dimension(self) -> int:
        return 0 if self.vectorizer is None else len(self.vectorizer.vocabulary_)

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("tfidf-words is refitted for every task by evaluate.py, not saved")


def task_fitted(model: Any) -> TaskFittedTfidf | None:
    """The model's task-fitted input module, if its input is fitted per task (else None)."""
    first = next(iter(model), None) if isinstance(model, torch.nn.Sequential) else None
    return first if isinstance(first, TaskFittedTfidf) else None
