"""Token ids of whole documents from a `tokenizers.Tokenizer`, faster and in bounded memory.

- Plain text skips the Rust normaliser when it is BERT's: for printable ASCII plus typographic
  punctuation, BertNormalizer only lowercases (no accents, CJK or controls occur; tab/newline are
  split on anyway), and `str.lower` does that far cheaper than the normaliser's per-character
  alignment bookkeeping. The ids are identical (tests compare both paths on real and random text).
- Texts longer than `piece_chars` are tokenized in pieces cut after a space, tab or newline, which
  no WordPiece pre-tokenizer merges across, so a 10 MB document never becomes one giant Encoding.
- Lone surrogates, which cannot cross into Rust, become U+FFFD (the replacement character).

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from tokenizers import Tokenizer, normalizers

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


class WordPieceEncoder:
    """Encodes documents to WordPiece ids without special tokens, truncation or padding."""

    def __init__(self, tokenizer: Tokenizer, piece_chars: int = 1 << 16) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        self.piece_chars = piece_chars
        state = json.loads(tokenizer.to_str())
        normalizer = state.get("normalizer") or {}
        self._ascii_tokenizer: Tokenizer | None = None
        self._lowercase = bool(normalizer.get("lowercase"))
        # Added tokens such as "[CLS]" are matched before normalisation: text holding one (in any
        # case) takes the full path so that lowercasing cannot hide it.
        added = [
            re.escape(token["content"]) for token in state.get("added_tokens", []) if token.get("content")
        ]
        self._added_token = re.compile("|".join(added), re.IGNORECASE) if added else None
        if normalizer.get("type") == "BertNormalizer" and normalizer.get("clean_text", True):
            self._ascii_tokenizer = Tokenizer.from_str(tokenizer.to_str())
            self._ascii_tokenizer.normalizer = normalizers.Sequence([])

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (all of them: no truncation)."""
        pieces, owner = [], []
        for i, text in enumerate(texts):
            if len(text) <= self.piece_chars:
                pieces.append(text)
                owner.append(i)
            else:
                for piece in split_at_whitespace(text, self.piece_chars):
                    pieces.append(piece)
                    owner.append(i)
        piece_ids = self._encode_pieces(pieces)
        if len(pieces) == len(texts):
            return piece_ids
        ids: list[list[int]] = [[] for _ in texts]
        for i, row in zip(owner, piece_ids, strict=True):
            ids[i].extend(row)
        return ids

    def _encode_pieces(self, pieces: list[str]) -> list[list[int]]:
        if self._ascii_tokenizer is None:
            return self._encode_with(self.tokenizer, pieces)
        # BertNormalizer deletes U+FFFD (the mark of broken encodings), so it may go before the check.
        pieces = [piece.replace("\ufffd", "") if "\ufffd" in piece else piece for piece in pieces]
        is_plain = [self._is_plain(piece) for piece in pieces]
        plain = [
            piece.lower() if self._lowercase else piece
            for piece, ok in zip(pieces, is_plain, strict=True)
            if ok
        ]
        if len(plain) == len(pieces):
            return self._encode_with(self._ascii_tokenizer, plain)
        other = [piece for piece, ok in zip(pieces, is_plain, strict=True) if not ok]
        plain_ids = iter(self._encode_with(self._ascii_tokenizer, plain))
        other_ids = iter(self._encode_with(self.tokenizer, other))
        return [next(plain_ids) if ok else next(other_ids) for ok in is_plain]

    def _is_plain(self, piece: str) -> bool:
        return _NEEDS_NORMALIZER.search(piece) is None and (
            self._added_token is None or self._added_token.search(piece) is None
        )

    @staticmethod
    def _encode_with(tokenizer: Tokenizer, pieces: list[str]) -> list[list[int]]:
        if not pieces:
            return []
        try:
            encodings = tokenizer.encode_batch_fast(pieces, add_special_tokens=False)
        except TypeError:  # lone surrogates cannot cross into Rust
            pieces = [_SURROGATE.sub("\ufffd", piece) for piece in pieces]
            encodings = tokenizer.encode_batch_fast(pieces, add_special_tokens=False)
        return [encoding.ids for encoding in encodings]


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
