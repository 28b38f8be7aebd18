"""The datatrove steps on real news articles in JSONL, a real (small) Luxical model and a classifier head
trained here, run by datatrove's own LocalPipelineExecutor (2 tasks, 1 or 2 worker processes)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("datatrove")
pytest.importorskip("ray")
pytest.importorskip("sklearn")

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from luxical_st.curate.heads import train_head
from luxical_st.data.sources import news_articles
from luxical_st.embedding_format import FORMAT_FILE, EmbeddingFormat
from luxical_st.head_model import ClassifierHead
from luxical_st.scale.datatrove_steps import (
    LuxicalEmbed,
    LuxicalHeadFilter,
    document_batches,
    shallow_adapter,
)
from luxical_st.scale.encoder import head_name
from tests.conftest import save_small_model

FILES = 4  # JSONL files, shared out between the 2 tasks by datatrove


@pytest.fixture(autouse=True)
def torch_threads():
    """The steps set torch's threads of the process they run in (1 by default): restore them after a test."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def articles():
    return news_articles()[::12][:240]  # every outlet (the file is ordered by outlet)


@pytest.fixture(scope="module")
def corpus(articles, tmp_path_factory):
    """Four JSONL files of 60 articles: id, text and outlet (which the reader puts into metadata)."""
    folder = tmp_path_factory.mktemp("news_jsonl")
    for part in range(FILES):
        with open(folder / f"news_{part}.jsonl", "w", encoding="utf-8") as handle:
            for index in range(part, len(articles), FILES):
                row = {
                    "id": f"news-{index:04d}",
                    "text": articles[index].text,
                    "outlet": articles[index].outlet,
                }
                handle.write(json.dumps(row) + "\n")
    return folder


@pytest.fixture(scope="module")
def texts(articles):
    return {f"news-{i:04d}": article.text for i, article in enumerate(articles)}


@pytest.fixture(scope="module")
def model_path(tokenizer, articles, tmp_path_factory):
    path = tmp_path_factory.mktemp("datatrove_model") / "luxical"
    return save_small_model(tokenizer, [a.text for a in articles[:150]], path, layer_sizes=(64, 128, 32))


@pytest.fixture(scope="module")
def model(model_path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu", trust_remote_code=True)


@pytest.fixture(scope="module")
def expected(model, texts):
    """model.encode of every article, by id: what every path must reproduce."""
    ids = sorted(texts)
    vectors = model.encode([texts[i] for i in ids], convert_to_numpy=True)
    return dict(zip(ids, vectors, strict=True))


@pytest.fixture(scope="module")
def head_path(model_path, articles, tmp_path_factory):
    """A binary head (the most frequent outlet or not) trained on these articles' embeddings."""
    outlets = [a.outlet for a in articles]
    top = max(set(outlets), key=outlets.count)
    labels = ["yes" if outlet == top else "no" for outlet in outlets]
    head = train_head(model_path, [a.text for a in articles], labels, kind="logreg", c=100.0, seed=0)
    return str(head.save(tmp_path_factory.mktemp("heads") / "top_outlet"))


def read_jsonl(folder: Path) -> dict[str, dict]:
    rows = [json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.open()]
    by_id = {row["id"]: row for row in rows}
    assert len(by_id) == len(rows), "a document was written twice"
    return by_id


def probabilities(head_path: str, vectors: np.ndarray) -> np.ndarray:
    return ClassifierHead.load(head_path).predict_proba(vectors)[:, 1]


def total(stat: float | dict) -> float:
    """A datatrove stat's total (saved as a bare number when it is all there is)."""
    return stat["total"] if isinstance(stat, dict) else stat


def middle_threshold(scores: np.ndarray) -> float:
    """A threshold halfway between two neighbouring scores near the median (no document sits on it)."""
    ordered = np.sort(scores)
    middle = len(ordered) // 2
    return float((ordered[middle - 1] + ordered[middle]) / 2)


@pytest.mark.slow
def test_embed_step_fills_metadata_and_one_parquet_shard_per_rank(
    corpus, model_path, head_path, expected, tmp_path
):
    import pyarrow.parquet as pq

    side, out, logs = tmp_path / "embeddings", tmp_path / "out", tmp_path / "logs"

    def executor(workers: int) -> LocalPipelineExecutor:
        pipeline = [
            JsonlReader(str(corpus)),
            LuxicalEmbed(model_path, output_folder=str(side), heads=[head_path], threads=1),
            JsonlWriter(str(out), compression=None),
        ]
        return LocalPipelineExecutor(pipeline, tasks=2, workers=workers, logging_dir=str(logs))

    executor(workers=2).run()

    ids = sorted(expected)
    vectors = np.stack([expected[i] for i in ids])
    score_column = "score_" + head_name(head_path)
    scores = dict(zip(ids, probabilities(head_path, vectors), strict=True))
    documents = read_jsonl(out)
    assert sorted(documents) == ids
    for doc_id, row in documents.items():
        np.testing.assert_allclose(row["metadata"]["embedding"], expected[doc_id], atol=1e-6)
        assert row["metadata"][score_column] == pytest.approx(scores[doc_id], abs=1e-6)
        assert row["metadata"]["outlet"]  # the reader's metadata is kept

    def read_side() -> dict[str, np.ndarray]:
        assert sorted(p.name for p in side.iterdir()) == ["00000.parquet", "00001.parquet", FORMAT_FILE]
        fmt = EmbeddingFormat.load(side)
        assert (fmt.precision, fmt.dimensions) == ("float32", vectors.shape[1])
        tables = [pq.read_table(path) for path in sorted(side.glob("*.parquet"))]
        assert all(len(table) > 0 for table in tables)  # both ranks had files to read
        shard_ids = [i for table in tables for i in table.column("id").to_pylist()]
        assert sorted(shard_ids) == ids  # every id exactly once across the ranks
        stored = np.concatenate([fmt.dequantize(fmt.from_arrow(t.column("embedding"))) for t in tables])
        head_scores = np.concatenate([t.column(score_column).to_numpy() for t in tables])
        np.testing.assert_allclose(head_scores, [scores[i] for i in shard_ids], atol=1e-6)
        return dict(zip(shard_ids, stored, strict=True))

    for doc_id, vector in read_side().items():
        np.testing.assert_allclose(vector, expected[doc_id], atol=1e-6)

    # a rerun of the completed job does no work: nothing is rewritten
    written = {
        path: path.stat().st_mtime_ns for path in [*side.iterdir(), *out.iterdir(), logs / "stats.json"]
    }
    assert executor(workers=1).run() is None
    assert {path: path.stat().st_mtime_ns for path in written} == written

    # a rank that did not complete runs again, alone, and overwrites its own shard
    (logs / "completions" / "00001").unlink()
    executor(workers=1).run()
    assert (side / "00000.parquet").stat().st_mtime_ns == written[side / "00000.parquet"]
    assert (side / "00001.parquet").stat().st_mtime_ns != written[side / "00001.parquet"]
    assert sorted(read_side()) == ids


@pytest.mark.slow
def test_head_filter_keeps_exactly_the_documents_above_the_threshold(
    corpus, model_path, head_path, expected, texts, tmp_path
):
    ids = sorted(expected)
    scores = dict(zip(ids, probabilities(head_path, np.stack([expected[i] for i in ids])), strict=True))
    threshold = middle_threshold(np.array(list(scores.values())))
    passing = sorted(i for i in ids if scores[i] >= threshold)
    assert 0 < len(passing) < len(ids)

    kept, excluded, logs = tmp_path / "kept", tmp_path / "excluded", tmp_path / "logs"
    pipeline = [
        JsonlReader(str(corpus)),
        LuxicalEmbed(model_path, threads=1),
        LuxicalHeadFilter(
            head_path, threshold=threshold, exclusion_writer=JsonlWriter(str(excluded), compression=None)
        ),
        JsonlWriter(str(kept), compression=None),
    ]
    LocalPipelineExecutor(pipeline, tasks=2, workers=1, logging_dir=str(logs)).run()
    kept_rows = read_jsonl(kept)
    assert sorted(kept_rows) == passing
    assert sorted(read_jsonl(excluded)) == sorted(set(ids) - set(passing))
    for doc_id, row in kept_rows.items():
        assert row["metadata"]["score_top_outlet"] == pytest.approx(scores[doc_id], abs=1e-6)
    blocks = json.loads((logs / "stats.json").read_text())
    (filter_stats,) = [b["stats"] for b in blocks if b["name"].endswith(LuxicalHeadFilter.name)]
    assert total(filter_stats["reused_embeddings"]) == len(ids)  # LuxicalEmbed's, not embedded again
    assert "embedded" not in filter_stats
    assert total(filter_stats["forwarded"]) == len(passing)

    # without a stored embedding the filter embeds the text with the head's own model
    documents = [Document(text=texts[i], id=i) for i in ids]
    alone = LuxicalHeadFilter(head_path, threshold=threshold, keep_above=False, batch_bytes=50_000)
    dropped_above = [document.id for document in alone.run(documents)]
    assert sorted(dropped_above) == sorted(set(ids) - set(passing))
    assert alone.stats["embedded"].total == len(ids) and alone.stats["batches"].total > 2


@pytest.mark.parametrize("precision", ["int8", "float16", "binary"])
def test_quantised_metadata_is_dequantised_by_the_filter(model_path, head_path, expected, texts, precision):
    ids = sorted(expected)[:80]
    vectors = np.stack([expected[i] for i in ids])
    fmt = EmbeddingFormat.calibrate(precision, vectors, model=model_path)
    documents = list(LuxicalEmbed(model_path, precision=fmt).run([Document(texts[i], i) for i in ids]))
    stored = np.array([document.metadata["embedding"] for document in documents])
    np.testing.assert_array_equal(stored, fmt.quantize(vectors))
    approximate = fmt.dequantize(stored)
    scores = probabilities(head_path, approximate)
    threshold = middle_threshold(scores)
    if precision != "float16":  # integers in metadata say nothing of their ranges
        with pytest.raises(ValueError, match="embedding_format"):
            list(LuxicalHeadFilter(head_path, threshold=threshold).run(documents))
    step = LuxicalHeadFilter(head_path, threshold=threshold, embedding_format=fmt)
    kept = [document.id for document in step.run(documents)]
    assert kept == [i for i, score in zip(ids, scores, strict=True) if score >= threshold]


def test_documents_are_batched_by_text_bytes(texts):
    documents = [Document(texts[i], i) for i in sorted(texts)]
    documents.insert(7, Document(" ".join(texts.values()), "everything"))  # ~800 KB, alone in its batch
    batches = list(document_batches(documents, max_bytes=40_000, max_documents=10, step="test"))
    assert [d.id for batch, _ in batches for d in batch] == [d.id for d in documents]
    for batch, size in batches:
        assert size == sum(len(d.text.encode()) for d in batch)
        assert len(batch) <= 10 and (size <= 40_000 or len(batch) == 1)
    assert [len(batch) for batch, size in batches if size > 40_000] == [1]


@pytest.mark.parametrize("expand_metadata", [False, True])
def test_shallow_adapter_writes_what_the_default_adapter_writes(model_path, texts, tmp_path, expand_metadata):
    ids = sorted(texts)[:30]
    documents = [Document(texts[i], i, metadata={"outlet": "x", "empty": ""}) for i in ids]
    documents = list(LuxicalEmbed(model_path, precision="float16").run(documents))
    documents.append(Document("", "no-text"))
    written = {}
    for name, adapter in (("default", None), ("shallow", shallow_adapter)):
        writer = JsonlWriter(
            str(tmp_path / name), compression=None, adapter=adapter, expand_metadata=expand_metadata
        )
        with writer:
            for document in documents:
                writer.write(document, rank=0)
        written[name] = (tmp_path / name / "00000.jsonl").read_text()
    assert written["shallow"] == written["default"] and len(written["default"].splitlines()) == len(documents)


def test_steps_pickle_without_their_model(model_path, head_path, texts):
    ids = sorted(texts)[:20]
    embed = LuxicalEmbed(model_path)
    head = ClassifierHead.load(head_path)
    keep = LuxicalHeadFilter(head, threshold=0.0, embedding_key=None)
    documents = list(keep.run(embed.run([Document(texts[i], i) for i in ids])))
    assert [document.id for document in documents] == ids
    assert embed._encoder is not None and keep.loaded_head()._encoder is not None  # loaded while running
    for step in (embed, keep):
        restored = pickle.loads(pickle.dumps(step))
        assert restored._encoder is None and len(pickle.dumps(step)) < 100_000
    assert pickle.loads(pickle.dumps(keep)).head._encoder is None


def test_score_keys_follow_the_embed_steps_names(model_path, head_path, texts):
    documents = [Document(texts[i], i) for i in sorted(texts)[:10]]
    documents = list(LuxicalEmbed(model_path, heads=[head_path]).run(documents))
    for label, key in ((None, "score_top_outlet"), ("no", "score_top_outlet_no")):
        step = LuxicalHeadFilter(head_path, threshold=0.0, label=label)
        list(step.run(documents))
        assert all(key in document.metadata for document in documents)
    yes, no = (
        np.array([d.metadata[k] for d in documents]) for k in ("score_top_outlet", "score_top_outlet_no")
    )
    np.testing.assert_allclose(yes + no, 1, atol=1e-6)
    list(LuxicalHeadFilter(ClassifierHead.load(head_path), threshold=0.0).run(documents))
    assert all("score_head" in document.metadata for document in documents)


def test_bad_input_fails_clearly(model_path, head_path, tmp_path):
    with pytest.raises(TypeError, match="'doc-7' has text of type NoneType"):
        list(LuxicalEmbed(model_path).run([Document(text=None, id="doc-7")]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="put a reader"):
        list(LuxicalEmbed(model_path).run(None))
    with pytest.raises(OSError, match=r"cannot load the Luxical model .*no_such_model"):
        list(LuxicalEmbed(str(tmp_path / "no_such_model")).run([Document("some text", "a")]))
    with pytest.raises(ValueError, match="calibrated once"):
        LuxicalEmbed(model_path, precision="int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        LuxicalEmbed(model_path, precision="float8")
    with pytest.raises(ValueError, match="stores nothing"):
        LuxicalEmbed(model_path, metadata_key=None)
    side = tmp_path / "side"
    list(LuxicalEmbed(model_path, output_folder=str(side)).run([Document("some text", "a")]))
    with pytest.raises(ValueError, match="holds another embedding format"):
        list(LuxicalEmbed(model_path, "float16", str(side)).run([Document("some text", "a")]))
    with pytest.raises(ValueError, match="not one of the head's labels"):
        LuxicalHeadFilter(ClassifierHead.load(head_path), label="maybe")
    with pytest.raises(FileNotFoundError, match="not a luxical-st classifier head"):
        list(LuxicalHeadFilter(str(tmp_path)).run([Document("some text", "a")]))
    with pytest.raises(ValueError, match="has 31 values, not 32"):
        list(LuxicalHeadFilter(head_path).run([Document("text", "d", metadata={"embedding": [0.5] * 31})]))
