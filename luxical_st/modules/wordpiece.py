"""Token ids of whole documents from a `tokenizers.Tokenizer`, faster and in bounded memory.

- Plain text skips the Rust normaliser when it is BERT's: for printable ASCII plus typographic
  punctuation, BertNormalizer only lowercases (no accents, CJK or controls occur; tab/newline are
  split on anyway), and `str.lower` does that far cheaper than the normaliser's per-character
  alignment bookkeeping. The ids are identical (tests compare both paths on real and random text).
- Texts longer than `piece_chars` are tokenized in pieces, so a 10 MB document never becomes one giant
  Encoding. Pieces end after a space, tab or newline, which no WordPiece pre-tokenizer merges across;
  with BERT's normaliser and pre-tokenizer also after any character they always separate (punctuation,
  other Unicode spaces, CJK ideographs), outside added tokens such as "[CLS]". A run without any such
  character that is longer than WordPiece's longest word becomes the one unknown token WordPiece gives
  it, without tokenizing it. Pieces are encoded a few MB at a time.
- Lone surrogates, which cannot cross into Rust, become U+FFFD (the replacement character).

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import Any

import numpy as np
from tokenizers import Tokenizer, normalizers

from .word_cache import WordCache, plain_word_pattern

# Only these separate words in every WordPiece normaliser; other Unicode spaces may be dropped as
# control characters, which would join the words on either side.
_CUTTABLE_SPACE = re.compile(r"[ \t\n\r]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters outside printable ASCII that BertNormalizer leaves alone (no decomposition, no case, not
# whitespace, control or CJK), so text made of them and plain ASCII may skip it too.
PASSTHROUGH_CHARACTERS = "‘’‚‛“”„‟–—―…•′″‹›«»€£¥¢©®™°±×÷§¶†‡"
# A character that sends text down the normaliser's path: ASCII controls other than tab, newline and
# return (the normaliser deletes them), and anything non-ASCII outside the passthrough set.
_NEEDS_NORMALIZER = re.compile(f"[^\\t\\n\\r\\x20-\\x7e{PASSTHROUGH_CHARACTERS}]")
# CJK ideographs, which BertNormalizer(handle_chinese_chars) surrounds with spaces.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# Characters of pieces encoded per tokenizer call: bounds the memory of the Encodings alive at once.
_CHARS_PER_CALL = 1 << 22


class WordPieceEncoder:
    """Encodes documents to WordPiece ids without special tokens, truncation or padding."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        piece_chars: int = 1 << 16,
        use_arrow: bool = True,
        use_word_cache: bool = True,
    ) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.piece_chars = piece_chars
        # The ids are identical on every path. `use_word_cache`: plain text through `WordCache` (BERT
        # tokenizers only); `use_arrow`: other text through `arrow-tokenize` (the same Rust tokenizer, ids
        # straight into Arrow buffers) when it is installed, else through `tokenizers`.
        self.use_arrow = use_arrow
        self.use_word_cache = use_word_cache
        self._arrow: dict[int, Any] = {}
        state = json.loads(tokenizer.to_str())
        normalizer = state.get("normalizer") or {}
        self._ascii_tokenizer: Tokenizer | None = None
        self._lowercase = bool(normalizer.get("lowercase"))
        # Added tokens such as "[CLS]" are matched before normalisation: text holding one (in any
        # case) takes the full path so that lowercasing cannot hide it.
        added = [
            re.escape(token["content"]) for token in state.get("added_tokens", []) if token.get("content")
        ]
        added.sort(key=len, reverse=True)  # the longest token that matches at a position wins
        self._added_token = re.compile("|".join(added), re.IGNORECASE) if added else None
        self._longest_added = max(
            (len(token["content"]) for token in state.get("added_tokens", [])), default=0
        )
        if normalizer.get("type") == "BertNormalizer" and normalizer.get("clean_text", True):
            self._ascii_tokenizer = Tokenizer.from_str(tokenizer.to_str())
            self._ascii_tokenizer.normalizer = normalizers.Sequence([])
        # Cut points beyond whitespace need BERT's normaliser, pre-tokenizer and WordPiece model.
        self._boundary: re.Pattern[str] | None = None
        # Plain text through a cache of its words, when the pre-tokenizer is known to be BERT's.
        self._word_cache: WordCache | None = None
        model = state.get("model") or {}
        pre_tokenizer = state.get("pre_tokenizer") or {}
        unknown = tokenizer.token_to_id(str(model.get("unk_token")))
        if (
            self._ascii_tokenizer is not None
            and pre_tokenizer.get("type") == "BertPreTokenizer"
            and model.get("type") == "WordPiece"
            and unknown is not None
        ):
            self._boundary = _bert_boundaries(bool(normalizer.get("handle_chinese_chars", True)))
            self._unknown_id = int(unknown)
            self._max_word_chars = int(model.get("max_input_chars_per_word", 100))
            self._word_cache = WordCache(self._ascii_tokenizer, plain_word_pattern(PASSTHROUGH_CHARACTERS))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (all of them: no truncation)."""
        ids, lengths = self.encode_flat(texts)
        return [row.tolist() for row in np.split(ids, np.cumsum(lengths)[:-1])] if len(texts) else []

    def encode_flat(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of all texts, concatenated (int64), and the number of ids of each text (int64).

        No Python list per token is built when `arrow-tokenize` is installed (see `use_arrow`)."""
        if all(len(text) <= self.piece_chars for text in texts):
            return self._encode_in_calls(list(texts))
        pieces: list[str] = []
        owner: list[int] = []
        known: dict[int, list[int]] = {}  # piece index -> ids found without tokenizing it
        for i, text in enumerate(texts):
            parts: list[str | list[int]] = [text] if len(text) <= self.piece_chars else self.split(text)
            for part in parts:
                if isinstance(part, list):
                    known[len(pieces)] = part
                    part = ""
                pieces.append(part)
                owner.append(i)
        ids, piece_lengths = self._encode_in_calls(pieces)
        if known:
            indices = np.fromiter(known, dtype=np.int64, count=len(known))
            rows = list(known.values())
            tokenized = np.setdiff1d(np.arange(len(pieces)), indices)  # known pieces are "": no ids
            ids, piece_lengths = _interleave(
                len(pieces), [(tokenized, ids, piece_lengths[tokenized]), (indices, *_flatten(rows))]
            )
        lengths = np.bincount(np.asarray(owner, dtype=np.int64), weights=piece_lengths, minlength=len(texts))
        return ids, lengths.astype(np.int64)

    def split(self, text: str) -> list[str | list[int]]:
        """`text` as pieces of about `piece_chars` characters whose ids concatenate to the text's ids;
        a run too long to be a WordPiece word comes as its ids (one unknown token) instead."""
        if self._boundary is None:
            return list(split_at_whitespace(text, self.piece_chars))
        size, start = self.piece_chars, 0
        parts: list[str | list[int]] = []
        while len(text) - start > size:
            position = start + size - 1
            cut = self._find_cut(text, position, position + size)
            if cut is not None:
                parts.append(text[start:cut])
                start = cut
                continue
            # No cut point in `size` characters: one word, [UNK] to WordPiece once long enough.
            word_start = start
            for match in self._boundary.finditer(text, start, position):
                if self._is_safe_cut(text, match.end()):
                    word_start = match.end()
            if word_start > start:
                parts.append(text[start:word_start])
            end = self._boundary.search(text, position + size)
            word_end = len(text) if end is None else end.start()
            parts.append(self._long_word_ids(text[word_start:word_end]))
            start = word_end
        parts.append(text[start:])
        return [part for part in parts if len(part)]

    def _find_cut(self, text: str, begin: int, stop: int) -> int | None:
        assert self._boundary is not None
        for match in self._boundary.finditer(text, begin, stop):
            if self._is_safe_cut(text, match.end()):
                return match.end()
        return None

    def _is_safe_cut(self, text: str, cut: int) -> bool:
        """Whether no added token (matched before normalisation, any case) spans position `cut`."""
        if self._added_token is None:
            return True
        for begin in range(max(0, cut - self._longest_added + 1), cut):
            match = self._added_token.match(text, begin)
            if match is not None and match.end() > cut:
                return False
        return True

    def _long_word_ids(self, word: str) -> list[int]:
        """Ids of one pre-tokenizer word of more than `piece_chars` characters, normalised in chunks."""
        assert self._ascii_tokenizer is not None and self.tokenizer.normalizer is not None
        normalized, length, begin = [], 0, 0
        while begin < len(word):
            end = min(begin + self.piece_chars, len(word))
            while end < len(word) and unicodedata.combining(word[end]):
                end += 1  # keep combining marks with their base (canonical reordering)
            chunk = self.tokenizer.normalizer.normalize_str(_SURROGATE.sub("\ufffd", word[begin:end]))
            length += len(chunk)
            if length <= self._max_word_chars:
                normalized.append(chunk)
            begin = end
        if length > self._max_word_chars:
            return [self._unknown_id]
        if not length:
            return []
        return self._ascii_tokenizer.encode("".join(normalized), add_special_tokens=False).ids

    def _encode_in_calls(self, pieces: list[str]) -> tuple[np.ndarray, np.ndarray]:
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        begin, chars = 0, 0
        for end, piece in enumerate(pieces, 1):
            chars += len(piece)
            if chars >= _CHARS_PER_CALL or end == len(pieces):
                parts.append(self._encode_pieces(pieces[begin:end]))
                begin, chars = end, 0
        return _concatenate(parts)

    def _encode_pieces(self, pieces: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._ascii_tokenizer is None:
            return self._encode_with(self.tokenizer, pieces)
        # BertNormalizer deletes U+FFFD (the mark of broken encodings), so it may go before the check.
        pieces = [piece.replace("\ufffd", "") if "\ufffd" in piece else piece for piece in pieces]
        is_plain = np.fromiter((self._is_plain(piece) for piece in pieces), dtype=bool, count=len(pieces))
        plain = [piece for piece, ok in zip(pieces, is_plain, strict=True) if ok]
        if self._lowercase:
            plain = [piece.lower() for piece in plain]
        if len(plain) == len(pieces):
            return self._encode_plain(plain)
        other = [piece for piece, ok in zip(pieces, is_plain, strict=True) if not ok]
        return _interleave(
            len(pieces),
            [
                (np.flatnonzero(is_plain), *self._encode_plain(plain)),
                (np.flatnonzero(~is_plain), *self._encode_with(self.tokenizer, other)),
            ],
        )

    def _encode_plain(self, pieces: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._word_cache is not None and self.use_word_cache:
            return self._word_cache.encode(pieces)
        assert self._ascii_tokenizer is not None
        return self._encode_with(self._ascii_tokenizer, pieces)

    def _is_plain(self, piece: str) -> bool:
        return _NEEDS_NORMALIZER.search(piece) is None and (
            self._added_token is None or self._added_token.search(piece) is None
        )

    def _encode_with(self, tokenizer: Tokenizer, pieces: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Flat ids and per-piece lengths of `pieces` (lone surrogates, which cannot cross into Rust,
        become U+FFFD)."""
        if not pieces:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if any(_SURROGATE.search(piece) for piece in pieces if not piece.isascii()):
            pieces = [_SURROGATE.sub("\ufffd", piece) for piece in pieces]
        arrow = self._arrow_tokenizer(tokenizer)
        if arrow is not None:
            arrow_tokenizer, pa = arrow
            tokens = arrow_tokenizer.tokenize(pa.array(pieces, type=pa.string()), add_special_tokens=False)
            offsets = tokens.offsets.to_numpy()
            ids = tokens.values.to_numpy().astype(np.int64)[offsets[0] : offsets[-1]]
            return ids, np.diff(offsets)
        encodings = tokenizer.encode_batch_fast(pieces, add_special_tokens=False)
        return _flatten([encoding.ids for encoding in encodings])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrow": {}}  # Arrow tokenizers are rebuilt where they are used

    def _arrow_tokenizer(self, tokenizer: Tokenizer) -> tuple[Any, Any] | None:
        """The Arrow-native twin of `tokenizer` (same ids, no Python list per token) and the pyarrow
        module, when `arrow-tokenize` is installed and `use_arrow` is on; else None. Both imports sit in
        this `try`: transformers' remote-code check skips imports inside `try`, so a saved model loads
        by repo id where only sentence-transformers is installed."""
        if not self.use_arrow:
            return None
        key = id(tokenizer)
        if key not in self._arrow:
            try:
                import pyarrow
                from arrow_tokenize import ArrowTokenizer

                self._arrow[key] = (ArrowTokenizer(tokenizer.to_str()), pyarrow)
            except Exception:  # not installed, or it cannot read this tokenizer: the tokenizers path
                self._arrow[key] = None
        return self._arrow[key]


def _flatten(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    ids = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    return ids, lengths


def _concatenate(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    empty = [(np.empty(0, np.int64), np.empty(0, np.int64))]
    ids, lengths = zip(*(empty + parts), strict=True)
    return np.concatenate(ids), np.concatenate(lengths)


def _interleave(
    count: int, groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and lengths of `count` pieces from groups of (piece positions, flat ids, lengths)."""
    lengths = np.zeros(count, dtype=np.int64)
    for positions, _, group_lengths in groups:
        lengths[positions] = group_lengths
    starts = np.cumsum(lengths) - lengths
    ids = np.empty(int(lengths.sum()), dtype=np.int64)
    for positions, group_ids, group_lengths in groups:
        source_starts = np.cumsum(group_lengths) - group_lengths
        shift = np.repeat(starts[positions] - source_starts, group_lengths)
        ids[np.arange(group_ids.size) + shift] = group_ids
    return ids, lengths


@cache
def _bert_boundaries(cjk: bool) -> re.Pattern[str]:
    """Characters after which BERT's normaliser and pre-tokenizer always end a word: ASCII and Unicode
    punctuation (each its own word), whitespace (tab, newline and return, Unicode spaces and line
    separators, which the normaliser turns into spaces) and, with `cjk`, CJK ideographs."""
    characters = [chr(code) for code in range(0x80, 0x10000) if unicodedata.category(chr(code))[0] == "P"]
    characters += [chr(code) for code in range(0x80, 0x10000) if unicodedata.category(chr(code)) == "Zs"]
    characters += ["\u2028", "\u2029"]
    ranges = [re.escape("".join(characters)), r" \t\n\r!-/:-@\[-`{-~"]
    if cjk:
        ranges += [f"{chr(low)}-{chr(high)}" for low, high in _CJK_RANGES if high <= sys.maxunicode]
    return re.compile(f"[{''.join(ranges)}]")


def split_at_whitespace(text: str, size: int) -> list[str]:
    """Cut `text` into pieces of at least `size` characters, each cut just after a space, tab or newline."""
    pieces, start = [], 0
    while len(text) - start > size:
        space = _CUTTABLE_SPACE.search(text, start + size - 1)
        if space is None:
            break
        pieces.append(text[start : space.end()])
        start = space.end()
    pieces.append(text[start:])
    return pieces
