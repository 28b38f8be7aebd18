"""Exact, vectorised lookup of token-id n-grams in a fixed vocabulary.

The vocabulary is walked as a trie: an n-gram is looked up only at positions where its (n-1)-token
prefix is a trie node, so the work per token shrinks quickly with n instead of growing with the
number of n-gram lengths. Each trie edge ``(parent node, next token)`` is one int64 key in an
open-addressing hash table probed with numpy, so there is no Python loop per token or per n-gram.

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import numpy as np

PAD_TOKEN = -1
"""Pads n-grams shorter than the vocabulary's maximum length (token ids are left-aligned)."""

_EMPTY = np.int64(-1)
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)


def _all_distinct(values: np.ndarray) -> bool:
    """Whether no value occurs twice (by sorting: numpy's hash-based `unique` is far slower here)."""
    ordered = np.sort(values, kind="stable")
    return not bool((ordered[1:] == ordered[:-1]).any())


class PackedHashTable:
    """Open-addressing (linear probing) hash table from distinct non-negative int64 keys to small
    non-negative int64 values, each entry packed into one int64 so a probe costs one memory read.

    Built and queried with whole-array numpy operations; the table is kept at most half full so that
    a lookup of an absent key (the common case for n-grams) ends after about two probes.
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.int64)
        if keys.shape != values.shape or keys.ndim != 1:
            raise ValueError("keys and values must be 1-D arrays of the same length")
        if keys.size and (keys.min() < 0 or values.min() < 0):
            raise ValueError("hash table keys and values must be non-negative")
        if not _all_distinct(keys):
            raise ValueError("hash table keys must be distinct")
        self._value_bits = np.int64(max(1, int(values.max()).bit_length()) if values.size else 1)
        key_bits = int(keys.max()).bit_length() if keys.size else 1
        if key_bits + int(self._value_bits) > 63:
            raise ValueError("n-gram vocabulary too large for 63-bit packed hash entries")
        self._value_mask = np.int64((1 << int(self._value_bits)) - 1)
        bits = max(4, int(np.ceil(np.log2(2 * keys.size + 1))))
        self._shift = np.uint64(64 - bits)
        self._slot_mask = np.int64((1 << bits) - 1)
        self.entries = np.full(1 << bits, _EMPTY, dtype=np.int64)

        packed = (keys << self._value_bits) | values
        pending = np.arange(keys.size)
        slots = self._home_slots(keys)
        while pending.size:
            is_free = self.entries[slots] == _EMPTY
            free_slots, first = np.unique(slots[is_free], return_index=True)
            self.entries[free_slots] = packed[pending[is_free][first]]
            placed = np.zeros(pending.size, dtype=bool)
            placed[np.flatnonzero(is_free)[first]] = True
            pending, slots = pending[~placed], (slots[~placed] + 1) & self._slot_mask

    def _home_slots(self, keys: np.ndarray) -> np.ndarray:
        hashed = keys.astype(np.uint64) * _FIBONACCI
        return (hashed >> self._shift).astype(np.int64)

    def get(self, queries: np.ndarray) -> np.ndarray:
        """Values of `queries` (int64), -1 where a query is absent."""
        result = np.full(queries.shape, -1, dtype=np.int64)
        todo = np.arange(queries.size)
        pending = queries
        slots = self._home_slots(queries)
        while todo.size:
            entry = self.entries[slots]
            hit = (entry >> self._value_bits) == pending
            result[todo[hit]] = entry[hit] & self._value_mask
            go_on = ~hit & (entry != _EMPTY)
            todo, slots, pending = todo[go_on], (slots[go_on] + 1) & self._slot_mask, pending[go_on]
        return result


def validate_ngrams(ngrams: np.ndarray, token_vocab_size: int) -> np.ndarray:
    """Check an n-gram matrix (rows of left-aligned token ids padded with PAD_TOKEN); return it as int32."""
    ngrams = np.asarray(ngrams)
    if ngrams.ndim != 2 or ngrams.shape[1] < 1:
        raise ValueError(
            f"ngrams must be a 2-D array (num_ngrams, max_ngram_length), got shape {ngrams.shape}"
        )
    if not np.issubdtype(ngrams.dtype, np.integer):
        raise TypeError(f"ngrams must hold integer token ids, got dtype {ngrams.dtype}")
    is_token = ngrams != PAD_TOKEN
    if ngrams.shape[0] and not is_token[:, 0].all():
        raise ValueError("every n-gram must have at least one token (row with only padding found)")
    if (is_token[:, 1:] & ~is_token[:, :-1]).any():
        raise ValueError(f"n-gram token ids must be left-aligned, padded on the right with {PAD_TOKEN}")
    tokens = ngrams[is_token]
    if tokens.size and (tokens.min() < 0 or tokens.max() >= token_vocab_size):
        raise ValueError(f"n-gram token ids must lie in [0, {token_vocab_size}) (the tokenizer's vocabulary)")
    return ngrams.astype(np.int32, copy=False)


class NgramIndex:
    """Maps every n-gram occurrence in a token stream to its vocabulary row (feature index).

    Trie nodes below the first level get ids that make lookups cheap: an n-gram of the vocabulary
    is its own feature index, other prefixes get ids from `num_features` on. Each depth has its own
    edge table whose values are `child_id << 1 | child_has_children`.
    """

    def __init__(self, ngrams: np.ndarray, token_vocab_size: int) -> None:
        self.ngrams = validate_ngrams(ngrams, token_vocab_size)
        self.token_vocab_size = int(token_vocab_size)
        self.max_ngram_length = self.ngrams.shape[1]
        self.separator = self.token_vocab_size
        """Token id that ends every document in a stream; no n-gram contains it."""
        self._radix = np.int64(self.token_vocab_size + 1)
        num_features = self.ngrams.shape[0]
        lengths = (self.ngrams != PAD_TOKEN).sum(axis=1)

        is_unigram = lengths == 1
        self.feature_of_token = np.full(self.token_vocab_size + 1, -1, dtype=np.int64)
        unigram_tokens = self.ngrams[is_unigram, 0]
        if not _all_distinct(unigram_tokens):
            raise ValueError("the n-gram vocabulary holds the same n-gram more than once")
        self.feature_of_token[unigram_tokens] = np.flatnonzero(is_unigram)
        self.token_has_children = np.zeros(self.token_vocab_size + 1, dtype=bool)
        self.token_has_children[self.ngrams[lengths > 1, 0]] = True

        node = self.ngrams[:, 0].astype(np.int64)  # id of each row's prefix at the current depth
        next_free_id = num_features
        level_keys: list[np.ndarray] = []
        level_children: list[np.ndarray] = []
        for depth in range(2, self.max_ngram_length + 1):
            rows = np.flatnonzero(lengths >= depth)
            keys = node[rows] * self._radix + self.ngrams[rows, depth - 1]
            unique_keys, inverse = np.unique(keys, return_inverse=True)
            child = np.full(unique_keys.size, -1, dtype=np.int64)
            ends_here = lengths[rows] == depth
            ending_slots = inverse[ends_here]
            if not _all_distinct(ending_slots):
                raise ValueError("the n-gram vocabulary holds the same n-gram more than once")
            child[ending_slots] = rows[ends_here]
            is_new = child < 0
            child[is_new] = next_free_id + np.arange(int(is_new.sum()))
            next_free_id += int(is_new.sum())
            node[rows] = child[inverse]
            level_keys.append(unique_keys)
            level_children.append(child)

        has_children = np.zeros(next_free_id, dtype=bool)
        for keys in level_keys[1:]:
            has_children[keys // self._radix] = True
        self.edges = [
            PackedHashTable(keys, (child << 1) | has_children[child])
            for keys, child in zip(level_keys, level_children, strict=True)
        ]
        self.num_features = num_features

    def match(self, stream: np.ndarray, max_ngram_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Find every in-vocabulary n-gram of a token stream.

        `stream` is int64 token ids of one or more documents, each followed by `self.separator`, so no
        n-gram crosses a document boundary and no lookup runs past the end. Returns the start position
        and the feature index of every occurrence.
        """
        limit = (
            self.max_ngram_length
            if max_ngram_length is None
            else min(max_ngram_length, self.max_ngram_length)
        )
        features = self.feature_of_token[stream]
        starts = [np.flatnonzero(features >= 0)]
        found = [features[starts[0]]]
        alive = np.flatnonzero(self.token_has_children[stream])
        node = stream[alive]
        for depth in range(2, limit + 1):
            if not alive.size:
                break
            value = self.edges[depth - 2].get(node * self._radix + stream[alive + depth - 1])
            is_edge = value >= 0
            alive, value = alive[is_edge], value[is_edge]
            child = value >> 1
            is_feature = child < self.num_features
            starts.append(alive[is_feature])
            found.append(child[is_feature])
            go_deeper = (value & 1).astype(bool)
            alive, node = alive[go_deeper], child[go_deeper]
        return np.concatenate(starts), np.concatenate(found)
