"""Small-list helpers (WordLlama's surface) on any SentenceTransformer, Luxical first: `similarity`,
`rank`, `topk`, `filter`, `deduplicate` and `cluster` on Python lists of strings.

    from luxical_st.curate import lists
    lists.topk(model, "solar power", ["wind farms", "tax law", "photovoltaic cells"], k=2)

Each is a thin function over sentence-transformers' `util` (`cos_sim`, `semantic_search`,
`paraphrase_mining_embeddings`, `community_detection`); `model` is a loaded SentenceTransformer or a
folder / Hub id (loaded once and kept). For lists that do not fit in memory use `curate.dedup` and
`curate.cluster`. Needs only sentence-transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.loading import load_sentence_transformer
from luxical_st.modules.ngram_tfidf import check_texts

Model = Any  # a SentenceTransformer, or a folder / Hub id of one


@cache
def _load(name_or_path: str, trust_remote_code: bool) -> Any:
    return load_sentence_transformer(name_or_path, trust_remote_code, how_to_opt_in="trust_remote_code=True")


def load(model: Model, trust_remote_code: bool = False) -> Any:
    """The SentenceTransformer itself, or the one at a folder / Hub id (loaded once per process); a
    model that ships its own code loads only with `trust_remote_code=True`."""
    if isinstance(model, str | Path):
        return _load(str(model), trust_remote_code)
    if not callable(getattr(model, "encode", None)):
        raise TypeError(
            f"model must be a SentenceTransformer or a folder / Hub id, got {type(model).__name__}"
        )
    return model


def _embed(model: Model, texts: Sequence[str], what: str, trust_remote_code: bool) -> Any:
    return load(model, trust_remote_code).encode(
        check_texts(texts, what), convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
    )


def similarity(
    model: Model, a: str | Sequence[str], b: str | Sequence[str], trust_remote_code: bool = False
) -> float | np.ndarray:
    """Cosine similarity: a float for two strings, else the (len(a), len(b)) matrix (a string counts as
    a list of one)."""
    from sentence_transformers.util import cos_sim

    left = _embed(model, [a] if isinstance(a, str) else a, "a", trust_remote_code)
    right = _embed(model, [b] if isinstance(b, str) else b, "b", trust_remote_code)
    scores = cos_sim(left, right).cpu().numpy()
    return float(scores[0, 0]) if isinstance(a, str) and isinstance(b, str) else scores


def rank(
    model: Model, query: str, docs: Sequence[str], k: int | None = None, trust_remote_code: bool = False
) -> list[tuple[str, float]]:
    """`docs` as (doc, cosine to `query`), most similar first; the first `k` only if given."""
    from sentence_transformers.util import semantic_search

    docs = check_texts(docs, "docs")
    if not docs:
        return []
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, got {type(query).__name__}")
    hits = semantic_search(
        _embed(model, [query], "query", trust_remote_code),
        _embed(model, docs, "docs", trust_remote_code),
        top_k=len(docs) if k is None else max(0, k),
    )[0]
    return [(docs[int(hit["corpus_id"])], float(hit["score"])) for hit in hits]


def topk(
    model: Model, query: str, docs: Sequence[str], k: int = 3, trust_remote_code: bool = False
) -> list[str]:
    """The `k` docs most similar to `query`, most similar first."""
    return [doc for doc, _ in rank(model, query, docs, k, trust_remote_code)]


def _cosine_threshold(value: float, name: str = "threshold") -> float:
    """`value` as a float cosine in [-1, 1]; NaN, infinities and other values refused (a NaN compares
    false with every score, so it would silently keep or drop everything)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number (a cosine in [-1, 1]), got {value!r}")
    number = float(value)
    if not -1.0 <= number <= 1.0:  # also false for NaN
        raise ValueError(f"{name} must be a cosine in [-1, 1], got {value!r}")
    return number


def _at_least_one(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def filter(  # WordLlama's name (shadows the builtin inside this module only)
    model: Model, query: str, docs: Sequence[str], threshold: float = 0.5, trust_remote_code: bool = False
) -> list[str]:
    """The docs whose cosine to `query` is at least `threshold`, in their own order."""
    from sentence_transformers.util import cos_sim

    threshold = _cosine_threshold(threshold)
    docs = check_texts(docs, "docs")
    if not docs:
        return []
    scores = cos_sim(
        _embed(model, [query], "query", trust_remote_code), _embed(model, docs, "docs", trust_remote_code)
    )[0]
    return [doc for doc, score in zip(docs, scores.tolist(), strict=True) if score >= threshold]


def deduplicate(
    model: Model,
    docs: Sequence[str],
    threshold: float = 0.9,
    return_indices: bool = False,
    top_k: int = 100,
    trust_remote_code: bool = False,
) -> list[str] | list[int]:
    """The docs (or their indices) left after dropping every doc whose cosine to an earlier kept doc is
    at least `threshold`; pairs come from `paraphrase_mining_embeddings` (each doc's `top_k` most
    similar docs)."""
    from sentence_transformers.util import paraphrase_mining_embeddings

    threshold, top_k = _cosine_threshold(threshold), _at_least_one(top_k, "top_k")
    docs = check_texts(docs, "docs")
    if len(docs) < 2:
        return list(range(len(docs))) if return_indices else docs
    pairs = paraphrase_mining_embeddings(
        _embed(model, docs, "docs", trust_remote_code), top_k=min(top_k, len(docs) - 1), max_pairs=10**9
    )
    earlier: dict[int, list[int]] = {}
    for score, i, j in pairs:
        if score < threshold:
            break  # pairs come sorted by score, highest first
        first, second = sorted((int(i), int(j)))
        earlier.setdefault(second, []).append(first)
    kept: list[int] = []
    dropped: set[int] = set()
    for index in range(len(docs)):
        if any(other not in dropped for other in earlier.get(index, [])):
            dropped.add(index)
        else:
            kept.append(index)
    return kept if return_indices else [docs[i] for i in kept]


def cluster(
    model: Model,
    docs: Sequence[str],
    threshold: float = 0.75,
    min_size: int = 2,
    return_indices: bool = False,
    trust_remote_code: bool = False,
) -> list[list[str]] | list[list[int]]:
    """Groups of docs (or their indices) with cosine at least `threshold` to the group's centre and at
    least `min_size` members, largest first (`community_detection`); a doc is in at most one group."""
    from sentence_transformers.util import community_detection

    threshold, min_size = _cosine_threshold(threshold), _at_least_one(min_size, "min_size")
    docs = check_texts(docs, "docs")
    if not docs:
        return []
    groups = community_detection(
        _embed(model, docs, "docs", trust_remote_code), threshold=threshold, min_community_size=min_size
    )
    if return_indices:
        return [[int(i) for i in group] for group in groups]
    return [[docs[int(i)] for i in group] for group in groups]


__all__ = ["cluster", "deduplicate", "filter", "load", "rank", "similarity", "topk"]
