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


def principal_axes(vectors: np.ndarray, components: int) -> np.ndarray:
    """(dim, components) float64: the leading principal axes of (rows, dim) `vectors`, from the
    (dim x dim) covariance (cheap for millions of rows)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    centred = vectors - vectors.mean(axis=0)
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    return np.ascontiguousarray(eigenvectors[:, ::-1][:, :components])


def seed_components(vectors: np.ndarray, width: int) -> int:
    """Principal components a first layer `width` wide holds (each with both signs)."""
    return min(width // 2, np.shape(vectors)[1], max(len(vectors) - 1, 1))


def first_layer_seed(
    vectors: np.ndarray, width: int, row_norm: float = 1.0, axes: np.ndarray | None = None
) -> np.ndarray:
    """(n-grams, width) float32 first-layer rows from (n-grams, dim) teacher-side vectors.

    The rows hold the top `width // 2` principal components twice, as `[p, -p]`: after the layer's
    ReLU the pair is `[max(p, 0), max(-p, 0)]`, so no sign is lost. An odd `width` gets one zero
    column. Rows are scaled to `row_norm` on average, well above the per-step size of Adam updates.
    `axes` (from `principal_axes`) may be given when the caller needs them too.
    """
    if width < 2:
        raise ValueError(f"the first layer needs at least 2 outputs to seed, got {width}")
    vectors = np.asarray(vectors, dtype=np.float64)
    components = seed_components(vectors, width)
    if axes is None:
        axes = principal_axes(vectors, components)
    projected = (vectors - vectors.mean(axis=0)) @ axes[:, :components]
    mean_norm = float(np.linalg.norm(projected, axis=1).mean()) or 1.0
    projected *= row_norm / mean_norm
    seed = np.zeros((len(vectors), width), dtype=np.float32)
    seed[:, :components] = projected
    seed[:, width // 2 : width // 2 + components] = -projected
    return seed


def seed_first_layer(
    model: SentenceTransformer, token_embeddings: np.ndarray, row_norm: float = 1.0, ngram_scale: float = 1.0
) -> np.ndarray:
    """Overwrite the first layer of a Luxical `model` (in place) with teacher-derived rows; returns
    the (teacher dim, components) principal axes the rows hold, for `seed_identity_path`.

    The principal axes are fitted on every n-gram's token mean; rows of n-grams longer than one token
    are then scaled by `ngram_scale`. Their token means repeat what the unigram rows already say, with
    the high IDF of a rare phrase, and blur the seeded embedding (docs/training.md, "How the network learns"):
    the pipeline starts them at `teacher_init_ngram_scale` (0) and training writes what a phrase adds."""
    tfidf, first = model[0], model[1]
    if not isinstance(tfidf, NgramTfidf):
        raise TypeError(f"a Luxical model starts with NgramTfidf, this one with {type(tfidf).__name__}")
    weight = first.get_parameter("embedding.weight")
    vectors = ngram_embeddings(tfidf.ngrams, token_embeddings)
    axes = principal_axes(vectors, seed_components(vectors, weight.shape[1]))
    seed = first_layer_seed(vectors, weight.shape[1], row_norm, axes=axes)
    seed[(np.asarray(tfidf.ngrams) != PAD_TOKEN).sum(axis=1) > 1] *= np.float32(ngram_scale)
    with torch.no_grad():
        weight.copy_(torch.from_numpy(seed))
    return axes


def seed_identity_path(
    model: SentenceTransformer, components: int, noise: float = 0.1, seed: int = 0
) -> None:
    """Make the layers after a seeded first layer pass its features through (in place), so the
    network's initial function is the seeded static embedding itself, not noise on top of it.

    The first layer's output is `[max(p, 0), max(-p, 0)]` (`components` wide each, see
    `first_layer_seed`). Every middle layer starts as the identity on those `2 * components` units
    (ReLU keeps non-negative values exactly) and the last layer as `[I, -I]`, which gives back `p`
    (its leading `min(components, out)` principal components). All other weights are the default
    uniform init scaled by `noise`: small, but not zero, so every unit is alive and learns.
    The initial output is then `l2norm(sum_i tfidf_i * pca(mean token embedding of n-gram i))`: a
    model2vec-style static embedding with TF-IDF weights, from which distillation starts.
    """
    from sentence_transformers.base.modules import Dense

    denses = [module for module in model if isinstance(module, Dense)]
    if not denses:
        raise ValueError("the model has no layers after its first one to seed")
    features = 2 * components
    generator = torch.Generator().manual_seed(seed)
    for index, dense in enumerate(denses):
        weight = dense.linear.weight
        out_width, in_width = weight.shape
        is_last = index == len(denses) - 1
        if not is_last and out_width < features:
            raise ValueError(
                f"hidden layer {index + 1} is {out_width} wide: an identity start needs every middle layer "
                f"at least {features} wide (twice the seeded components)"
            )
        bound = noise / np.sqrt(in_width)
        start = (torch.rand(weight.shape, generator=generator) * 2 - 1) * bound
        if is_last:
            kept = min(components, out_width)
            rows = torch.arange(kept)
            start[rows, rows] += 1.0
            start[rows, rows + components] -= 1.0
        else:
            diagonal = torch.arange(features)
            start[diagonal, diagonal] += 1.0
        with torch.no_grad():
            weight.copy_(start.to(weight.dtype))


def seed_projection(loss: torch.nn.Module, axes: np.ndarray, noise: float = 0.1, seed: int = 0) -> None:
    """Start an embedding-distillation loss's learned student -> teacher projection (in place) at the
    principal axes the identity-seeded student outputs (`seed_identity_path`), so the first steps
    refine the seeded embedding instead of fitting a random map through it. A loss without a
    projection is left as it is."""
    projection = getattr(loss, "projection", None)
    if not isinstance(projection, torch.nn.Linear):
        return
    weight = projection.weight  # (teacher dim, student dim)
    teacher_dim, student_dim = weight.shape
    if axes.shape[0] != teacher_dim:
        raise ValueError(f"principal axes of {axes.shape[0]} dims for a {teacher_dim}-dim teacher")
    kept = min(axes.shape[1], student_dim)
    generator = torch.Generator().manual_seed(seed)
    start = (torch.rand(weight.shape, generator=generator) * 2 - 1) * (noise / np.sqrt(student_dim))
    start[:, :kept] += torch.from_numpy(axes[:, :kept]).to(start.dtype)
    with torch.no_grad():
        weight.copy_(start.to(weight.dtype))
        if projection.bias is not None:
            projection.bias.zero_()
