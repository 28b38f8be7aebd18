"""Luxical step 2 on Ray: Space-Saving n-gram summaries of document shards built in parallel Ray tasks and
merged in a fixed binary tree, then Luxical's selection (`select_vocabulary`).

Each task tokenizes its shard and counts it with `NgramCounter` (the single-process miner's own code);
`SpaceSavingSummary.merge` is the mergeable-summaries rule of Agarwal et al. (2012): counts of shared keys
add, a key missing from one side gets that side's floor (an upper bound on any count it did not keep)
as count and error, and the `capacity` largest are kept. Hence:

- while no summary fills (every shard's and every merge's distinct n-grams fit in `capacity`), counts
  are exact and the vocabulary is identical to `mine_vocabulary` over the same documents;
- when summaries fill, the Space-Saving guarantees hold for the whole corpus of N n-grams: no count is
  below the true count, count - true <= error <= floor <= N / capacity, and every n-gram seen more
  than N / capacity times is kept.

The tree is fixed by shard order (shard summaries are merged like the digits of a binary counter), so
a rerun gives the same vocabulary even when summaries fill; the driver keeps O(log shards) summaries
alive and at most `2 x workers` shard tasks in flight.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

from .ray_embed import init_ray

logger = logging.getLogger(__name__)


def summarize_shard(
    texts: list[str], tokenizer: str | None, capacity: int, max_ngram_length: int, batch_size: int
) -> Any:
    """The Space-Saving summary of one shard of documents (a Ray task of one CPU: the tokenizer runs
    single-threaded)."""
    import os

    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from luxical_st.data.vocabulary import NgramCounter, token_batches
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    counter = NgramCounter(capacity, max_ngram_length)
    for tokens, lengths in token_batches(texts, load_wordpiece_tokenizer(tokenizer), batch_size):
        counter.add_batch(tokens, lengths)
    return counter.finish()


def merge_summaries(left: Any, right: Any) -> Any:
    """`left` with `right` merged in (a Ray task)."""
    return left.merge(right)


def _text_shards(texts: Any, shard_documents: int, column: str) -> Iterator[list[str]]:
    """Lists of `shard_documents` texts from a Dataset / IterableDataset (column `column`) or texts."""
    if hasattr(texts, "select_columns"):
        rows = texts.select_columns([column]).iter(batch_size=shard_documents)
        yield from (list(batch[column]) for batch in rows)
        return
    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of strings, not one string")
    iterator = iter(texts)
    while shard := list(itertools.islice(iterator, shard_documents)):
        yield shard


def ray_mine_vocabulary(
    texts: Any,
    tokenizer: str | None = None,
    *,
    capacity: int,
    max_ngram_length: int = 5,
    min_count_multiple: float = 8.0,
    max_vocabulary_size: int = 2_000_000,
    batch_size: int = 1000,
    shard_documents: int | None = None,
    text_column: str = "text",
    workers: int | None = None,
    ray_address: str | None = None,
) -> Any:
    """`mine_vocabulary` on Ray: `texts` (strings, or a datasets Dataset/IterableDataset with
    `text_column`) cut into shards of `shard_documents`, one summary per shard, merged in a tree;
    `tokenizer` is what `load_wordpiece_tokenizer` takes (None: bert-base-uncased). Unset
    `shard_documents`: about four shards per worker for a sized input, within [1,000, 50,000]."""
    import ray
    from tqdm.auto import tqdm

    from luxical_st.data.vocabulary import select_vocabulary

    init_ray(ray_address)
    workers = workers or int(ray.cluster_resources().get("CPU", 1))
    if shard_documents is None:
        sized = len(texts) if hasattr(texts, "__len__") and not isinstance(texts, str) else None
        shard_documents = 50_000 if sized is None else min(max(-(-sized // (4 * workers)), 1000), 50_000)
    if capacity < 1 or max_ngram_length < 1 or batch_size < 1 or shard_documents < 1:
        raise ValueError(
            "capacity, max_ngram_length, batch_size and shard_documents must be positive, got "
            f"{capacity, max_ngram_length, batch_size, shard_documents}"
        )
    summarize = ray.remote(num_cpus=1)(summarize_shard)
    merge = ray.remote(num_cpus=1)(merge_summaries)
    stack: list[tuple[int, Any]] = []  # (tree level, summary ref), levels strictly decreasing
    in_flight: list[Any] = []
    documents = 0
    with tqdm(unit="doc", desc="N-gram summaries (Ray)") as progress:
        for shard in _text_shards(texts, shard_documents, text_column):
            if not all(isinstance(text, str) for text in shard):
                bad = next(text for text in shard if not isinstance(text, str))
                raise TypeError(f"texts must be strings, got {type(bad).__name__}")
            ref = summarize.remote(shard, tokenizer, capacity, max_ngram_length, batch_size)
            in_flight.append(ref)
            level = 0
            while stack and stack[-1][0] == level:  # a binary counter's carries: a fixed tree
                ref = merge.remote(stack.pop()[1], ref)
                level += 1
            stack.append((level, ref))
            documents += len(shard)
            if len(in_flight) >= 2 * workers:
                done, in_flight = ray.wait(in_flight, num_returns=len(in_flight) - workers)
                progress.update(len(done) * shard_documents)
        if not stack:
            raise ValueError("no documents to mine n-grams from")
        ref = stack.pop()[1]
        while stack:  # fold the remaining partial trees, smallest first
            ref = merge.remote(stack.pop()[1], ref)
        summary = ray.get(ref)
        progress.total = documents
        progress.n = documents
        progress.refresh()
    logger.info(
        "N-gram summary (Ray): %d documents, %d n-grams, %d monitored, smallest count %d, floor %d",
        documents,
        summary.total,
        len(summary),
        summary.min_count,
        summary.floor,
    )
    return select_vocabulary(
        summary, min_count_multiple=min_count_multiple, max_vocabulary_size=max_vocabulary_size
    )
