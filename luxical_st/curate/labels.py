"""Cluster labels read from a Luxical model's own input: each cluster's most distinctive n-grams by
contrast with the whole corpus (`top_ngrams`), whole words only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np


def _ngram_text(tfidf: Any, feature: int) -> str:
    """The n-gram as text, with the decoder's spaces around ' - / closed ("russia's", "year-old")."""
    text = str(tfidf.tokenizer.decode([int(t) for t in tfidf.ngrams[feature] if t >= 0]))
    return re.sub(r" ?([-'/]) ?", r"\1", text)


def word_prefix_tokens(tfidf: Any, texts: Sequence[str], sample: int = 20_000) -> np.ndarray:
    """One flag per WordPiece id: in (a sample of) `texts`, the token is followed by a "##" piece in
    most of its occurrences, so an n-gram ending with it ends inside a word ("brex" of "brex ##it")."""
    ids, lengths = tfidf.encoder.encode_flat(list(texts[:sample]))
    size = tfidf.tokenizer.get_vocab_size(with_added_tokens=True)
    tokens = (tfidf.tokenizer.id_to_token(i) or "" for i in range(size))
    pieces = np.fromiter((token.startswith("##") for token in tokens), dtype=bool, count=size)
    followed = np.zeros(len(ids), dtype=np.float64)
    followed[:-1] = pieces[ids[1:]]
    followed[np.cumsum(lengths)[lengths > 0] - 1] = 0.0  # a document's last token is followed by nothing
    seen = np.bincount(ids, minlength=size)
    return np.bincount(ids, weights=followed, minlength=size) * 2 > np.maximum(seen, 1)


def _uninformative(
    tfidf: Any, feature: int, stop_words: frozenset[str], prefixes: np.ndarray | None = None
) -> bool:
    """An n-gram starting inside a word (a "##" piece), ending inside one (its last token is in
    `prefixes`, see `word_prefix_tokens`), starting or ending with punctuation, or made only of stop
    words, single characters and punctuation."""
    ids = [int(t) for t in tfidf.ngrams[feature] if t >= 0]
    tokens = [tfidf.tokenizer.id_to_token(t) or "" for t in ids]
    if not tokens or tokens[0].startswith("##") or (prefixes is not None and prefixes[ids[-1]]):
        return True
    if not any(ch.isalnum() for ch in tokens[0]) or not any(ch.isalnum() for ch in tokens[-1]):
        return True
    return all(t in stop_words or len(t) == 1 or not any(ch.isalnum() for ch in t) for t in tokens)


def ngram_contrast(
    model: Any, texts: Sequence[str], assignments: np.ndarray, k: int | None = None
) -> tuple[Any, Any]:
    """Each cluster's contrast score of every n-gram (a sparse (k, num_features) matrix) and how many of
    the cluster's documents hold it. The score is c-TF-IDF-like: with p = the n-gram's share of the
    cluster's summed TF-IDF weight and q = its share of the corpus' weight, p * ln(p / q) (the n-gram's
    term of the KL divergence of the cluster from the corpus). An n-gram as common in the cluster as
    everywhere ("the", ",") scores about 0; one the cluster holds far more of than the rest scores high."""
    from scipy.sparse import csr_matrix

    tfidf = model[0]
    if type(tfidf).__name__ != "NgramTfidf":
        raise ValueError("cluster labels need a Luxical model (its first module is NgramTfidf)")
    if len(texts) != len(assignments):
        raise ValueError(f"{len(texts)} texts but {len(assignments)} assignments")
    k = int(assignments.max()) + 1 if k is None else k
    indices, offsets, weights = tfidf.transform(list(texts))
    rows = np.repeat(np.arange(len(texts)), np.diff(np.append(offsets, len(indices))))
    clusters = assignments[rows]
    shape = (k, tfidf.num_features)
    summed = csr_matrix((weights.astype(np.float64), (clusters, indices)), shape=shape)
    support = csr_matrix((np.ones(len(indices)), (clusters, indices)), shape=shape)  # docs per cell
    for matrix in (summed, support):
        matrix.sum_duplicates()  # canonical: the same sorted cells in both
    corpus = np.asarray(summed.sum(axis=0)).ravel()
    corpus_share = corpus / max(corpus.sum(), 1e-12)
    cluster_mass = np.asarray(summed.sum(axis=1)).ravel()
    share = summed.copy()
    share.data /= np.maximum(cluster_mass, 1e-12)[np.repeat(np.arange(k), np.diff(share.indptr))]
    lift = share.data / np.maximum(corpus_share[share.indices], 1e-300)
    share.data = share.data * np.log(np.maximum(lift, 1e-12))
    return share, support


def top_ngrams(
    model: Any,
    texts: Sequence[str],
    assignments: np.ndarray,
    k: int | None = None,
    top: int = 8,
    min_support: float = 0.05,
    stop_words: Sequence[str] | None = None,
) -> list[list[str]]:
    """Each cluster's `top` most distinctive n-grams by `ngram_contrast` (the Luxical model's own
    NgramTfidf features), decoded to text. An n-gram must occur in at least `min_support` of the
    cluster's documents (and in 2, for clusters of 2 or more); n-grams starting or ending inside a word,
    starting or ending with punctuation, or made only of `stop_words` (default: scikit-learn's English list),
    single characters and punctuation are skipped, and so is an n-gram whose text is inside an already
    chosen label or holds one."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    contrast, support = ngram_contrast(model, texts, assignments, k)
    tfidf = model[0]
    prefixes = word_prefix_tokens(tfidf, texts)
    stops = frozenset(ENGLISH_STOP_WORDS if stop_words is None else stop_words)
    sizes = np.bincount(assignments, minlength=contrast.shape[0])
    labels = []
    for cluster in range(contrast.shape[0]):
        start, end = contrast.indptr[cluster], contrast.indptr[cluster + 1]
        features, scores = contrast.indices[start:end], contrast.data[start:end]
        needed = max(min(2, sizes[cluster]), min_support * sizes[cluster])
        enough = support.data[support.indptr[cluster] : support.indptr[cluster + 1]] >= needed
        chosen: list[str] = []
        for position in np.argsort(-scores, kind="stable"):
            if len(chosen) == top:
                break
            if not enough[position] or scores[position] <= 0:
                continue
            feature = int(features[position])
            if _uninformative(tfidf, feature, stops, prefixes):
                continue
            text = _ngram_text(tfidf, feature)
            if not any(text in other or other in text for other in chosen):
                chosen.append(text)
        labels.append(chosen)
    return labels
