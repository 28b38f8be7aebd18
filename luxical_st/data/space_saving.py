"""A mergeable Space-Saving summary (Metwally, Agrawal, El Abbadi 2005) of int64 keys, fixed capacity.

The stream is consumed in chunks: a chunk is counted exactly (radix-partition plus in-cache sorts,
compiled with numba), then merged into the summary the way Agarwal et al. (2012, "Mergeable
summaries") merge two summaries. With ``floor`` F_S (an upper bound on the count of every key S
does not monitor, 0 for an exact count) the merge of A and B gives every key of the union the
count ``c_A + c_B`` and the error ``e_A + e_B``, where a key missing from a side counts as that
side's floor; the ``capacity`` largest counts are kept and the new floor is the largest evicted
count (at least F_A + F_B). This keeps the paper's guarantees for the whole stream of N items:

- no count is below the true count, and ``count - true <= error <= floor <= min_count``;
- the monitored counts sum to at most N, so ``floor <= N / capacity`` and every key whose true
  count exceeds N / capacity is monitored.

Processing a chunk as (key, count) pairs is Space-Saving on a reordering of the same stream (all
copies of a key side by side), so the per-item algorithm's guarantees carry over, and summaries of
separate shards merge with the same rule (`merge`). Memory is proportional to the capacity.

Optionally each key carries an ``item``: a fixed-width int32 row that the key was computed from
(an n-gram's token ids). Keys that are hashes of items can collide; when a merge meets one key with
two different items it keeps the monitored item and drops the other's count (tallied in
``collisions``), as the reference implementation does. With 64-bit hashes that is expected less
than once in billions of distinct items.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numba
import numpy as np

FORMAT_VERSION = 1
BUCKET_TARGET = 512
"""Keys per radix bucket in exact counting: small enough that each bucket sorts inside the cache."""
HISTOGRAM_LIMIT = 1 << 22
"""Longest count histogram a merge uses to find its threshold; beyond it, it falls back to a sort."""


@numba.njit(cache=True)
def bucket_bits(size: int) -> int:
    """Top key bits to radix-partition `size` keys by, for buckets of about BUCKET_TARGET keys."""
    bits = 0
    while (size >> bits) > BUCKET_TARGET and bits < 24:
        bits += 1
    return bits


@numba.njit(cache=True)
def sorted_runs(
    part_keys: np.ndarray, part_payload: np.ndarray, starts: np.ndarray, bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys, multiplicities and one payload each, from keys radix-partitioned by their top
    `bits` (bucket b is ``[starts[b], starts[b + 1])``), sorting each cache-sized bucket.

    Within a bucket the top bits are all equal, so they make room to pack each key's position next
    to its remaining bits and sort plain integers instead of sorting indirectly.
    """
    size = part_keys.size
    shift = 63 - bits
    largest = 0
    for b in range(1 << bits):
        largest = max(largest, starts[b + 1] - starts[b])
    index_bits = 0
    while (1 << index_bits) < largest:
        index_bits += 1
    packed = index_bits <= bits
    low_mask = (np.int64(1) << shift) - 1
    index_mask = (np.int64(1) << index_bits) - 1
    out_keys = np.empty(size, np.int64)
    out_counts = np.empty(size, np.int64)
    out_payload = np.empty(size, np.int64)
    order = np.empty(max(largest, 1), np.int64)
    o = 0
    for b in range(1 << bits):
        start, end = starts[b], starts[b + 1]
        n = end - start
        if n == 0:
            continue
        if packed:
            for t in range(n):
                order[t] = ((part_keys[start + t] & low_mask) << index_bits) | t
            order[:n] = np.sort(order[:n]) & index_mask
        else:
            order[:n] = np.argsort(part_keys[start:end])
        previous = part_keys[start + order[0]]
        out_keys[o], out_counts[o], out_payload[o] = previous, 0, part_payload[start + order[0]]
        for t in range(n):
            key = part_keys[start + order[t]]
            if key != previous:
                o += 1
                previous = key
                out_keys[o], out_counts[o], out_payload[o] = key, 0, part_payload[start + order[t]]
            out_counts[o] += 1
        o += 1
    return out_keys[:o], out_counts[:o], out_payload[:o]


@numba.njit(cache=True)
def count_distinct(keys: np.ndarray, payload: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct non-negative `keys` in ascending order, their multiplicities, and the payload of one
    occurrence of each: one radix partition by the top bits, then `sorted_runs`."""
    bits = bucket_bits(keys.size)
    shift = 63 - bits
    starts = np.zeros((1 << bits) + 1, np.int64)
    for i in range(keys.size):
        starts[(keys[i] >> shift) + 1] += 1
    for b in range(1 << bits):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    part_keys = np.empty(keys.size, np.int64)
    part_payload = np.empty(keys.size, np.int64)
    for i in range(keys.size):
        b = keys[i] >> shift
        j = fill[b]
        part_keys[j] = keys[i]
        part_payload[j] = payload[i]
        fill[b] = j + 1
    return sorted_runs(part_keys, part_payload, starts, bits)


@numba.njit(cache=True)
def _merge_top(
    a_keys: np.ndarray,
    a_counts: np.ndarray,
    a_errors: np.ndarray,
    a_items: np.ndarray,
    a_floor: int,
    b_keys: np.ndarray,
    b_counts: np.ndarray,
    b_errors: np.ndarray,
    b_items: np.ndarray,
    b_floor: int,
    capacity: int,
    count_bound: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Merge two key-sorted summaries and keep the `capacity` largest counts, in two passes over the
    union (no union-sized temporaries): the first finds the threshold count with a histogram
    clipped at `count_bound` (> sum of union counts / capacity, so above any threshold), the second
    writes the kept entries. A key missing from a side gets that side's floor; an empty `b_errors`
    means b is an exact count (all errors 0). Returns keys, counts,
    errors, items, the new floor (largest evicted count, at least a_floor + b_floor) and the count
    dropped by key collisions."""
    na, nb = a_keys.size, b_keys.size
    width = a_items.shape[1]
    b_exact = 1 if b_errors.size == 0 else 0
    histogram = np.zeros(count_bound + 1, np.int64)
    threshold, ties = -1, 0
    keys = np.empty(0, np.int64)
    counts = np.empty(0, np.int64)
    errors = np.empty(0, np.int64)
    items = np.empty((0, width), np.int32)
    floor = a_floor + b_floor
    collided = 0
    for writing in (False, True):
        i = j = o = size = 0
        while i < na or j < nb:
            from_a = False
            if j == nb or (i < na and a_keys[i] < b_keys[j]):
                key, count, error, from_a = a_keys[i], a_counts[i] + b_floor, a_errors[i] + b_floor, True
                i += 1
            elif i == na or b_keys[j] < a_keys[i]:
                key, count = b_keys[j], b_counts[j] + a_floor
                error = (b_errors[j] if b_exact == 0 else 0) + a_floor
                j += 1
            else:
                same = True
                for w in range(width):
                    if a_items[i, w] != b_items[j, w]:
                        same = False
                        break
                key, from_a = a_keys[i], True
                if same:
                    count, error = (
                        a_counts[i] + b_counts[j],
                        a_errors[i] + (b_errors[j] if b_exact == 0 else 0),
                    )
                else:  # a hash collision: keep a's item (which b never monitored) and drop b's count
                    count, error = a_counts[i] + b_floor, a_errors[i] + b_floor
                    if writing:
                        collided += b_counts[j]
                i += 1
                j += 1
            if not writing:
                histogram[min(count, count_bound)] += 1
                size += 1
                continue
            if count < threshold or (count == threshold and ties == 0):
                floor = max(floor, count)
                continue
            if count == threshold:
                ties -= 1
            keys[o], counts[o], errors[o] = key, count, error
            if from_a:
                items[o] = a_items[i - 1]
            else:
                items[o] = b_items[j - 1]
            o += 1
        if not writing:
            kept = min(size, capacity)
            if size > capacity:
                above = 0
                for value in range(count_bound, -1, -1):
                    if above + histogram[value] >= capacity:
                        threshold, ties = value, capacity - above
                        break
                    above += histogram[value]
            keys = np.empty(kept, np.int64)
            counts = np.empty(kept, np.int64)
            errors = np.empty(kept, np.int64)
            items = np.empty((kept, width), np.int32)
    return keys, counts, errors, items, floor, collided


class SpaceSavingSummary:
    """Approximate counts of the most frequent int64 keys of a stream, in `capacity` slots.

    Arrays (sorted by key): ``keys``, ``counts`` (over-estimates), ``errors`` (count - error is a
    lower bound), ``items`` ((n, item_width) int32 rows the keys stand for, or width 0).
    ``total`` is the number of stream items seen, ``floor`` the bound on any unmonitored key's count.
    """

    def __init__(self, capacity: int, item_width: int = 0) -> None:
        if not isinstance(capacity, (int, np.integer)) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if item_width < 0:
            raise ValueError(f"item_width must be >= 0, got {item_width}")
        self.capacity = int(capacity)
        self.keys = np.empty(0, np.int64)
        self.counts = np.empty(0, np.int64)
        self.errors = np.empty(0, np.int64)
        self.items = np.empty((0, item_width), np.int32)
        self.floor = 0
        self.total = 0
        self.collisions = 0

    @property
    def item_width(self) -> int:
        return int(self.items.shape[1])

    @property
    def min_count(self) -> int:
        """The smallest monitored count (0 when empty): Luxical's selection threshold unit."""
        return int(self.counts.min()) if self.counts.size else 0

    def __len__(self) -> int:
        return int(self.keys.size)

    def update(self, keys: np.ndarray, items: np.ndarray | None = None) -> None:
        """Add a batch of stream items (keys >= 0, repeats allowed; `items` row i describes key i)."""
        keys = self._check_keys(keys)
        items = self._check_items(items, keys.size)
        distinct, counts, first = count_distinct(keys, np.arange(keys.size, dtype=np.int64))
        self.update_counts(distinct, counts, items[first], validate=False)

    def update_counts(
        self,
        keys: np.ndarray,
        counts: np.ndarray,
        items: np.ndarray | None = None,
        *,
        validate: bool = True,
    ) -> None:
        """Add exact counts of a batch: `keys` distinct and ascending, `counts` positive
        (`validate=False` skips checking keys, items and counts, for callers that made them so)."""
        keys = self._check_keys(keys)
        counts = np.ascontiguousarray(counts, dtype=np.int64)
        if counts.shape != keys.shape or (counts.size and counts.min() < 1):
            raise ValueError("counts must be positive and match keys in length")
        if validate and keys.size > 1 and not (keys[1:] > keys[:-1]).all():
            raise ValueError(
                "update_counts needs distinct keys in ascending order; use update() for raw keys"
            )
        if validate or items is None:
            items = self._check_items(items, keys.size)
        self._absorb(keys, counts, np.empty(0, np.int64), items, 0, int(counts.sum()))

    def merge(self, other: SpaceSavingSummary) -> SpaceSavingSummary:
        """Fold in the summary of another shard of the stream (in place; returns self)."""
        if not isinstance(other, SpaceSavingSummary):
            raise TypeError(f"can only merge another SpaceSavingSummary, got {type(other).__name__}")
        if other.item_width != self.item_width:
            raise ValueError(f"item widths differ: {self.item_width} vs {other.item_width}")
        self._absorb(other.keys, other.counts, other.errors, other.items, other.floor, other.total)
        self.collisions += other.collisions
        return self

    def _absorb(
        self,
        keys: np.ndarray,
        counts: np.ndarray,
        errors: np.ndarray,
        items: np.ndarray,
        floor: int,
        total: int,
    ) -> None:
        # The capacity-th largest union count is at most the union's sum over the capacity; a histogram
        # that long finds it in linear time unless it would outgrow the summary (tiny capacities).
        union_sum = (
            int(self.counts.sum()) + int(counts.sum()) + self.floor * keys.size + floor * self.keys.size
        )
        count_bound = union_sum // self.capacity + 2
        union_size = self.keys.size + keys.size
        capacity = self.capacity if count_bound <= max(HISTOGRAM_LIMIT, 2 * union_size) else union_size
        merged = _merge_top(
            self.keys,
            self.counts,
            self.errors,
            self.items,
            self.floor,
            keys,
            counts,
            errors,
            items,
            floor,
            capacity,
            count_bound if capacity == self.capacity else 1,
        )
        self.keys, self.counts, self.errors, self.items, new_floor, collided = merged
        if self.keys.size > self.capacity:
            cut = self.keys.size - self.capacity
            threshold = np.partition(self.counts, cut)[cut]
            keep = self.counts > threshold
            keep[np.flatnonzero(self.counts == threshold)[: self.capacity - int(keep.sum())]] = True
            new_floor = max(new_floor, int(self.counts[~keep].max()))
            self.keys, self.counts, self.errors, self.items = (
                self.keys[keep],
                self.counts[keep],
                self.errors[keep],
                self.items[keep],
            )
        self.floor = int(new_floor)
        self.collisions += int(collided)
        self.total += total

    def _check_keys(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys)
        if keys.ndim != 1 or not np.issubdtype(keys.dtype, np.integer):
            raise TypeError(f"keys must be a 1-D integer array, got {keys.dtype} with shape {keys.shape}")
        if keys.size and (keys.min() < 0 or keys.max() > np.iinfo(np.int64).max):
            raise ValueError("keys must lie in [0, 2**63)")
        return np.ascontiguousarray(keys, dtype=np.int64)

    def _check_items(self, items: np.ndarray | None, size: int) -> np.ndarray:
        if items is None:
            if self.item_width:
                raise ValueError(f"this summary stores items of width {self.item_width}; pass items")
            return np.empty((size, 0), np.int32)
        items = np.asarray(items)
        if items.shape != (size, self.item_width) or not np.issubdtype(items.dtype, np.integer):
            raise ValueError(
                f"items must be an integer array of shape {(size, self.item_width)}, got {items.shape}"
            )
        return np.ascontiguousarray(items, dtype=np.int32)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the summary to one .npz file (so shards can be mined apart and merged later)."""
        with Path(path).open("wb") as handle:
            np.savez(
                handle,
                format_version=np.int64(FORMAT_VERSION),
                capacity=np.int64(self.capacity),
                keys=self.keys,
                counts=self.counts,
                errors=self.errors,
                items=self.items,
                scalars=np.array([self.floor, self.total, self.collisions], np.int64),
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpaceSavingSummary:
        names = ("format_version", "capacity", "keys", "counts", "errors", "items", "scalars")
        arrays = read_versioned_npz(Path(path), names, FORMAT_VERSION)
        summary = cls(int(arrays["capacity"]), int(arrays["items"].shape[1]))
        summary.keys, summary.counts, summary.errors = arrays["keys"], arrays["counts"], arrays["errors"]
        summary.items = arrays["items"]
        summary.floor, summary.total, summary.collisions = (int(v) for v in arrays["scalars"])
        return summary


def read_versioned_npz(path: Path, names: tuple[str, ...], format_version: int) -> dict[str, Any]:
    """Arrays of a versioned .npz artifact, with errors that name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    try:  # a plain .npy loads as one array; a damaged zip fails in several ways
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{path} is not a readable .npz file (truncated or corrupt?): {error}") from error
    missing = [name for name in names if name not in arrays]
    if missing:
        raise ValueError(f"{path} lacks array(s) {missing}; is it the right kind of file?")
    version = int(arrays["format_version"])
    if version > format_version:
        raise ValueError(f"{path} has format version {version}; this luxical-st reads up to {format_version}")
    return arrays
