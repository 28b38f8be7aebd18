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


class Int64HashTable:
    """Open-addressing (linear probing) hash table from distinct non-negative int64 keys to int32 values.

    Built and queried with whole-array numpy operations; the table is kept at most half full so that
    a lookup of an absent key (the common case for n-grams) ends after about two probes.
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.int32)
        if keys.shape != values.shape or keys.ndim != 1:
            raise ValueError("keys and values must be 1-D arrays of the same length")
        if keys.size and keys.min() < 0:
            raise ValueError("hash table keys must be non-negative")
        if np.unique(keys).size != keys.size:
            raise ValueError("hash table keys must be distinct")
        bits = max(4, int(np.ceil(np.log2(2 * keys.size + 1))))
        self._shift = np.uint64(64 - bits)
        self._mask = np.int64((1 << bits) - 1)
        self.keys = np.full(1 << bits, _EMPTY, dtype=np.int64)
        self.values = np.full(1 << bits, -1, dtype=np.int32)

        pending = np.arange(keys.size)
        slots = self._home_slots(keys)
        while pending.size:
            is_free = self.keys[slots] == _EMPTY
            free_slots, first = np.unique(slots[is_free], return_index=True)
            winners = pending[is_free][first]
            self.keys[free_slots] = keys[winners]
            self.values[free_slots] = values[winners]
            placed = np.zeros(pending.size, dtype=bool)
            placed[np.flatnonzero(is_free)[first]] = True
            pending, slots = pending[~placed], (slots[~placed] + 1) & self._mask

    def _home_slots(self, keys: np.ndarray) -> np.ndarray:
        hashed = keys.astype(np.uint64) * _FIBONACCI
        return (hashed >> self._shift).astype(np.int64)

    def get(self, queries: np.ndarray) -> np.ndarray:
        """Values of `queries` (int64), -1 where a query is absent."""
        result = np.full(queries.shape, -1, dtype=np.int32)
        todo = np.arange(queries.size)
        slots = self._home_slots(queries)
        while todo.size:
            found = self.keys[slots]
            hit = found == queries[todo]
            result[todo[hit]] = self.values[slots[hit]]
            go_on = ~hit & (found != _EMPTY)
            todo, slots = todo[go_on], (slots[go_on] + 1) & self._mask
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
    """Maps every n-gram occurrence in a token stream to its vocabulary row (feature index)."""

    def __init__(self, ngrams: np.ndarray, token_vocab_size: int) -> None:
        self.ngrams = validate_ngrams(ngrams, token_vocab_size)
        self.token_vocab_size = int(token_vocab_size)
        self.max_ngram_length = self.ngrams.shape[1]
        # Trie node ids: 0..T-1 are the single tokens, T is the document separator, deeper nodes follow.
        self.separator = self.token_vocab_size
        self._radix = np.int64(self.token_vocab_size + 1)

        lengths = (self.ngrams != PAD_TOKEN).sum(axis=1)
        node = self.ngrams[:, 0].astype(np.int64)
        num_nodes = self.token_vocab_size + 1
        edge_keys, edge_children = [], []
        for depth in range(1, self.max_ngram_length):
            rows = np.flatnonzero(lengths > depth)
            keys = node[rows] * self._radix + self.ngrams[rows, depth]
            unique_keys, inverse = np.unique(keys, return_inverse=True)
            node[rows] = num_nodes + inverse
            edge_keys.append(unique_keys)
            edge_children.append(num_nodes + np.arange(unique_keys.size, dtype=np.int64))
            num_nodes += unique_keys.size

        if np.unique(node).size != node.size:
            raise ValueError("the n-gram vocabulary holds the same n-gram more than once")
        self.feature_of_node = np.full(num_nodes, -1, dtype=np.int32)
        self.feature_of_node[node] = np.arange(node.size, dtype=np.int32)
        all_keys = np.concatenate(edge_keys) if edge_keys else np.empty(0, dtype=np.int64)
        all_children = np.concatenate(edge_children) if edge_children else np.empty(0, dtype=np.int64)
        self.has_children = np.zeros(num_nodes, dtype=bool)
        self.has_children[all_keys // self._radix] = True
        self.edges = Int64HashTable(all_keys, all_children.astype(np.int32))

    @property
    def num_features(self) -> int:
        return int(self.ngrams.shape[0])

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
        features = self.feature_of_node[stream]
        starts = [np.flatnonzero(features >= 0)]
        found = [features[starts[0]]]
        alive = np.flatnonzero(self.has_children[stream])
        node = stream[alive]
        for depth in range(1, limit):
            if not alive.size:
                break
            child = self.edges.get(node * self._radix + stream[alive + depth])
            has_child = child >= 0
            alive, child = alive[has_child], child[has_child]
            features = self.feature_of_node[child]
            is_feature = features >= 0
            starts.append(alive[is_feature])
            found.append(features[is_feature])
            go_deeper = self.has_children[child]
            alive, node = alive[go_deeper], child[go_deeper].astype(np.int64)
        return np.concatenate(starts), np.concatenate(found)
