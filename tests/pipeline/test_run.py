"""The whole pipeline on configs/tiny.yaml: real MiniLM teacher, real corpus, real training and resume."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import TrainerCallback

from luxical_st.artifacts import (
    CHECKPOINTS_DIR,
    MODEL_DIR,
    STATE_FILE,
    TARGETS_DIR,
    TOKEN_EMBEDDINGS_FILE,
    TRAINING_LOG_FILE,
    TRAINING_PLOT_FILE,
    VOCABULARY_FILE,
)
from luxical_st.config import PipelineConfig, load_config
from luxical_st.pipeline import run_pipeline
from tests.conftest import TINY_CONFIG


def tiny_config(output_dir: Path, *overrides: str) -> PipelineConfig:
    return load_config(TINY_CONFIG, ["--output_dir", str(output_dir), *overrides])


class CrashAfterSave(TrainerCallback):
    """Stands in for a killed job: raises right after the checkpoint of `step` is on disk."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt(f"interrupted after step {self.step}")


def expected_steps(config: PipelineConfig, documents: int) -> int:
    return math.ceil(config.training.num_train_epochs * (documents // config.training.batch_size))


def seeded_run(tiny_run: Path, output_dir: Path) -> None:
    """A fresh output folder holding the shared tiny run's targets and vocabulary (steps 1-2 done)."""
    output_dir.mkdir(parents=True)
    shutil.copytree(tiny_run / TARGETS_DIR, output_dir / TARGETS_DIR)
    shutil.copy(tiny_run / VOCABULARY_FILE, output_dir / VOCABULARY_FILE)
    shutil.copy(tiny_run / TOKEN_EMBEDDINGS_FILE, output_dir / TOKEN_EMBEDDINGS_FILE)
    state = json.loads((tiny_run / STATE_FILE).read_text())
    steps = ("targets", "vocabulary", "token_embeddings")
    (output_dir / STATE_FILE).write_text(json.dumps({k: state[k] for k in steps}))


def test_tiny_run_saves_a_loadable_trained_model(tiny_run: Path, tweet_texts: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    from luxical_st.data.targets import load_teacher_targets

    config = tiny_config(tiny_run)
    model_dir = tiny_run / MODEL_DIR
    model = SentenceTransformer(str(model_dir), trust_remote_code=True, device="cpu")
    embeddings = model.encode(tweet_texts[:4], normalize_embeddings=False)
    width = config.model.layer_sizes[-1] + config.model.lexical_sketch_dimensions  # distilled + sketch
    assert embeddings.shape == (4, width) == (4, 64 + 128)
    assert model[-1].sublinear_tf  # the sketch's weighting, from the config
    assert config.model.teacher_init  # the n-gram table was seeded from the teacher's token embeddings
    token_embeddings = np.load(tiny_run / TOKEN_EMBEDDINGS_FILE)
    assert token_embeddings.shape == (model[0].tokenizer.get_vocab_size(), 384)
    # all_unigrams: every ordinary WordPiece token is a feature, whether the corpus showed it or not
    from luxical_st.tokenizer import regular_token_ids

    assert config.vocabulary.all_unigrams
    assert model[0].num_features >= len(regular_token_ids(model[0].tokenizer)) > 29_000

    log = json.loads((model_dir / TRAINING_LOG_FILE).read_text())
    documents = len(load_teacher_targets(tiny_run / TARGETS_DIR))
    assert log["global_step"] == expected_steps(config, documents)
    losses = [entry["loss"] for entry in log["log_history"] if "loss" in entry]
    rates = [entry["learning_rate"] for entry in log["log_history"] if "learning_rate" in entry]
    assert losses[-1] < losses[0]  # it learned something
    assert rates[0] == 0.0 and max(rates) == pytest.approx(config.training.learning_rate)
    assert (model_dir / TRAINING_PLOT_FILE).stat().st_size > 1000


def test_tiny_run_keeps_the_checkpoint_best_on_the_validation_split(tiny_run: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from luxical_st.training.trainer import check_weights_of

    config = tiny_config(tiny_run)
    assert config.training.validation == "suite"
    log = json.loads((tiny_run / MODEL_DIR / TRAINING_LOG_FILE).read_text())
    scores = {
        entry["step"]: entry["eval_sequential_score"]
        for entry in log["log_history"]
        if "eval_sequential_score" in entry
    }
    assert sorted(scores) == list(
        range(config.training.save_steps, log["global_step"] + 1, config.training.save_steps)
    )
    best = max(scores, key=scores.__getitem__)
    assert (log["best_checkpoint_step"], log["best_metric"]) == (best, scores[best])
    model = SentenceTransformer(str(tiny_run / MODEL_DIR), trust_remote_code=True, device="cpu")
    check_weights_of(model, tiny_run / CHECKPOINTS_DIR / f"checkpoint-{best}")
    usage = (tiny_run / MODEL_DIR / "README.md").read_text().split("### Direct Usage", 1)[1]
    assert "sentences = [\n" in usage  # a symmetric model, though validated by retrieval
    later = max(scores)
    if later != best:  # the model is the best checkpoint, not the last one
        with pytest.raises(RuntimeError, match="does not hold"):
            check_weights_of(model, tiny_run / CHECKPOINTS_DIR / f"checkpoint-{later}")


def test_finished_run_is_reused_and_config_changes_are_refused(tiny_run: Path, tmp_path: Path) -> None:
    finished = tmp_path / "finished"
    shutil.copytree(tiny_run, finished)  # a rerun rewrites the run record: not in the shared run
    model_file = next((finished / MODEL_DIR).rglob("*.safetensors"))
    before = model_file.stat().st_mtime_ns
    assert run_pipeline(tiny_config(finished, "--logging_steps", "1")) == finished / MODEL_DIR
    assert model_file.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match=r"vocabulary artifact .* max_vocabulary_size"):
        run_pipeline(tiny_config(finished, "--max_vocabulary_size", "500"))


def test_interrupted_training_resumes_to_the_same_step(tiny_run: Path, tmp_path: Path) -> None:
    output_dir = tmp_path / "resumed"
    seeded_run(tiny_run, output_dir)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tiny_config(output_dir), callbacks=[CrashAfterSave(step=50)])
    assert (output_dir / CHECKPOINTS_DIR / "checkpoint-50").is_dir()
    assert not (output_dir / MODEL_DIR).exists()

    run_pipeline(tiny_config(output_dir))
    resumed = json.loads((output_dir / MODEL_DIR / TRAINING_LOG_FILE).read_text())
    uninterrupted = json.loads((tiny_run / MODEL_DIR / TRAINING_LOG_FILE).read_text())
    assert resumed["global_step"] == uninterrupted["global_step"]

    # The history restored from the checkpoint plus the resumed steps: each step logged once, none redone.
    def logged_steps(log: dict) -> list[int]:
        return [entry["step"] for entry in log["log_history"] if "loss" in entry]

    assert logged_steps(resumed) == logged_steps(uninterrupted)


def test_streaming_training_and_embedding_loss(tiny_run: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    output_dir = tmp_path / "streamed"
    seeded_run(tiny_run, output_dir)
    run_pipeline(tiny_config(output_dir, "--streaming", "true", "--max_steps", "6", "--loss", "cosine"))
    log = json.loads((output_dir / MODEL_DIR / TRAINING_LOG_FILE).read_text())
    assert log["global_step"] == 6
    model = SentenceTransformer(str(output_dir / MODEL_DIR), trust_remote_code=True, device="cpu")
    assert model.encode(["a streamed model"]).shape == (1, 64 + 128)


def test_word_documents_extend_the_training_documents(tokenizer) -> None:
    import datasets

    from luxical_st.pipeline import training_documents, vocabulary_words

    words = vocabulary_words(tokenizer)
    assert len(words) > 20_000 and words[:3] == ["the", "of", "and"]
    assert all(word.isalpha() and word.islower() for word in words)  # no ##pieces, [unused], [CLS]
    corpus = datasets.Dataset.from_dict({"id": ["a", "b", "c"], "text": ["one text", "two", "three"]})
    config = load_config(TINY_CONFIG, ["--max_documents", "2", "--word_documents", "true"])
    documents = training_documents(config, corpus)
    assert documents["text"][:3] == ["one text", "two", "the"]
    assert len(documents) == 2 + len(words) and documents["id"][2] == "word-the"
    streamed = training_documents(config, corpus.to_iterable_dataset())
    assert [row["text"] for row in streamed.take(3)] == ["one text", "two", "the"]


def test_corpus_words_are_the_frequent_words_wordpiece_splits(tokenizer) -> None:
    import datasets

    from luxical_st.pipeline import training_documents
    from luxical_st.pipeline.inputs import corpus_words

    texts = ["Cucumber and cucumber; CUCUMBER!", "the steeple by the seashore", "the steeple, the steeple"]
    corpus = datasets.Dataset.from_dict({"id": ["a", "b", "c"], "text": texts})
    # "cucumber" (3 pieces) is seen 3 times, "steeple" (2) 3 times, "seashore" once, "the" is one piece
    pieces = {
        w: len(tokenizer.encode(w, add_special_tokens=False).ids) for w in ("cucumber", "steeple", "the")
    }
    assert pieces == {"cucumber": 3, "steeple": 2, "the": 1}
    assert corpus_words(corpus, tokenizer, 10) == ["cucumber", "steeple"]  # ties alphabetical
    assert corpus_words(corpus, tokenizer, 1) == ["cucumber"]
    assert corpus_words(corpus.select([1, 2]), tokenizer, 10) == ["steeple"]
    assert corpus_words(corpus.select([1]), tokenizer, 10) == []
    config = load_config(TINY_CONFIG, ["--max_documents", "1", "--corpus_words", "5"])
    documents = training_documents(config, corpus)
    assert documents["id"] == ["a", "word-cucumber", "word-steeple"]
    assert documents["text"][1:] == ["cucumber", "steeple"]
    # counted over the first two documents only: "steeple" is seen twice there
    config = load_config(
        TINY_CONFIG, ["--max_documents", "1", "--corpus_words", "5", "--corpus_words_documents", "2"]
    )
    assert training_documents(config, corpus)["text"] == [texts[0], "cucumber"]
    with pytest.raises(TypeError, match=r"corpus texts\[0:\] row 1 is None"):
        corpus_words(datasets.Dataset.from_dict({"text": ["cucumber", None]}), tokenizer, 5)
    with pytest.raises(ValueError, match="corpus_words"):
        load_config(TINY_CONFIG, ["--corpus_words", "-1"])
    with pytest.raises(ValueError, match="corpus_words_documents"):
        load_config(TINY_CONFIG, ["--corpus_words", "5", "--corpus_streaming", "true"])
