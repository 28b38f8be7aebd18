"""mteb runs of a tiny real Luxical model: ModelMeta facts, the dedup encoder, scores, the cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from luxical_st.evaluation import mteb_runner
from luxical_st.evaluation.tasks import offline_tasks
from luxical_st.model import build_model
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def tiny_path(tokenizer, news_texts, tmp_path_factory):
    """A saved Luxical model over every n-gram (n <= 2) seen 3+ times in 100 real news articles."""
    rows = [encoding.ids for encoding in tokenizer.encode_batch(news_texts[:100], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    path = tmp_path_factory.mktemp("models") / "tiny-luxical"
    build_model(tokenizer, ngrams, idf, layer_sizes=(32, 64, 24), seed=3).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def tiny(tiny_path):
    return mteb_runner.load_model_or_baseline(tiny_path)


def test_luxical_model_meta_states_its_facts(tiny, tiny_path) -> None:
    meta = mteb_runner.model_meta(tiny, tiny_path, label="tiny")
    facts = mteb_runner.model_facts(tiny)
    assert facts["luxical"] and facts["embed_dim"] == 24
    assert meta.name == "local/tiny"
    assert meta.revision == mteb_runner.folder_revision(tiny_path)
    assert meta.n_parameters is not None and meta.n_parameters == sum(p.numel() for p in tiny.parameters())
    assert meta.n_embedding_parameters == facts["num_ngrams"] * 32
    assert (meta.embed_dim, meta.license, meta.max_tokens) == (24, "apache-2.0", None)
    assert meta.memory_usage_mb == pytest.approx(meta.n_parameters * 4 / 2**20, abs=0.01)


def test_meta_loader_loads_the_model_with_remote_code(tiny, tiny_path) -> None:
    from mteb.models import SentenceTransformerEncoderWrapper

    encoder = mteb_runner.model_meta(tiny, tiny_path).load_model()
    assert isinstance(encoder, SentenceTransformerEncoderWrapper)
    texts = ["a short text", "another one about health news"]
    np.testing.assert_allclose(encoder.model.encode(texts), tiny.encode(texts), atol=1e-6)


def test_revision_changes_with_the_weights(tiny_path, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_path, copy)
    assert mteb_runner.folder_revision(copy) == mteb_runner.folder_revision(tiny_path)
    weights = next(copy.rglob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    assert mteb_runner.folder_revision(copy) != mteb_runner.folder_revision(tiny_path)


def test_model_name_keeps_hub_ids() -> None:
    assert (
        mteb_runner.model_name("sentence-transformers/all-MiniLM-L6-v2")
        == "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert mteb_runner.model_name("/no/such/folder/minilm") == "local/minilm"


def test_dedup_encoder_scores_like_plain_encoding(tiny, tiny_path) -> None:
    from mteb.models import SentenceTransformerEncoderWrapper

    (task,) = offline_tasks(["LeeDocSimilarity"])
    plain = SentenceTransformerEncoderWrapper(tiny)
    plain.mteb_model_meta = mteb_runner.model_meta(tiny, tiny_path, label="plain")
    deduped = mteb_runner.mteb_encoder(tiny, tiny_path, label="dedup")
    import mteb

    scores = [
        mteb.evaluate(encoder, task, cache=None, show_progress_bar=False).task_results[0].get_score()
        for encoder in (plain, deduped)
    ]
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)


@pytest.mark.slow
def test_run_mteb_scores_and_caches(tiny, tiny_path, tmp_path) -> None:
    tasks = mteb_runner.resolve_tasks(["WordSim353", "RottenTomatoesClassification"])
    first = mteb_runner.run_mteb(tiny, tiny_path, tasks, cache_dir=tmp_path, label="tiny")
    assert set(first) == {"WordSim353", "RottenTomatoesClassification"}
    assert -1 <= first["WordSim353"]["main_score"] <= 1
    assert 0.3 < first["RottenTomatoesClassification"]["main_score"] < 1
    revision = mteb_runner.folder_revision(tiny_path)
    cached = tmp_path / "results" / "local__tiny" / revision / "WordSim353.json"
    assert json.loads(cached.read_text())["task_name"] == "WordSim353"
    again = mteb_runner.run_mteb(tiny, tiny_path, tasks, cache_dir=tmp_path, label="tiny")
    for task, result in first.items():
        assert again[task]["main_score"] == pytest.approx(result["main_score"], abs=1e-5)


def test_resolve_tasks_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="NoSuchTaskAnywhere"):
        mteb_runner.resolve_tasks(["NoSuchTaskAnywhere"])


def test_resolve_tasks_mixes_offline_and_named_mteb_tasks() -> None:
    resolved = mteb_runner.resolve_tasks(["simlex999", "STS12"])
    assert [task.metadata.name for task in resolved] == ["SimLex999", "STS12"]
    assert [task.metadata.name for task in mteb_runner.resolve_tasks(None)] == [
        task.metadata.name for task in mteb_runner.OFFLINE_TASKS
    ]
