"""Luxical lexical-dense text embeddings as sentence-transformers modules."""

from luxical_st.model import LUXICAL_ONE_LAYER_SIZES, build_model, layer_matrices
from luxical_st.modules import PAD_TOKEN, NgramTfidf, SparseDense
from luxical_st.tokenizer import load_wordpiece_tokenizer

__version__ = "0.1.0"

__all__ = [
    "LUXICAL_ONE_LAYER_SIZES",
    "PAD_TOKEN",
    "NgramTfidf",
    "SparseDense",
    "build_model",
    "layer_matrices",
    "load_wordpiece_tokenizer",
]
