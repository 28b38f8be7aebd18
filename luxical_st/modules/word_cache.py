"""WordPiece ids of plain text through a cache of its words.

On plain text (printable ASCII plus typographic punctuation, already lowercased: the fast path of
`WordPieceEncoder`) BERT's pre-tokenizer only splits at whitespace and isolates punctuation, and WordPiece
then maps every word on its own. So the ids of a text are the concatenation of its words' ids, and a
word's ids never change: each distinct word is tokenized once (by the tokenizer itself, so the ids are
its own), and every later occurrence is one dictionary lookup plus a vectorised gather. Text follows
Zipf's law, so after a few documents nearly every word is a hit; this takes a quarter of the CPU time
of the Rust tokenizer on documents, and leaves the other cores free.

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from itertools import chain, repeat

import numpy as np
from tokenizers import Tokenizer


def plain_word_pattern(passthrough: str) -> re.Pattern[str]:
    """Words of plain text as BERT's pre-tokenizer cuts them: runs of characters other than whitespace
    and punctuation, and each punctuation character (ASCII punctuation, and the Unicode punctuation
    among the `passthrough` characters) on its own."""
    ascii_punctuation = [chr(code) for code in range(0x21, 0x7F) if not chr(code).isalnum()]
    unicode_punctuation = [c for c in passthrough if unicodedata.category(c)[0] == "P"]
    punctuation = re.escape("".join(ascii_punctuation + unicode_punctuation))
    return re.compile(f"[^ \\t\\n\\r{punctuation}]+|[{punctuation}]")


class WordCache:
    """Ids of plain, lowercased texts, each distinct word tokenized once by `tokenizer`, a WordPiece
    tokenizer without normaliser; at most `max_words` words are kept (then the cache starts afresh)."""

    def __init__(self, tokenizer: Tokenizer, words: re.Pattern[str], max_words: int = 1 << 20) -> None:
        self.tokenizer = tokenizer
        self.words = words
        self.max_words = max_words
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._index: dict[str, int] = {}
        self._ends = np.zeros(1, dtype=np.int64)  # word k's ids are _ids[_ends[k]:_ends[k + 1]]
        self._ids = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._index)

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of all `texts` concatenated (int64) and the number of ids of each text."""
        words_of_text = [self.words.findall(text) for text in texts]
        counts = np.fromiter(map(len, words_of_text), dtype=np.int64, count=len(texts))
        words = list(chain.from_iterable(words_of_text))
        with self._lock:
            index = self._lookup(words)
            if (index < 0).any():
                unknown = list(dict.fromkeys(words[i] for i in np.flatnonzero(index < 0)))
                if len(self._index) + len(unknown) > self.max_words:
                    self._clear()
                    unknown = list(dict.fromkeys(words))
                self._add(unknown)
                index = self._lookup(words)
            ends, ids = self._ends, self._ids  # arrays are replaced, never resized, on growth
        starts = ends[index]
        word_lengths = ends[index + 1] - starts
        total = int(word_lengths.sum())
        shift = np.repeat(starts - (np.cumsum(word_lengths) - word_lengths), word_lengths)
        flat = ids[np.arange(total, dtype=np.int64) + shift]
        text_of_word = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
        lengths = np.bincount(text_of_word, weights=word_lengths, minlength=len(texts)).astype(np.int64)
        return flat, lengths

    def _lookup(self, words: list[str]) -> np.ndarray:
        get = self._index.get
        return np.fromiter(map(get, words, repeat(-1)), dtype=np.int64, count=len(words))

    def _add(self, words: list[str]) -> None:
        # One encoding of the words joined by spaces (a call per word costs ~30 us each in tokenizers);
        # each token belongs to the word its first character lies in.
        encoding = self.tokenizer.encode(" ".join(words), add_special_tokens=False)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 1
        word_starts = np.cumsum(lengths) - lengths
        token_starts = np.fromiter((start for start, _ in encoding.offsets), dtype=np.int64)
        word_of_token = np.searchsorted(word_starts, token_starts, side="right") - 1
        counts = np.bincount(word_of_token, minlength=len(words))
        first = len(self._index)
        self._ids = np.concatenate([self._ids, np.asarray(encoding.ids, dtype=np.int64)])
        self._ends = np.concatenate([self._ends, self._ends[-1] + np.cumsum(counts)])
        self._index.update(zip(words, range(first, first + len(words)), strict=True))
