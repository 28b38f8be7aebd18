"""The Luxical model card and the Hub upload, without network: the upload goes through a stand-in Hub
client that keeps each uploaded tree as a folder; that folder, laid out as a Hub cache snapshot, is
loaded by repo id in a fresh Python where luxical_st cannot be imported."""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from huggingface_hub import CommitInfo, HfApi, ModelCard, RepoUrl
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Normalize

from luxical_st.artifacts import CARD_INPUTS_FILE
from luxical_st.card import LuxicalModelCardData, attach_model_card, write_model_card
from luxical_st.config import PipelineConfig, TeacherConfig
from luxical_st.convert import fnv1a_ngram_hashes
from luxical_st.convert import main as convert_main
from luxical_st.hub import push_to_hub
from luxical_st.model import build_model, layer_matrices
from luxical_st.results import check_evaluation_results
from tests.conftest import exact_ngram_vocabulary

REPO_ID = "luxical-test/tiny-luxical"
LAYER_SIZES = (16, 32, 8)
TEACHER = "sentence-transformers/all-mpnet-base-v2"


class FolderHub:
    """A stand-in for `huggingface_hub.HfApi`: every upload becomes a folder `root/<repo>/<revision>`.

    Each call is bound against the real `HfApi` method's signature first, so an argument the real
    client would reject fails here too.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.branches: set[tuple[str, str]] = set()

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        inspect.signature(getattr(HfApi, name)).bind(None, **kwargs)
        self.calls.append((name, kwargs))

    def create_repo(self, **kwargs: Any) -> RepoUrl:
        self._record("create_repo", kwargs)
        return RepoUrl(f"https://huggingface.co/{kwargs['repo_id']}")

    def create_branch(self, **kwargs: Any) -> None:
        self._record("create_branch", kwargs)
        self.branches.add((kwargs["repo_id"], kwargs["branch"]))

    def upload_folder(self, **kwargs: Any) -> CommitInfo:
        self._record("upload_folder", kwargs)
        repo_id, revision = kwargs["repo_id"], kwargs.get("revision") or "main"
        if revision != "main" and (repo_id, revision) not in self.branches:
            raise ValueError(f"branch {revision!r} does not exist")
        source = Path(kwargs["folder_path"])
        ignore = [*(kwargs.get("ignore_patterns") or []), *DEFAULT_IGNORE_PATTERNS]
        paths = [path.relative_to(source).as_posix() for path in sorted(source.rglob("*")) if path.is_file()]
        target = self.root / repo_id / revision
        shutil.rmtree(target, ignore_errors=True)
        digest = hashlib.sha1()
        for relative in filter_repo_objects(paths, ignore_patterns=ignore):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, target / relative)
            digest.update(relative.encode() + (source / relative).read_bytes())
        oid = digest.hexdigest()
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{oid}",
            commit_message=kwargs.get("commit_message") or "",
            commit_description="",
            oid=oid,
            pr_url=f"https://huggingface.co/{repo_id}/discussions/1" if kwargs.get("create_pr") else None,
        )


def as_hub_cache(
    tree: Path, cache: Path, repo_id: str, commit: str, refs: tuple[str, ...] = ("main",)
) -> None:
    """Lay an uploaded tree out the way `huggingface_hub` caches a downloaded snapshot."""
    repo_folder = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(tree, repo_folder / "snapshots" / commit)
    (repo_folder / "refs").mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (repo_folder / "refs" / ref).write_text(commit)


# Runs in a fresh interpreter: luxical_st is blocked before anything is imported.
LOAD_BY_REPO_ID = """
import importlib.abc, json, sys
class BlockLuxical(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "luxical_st" or name.startswith("luxical_st."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)")
        return None
sys.meta_path.insert(0, BlockLuxical())
import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Normalize
repo_id, revision, texts_file, out_file = sys.argv[1:]
model = SentenceTransformer(repo_id, revision=revision, trust_remote_code=True, device="cpu")
assert not [name for name in sys.modules if name.startswith("luxical_st")]
assert type(model[0]).__module__.startswith("transformers_modules."), type(model[0]).__module__
texts = json.load(open(texts_file, encoding="utf-8"))
np.save(out_file, model.encode(texts, batch_size=8, convert_to_numpy=True))
"""


def load_by_repo_id(cache: Path, workdir: Path, repo_id: str, revision: str, texts: list[str]) -> np.ndarray:
    """Embeddings from `SentenceTransformer(repo_id, trust_remote_code=True)` with the Hub offline."""
    texts_file, out_file = workdir / "texts.json", workdir / "embeddings.npy"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "PYTHON", "TRANSFORMERS"))
    }
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HUB_CACHE=str(cache),
        HF_HOME=str(workdir / "hf_home"),
        TOKENIZERS_PARALLELISM="false",
    )
    result = subprocess.run(
        [sys.executable, "-c", LOAD_BY_REPO_ID, repo_id, revision, str(texts_file), str(out_file)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return np.load(out_file)


@pytest.fixture(scope="module")
def tiny_parts(tokenizer, news_texts):
    """A real vocabulary: every n-gram (n <= 5) seen at least 3 times in 60 news articles."""
    rows = [encoding.ids for encoding in tokenizer.encode_batch(news_texts[:60], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=5, min_count=3)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return ngrams, idf


@pytest.fixture(scope="module")
def tiny_model(tokenizer, tiny_parts):
    ngrams, idf = tiny_parts
    return build_model(tokenizer, ngrams, idf, layer_sizes=LAYER_SIZES, seed=7)


@pytest.fixture(scope="module")
def training_config() -> PipelineConfig:
    return PipelineConfig(teacher=TeacherConfig(teacher=TEACHER, teacher_dimensions=128))


@pytest.fixture(scope="module")
def evaluation_file(tmp_path_factory) -> Path:
    """Results in the layout evaluate.py writes (luxical_st.evaluation.report)."""
    from luxical_st.evaluation.speed import SpeedResult

    path = tmp_path_factory.mktemp("evaluation") / "results.json"
    results = {
        "command": "evaluate.py --model out/model --model minilm",
        "models": {
            "tiny-luxical": {"path": "out/model", "facts": {"n_parameters": 200_000, "embed_dim": 8}},
            "all-MiniLM-L6-v2": {"path": "minilm", "facts": {"n_parameters": 22_700_000, "embed_dim": 384}},
        },
        "mteb": {
            "tiny-luxical": {
                "LeeDocSimilarity": {"main_score": 0.4123, "metric": "pearson"},
                "SimLex999": {"main_score": 0.101, "metric": "spearman"},
            },
            "all-MiniLM-L6-v2": {
                "LeeDocSimilarity": {"main_score": 0.656, "metric": "pearson"},
                "SimLex999": {"main_score": 0.446, "metric": "spearman"},
            },
        },
        "edu": None,
        "speed": {
            "tiny-luxical": dataclasses.asdict(SpeedResult(1000, 3.2, 0.81, 1234.5, 3.95, 1.0)),
            "all-MiniLM-L6-v2": dataclasses.asdict(SpeedResult(1000, 3.2, 12.5, 80.0, 0.26, 0.065)),
        },
    }
    path.write_text(json.dumps(results), encoding="utf-8")
    return path


@pytest.fixture
def model_dir(tmp_path, tiny_model, training_config, evaluation_file) -> Path:
    folder = tmp_path / "model"
    tiny_model.save(str(folder))
    write_model_card(folder, training_config=training_config, evaluation_results=evaluation_file)
    return folder


@pytest.fixture
def texts(news_texts, tweet_texts, edge_texts) -> list[str]:
    return news_texts[-10:] + tweet_texts[:20] + edge_texts


def test_card_renders_luxical_facts(model_dir, tiny_model, tiny_parts):
    ngrams, _ = tiny_parts
    text = (model_dir / "README.md").read_text(encoding="utf-8")
    parameters = sum(parameter.numel() for parameter in tiny_model.parameters())
    assert f"{len(ngrams):,} token n-grams of 1 to 5 tokens" in text
    assert f"5-grams: {int(((ngrams != -1).sum(axis=1) == 5).sum()):,}" in text
    assert f"{len(ngrams):,} → 16 → 32 → 8" in text
    assert f"| Parameters | {parameters:,} |" in text
    assert "| Size on disk |" in text and "MiB" in text
    assert "trust_remote_code=True)" in text
    assert f"[{TEACHER}](https://huggingface.co/{TEACHER})" in text
    assert "first 128 dimensions of the teacher embedding" in text
    assert "Gram-matrix KL divergence" in text and "tau = 3.0" in text
    assert "| tiny-luxical | 0.2M | 8 | 0.257 | 0.257 | 1,234 | 3.95 | 1.00 |" in text
    assert "| LeeDocSimilarity | other | pearson | 0.412 | 0.656 |" in text
    assert "Produced by `evaluate.py --model out/model --model minilm`" in text
    assert "| all-MiniLM-L6-v2 | 22.7M | 384 | 0.551 | 0.551 | 80 | 0.26 | 0.07 |" in text
    assert "over the same 1,000 documents (3.2 MiB)" in text
    assert "English only" in text and "at most 5 tokens" in text and "lowercasing WordPiece" in text
    assert "Luxical: High-Speed Lexical-Dense Text Embeddings" in text and "2512.09015" in text
    metadata = ModelCard.load(model_dir / "README.md").data
    assert metadata.library_name == "sentence-transformers"
    assert metadata.language == ["en"] and metadata.license == "apache-2.0"
    assert {"luxical", "custom_code"} <= set(metadata.tags)


def test_save_writes_luxical_card_the_sentence_transformers_way(tmp_path, tokenizer, tiny_parts):
    ngrams, idf = tiny_parts
    model = build_model(tokenizer, ngrams, idf, layer_sizes=LAYER_SIZES)
    card = attach_model_card(model, model_name="Tiny Luxical", speed={"laptop": 5000.0})
    assert isinstance(model.model_card_data, LuxicalModelCardData) and card.model is model
    model.save(str(tmp_path / "saved"))
    text = (tmp_path / "saved" / "README.md").read_text(encoding="utf-8")
    assert text.splitlines()[text.splitlines().index("---", 1) + 2] == "# Tiny Luxical"
    assert "| laptop | 5,000 |" in text and "No training configuration was recorded" in text


def test_card_inputs_survive_a_rewrite(model_dir):
    write_model_card(model_dir, speed={"after evaluation": 99.0})
    text = (model_dir / "README.md").read_text(encoding="utf-8")
    assert "| tiny-luxical | 0.2M | 8 | 0.257 |" in text and TEACHER in text
    assert "| after evaluation | 99 |" in text
    stored = json.loads((model_dir / CARD_INPUTS_FILE).read_text(encoding="utf-8"))
    assert stored["training_config"]["teacher"] == TEACHER


def test_card_shows_the_saved_training_run(model_dir):
    pytest.importorskip("matplotlib")
    from luxical_st.training.trainer import save_training_log

    history = [
        {"loss": 2.5, "learning_rate": 0.01, "step": 10},
        {"loss": 1.25, "learning_rate": 0.0, "step": 20},
    ]
    save_training_log({"global_step": 20, "log_history": history}, model_dir)
    text = write_model_card(model_dir).read_text(encoding="utf-8")
    assert "**Optimizer steps:** 20" in text and "**Final training loss:** 1.25" in text
    assert "![Training loss and learning rate](training_curve.png)" in text


@pytest.mark.slow
def test_push_then_load_by_repo_id_without_luxical_st(model_dir, tiny_model, texts, tmp_path):
    hub = FolderHub(tmp_path / "hub")
    commit = push_to_hub(model_dir, REPO_ID, private=True, commit_message="First upload", api=hub)
    assert [name for name, _ in hub.calls] == ["create_repo", "upload_folder"]
    assert hub.calls[0][1]["private"] is True and hub.calls[0][1]["exist_ok"] is True
    assert hub.calls[1][1]["commit_message"] == "First upload"
    assert commit == commit.commit_url and len(commit.oid) == 40

    tree = hub.root / REPO_ID / "main"
    for name in ("ngram_tfidf.py", "ngrams.py", "persistence.py", "sparse_dense.py", "modules.json"):
        assert (tree / name).is_file(), name
    assert f'SentenceTransformer("{REPO_ID}", trust_remote_code=True)' in (tree / "README.md").read_text()

    as_hub_cache(tree, tmp_path / "cache", REPO_ID, commit.oid)
    loaded = load_by_repo_id(tmp_path / "cache", tmp_path, REPO_ID, "main", texts)
    expected = tiny_model.encode(texts, batch_size=8, convert_to_numpy=True)
    np.testing.assert_allclose(loaded, expected, atol=1e-6)
    assert np.abs(expected).sum(axis=1).min() == 0  # the empty text: a zero row, not NaN
    assert np.isfinite(loaded).all()


def test_push_to_a_revision_and_as_pull_request(model_dir, tmp_path):
    hub = FolderHub(tmp_path / "hub")
    push_to_hub(model_dir, REPO_ID, revision="v1", api=hub)
    assert (REPO_ID, "v1") in hub.branches and (hub.root / REPO_ID / "v1" / "modules.json").is_file()
    assert hub.calls[-1][1]["revision"] == "v1" and hub.calls[0][1]["private"] is False
    pull_request = push_to_hub(model_dir, REPO_ID, create_pr=True, api=hub)
    assert pull_request.pr_url == f"https://huggingface.co/{REPO_ID}/discussions/1"
    assert hub.calls[-1][1]["create_pr"] is True


def test_converted_reference_model_gets_the_card(tmp_path, tokenizer, tiny_model, tiny_parts, texts):
    """A model in the reference `Embedder.save` layout, converted by `python -m luxical_st.convert`."""
    ngrams, idf = tiny_parts
    padded = ngrams.view(np.uint32)
    layers = layer_matrices(tiny_model)
    arrays = {
        "tokenizer": np.frombuffer(tokenizer.to_str().encode("utf-8"), dtype=np.uint8),
        "version": np.array([1], dtype=np.int64),
        "recognized_ngrams": padded,
        "ngram_hash_to_ngram_idx_keys": fnv1a_ngram_hashes(padded),
        "ngram_hash_to_ngram_idx_values": np.arange(len(padded), dtype=np.uint32),
        "idf_values": idf,
        "num_nn_layers": np.array([len(layers)], dtype=np.int64),
        **{f"nn_layer_{i}": layer for i, layer in enumerate(layers)},
    }
    np.savez(tmp_path / "reference.npz", **arrays)
    convert_main([str(tmp_path / "reference.npz"), str(tmp_path / "converted")])
    write_model_card(tmp_path / "converted")
    text = (tmp_path / "converted" / "README.md").read_text(encoding="utf-8")
    assert "converted from the reference Luxical model" in text and "reference.npz" in text
    assert f"{len(ngrams):,} → 16 → 32 → 8" in text and "No training configuration" not in text
    converted = SentenceTransformer(str(tmp_path / "converted"), trust_remote_code=True)
    np.testing.assert_allclose(converted.encode(texts[:10]), tiny_model.encode(texts[:10]), atol=1e-6)


def test_bad_inputs_are_named(model_dir, tmp_path):
    hub = FolderHub(tmp_path / "hub")
    with pytest.raises(ValueError, match=r"modules\.json"):
        push_to_hub(tmp_path, REPO_ID, api=hub)
    with pytest.raises(ValueError, match="organization/name"):
        push_to_hub(model_dir, "no-organization", api=hub)
    with pytest.raises(ValueError, match="create_pr"):
        push_to_hub(model_dir, REPO_ID, revision="v1", create_pr=True, api=hub)
    with pytest.raises(TypeError, match="model_dir must be a path"):
        write_model_card(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="training_config"):
        LuxicalModelCardData(training_config=[1, 2])
    with pytest.raises(ValueError, match="'models'"):
        check_evaluation_results({"mteb": {}})
    with pytest.raises(ValueError, match="numeric main_score"):
        check_evaluation_results({"models": {"a": {}}, "mteb": {"a": {"Lee": {"main_score": "high"}}}})
    with pytest.raises(ValueError, match="docs_per_s"):
        check_evaluation_results({"models": {"a": {}}, "speed": {"a": {"docs_per_s": 5.0}}})
    with pytest.raises(ValueError, match="positive number"):
        LuxicalModelCardData(speed={"laptop": -1})
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json"):
        push_to_hub(model_dir, REPO_ID, evaluation_results=tmp_path / "broken.json", api=hub)
    with pytest.raises(ValueError, match="not a Luxical model"):
        attach_model_card(SentenceTransformer(modules=[Normalize()]))
    assert hub.calls == []
