"""The pipeline's run record: a local corpus changed in place since an artifact was built from it is
noticed, and the rerun refused naming the changed file (no training run: the step records only)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from luxical_st.artifacts import TARGETS_DIR
from luxical_st.config import load_config
from luxical_st.pipeline import PipelineState, step_signature

TINY = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


def write_corpus(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))


def test_a_corpus_file_changed_since_the_targets_is_refused_by_name(tmp_path, news_texts):
    corpus = tmp_path / "docs.jsonl"
    write_corpus(corpus, news_texts[:40])
    config = load_config(TINY, ["--output_dir", str(tmp_path / "run"), "--corpus", str(corpus)])
    output = tmp_path / "run"
    output.mkdir()
    (output / TARGETS_DIR).mkdir()  # targets built from the 40-document file
    PipelineState(output).claim("targets", step_signature(config, "targets"), False)
    PipelineState(output).claim("vocabulary", step_signature(config, "vocabulary"), False)
    original = corpus.read_text()
    PipelineState(output).claim("targets", step_signature(config, "targets"), True)  # unchanged: fine

    write_corpus(corpus, news_texts[:400])  # the file fixed in place
    with pytest.raises(ValueError, match=rf"targets artifact .* corpus changed since: {corpus}: size"):
        PipelineState(output).claim("targets", step_signature(config, "targets"), True)
    corpus.write_text(original.replace("the", "THE"))  # same size, other content
    with pytest.raises(ValueError, match=rf"vocabulary artifact .* {corpus}: content changed"):
        PipelineState(output).claim("vocabulary", step_signature(config, "vocabulary"), True)
    quickstart = load_config(TINY, ["--output_dir", str(output)])
    assert "corpus_files" not in step_signature(quickstart, "targets")  # the built-in blend: no files
    assert "corpus_files" not in step_signature(config, "token_embeddings")  # reads no corpus


def test_engines_are_found_by_name(monkeypatch):
    from importlib.metadata import entry_points

    from luxical_st.config import EngineConfig
    from luxical_st.pipeline import LocalEngine, engine_for, engines

    assert isinstance(engine_for(EngineConfig()), LocalEngine)
    (ray,) = entry_points(group=engines.ENGINE_GROUP, name="ray")  # registered by setup.cfg, not loaded
    assert ray.value == "luxical_st.scale.recipe_engine:RayEngine"
    monkeypatch.setattr(engines, "entry_points", lambda **selection: ())
    with pytest.raises(ImportError, match=r"engine: ray is not installed: .*luxical-st\[scale\]"):
        engine_for(EngineConfig(engine="ray"))


def test_validation_is_found_by_name_and_a_missing_one_names_the_extra(monkeypatch):
    from importlib.metadata import entry_points

    from luxical_st.config import VALIDATION_GROUP
    from luxical_st.pipeline import engines

    (suite,) = entry_points(group=VALIDATION_GROUP, name="suite")  # registered by setup.cfg
    assert suite.value == "luxical_st.evaluation.validation:suite_validation"
    assert engines.validation_factory("suite").__name__ == "suite_validation"  # loaded, not yet built
    monkeypatch.setattr(engines, "entry_points", lambda **selection: ())
    with pytest.raises(ImportError, match=r"validation: suite is not installed: .*luxical-st\[eval\]"):
        engines.validation_factory("suite")


def test_a_key_an_older_version_did_not_record_counts_as_its_default(tmp_path):
    from luxical_st.pipeline.state import PipelineState

    PipelineState(tmp_path).claim("training", {"learning_rate": 0.001}, artifact_exists=False)
    for default in ({"validation": None}, {"lexical_sketch_sublinear_tf": False}):  # unset, and a False flag
        PipelineState(tmp_path).claim("training", {"learning_rate": 0.001, **default}, artifact_exists=True)
    state = tmp_path / "pipeline_state.json"
    state.write_text(json.dumps({"training": {"learning_rate": 0.001}}))
    flag = "lexical_sketch_sublinear_tf"
    for changed, shown in (({"validation": "suite"}, "validation: None then, 'suite' now"),
                           ({flag: True}, f"{flag}: False then, True now")):  # fmt: skip
        with pytest.raises(ValueError, match=f"other settings: {re.escape(shown)}"):
            PipelineState(tmp_path).claim("training", {"learning_rate": 0.001, **changed}, True)
