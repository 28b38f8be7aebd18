"""`NgramTfidf`: texts -> L2-normalised TF-IDF rows over a fixed token n-gram vocabulary.

The input module of a Luxical model. Its output is the sparse batch in the layout of
`torch.nn.EmbeddingBag` (flat feature indices, per-text offsets, per-entry weights), which
`SparseDense` multiplies with its first weight matrix.

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import warnings
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import save_file
from sentence_transformers.base.modules.input_module import InputModule
from tokenizers import Tokenizer
from typing_extensions import Self

from .ngrams import NgramIndex
from .persistence import read_arrays, read_config
from .sparse_dense import SparseDense
from .wordpiece import WordPieceEncoder

FORMAT_VERSION = 1
CONFIG_FILE = "ngram_tfidf_config.json"
ARRAYS_FILE = "ngram_tfidf.safetensors"
TOKENIZER_FILE = "tokenizer.json"
# Source files a saved model needs to load as remote code: this file and what it imports.
REMOTE_CODE_FILES = (
    "lexical_sketch.py",
    "ngram_tfidf.py",
    "ngrams.py",
    "persistence.py",
    "sparse_dense.py",
    "word_cache.py",
    "wordpiece.py",
)
# Texts per chunk of the n-gram matching, bounding the memory of the flat token arrays.
_CHUNK_TOKENS = 1 << 21


class NgramTfidf(InputModule):
    """Tokenize with WordPiece, count in-vocabulary n-grams (n = 1..max) and weight them by TF-IDF.

    Args:
        tokenizer: a `tokenizers.Tokenizer` (bert-base-uncased WordPiece for Luxical); special tokens,
            truncation and padding are never applied.
        ngrams: (num_features, max_ngram_length) int token ids, left-aligned, padded with -1; row i
            is feature i.
        idf: (num_features,) float32 pseudo-IDF, `ln(sum(counts)) - ln(count_i)` for Luxical.
        max_ngram_length: longest n-gram counted (at most the width of `ngrams`).
    """

    config_file_name = CONFIG_FILE
    config_keys = ["max_ngram_length", "num_features"]
    save_in_root = True

    def __init__(
        self,
        tokenizer: Tokenizer,
        ngrams: np.ndarray,
        idf: np.ndarray,
        max_ngram_length: int = 5,
    ) -> None:
        super().__init__()
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a tokenizers.Tokenizer, got {type(tokenizer).__name__}")
        self.encoder = WordPieceEncoder(tokenizer)
        self.tokenizer = tokenizer
        self.index = NgramIndex(ngrams, tokenizer.get_vocab_size(with_added_tokens=True))
        idf = np.asarray(idf)
        if idf.shape != (self.index.num_features,):
            raise ValueError(f"idf must have shape ({self.index.num_features},), got {idf.shape}")
        if not np.isfinite(idf).all():
            raise ValueError("idf holds NaN or infinite values")
        self.idf = idf.astype(np.float32)
        if not 1 <= max_ngram_length <= self.index.max_ngram_length:
            raise ValueError(
                f"max_ngram_length must be in [1, {self.index.max_ngram_length}] (the n-gram width), "
                f"got {max_ngram_length}"
            )
        self.max_ngram_length = int(max_ngram_length)

    @property
    def num_features(self) -> int:
        return self.index.num_features

    @property
    def ngrams(self) -> np.ndarray:
        return self.index.ngrams

    @property
    def max_seq_length(self) -> float:
        return math.inf

    @max_seq_length.setter
    def max_seq_length(self, value: Any) -> None:
        if value != math.inf:
            warnings.warn(
                f"max_seq_length={value!r} is ignored: a Luxical model reads every token of a document "
                "(its cost grows linearly, and a 10 MB document fits in a few hundred MB); truncate the "
                "texts yourself to embed only their beginning",
                UserWarning,
                stacklevel=3,
            )

    def get_embedding_dimension(self) -> int:
        return self.num_features

    def on_model_ready(self, model: Any) -> None:
        """Check the target folder of `model.save` before anything is written (see `_CheckedSave`)."""
        super().on_model_ready(model)
        if not isinstance(model.__dict__.get("save"), _CheckedSave):
            object.__setattr__(model, "save", _CheckedSave(model))

    def first_layer(
        self,
        out_features: int,
        bias: bool = False,
        activation: str = "relu",
        weight: torch.Tensor | None = None,
    ) -> SparseDense:
        """The layer that consumes this module's sparse output: `activation(W s + b)` over its features."""
        return SparseDense(self.num_features, out_features, bias=bias, activation=activation, weight=weight)

    # ------------------------------------------------------------------ computation

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids of each text, without special tokens."""
        return self.encoder.encode(texts)

    def transform(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TF-IDF rows of `texts` as (feature indices int64, row offsets int64, weights float32).

        Within a row, features are sorted and distinct; a text without in-vocabulary n-grams gets an
        empty (all-zero) row.
        """
        indices, offsets, weights, _ = self.transform_with_counts(texts)
        return indices, offsets, weights

    def transform_with_counts(self, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
        """`transform`'s (indices, offsets, weights) and each entry's count in its text (float32)."""
        texts = check_texts(texts)
        ids, lengths = self.encoder.encode_flat(texts)
        token_starts = np.cumsum(lengths) - lengths
        chunk_of_text = token_starts // _CHUNK_TOKENS
        bounds = np.flatnonzero(np.diff(chunk_of_text, prepend=-1, append=-1)).tolist()
        parts = []
        for start, stop in pairwise(bounds):
            first = int(token_starts[start])
            last = first + int(lengths[start:stop].sum())
            parts.append(self._transform_tokens(ids[first:last], lengths[start:stop]))
        indices = np.concatenate([np.empty(0, np.int64)] + [part[0] for part in parts])
        weights = np.concatenate([np.empty(0, np.float32)] + [part[1] for part in parts])
        row_sizes = np.concatenate([np.empty(0, np.int64)] + [part[2] for part in parts])
        counts = np.concatenate([np.empty(0, np.float32)] + [part[3] for part in parts])
        offsets = (np.cumsum(row_sizes) - row_sizes).astype(np.int64)
        return indices, offsets, weights, counts

    def _transform_tokens(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
        """TF-IDF of a chunk of texts given as flat token ids and per-text lengths: (feature indices,
        weights, entries per text, counts)."""
        num_texts = lengths.size
        # Each text followed by the separator, and one more at the end so that lookups at position + n
        # stay in bounds.
        stream = np.full(ids.size + num_texts + 1, self.index.separator, dtype=np.int64)
        stream[np.arange(ids.size) + np.repeat(np.arange(num_texts), lengths)] = ids
        starts, features = self.index.match(stream, self.max_ngram_length)

        text_of_position = np.repeat(np.arange(num_texts, dtype=np.int64), lengths + 1)
        keys = text_of_position[starts] * self.num_features + features
        keys.sort(kind="stable")  # merges the sorted runs of each text; faster than quicksort here
        is_first = np.empty(keys.size, dtype=bool)
        is_first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=is_first[1:])
        first = np.flatnonzero(is_first)
        counts = np.diff(np.append(first, keys.size))
        rows, indices = np.divmod(keys[first], self.num_features)

        weights = counts * self.idf[indices].astype(np.float64)
        norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=num_texts))
        norms[norms == 0] = 1.0
        weights = (weights / norms[rows]).astype(np.float32)
        return indices, weights, np.bincount(rows, minlength=num_texts), counts.astype(np.float32)

    def preprocess(
        self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        """Texts -> {"input_ids", "offsets", "per_sample_weights"} for `torch.nn.EmbeddingBag`, and
        each entry's count in its text ("counts", for `LexicalSketch`)."""
        # sentence-transformers hands over a length-sorted batch: an index here is not the caller's.
        texts = check_texts(inputs, where=None)
        if prompt:
            texts = self._prepend_prompt(texts, prompt)
        indices, offsets, weights, counts = self.transform_with_counts(texts)
        return {
            "input_ids": torch.from_numpy(indices),
            "offsets": torch.from_numpy(offsets),
            "per_sample_weights": torch.from_numpy(weights),
            "counts": torch.from_numpy(counts),
        }

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return features

    # ------------------------------------------------------------------ persistence

    def get_config_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **super().get_config_dict()}

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        out = Path(output_path)
        out.mkdir(parents=True, exist_ok=True)
        _remove_previous_model(out)
        self.save_config(output_path)
        save_file(
            {"ngrams": self.ngrams, "idf": self.idf},
            str(out / ARRAYS_FILE),
            metadata={"format_version": str(FORMAT_VERSION)},
        )
        self.tokenizer.save(str(out / TOKENIZER_FILE))
        here = Path(__file__).parent
        for name in REMOTE_CODE_FILES:
            target, source = out / name, here / name
            # A model loaded as remote code has each module's files in its own cache folder: a file
            # that is not beside this one (lexical_sketch.py) is written by its own module's save.
            if source.is_file() and source.resolve() != target.resolve():
                target.write_bytes(source.read_bytes())

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        init_defaults: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Self:
        hub_kwargs: dict[str, Any] = {
            "subfolder": subfolder,
            "token": token,
            "cache_folder": cache_folder,
            "revision": revision,
            "local_files_only": local_files_only,
        }
        paths = {}
        for name in (CONFIG_FILE, ARRAYS_FILE, TOKENIZER_FILE):
            path = cls.load_file_path(model_name_or_path, filename=name, **hub_kwargs)
            if path is None:
                raise FileNotFoundError(
                    f"{model_name_or_path!r} has no {name}: not a complete NgramTfidf model"
                )
            paths[name] = path
        config = read_config(
            paths[CONFIG_FILE],
            cls.config_keys,
            FORMAT_VERSION,
            {"max_ngram_length": int, "num_features": int},
            required=["max_ngram_length"],
        )
        arrays = read_arrays(paths[ARRAYS_FILE], required=("ngrams", "idf"))
        try:
            tokenizer = Tokenizer.from_file(paths[TOKENIZER_FILE])
        except Exception as error:  # tokenizers raises a bare Exception on malformed JSON
            raise ValueError(f"{paths[TOKENIZER_FILE]} is not a valid tokenizer file: {error}") from error
        if config.get("num_features", arrays["ngrams"].shape[0]) != arrays["ngrams"].shape[0]:
            raise ValueError(
                f"{paths[CONFIG_FILE]} says num_features={config['num_features']} but {paths[ARRAYS_FILE]} "
                f"holds {arrays['ngrams'].shape[0]} n-grams"
            )
        return cls(tokenizer, arrays["ngrams"], arrays["idf"], max_ngram_length=config["max_ngram_length"])


def check_texts(inputs: Any, where: str | None = "texts") -> list[str]:
    """The one text check of the project: `inputs` as a list of str. A single str, something that is not
    a list, or a value that is not a str (None included) raises a TypeError naming `where` and the row
    of the first bad value (`where=None`: the caller's row numbers mean nothing to the user)."""
    what = where or "the texts"
    if isinstance(inputs, str):
        raise TypeError(f"{what} must be a list of strings, not a single string: wrap it in a list")
    try:
        texts = list(inputs)
    except TypeError:
        raise TypeError(f"{what} must be a list of strings, got {type(inputs).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            shown = repr(text)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            at = f"{where} row {i} is" if where else "the texts to embed include"
            raise TypeError(f"{at} {shown} ({type(text).__name__}), not a string: Luxical embeds text only")
    return texts


_MODULE_FOLDER = re.compile(r"\d+_\w+")


class _CheckedSave:
    """`model.save` of a model with an NgramTfidf: a folder holding a model of another kind is refused
    before sentence-transformers writes anything into it (it writes config_sentence_transformers.json
    before any module saves). Picklable, and deep-copied with its model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, path: str, *args: Any, **kwargs: Any) -> Any:
        if path is not None:
            _previous_luxical_modules(Path(path))
        return type(self.model).save(self.model, path, *args, **kwargs)


def _previous_luxical_modules(folder: Path) -> list[dict[str, Any]]:
    """The modules.json entries of the Luxical model saved in `folder` (none if it holds no model);
    a ValueError if it holds a model of another kind, whose files this code cannot tell apart."""
    try:
        entries = json.loads((folder / "modules.json").read_text(encoding="utf8"))
    except (OSError, ValueError):
        return []
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        return []
    root = [str(entry.get("type")) for entry in entries if entry.get("path") == ""]
    if root and not root[0].endswith(".NgramTfidf"):
        raise ValueError(
            f"{folder} holds another model ({root[0]} in its root folder): save into an empty folder, "
            "or delete that model first"
        )
    return entries


def _remove_previous_model(folder: Path) -> None:
    """Before a model is saved into `folder`: remove the module folders of a Luxical model saved there
    before (a model with other layers would leave them beside the new ones); refuse to overwrite a
    model of another kind."""
    for entry in _previous_luxical_modules(folder):
        path = entry.get("path")
        if isinstance(path, str) and _MODULE_FOLDER.fullmatch(path) and (folder / path).is_dir():
            shutil.rmtree(folder / path)
