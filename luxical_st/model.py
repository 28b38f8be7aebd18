"""Build a Luxical `SentenceTransformer` from an n-gram vocabulary, its IDF and layer sizes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Dense, Normalize
from tokenizers import Tokenizer
from torch import nn

from luxical_st.card import LuxicalModelCardData
from luxical_st.modules import LexicalSketch, NgramTfidf, SparseDense

LUXICAL_ONE_LAYER_SIZES = (96, 3072, 3072, 192)


def build_model(
    tokenizer: Tokenizer,
    ngrams: np.ndarray,
    idf: np.ndarray,
    layer_sizes: Sequence[int] = LUXICAL_ONE_LAYER_SIZES,
    bias: bool = False,
    max_ngram_length: int | None = None,
    layer_weights: Sequence[np.ndarray] | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> SentenceTransformer:
    """A Luxical model: `NgramTfidf -> SparseDense(ReLU) -> Normalize -> [Dense(ReLU) -> Normalize]* ->
    Dense -> Normalize`, which computes `h = l2norm(relu(W0 s))`, `h = l2norm(relu(W h))` per middle
    layer and `out = l2norm(W_last h)` exactly as the reference Luxical does.

    Args:
        layer_sizes: output width of every layer, the last one being the embedding dimension.
        layer_weights: optional (out, in) float32 matrices, one per layer, in the reference layout;
            random (seeded) otherwise.

    The model carries a `LuxicalModelCardData`, so `model.save()` writes the Luxical model card.
    """
    if len(layer_sizes) < 2 or any(int(size) < 1 for size in layer_sizes):
        raise ValueError(f"layer_sizes needs at least two positive sizes, got {list(layer_sizes)}")
    if layer_weights is not None and len(layer_weights) != len(layer_sizes):
        raise ValueError(f"got {len(layer_weights)} layer weight matrices for {len(layer_sizes)} layers")
    width = np.asarray(ngrams).shape[1] if np.ndim(ngrams) == 2 else 0
    tfidf = NgramTfidf(tokenizer, ngrams, idf, max_ngram_length=max_ngram_length or width)
    generator = torch.Generator().manual_seed(seed)
    sizes = [tfidf.num_features, *map(int, layer_sizes)]

    def initial_weight(index: int) -> torch.Tensor:
        """(out, in) weights: given ones, else uniform(-1/sqrt(in), 1/sqrt(in)) like nn.Linear."""
        shape = (sizes[index + 1], sizes[index])
        if layer_weights is not None:
            weight = torch.as_tensor(np.asarray(layer_weights[index], dtype=np.float32))
            if tuple(weight.shape) != shape:
                raise ValueError(f"layer {index} weights have shape {tuple(weight.shape)}, expected {shape}")
            return weight
        bound = 1.0 / np.sqrt(shape[1])
        return (torch.rand(shape, generator=generator) * 2 - 1) * bound

    first = tfidf.first_layer(sizes[1], bias=bias, activation="relu", weight=initial_weight(0).T.contiguous())
    modules: list[nn.Module] = [tfidf, first, Normalize()]
    for index in range(1, len(layer_sizes)):
        is_last = index == len(layer_sizes) - 1
        dense = Dense(
            sizes[index],
            sizes[index + 1],
            bias=bias,
            activation_function=nn.Identity() if is_last else nn.ReLU(),
            init_weight=initial_weight(index),
        )
        if bias and dense.linear.bias is not None:
            nn.init.zeros_(dense.linear.bias)
        modules += [dense, Normalize()]
    return SentenceTransformer(modules=modules, device=device, model_card_data=LuxicalModelCardData())


def layer_matrices(model: SentenceTransformer) -> list[np.ndarray]:
    """The (out, in) float32 weight matrices of a Luxical model, in the reference Luxical layout.

    Modules are recognised by class name: a model loaded with trust_remote_code=True has its own copy
    of the SparseDense class.
    """
    matrices = []
    for module in model:
        if type(module).__name__ == SparseDense.__name__:
            weight = module.get_parameter("embedding.weight")
            matrices.append(weight.detach().float().cpu().numpy().T)
        elif isinstance(module, Dense):
            matrices.append(module.linear.weight.detach().float().cpu().numpy())
    return matrices


def add_lexical_sketch(
    model: SentenceTransformer, dimensions: int, weight: float, seed: int = 0, sublinear_tf: bool = False
) -> None:
    """Append a `LexicalSketch` (in place): the output becomes `[sqrt(1 - weight) * dense,
    sqrt(weight) * sketch]`, `dimensions` wider, whose cosine mixes the distilled similarity with the
    TF-IDF overlap of the inputs (with `sublinear_tf`, of `(1 + ln count) x idf` weights). It has no
    weights, so it is added after training."""
    tfidf = model[0]
    if not isinstance(tfidf, NgramTfidf):
        raise TypeError(f"a Luxical model starts with NgramTfidf, this one with {type(tfidf).__name__}")
    if any(isinstance(module, LexicalSketch) for module in model):
        raise ValueError("the model already ends in a LexicalSketch")
    width = model.get_embedding_dimension()
    if width is None:
        raise ValueError("the model does not report its embedding dimension")
    model.append(
        LexicalSketch(tfidf.num_features, width, dimensions, weight, seed=seed, sublinear_tf=sublinear_tf)
    )
