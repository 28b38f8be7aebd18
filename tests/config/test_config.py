"""Config parsing: every shipped config validates, and bad keys or values fail naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from luxical_st.config import PipelineConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_every_shipped_config_reads_every_key(path: Path) -> None:
    config = load_config(path)
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    parsed = config.to_dict()
    for key, value in values.items():
        assert parsed[key] == value, key


def test_luxical_one_is_the_published_recipe() -> None:
    config = load_config(ROOT / "configs" / "luxical-one.yaml")
    assert config.teacher.teacher == "Snowflake/snowflake-arctic-embed-m-v2.0"
    assert (config.teacher.teacher_dimensions, config.teacher.quantization_limit) == (256, 0.3)
    assert config.vocabulary.vocabulary_documents == 5_000_000
    assert config.vocabulary.vocabulary_capacity == 200_000_000
    assert config.vocabulary.max_vocabulary_size == 2_000_000
    assert config.model.layer_sizes == [96, 3072, 3072, 192]
    training = config.training
    assert (training.loss, training.temperature, training.batch_size) == ("gram_kl", 3.0, 3072)
    assert (training.learning_rate, training.adam_beta1, training.adam_beta2) == (1e-2, 0.9, 0.9)
    assert (training.warmup_ratio, training.decay_ratio, training.num_train_epochs) == (0.05, 0.10, 3.0)


def test_command_line_overrides_the_file() -> None:
    config = load_config(
        ROOT / "configs" / "quickstart.yaml",
        [
            "--num_train_epochs",
            "1",
            "--layer_sizes",
            "8",
            "16",
            "--output_dir=/tmp/x",
            "--streaming",
            "true",
            "--max_steps",
            "5",
            "--pooled_documents",  # pooling reads the targets in memory, so streaming turns it off
            "0",
        ],
    )
    assert config.training.num_train_epochs == 1.0
    assert config.model.layer_sizes == [8, 16]
    assert config.output.output_dir == "/tmp/x"
    assert config.training.streaming and config.training.max_steps == 5


def test_defaults_without_a_file() -> None:
    assert load_config() == PipelineConfig()


def test_null_is_kept_for_optional_keys(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "save_total_limit: null\nteacher: null\n"))
    assert config.training.save_total_limit is None and config.teacher.teacher is None
    assert (
        load_config(
            write_config(tmp_path, "save_total_limit: null\n"), ["--save_total_limit", "3"]
        ).training.save_total_limit
        == 3
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("batch_sise: 128\n", "unknown config key 'batch_sise' \\(did you mean 'batch_size'\\?\\)"),
        ("batch_size: many\n", "--batch_size.*invalid int value: 'many'"),
        ("batch_size: 12.5\n", "--batch_size.*invalid int value"),
        ("batch_size: -8\n", "'batch_size' must be positive"),
        ("vocabulary_capacity: 0\n", "'vocabulary_capacity' must be positive"),
        ("loss: triplet\n", "--loss: invalid choice: 'triplet'"),
        ("learning_rate: fast\n", "--learning_rate.*invalid float value"),
        ("layer_sizes: [96, -3]\n", "'layer_sizes' must all be positive"),
        ("layer_sizes: 96\n", "'layer_sizes' takes a list"),
        ("batch_size: [1, 2]\n", "'batch_size' takes a single value"),
        ("batch_size: null\n", "'batch_size' cannot be null"),
        ("warmup_ratio: 0.95\n", "'warmup_ratio' plus decay_ratio must be at most 1"),
        ("streaming: true\n", "'max_steps' must be set when streaming"),
        ("table_learning_rate: 0\n", "'table_learning_rate' must be positive"),
        ("gram_kl_weight: 0.5\n", "'gram_kl_weight' only adds to the mse and cosine losses"),
        ("loss: cosine\ngram_kl_weight: -1\n", "'gram_kl_weight' must not be negative"),
        ("corpus_streaming: maybe\n", "--corpus_streaming.*Truthy value expected: got maybe"),
        ("model:\n  layer_sizes: [1]\n", "unknown config key 'model'"),
        ("- a\n- b\n", "must be a mapping"),
        ("temperature: .inf\n", "'temperature' must be finite, got inf"),
        ("learning_rate: .inf\n", "'learning_rate' must be finite"),
        ("adam_beta2: .nan\n", "'adam_beta2' must be finite"),
        ("quantization_limit: -.inf\n", "'quantization_limit' must be finite"),
        ("table_learning_rate: .inf\n", "'table_learning_rate' must be finite"),
        ("corpus: [quickstart\n", "is not a readable YAML config"),
        ("validation: holdout\n", r"'validation' must be one of \('suite',\)"),
        (
            "teacher_backend: onnx\n",
            r"'teacher_backend' must be one of \('torch', 'openvino', 'openvino-int8'\)",
        ),
        ("teacher_backend: openvino\nteacher_device: cuda\n", "'teacher_backend' runs on the CPU"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(write_config(tmp_path, text))


def test_bad_command_line_values() -> None:
    with pytest.raises(ValueError, match=r"--num_train_epochs.*invalid float"):
        load_config(None, ["--num_train_epochs", "lots"])
    with pytest.raises(ValueError, match="unknown command-line arguments: --epochs 3"):
        load_config(None, ["--epochs", "3"])
    for value in ("inf", "nan", "-inf"):
        with pytest.raises(ValueError, match="'learning_rate' must be finite"):
            load_config(None, [f"--learning_rate={value}"])


@pytest.mark.slow
def test_train_py_fails_at_once_on_a_bad_config(tmp_path: Path) -> None:
    bad = write_config(tmp_path, "loss: triplet\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--loss: invalid choice: 'triplet'" in result.stderr


def test_pooled_documents_and_lexical_weight_are_checked() -> None:
    with pytest.raises(ValueError, match="pooled_documents"):
        load_config(None, ["--pooled_documents", "1"])
    with pytest.raises(ValueError, match="pooled_documents"):
        load_config(None, ["--pooled_documents", "4", "--streaming", "true", "--max_steps", "5"])
    with pytest.raises(ValueError, match="lexical_kl_weight"):
        load_config(None, ["--lexical_kl_weight", "-1"])
    assert load_config(None, ["--pooled_documents", "8"]).training.pooled_documents == 8


def test_training_section_is_the_trainers_arguments(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformerTrainingArguments

    config = load_config(None, ["--table_learning_rate", "0.003", "--batch_size", "64", "--seed", "7"])
    training = config.training
    assert isinstance(training, SentenceTransformerTrainingArguments)
    assert (training.per_device_train_batch_size, training.data_seed, training.warmup_ratio) == (64, 7, 0.05)
    assert list(training.learning_rate_mapping.values()) == [0.003]
    assert training.optim == "adamw_torch_fused" and training.dataloader_drop_last
    # The trainer's other arguments are not config keys.
    assert "fp16" not in config.to_dict() and "per_device_train_batch_size" not in config.to_dict()
    with pytest.raises(ValueError, match="unknown config key 'fp16'"):
        load_config(write_config(tmp_path, "fp16: true\n"))
    with pytest.raises(ValueError, match="unknown command-line arguments: --fp16 true"):
        load_config(None, ["--fp16", "true"])
