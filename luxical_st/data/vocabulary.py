"""Luxical step 2: the n-gram vocabulary, mined with a mergeable Space-Saving summary.

Every token n-gram (n = 1..max_ngram_length, every position, never across documents) of a corpus
subsample streams through a fixed-capacity `SpaceSavingSummary`. An n-gram's key is a 63-bit hash
of its token ids (FNV-1a over whole ids, then a splitmix64 finaliser); the summary stores the
n-gram itself next to its key, so the kept n-grams are exact and a hash collision is detected
whenever it meets a monitored n-gram (see `space_saving`). As in Luxical, the vocabulary is every
n-gram counted at least `min_count_multiple` times the summary's smallest count, capped at the
`max_vocabulary_size` most frequent, ordered by ascending count, with IDF ``ln(sum) - ln(count)``.

Command line: ``python -m luxical_st.data.commands vocabulary --dataset quickstart --output vocab.npz
--capacity 2000000``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np

from luxical_st.data.space_saving import SpaceSavingSummary, bucket_bits, read_versioned_npz, sorted_runs
from luxical_st.modules import PAD_TOKEN
from luxical_st.modules.ngram_tfidf import check_texts

if TYPE_CHECKING:
    import tokenizers

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MIN_CHUNK_TOKENS = 1 << 19
MAX_CHUNK_TOKENS = 1 << 24
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


def idf_from_counts(counts: np.ndarray) -> np.ndarray:
    """Luxical's pseudo-IDF of the kept n-grams: ``ln(sum(counts)) - ln(counts)`` as float32."""
    counts = np.asarray(counts)
    if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.number):
        raise TypeError(f"counts must be a 1-D numeric array, got {counts.dtype} with shape {counts.shape}")
    if counts.size == 0 or not (counts > 0).all():
        raise ValueError("counts must be non-empty and positive")
    counts = counts.astype(np.float64)
    return (np.log(counts.sum()) - np.log(counts)).astype(np.float32)


@dataclass
class NgramVocabulary:
    """The kept n-grams: row i is feature i of `NgramTfidf` (token ids left-aligned, padded with -1),
    rows in ascending order of count like the reference (row 0 = rarest kept n-gram)."""

    ngrams: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        ngrams, counts = np.asarray(self.ngrams), np.asarray(self.counts)
        if ngrams.ndim != 2 or ngrams.shape[1] < 1 or not np.issubdtype(ngrams.dtype, np.integer):
            raise ValueError(f"ngrams must be a 2-D integer array (V, max_ngram_length), got {ngrams.shape}")
        if counts.shape != (ngrams.shape[0],) or not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(
                f"counts must be an integer array of shape ({ngrams.shape[0]},), got {counts.shape}"
            )
        if ngrams.size and (ngrams[:, 0] < 0).any():
            raise ValueError("every n-gram needs a token in its first slot")
        padded = ngrams < 0
        if (ngrams < PAD_TOKEN).any() or (padded[:, :-1] & ~padded[:, 1:]).any():
            raise ValueError("n-grams must be left-aligned and padded with -1")
        if counts.size and ((counts < 1).any() or (np.diff(counts) < 0).any()):
            raise ValueError("counts must be positive and in ascending order")
        self.ngrams = np.ascontiguousarray(ngrams, dtype=np.int32)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.counts.size)

    @property
    def max_ngram_length(self) -> int:
        return int(self.ngrams.shape[1])

    @property
    def idf(self) -> np.ndarray:
        return idf_from_counts(self.counts)

    def with_unigrams(self, token_ids: np.ndarray) -> NgramVocabulary:
        """This vocabulary plus every token of `token_ids` that is not yet a unigram of it.

        The added unigrams get count 1 (rarer than anything mined, the highest IDF) and come first,
        keeping rows in ascending order of count. A text made only of tokens the corpus never
        showed still gets features, which a teacher-seeded n-gram table can give meaning.
        """
        token_ids = np.unique(np.asarray(token_ids, dtype=np.int64))
        unigrams = self.ngrams[(self.ngrams[:, 1:] == PAD_TOKEN).all(axis=1), 0]
        missing = np.setdiff1d(token_ids, unigrams)
        added = np.full((missing.size, self.max_ngram_length), PAD_TOKEN, dtype=np.int32)
        added[:, 0] = missing
        return NgramVocabulary(
            np.concatenate([added, self.ngrams]),
            np.concatenate([np.ones(missing.size, dtype=np.int64), self.counts]),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """One .npz file (the name is used as given)."""
        with Path(path).open("wb") as handle:
            np.savez(handle, format_version=np.int64(FORMAT_VERSION), ngrams=self.ngrams, counts=self.counts)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NgramVocabulary:
        arrays = read_versioned_npz(Path(path), ("format_version", "ngrams", "counts"), FORMAT_VERSION)
        try:
            return cls(arrays["ngrams"], arrays["counts"])
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error


@numba.njit(cache=True, inline="always")
def _ngram_key(state: np.uint64, token: int | np.integer, n: int) -> tuple[np.uint64, np.int64]:
    """Extend an n-gram's FNV-1a state by one token id; return it and the n-gram's 63-bit key."""
    state = (state ^ np.uint64(token)) * _FNV_PRIME
    z = state ^ np.uint64(n)  # splitmix64 finaliser: the radix partition needs uniform top bits
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, np.int64(z >> np.uint64(1))


@numba.njit(cache=True)
def _count_ngrams(
    tokens: np.ndarray, doc_ends: np.ndarray, max_n: int, total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct n-gram keys of the documents (ascending), their counts, and for each one payload
    ``start * (max_n + 1) + n`` locating an occurrence.

    Unigrams are tallied per token id and enter the radix partition once per distinct token. The
    other keys are computed twice (histogram, then scatter) rather than stored: hashing is cheaper
    than the memory traffic it saves.
    """
    unigram_counts = np.zeros(tokens.max() + 1 if tokens.size else 1, np.int64)
    unigram_first = np.empty(unigram_counts.size, np.int64)
    for i in range(tokens.size):
        if unigram_counts[tokens[i]] == 0:
            unigram_first[tokens[i]] = i
        unigram_counts[tokens[i]] += 1
    unigrams = np.flatnonzero(unigram_counts)
    size = total - tokens.size + unigrams.size
    bits = bucket_bits(size)
    shift = 63 - bits
    starts = np.zeros((1 << bits) + 1, np.int64)
    for scatter in (False, True):
        if scatter:
            for b in range(1 << bits):
                starts[b + 1] += starts[b]
            fill = starts[:-1].copy()
            part_keys = np.empty(size, np.int64)
            part_payload = np.empty(size, np.int64)
        for token in unigrams:
            key = _ngram_key(_FNV_OFFSET, token, 1)[1]
            bucket = key >> shift
            if scatter:
                j = fill[bucket]
                part_keys[j] = key
                part_payload[j] = unigram_first[token] * (max_n + 1) + 1
                fill[bucket] = j + 1
            else:
                starts[bucket + 1] += 1
        first = 0
        for d in range(doc_ends.size):
            end = doc_ends[d]
            for i in range(first, end):
                state = _ngram_key(_FNV_OFFSET, tokens[i], 1)[0]
                for n in range(2, min(max_n, end - i) + 1):
                    state, key = _ngram_key(state, tokens[i + n - 1], n)
                    bucket = key >> shift
                    if scatter:
                        j = fill[bucket]
                        part_keys[j] = key
                        part_payload[j] = i * (max_n + 1) + n
                        fill[bucket] = j + 1
                    else:
                        starts[bucket + 1] += 1
            first = end
    keys, counts, payload = sorted_runs(part_keys, part_payload, starts, bits)
    for r in range(payload.size):
        start, n = divmod(payload[r], max_n + 1)
        if n == 1:  # entered once; add the token's other occurrences
            counts[r] += unigram_counts[tokens[start]] - 1
    return keys, counts, payload


@numba.njit(cache=True)
def _ngram_items(tokens: np.ndarray, payload: np.ndarray, max_n: int) -> np.ndarray:
    """The n-gram (left-aligned, padded with -1) that each `_count_ngrams` payload points at."""
    items = np.empty((payload.size, max_n), np.int32)
    for r in range(payload.size):
        start, size = divmod(payload[r], max_n + 1)
        for c in range(max_n):
            items[r, c] = tokens[start + c] if c < size else PAD_TOKEN
    return items


def default_chunk_tokens(capacity: int) -> int:
    """Tokens counted exactly before each merge: about half the capacity, so a merge (linear in the
    capacity) is amortised over as many distinct n-grams as the summary holds."""
    return int(min(max(capacity // 2, MIN_CHUNK_TOKENS), MAX_CHUNK_TOKENS))


class NgramCounter:
    """Feeds documents of token ids to a Space-Saving summary of their n-grams, chunk by chunk."""

    def __init__(self, capacity: int, max_ngram_length: int = 5, chunk_tokens: int | None = None) -> None:
        if max_ngram_length < 1:
            raise ValueError(f"max_ngram_length must be positive, got {max_ngram_length}")
        self.max_ngram_length = max_ngram_length
        self.summary = SpaceSavingSummary(capacity, item_width=max_ngram_length)
        self.chunk_tokens = chunk_tokens or default_chunk_tokens(capacity)
        self.documents = 0
        self.tokens = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_tokens = 0

    def add_batch(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        """Add documents given as one flat array of token ids and the length of each document."""
        tokens, lengths = np.asarray(tokens), np.asarray(lengths, dtype=np.int64)
        if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
            raise TypeError(
                f"tokens must be a 1-D integer array, got {tokens.dtype} with shape {tokens.shape}"
            )
        if lengths.ndim != 1 or (lengths < 0).any() or int(lengths.sum()) != tokens.size:
            raise ValueError("lengths must be non-negative and sum to the number of tokens")
        if tokens.size and (tokens.min() < 0 or tokens.max() > np.iinfo(np.int32).max):
            raise ValueError("token ids must lie in [0, 2**31)")
        self._pending.append((tokens.astype(np.int32, copy=False), lengths))
        self._pending_tokens += tokens.size
        self.documents += lengths.size
        self.tokens += tokens.size
        if self._pending_tokens >= self.chunk_tokens:
            self._flush()

    def add_documents(self, documents: Sequence[np.ndarray]) -> None:
        """Add documents given as one array of token ids each."""
        if documents:
            self.add_batch(np.concatenate(documents), np.array([len(d) for d in documents], np.int64))

    def finish(self) -> SpaceSavingSummary:
        """Count what is still buffered; returns the summary."""
        self._flush()
        return self.summary

    def _flush(self) -> None:
        if not self._pending:
            return
        tokens = np.concatenate([t for t, _ in self._pending])
        lengths = np.concatenate([n for _, n in self._pending])
        self._pending, self._pending_tokens = [], 0
        width = self.max_ngram_length
        total = sum(int(np.maximum(lengths - n + 1, 0).sum()) for n in range(1, width + 1))
        if total == 0:
            return
        distinct, counts, first = _count_ngrams(tokens, np.cumsum(lengths), width, total)
        self.summary.update_counts(distinct, counts, _ngram_items(tokens, first, width), validate=False)


def select_vocabulary(
    summary: SpaceSavingSummary, *, min_count_multiple: float = 8.0, max_vocabulary_size: int = 2_000_000
) -> NgramVocabulary:
    """Luxical's selection: n-grams counted at least `min_count_multiple` x the summary's smallest
    count, at most `max_vocabulary_size` of the most frequent, in ascending order of count."""
    if min_count_multiple <= 0 or max_vocabulary_size < 1:
        raise ValueError(
            f"min_count_multiple and max_vocabulary_size must be positive, got "
            f"{min_count_multiple} and {max_vocabulary_size}"
        )
    if summary.item_width == 0 or len(summary) == 0:
        raise ValueError("the summary holds no n-grams: was the corpus empty?")
    threshold = min_count_multiple * summary.min_count
    order = np.lexsort((summary.keys, summary.counts))
    counts = summary.counts[order]
    start = max(int(np.searchsorted(counts, threshold, side="left")), counts.size - max_vocabulary_size)
    if start >= counts.size:
        raise ValueError(
            f"no n-gram is counted {threshold:g} times ({min_count_multiple} x the smallest count "
            f"{summary.min_count}); use more text or a smaller min_count_multiple"
        )
    logger.info(
        "Vocabulary: %d of %d n-grams counted >= %g; keeping %d",
        counts.size - int(np.searchsorted(counts, threshold, side="left")),
        counts.size,
        threshold,
        counts.size - start,
    )
    return NgramVocabulary(summary.items[order[start:]], counts[start:])


def token_batches(
    texts: Iterable[str], tokenizer: tokenizers.Tokenizer, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(flat token ids, document lengths) of `texts`, `batch_size` documents at a time: no special
    tokens, no truncation (what `NgramCounter.add_batch` takes; the Ray miner counts its shards so)."""
    iterator = iter(texts)
    for start in itertools.count(0, batch_size):
        batch = check_texts(itertools.islice(iterator, batch_size), f"texts[{start}:]")
        if not batch:
            return
        ids = [encoding.ids for encoding in tokenizer.encode_batch_fast(batch, add_special_tokens=False)]
        lengths = np.fromiter(map(len, ids), np.int64, count=len(ids))
        tokens = np.fromiter(itertools.chain.from_iterable(ids), np.int32, count=int(lengths.sum()))
        yield tokens, lengths


def mine_vocabulary(
    texts: Iterable[str],
    tokenizer: tokenizers.Tokenizer,
    *,
    capacity: int,
    max_ngram_length: int = 5,
    min_count_multiple: float = 8.0,
    max_vocabulary_size: int = 2_000_000,
    batch_size: int = 1000,
    show_progress: bool = True,
    chunk_tokens: int | None = None,
) -> NgramVocabulary:
    """Mine the n-gram vocabulary of `texts` with a `capacity`-slot Space-Saving summary."""
    from tqdm.auto import tqdm

    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of strings, not one string")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    counter = NgramCounter(capacity, max_ngram_length, chunk_tokens)
    total = len(texts) if isinstance(texts, Sequence) else None
    with tqdm(total=total, unit="doc", desc="N-gram summary", disable=not show_progress) as progress:
        for tokens, lengths in token_batches(texts, tokenizer, batch_size):
            counter.add_batch(tokens, lengths)
            progress.update(lengths.size)
            progress.set_postfix(tokens=f"{counter.tokens:,}", refresh=False)
    summary = counter.finish()
    logger.info(
        "N-gram summary: %d documents, %d tokens, %d n-grams, %d monitored, smallest count %d",
        counter.documents,
        counter.tokens,
        summary.total,
        len(summary),
        summary.min_count,
    )
    return select_vocabulary(
        summary, min_count_multiple=min_count_multiple, max_vocabulary_size=max_vocabulary_size
    )
