"""The inference modules of a Luxical model, self-contained so that saved models carry them as remote code."""

import sys

from . import lexical_sketch, ngram_tfidf, sparse_dense
from .lexical_sketch import LexicalSketch
from .ngram_tfidf import NgramTfidf
from .ngrams import PAD_TOKEN, NgramIndex
from .sparse_dense import SparseDense

# Saved models must name these classes by file ("ngram_tfidf.NgramTfidf"), the way sentence-transformers
# names remote code, so that they load with trust_remote_code=True where luxical_st is not installed.
# sentence-transformers writes `type(module).__module__` into modules.json; the sys.modules aliases keep
# pickling by that name working in this process.
for _module, _class in (
    (ngram_tfidf, NgramTfidf),
    (sparse_dense, SparseDense),
    (lexical_sketch, LexicalSketch),
):
    _short_name = _module.__name__.rsplit(".", 1)[-1]
    sys.modules.setdefault(_short_name, _module)
    _class.__module__ = _short_name

__all__ = ["PAD_TOKEN", "LexicalSketch", "NgramIndex", "NgramTfidf", "SparseDense"]
