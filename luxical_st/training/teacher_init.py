"""Seed the student's n-gram table from the teacher, model2vec-style, before distillation.

The first Luxical layer has one weight row per n-gram, and a row only learns from the batches its
n-gram occurs in: with a small corpus most rows see a handful of updates. Starting every row from
the teacher's own view of its tokens (each WordPiece token embedded alone, as model2vec does;
n-gram rows the mean of their tokens, PCA-reduced) gives rare n-grams a meaningful place from the
first step, and training then corrects what token averages cannot say.
"""

from __future__ import annotations

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

from luxical_st.modules import PAD_TOKEN, NgramTfidf
from luxical_st.tokenizer import regular_token_ids


def token_strings(tokenizer: Tokenizer) -> list[str]:
    """The text the teacher embeds for each token id: the token itself, a "##" continuation piece
    without its marker; "" for special and [unusedN] tokens, which never occur in n-grams."""
    token_of = {index: token for token, index in tokenizer.get_vocab(with_added_tokens=True).items()}
    strings = [""] * (max(token_of) + 1)
    for index in regular_token_ids(tokenizer):
        token = token_of[int(index)]
        strings[index] = token[2:] if token.startswith("##") and len(token) > 2 else token
    return strings


def teacher_token_embeddings(
    teacher: SentenceTransformer,
    tokenizer: Tokenizer,
    *,
    batch_size: int = 1024,
    show_progress_bar: bool = True,
) -> np.ndarray:
    """(vocabulary size, teacher dim) float32: the teacher's L2-normalised embedding of every
    WordPiece token as a one-token text; zero rows for tokens with no text. Any teacher works, whatever
    its own tokenizer."""
    strings = token_strings(tokenizer)
    present = np.flatnonzero([bool(text) for text in strings])
    encode = getattr(teacher, "encode_document", teacher.encode)
    rows = np.asarray(
        encode(
            [strings[i] for i in present],
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=show_progress_bar,
        ),
        dtype=np.float32,
    )
    embeddings = np.zeros((len(strings), rows.shape[1]), dtype=np.float32)
    embeddings[present] = rows
    return embeddings


def ngram_embeddings(ngrams: np.ndarray, token_embeddings: np.ndarray) -> np.ndarray:
    """(n-grams, dim) float32: the mean of each n-gram's token embeddings (-1 padding ignored)."""
    ngrams = np.asarray(ngrams)
    if ngrams.ndim != 2:
        raise ValueError(f"ngrams must be a 2-D (count, max length) array, got shape {ngrams.shape}")
    if ngrams.size and ngrams.max() >= len(token_embeddings):
        raise ValueError(
            f"n-gram token id {int(ngrams.max())} is outside the {len(token_embeddings)} token embeddings"
        )
    present = ngrams != PAD_TOKEN
    sums = np.zeros((len(ngrams), token_embeddings.shape[1]), dtype=np.float32)
    for position in range(ngrams.shape[1]):
        rows = np.flatnonzero(present[:, position])
        sums[rows] += token_embeddings[ngrams[rows, position]]
    return sums / np.maximum(present.sum(axis=1, keepdims=True), 1).astype(np.float32)


def first_layer_seed(vectors: np.ndarray, width: int, row_norm: float = 1.0) -> np.ndarray:
    """(n-grams, width) float32 first-layer rows from (n-grams, dim) teacher-side vectors.

    The rows hold the top `width // 2` principal components twice, as `[p, -p]`: after the layer's
    ReLU the pair is `[max(p, 0), max(-p, 0)]`, so no sign is lost. An odd `width` gets one zero
    column. Rows are scaled to `row_norm` on average, well above the per-step size of Adam updates.
    """
    if width < 2:
        raise ValueError(f"the first layer needs at least 2 outputs to seed, got {width}")
    vectors = np.asarray(vectors, dtype=np.float64)
    components = min(width // 2, vectors.shape[1], max(len(vectors) - 1, 1))
    centred = vectors - vectors.mean(axis=0)
    # Principal axes from the (dim x dim) covariance: cheap for millions of rows.
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    projected = centred @ eigenvectors[:, ::-1][:, :components]
    mean_norm = float(np.linalg.norm(projected, axis=1).mean()) or 1.0
    projected *= row_norm / mean_norm
    seed = np.zeros((len(vectors), width), dtype=np.float32)
    seed[:, :components] = projected
    seed[:, width // 2 : width // 2 + components] = -projected
    return seed


def seed_first_layer(model: SentenceTransformer, token_embeddings: np.ndarray, row_norm: float = 1.0) -> None:
    """Overwrite the first layer of a Luxical `model` (in place) with teacher-derived rows."""
    tfidf, first = model[0], model[1]
    if not isinstance(tfidf, NgramTfidf):
        raise TypeError(f"a Luxical model starts with NgramTfidf, this one with {type(tfidf).__name__}")
    weight = first.get_parameter("embedding.weight")
    seed = first_layer_seed(ngram_embeddings(tfidf.ngrams, token_embeddings), weight.shape[1], row_norm)
    with torch.no_grad():
        weight.copy_(torch.from_numpy(seed))
