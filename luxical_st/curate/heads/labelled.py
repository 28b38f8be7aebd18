"""Labelled data for classifier heads: texts and labels from a Hub id, a local file or folder, or a
packaged offline set; labels checked, the task inferred, and labels encoded for fitting.

`offline:rotten_tomatoes` (12.8k review snippets, fresh/rotten), `offline:news_outlets` (3.8k news
articles, 9 outlets) and `offline:wiki_topics` (9k Wikipedia lead summaries, 11 vital-article topics)
are packaged sets that Luxical training never reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

OFFLINE_PREFIX = "offline:"
OFFLINE_DATASETS = ("rotten_tomatoes", "news_outlets", "wiki_topics")


def _offline(name: str) -> tuple[list[str], list[Any]]:
    if name == "rotten_tomatoes":
        from luxical_st.data.sources import rotten_tomatoes_reviews

        texts, labels = rotten_tomatoes_reviews()
        return texts, ["fresh" if label else "rotten" for label in labels]
    if name == "news_outlets":
        from luxical_st.data.sources import news_articles

        articles = news_articles()
        return [a.text for a in articles], [a.outlet for a in articles]
    if name == "wiki_topics":
        from luxical_st.data.sources import wikipedia_articles

        pages = [a for a in wikipedia_articles() if a.topic and a.topic != "Uncategorized"]
        return [a.text for a in pages], [a.topic for a in pages]
    raise ValueError(f"unknown packaged dataset {OFFLINE_PREFIX}{name}; known: {', '.join(OFFLINE_DATASETS)}")


def load_labelled(
    dataset: str, text_column: str = "text", label_column: str = "label", split: str = "train"
) -> tuple[list[str], list[Any]]:
    """Texts and raw labels (ClassLabel ids become their names) of a labelled dataset."""
    if dataset.startswith(OFFLINE_PREFIX):
        return _offline(dataset.removeprefix(OFFLINE_PREFIX))
    from datasets import ClassLabel

    from luxical_st.data.corpus import load_dataset_source, require_columns

    data: Any = load_dataset_source(dataset, split=split)
    require_columns(data, [text_column, label_column], dataset)
    labels = list(data[label_column])
    feature = data.features[label_column]
    inner = getattr(feature, "feature", None)
    if isinstance(feature, ClassLabel):
        labels = [feature.int2str(v) for v in labels]
    elif isinstance(inner, ClassLabel):
        labels = [[inner.int2str(v) for v in row] for row in labels]
    return [str(t) for t in data[text_column]], labels


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # None or NaN


def check_labels(labels: Sequence[Any]) -> None:
    """Refuse labels that would silently become wrong classes: a null (None or NaN) label, which would
    be a class 'None' of its own, and a plain value among multi-label lists (a string would be split
    into its characters), or a null inside a list."""
    rows = [i for i, value in enumerate(labels) if _is_null(value)]
    if rows:
        raise ValueError(f"{len(rows)} labels are null (rows {rows[:5]}): drop or label those rows")
    lists = [isinstance(v, list | tuple) for v in labels]
    if any(lists) and not all(lists):
        row = lists.index(False)
        raise ValueError(
            f"multi-label rows are lists of labels, but row {row} holds {labels[row]!r}: "
            f"write it as [{labels[row]!r}]"
        )
    for row, values in enumerate(labels):
        if isinstance(values, list | tuple) and any(
            _is_null(v) or isinstance(v, list | tuple) for v in values
        ):
            raise ValueError(f"row {row}'s labels {values!r} hold a null or a nested list")


def infer_task(labels: Sequence[Any]) -> str:
    """multilabel for list labels, regression for non-integer numbers, else binary or multiclass."""
    if any(isinstance(v, list | tuple) for v in labels):
        return "multilabel"
    numbers = [v for v in labels if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(labels) and any(float(v) != int(v) for v in numbers):
        return "regression"
    return "binary" if len(set(labels)) == 2 else "multiclass"


@dataclass
class Targets:
    """Labels encoded for fitting: class indices, an indicator matrix or floats, and the label names."""

    y: np.ndarray
    names: list[str]


def encode_targets(labels: Sequence[Any], task: str, names: list[str] | None = None) -> Targets:
    """Encode raw labels; pass `names` to encode a test split with the training split's label order."""
    if task == "regression":
        return Targets(np.asarray(labels, dtype=np.float64), [])
    if task == "multilabel":
        names = names or sorted({str(v) for row in labels for v in row})
        index = {name: i for i, name in enumerate(names)}
        y = np.zeros((len(labels), len(names)), dtype=np.int64)
        for row, values in enumerate(labels):
            for value in values:
                if str(value) in index:
                    y[row, index[str(value)]] = 1
        return Targets(y, names)
    strings = [str(v) for v in labels]
    names = names or sorted(set(strings), key=lambda s: (len(s), s) if s.lstrip("-").isdigit() else (0, s))
    if task == "binary" and len(names) != 2:
        raise ValueError(f"a binary task needs exactly 2 labels, got {len(names)}: {names[:10]}")
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(strings) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown[:10]} were not seen in training")
    return Targets(np.array([index[s] for s in strings], dtype=np.int64), names)
