"""Training stops cleanly: a non-finite loss before the weights take it in, an interrupted checkpoint
skipped on resume, too few documents named; train.py failures are one line and leave no state file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from torch import nn

from luxical_st.cli import train
from luxical_st.config import TrainConfig
from luxical_st.model import build_model
from luxical_st.training.loss import build_loss
from luxical_st.training.trainer import (
    NonFiniteLossError,
    as_training_dataset,
    last_complete_checkpoint,
    train_model,
)
from tests.conftest import exact_ngram_vocabulary

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.yaml")


@pytest.fixture(scope="module")
def vocabulary(tokenizer, tweet_texts):
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts[:200], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    return ngrams, (np.log(counts.sum()) - np.log(counts)).astype(np.float32)


def student(tokenizer, vocabulary):
    return build_model(tokenizer, *vocabulary, layer_sizes=(16, 8), seed=0)


def targets(texts: list[str], dim: int = 8) -> datasets.Dataset:
    rows = np.random.default_rng(0).normal(size=(len(texts), dim)).astype(np.float32)
    return datasets.Dataset.from_dict({"text": texts, "embedding": rows.tolist()})


def config(**values) -> TrainConfig:
    defaults = {"batch_size": 16, "max_steps": 4, "save_steps": 2, "logging_steps": 1, "train_device": "cpu"}
    return TrainConfig(**{**defaults, **values})


def run(model, texts, train_config, checkpoints, loss=None):
    loss = loss or build_loss("gram_kl", model, teacher_dim=8)
    return train_model(
        model, as_training_dataset(targets(texts), train_config), loss, train_config, checkpoints
    )


class NanFromStep(nn.Module):
    """The real loss, turned NaN from the `step`-th call on (a diverging run)."""

    def __init__(self, loss: nn.Module, step: int) -> None:
        super().__init__()
        self.loss, self.step, self.calls = loss, step, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        value = self.loss(*args, **kwargs)
        return value * float("nan") if self.calls >= self.step else value


def test_non_finite_loss_stops_before_the_weights_take_it_in(tokenizer, vocabulary, tweet_texts, tmp_path):
    model = student(tokenizer, vocabulary)
    loss = NanFromStep(build_loss("gram_kl", model, teacher_dim=8), step=3)
    with pytest.raises(
        NonFiniteLossError, match="training stopped at step 3: the loss or its gradient is not finite"
    ):
        run(model, tweet_texts[:64], config(save_steps=100), tmp_path / "checkpoints", loss)
    assert all(torch.isfinite(parameter).all() for parameter in model.parameters())


def test_resume_skips_an_interrupted_last_checkpoint(tokenizer, vocabulary, tweet_texts, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    run(student(tokenizer, vocabulary), tweet_texts[:64], config(), checkpoints)
    assert last_complete_checkpoint(checkpoints) == str(checkpoints / "checkpoint-4")
    # A kill while checkpoint-6 was written: model files there, trainer_state.json not yet.
    shutil.copytree(checkpoints / "checkpoint-4", checkpoints / "checkpoint-6")
    (checkpoints / "checkpoint-6" / "trainer_state.json").unlink()
    assert last_complete_checkpoint(checkpoints) == str(checkpoints / "checkpoint-4")
    assert not (checkpoints / "checkpoint-6").exists()
    shutil.copytree(checkpoints / "checkpoint-4", checkpoints / "checkpoint-6")
    (checkpoints / "checkpoint-6" / "trainer_state.json").write_text(
        '{"global_step": 6, "log_hi'
    )  # cut short
    result = run(student(tokenizer, vocabulary), tweet_texts[:64], config(max_steps=8), checkpoints)
    assert result["global_step"] == 8
    assert json.loads((checkpoints / "checkpoint-8" / "trainer_state.json").read_text())["global_step"] == 8


def test_fewer_documents_than_one_batch_are_named(tokenizer, vocabulary, tweet_texts, tmp_path):
    with pytest.raises(ValueError, match=r"10 training documents are fewer than one batch \(batch_size=16"):
        run(student(tokenizer, vocabulary), tweet_texts[:10], config(max_steps=-1), tmp_path / "checkpoints")


def _corpus(tmp_path: Path, kind: str) -> Path:
    if kind == "empty.jsonl":
        path = tmp_path / "empty.jsonl"
        path.write_text("")
    elif kind == "empty.csv":
        path = tmp_path / "empty.csv"
        path.write_text("")
    elif kind == "latin-1.csv":
        path = tmp_path / "latin-1.csv"
        path.write_bytes("text,id\ncaf\xe9 cr\xe8me,1\n".encode("latin-1"))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "empty.parquet"
        pq.write_table(pa.table({"text": pa.array([], pa.string()), "id": pa.array([], pa.string())}), path)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty.jsonl", "empty.jsonl: it holds no documents"),
        ("empty.csv", "empty.csv: it holds no documents"),
        ("empty.parquet", "empty.parquet: it holds no documents"),
        ("latin-1.csv", "latin-1.csv is not UTF-8 text: UnicodeDecodeError"),
    ],
)
def test_bad_corpus_is_one_line_and_leaves_no_state_file(tmp_path, capsys, kind, message):
    corpus = _corpus(tmp_path, kind)
    output_dir = tmp_path / "run"
    assert train(["--config", TINY, "--corpus", str(corpus), "--output_dir", str(output_dir)]) == 1
    error = capsys.readouterr().err
    ours = [line for line in error.splitlines() if line.startswith("luxical-train:")]  # besides progress bars
    assert len(ours) == 1 and ours[0].startswith("luxical-train: corpus") and message in ours[0]
    assert "Traceback" not in error
    assert not output_dir.exists()


def test_state_file_of_an_earlier_run_is_kept(tmp_path, capsys):
    output_dir = tmp_path / "run"
    output_dir.mkdir()
    (output_dir / "pipeline_state.json").write_text("{}")
    corpus = _corpus(tmp_path, "empty.jsonl")
    assert train(["--config", TINY, "--corpus", str(corpus), "--output_dir", str(output_dir)]) == 1
    assert (output_dir / "pipeline_state.json").is_file()


@pytest.mark.parametrize(
    ("text", "message"),
    [("corpus: [quickstart\n", "is not a readable YAML config: while parsing"), ("a: b: c\n", "YAML config")],
)
def test_invalid_yaml_is_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert train(["--config", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and str(path) in error and len(error.splitlines()) == 1
