"""What the Luxical model card says: a model's facts (vocabulary, n-grams, layers), the training recipe
read from its config, and the evaluation and speed tables. Pure functions over a model and mappings;
`luxical_st.card` renders them with the template."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer
from torch import nn

from luxical_st.artifacts import CARD_INPUTS_FILE, README_FILE, TRAINING_LOG_FILE, TRAINING_PLOT_FILE
from luxical_st.modules import PAD_TOKEN
from luxical_st.results import is_number

# The teacher a `teacher: null` config runs: the offline all-MiniLM-L6-v2 package, by its Hub name.
OFFLINE_TEACHER = "sentence-transformers/all-MiniLM-L6-v2"

LOSS_DESCRIPTIONS = {
    "gram_kl": "Gram-matrix KL divergence (Luxical): tau² · KL(softmax(G_teacher/tau) ‖ "
    "softmax(G_student/tau)) over in-batch similarity matrices without the diagonal",
    "mse": "mean squared error between student and teacher embeddings",
    "cosine": "cosine distance between student and teacher embeddings",
}


# ---------------------------------------------------------------------------- model facts


def luxical_facts(model: SentenceTransformer) -> dict[str, Any]:
    """Vocabulary, n-gram and layer facts of a Luxical model, whether its modules are luxical_st's or
    the remote-code copies a loaded model has (so classes are recognised by name, not identity)."""
    modules = list(model)
    first: Any = modules[0] if modules else None
    if type(first).__name__ != "NgramTfidf" or not hasattr(first, "ngrams"):
        raise ValueError(
            f"not a Luxical model: its first module is {type(first).__name__}, expected NgramTfidf"
        )
    sizes = [int(first.num_features)]
    has_bias = False
    sketch: Any = None
    for module in modules[1:]:
        embedding = getattr(module, "embedding", None)
        linear = getattr(module, "linear", None)
        if type(module).__name__ == "LexicalSketch":
            sketch = module
        elif isinstance(embedding, nn.EmbeddingBag):
            sizes.append(int(embedding.embedding_dim))
            has_bias |= getattr(module, "bias", None) is not None
        elif isinstance(linear, nn.Linear):
            sizes.append(int(linear.out_features))
            has_bias |= linear.bias is not None
    distilled = sizes[-1]
    output = distilled + int(sketch.dimensions) if sketch is not None else distilled
    lengths = (np.asarray(first.ngrams) != PAD_TOKEN).sum(axis=1)
    counts = np.bincount(lengths, minlength=int(first.max_ngram_length) + 1)
    return {
        "vocabulary_size": int(first.num_features),
        "tokenizer_vocab_size": int(first.tokenizer.get_vocab_size(with_added_tokens=True)),
        "max_ngram_length": int(first.max_ngram_length),
        "ngram_counts": [(n, int(count)) for n, count in enumerate(counts) if n > 0 and count > 0],
        "layer_sizes": [f"{size:,}" for size in sizes],
        "has_bias": has_bias,
        "num_parameters": sum(parameter.numel() for parameter in model.parameters()),
        "output_dimensionality": output,
        "distilled_dimensionality": distilled,
        "sketch_dimensionality": int(sketch.dimensions) if sketch is not None else None,
        "sketch_weight": float(sketch.weight) if sketch is not None else None,
        "sketch_sublinear_tf": bool(getattr(sketch, "sublinear_tf", False)),
    }


def training_log_values(folder: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Steps, final loss and curve plot of the training run that the pipeline saved with the model."""
    values: dict[str, Any] = {"training_steps": None, "final_loss": None, "training_curve": None}
    if folder is None:
        return values
    log_path = Path(folder) / TRAINING_LOG_FILE
    if log_path.is_file():
        log = read_json(log_path)
        losses = [entry["loss"] for entry in log.get("log_history", []) if "loss" in entry]
        values["training_steps"] = log.get("global_step")
        values["final_loss"] = losses[-1] if losses else None
    if (Path(folder) / TRAINING_PLOT_FILE).is_file():
        values["training_curve"] = TRAINING_PLOT_FILE
    return values


def folder_size_mib(folder: str | os.PathLike[str]) -> float:
    """MiB of the files a model loads from, without its card."""
    skip = {README_FILE, CARD_INPUTS_FILE}
    total = sum(
        path.stat().st_size for path in Path(folder).rglob("*") if path.is_file() and path.name not in skip
    )
    return total / 2**20


# ---------------------------------------------------------------------------- training recipe


def flatten_training_config(config: Any) -> dict[str, Any] | None:
    """A flat key -> value dict of a training config given as a mapping, a dataclass or None."""
    if config is None:
        return None
    if hasattr(config, "to_dict") and callable(config.to_dict):
        config = config.to_dict()
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"training_config must be a mapping or a dataclass, got {type(config).__name__}")
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            nested = flatten_training_config(value) or {}
            flat.update(nested)
        else:
            flat[str(key)] = value
    return flat


def training_recipe(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines describing teacher, targets, vocabulary, loss, optimiser and schedule; a line
    appears only when the config holds the keys it needs."""
    recipe: list[tuple[str, str]] = []

    def has(*keys: str) -> bool:
        return all(key in config for key in keys)

    if has("teacher"):
        recipe.append(("Teacher", f"`{config['teacher'] or OFFLINE_TEACHER}`"))
    if has("teacher_dimensions"):
        text = f"first {config['teacher_dimensions']} dimensions of the teacher embedding, L2-normalised"
        if has("quantization_limit"):
            text += (
                f", stored as uint8 over [-{config['quantization_limit']}, {config['quantization_limit']}]"
            )
        recipe.append(("Targets", text))
    if has("corpus"):
        text = f"`{config['corpus']}`"
        if config.get("max_documents"):
            text += f", {config['max_documents']:,} documents"
        recipe.append(("Training corpus", text))
    if has("vocabulary_capacity", "min_count_multiple", "max_vocabulary_size"):
        documents = config.get("vocabulary_documents")
        scope = f"{documents:,} documents" if documents else "the training corpus"
        recipe.append(
            (
                "N-gram vocabulary",
                f"Space-Saving summary with {config['vocabulary_capacity']:,} slots over {scope}; n-grams "
                f"counted at least {config['min_count_multiple']}× the summary minimum kept, at most "
                f"{config['max_vocabulary_size']:,}",
            )
        )
    if has("loss"):
        text = LOSS_DESCRIPTIONS.get(config["loss"], f"`{config['loss']}`")
        if config["loss"] == "gram_kl" and has("temperature"):
            text += f", tau = {config['temperature']}"
        recipe.append(("Loss", text))
    if has("learning_rate", "adam_beta1", "adam_beta2"):
        text = (
            f"AdamW, betas ({config['adam_beta1']}, {config['adam_beta2']}), "
            f"peak learning rate {config['learning_rate']}"
        )
        if has("weight_decay"):
            text += f", weight decay {config['weight_decay']}"
        recipe.append(("Optimizer", text))
    if has("warmup_ratio", "decay_ratio"):
        recipe.append(
            (
                "Schedule",
                f"warmup-stable-decay: linear warmup over {config['warmup_ratio']:.0%} of the steps, "
                f"constant, linear decay to 0 over the last {config['decay_ratio']:.0%}",
            )
        )
    if has("batch_size"):
        text = f"{config['batch_size']:,} documents per step"
        if config.get("max_steps", -1) not in (-1, None):
            text += f", {config['max_steps']:,} steps"
        elif has("num_train_epochs"):
            text += f", {config['num_train_epochs']} epochs"
        recipe.append(("Batches", text))
    return recipe


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


# ---------------------------------------------------------------------------- evaluation and speed


def read_json(path: str | os.PathLike[str]) -> Any:
    """Load a JSON file, naming it when it is missing or malformed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable JSON file: {error}") from error


def check_speed(speed: Any) -> dict[str, float]:
    if not isinstance(speed, Mapping):
        raise TypeError(f"speed must map a setting to documents per second, got {type(speed).__name__}")
    for name, value in speed.items():
        if not is_number(value) or not value > 0:
            raise ValueError(f"speed of {name!r} must be a positive number of documents/s, got {value!r}")
    return {str(name): float(value) for name, value in speed.items()}


def speed_table(speed: Mapping[str, float]) -> str | None:
    """Markdown table of documents per second measured outside evaluate.py, by setting."""
    if not speed:
        return None
    lines = ["| Setting | Documents / s |", "|:--|--:|"]
    return "\n".join(lines + [f"| {name} | {value:,.0f} |" for name, value in speed.items()])


def speed_note(evaluation_results: Mapping[str, Any] | None) -> str | None:
    """How evaluate.py measured the docs/s and MiB/s columns of its table."""
    measured = (evaluation_results or {}).get("speed") or {}
    if not measured:
        return None
    entry = next(iter(measured.values()))
    scope = "the same documents"
    if is_number(entry.get("n_docs")) and is_number(entry.get("mib")):
        scope = f"the same {entry['n_docs']:,} documents ({entry['mib']:.1f} MiB)"
    return (
        f"The documents/s and MiB/s in the evaluation table were measured by evaluate.py in one run over "
        f"{scope}, tokenization included; `x first` is the speed relative to the first model."
    )
