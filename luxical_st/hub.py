"""The model card of a Luxical model and its upload to the Hugging Face Hub.

`LuxicalModelCardData` is a `SentenceTransformerModelCardData` that renders `model_card_template.md`
with the facts of a Luxical model (vocabulary, n-gram range, layer sizes, parameters, size on disk),
its teacher and training recipe, evaluation and speed tables, limitations and the Luxical citation.
Attach it to a model (`attach_model_card`) and `model.save()` writes that card as README.md, the way
sentence-transformers writes its own; `write_model_card` (re)writes the card of any saved Luxical model
folder, and `push_to_hub` uploads a folder, card and remote code included, to a Hub repo.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import CommitInfo, HfApi
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.model_card import generate_model_card
from sentence_transformers.sentence_transformer.model_card import SentenceTransformerModelCardData
from torch import nn

from luxical_st.modules import PAD_TOKEN
from luxical_st.pipeline import CONFIG_FILE as PIPELINE_CONFIG_FILE
from luxical_st.training.trainer import LOG_FILE as TRAINING_LOG_FILE
from luxical_st.training.trainer import PLOT_FILE as TRAINING_PLOT_FILE

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "model_card_template.md"
README_FILE = "README.md"
# The inputs of the last rendered card, so a later render (after evaluation, before a push) keeps them.
CARD_INPUTS_FILE = "luxical_card.json"
CARD_INPUTS_VERSION = 1
# Written by `luxical_st.convert` next to a converted reference model.
CONVERSION_FILE = "luxical_conversion.json"
# What the pipeline's `teacher: null` means.
DEFAULT_TEACHER = "sentence-transformers/all-MiniLM-L6-v2"

LUXICAL_CITATION = """\
@misc{datologyai2025luxical,
  title         = {Luxical: High-Speed Lexical-Dense Text Embeddings},
  author        = {{DatologyAI} and Luke Merrick and Alex Fang and Aldo Carranza and others},
  year          = {2025},
  eprint        = {2512.09015},
  archivePrefix = {arXiv},
  primaryClass  = {cs.CL},
  url           = {https://arxiv.org/abs/2512.09015},
}"""

_LOSS_NAMES = {
    "gram_kl": "Gram-matrix KL divergence (Luxical): tau² · KL(softmax(G_teacher/tau) ‖ "
    "softmax(G_student/tau)) over in-batch similarity matrices without the diagonal",
    "mse": "mean squared error between student and teacher embeddings",
    "cosine": "cosine distance between student and teacher embeddings",
}


@dataclass
class LuxicalModelCardData(SentenceTransformerModelCardData):
    """Model card data of a Luxical model.

    Args:
        training_config: the training configuration, a flat mapping of config keys (the layout of
            `PipelineConfig.to_dict()`), a nested mapping or a dataclass (a `PipelineConfig` included).
        evaluation_results: evaluate.py's results.json (the `luxical_st.evaluation.report` layout), parsed
            or as its path; rendered with evaluate.py's own Markdown table.
        speed: documents per second, by setting (e.g. {"this model, 2 CPU cores": 840.0}).
        converted_from: the reference Luxical model this one was converted from.
        Other arguments as for `SentenceTransformerModelCardData`.
    """

    language: str | list[str] | None = field(default_factory=lambda: ["en"])
    license: str | None = "apache-2.0"
    task_name: str = "document similarity, clustering, classification and deduplication of English text"
    tags: list[str] = field(
        default_factory=lambda: [
            "sentence-transformers",
            "sentence-similarity",
            "feature-extraction",
            "dense",
            "luxical",
            "lexical-dense",
            "custom_code",
        ]
    )
    training_config: Any = None
    evaluation_results: Any = None
    speed: Mapping[str, float] | None = None
    converted_from: str | None = None

    template_path: Path = field(default=TEMPLATE_PATH, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.training_config = flatten_training_config(self.training_config)
        if isinstance(self.evaluation_results, (str, os.PathLike)):
            self.evaluation_results = read_json(self.evaluation_results)
        if self.evaluation_results is not None:
            self.evaluation_results = check_evaluation_results(self.evaluation_results)
        if self.speed is not None:
            self.speed = _check_speed(self.speed)

    def get_default_model_name(self) -> str:
        if self.model is None:
            return "Luxical model"
        facts = luxical_facts(self.model)
        return (
            f"Luxical {facts['output_dimensionality']}-d lexical-dense embeddings "
            f"({facts['vocabulary_size']:,} n-grams)"
        )

    def generate_usage_snippet(self) -> str:
        """sentence-transformers' snippet with `trust_remote_code=True`: the modules are remote code."""
        snippet = super().generate_usage_snippet()
        return snippet.replace('")\n# Run inference', '", trust_remote_code=True)\n# Run inference', 1)

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        if self.model is None:
            raise ValueError("LuxicalModelCardData renders only once attached to a model (attach_model_card)")
        facts = luxical_facts(self.model)
        facts["output_dimensionality"] = values.get("output_dimensionality", facts["output_dimensionality"])
        values.update(facts)
        values["file_size_mib"] = _folder_size_mib(self.save_dir) if self.save_dir else None
        values.update(_training_log_values(self.save_dir))
        values.update(self._training_values())
        results = self.evaluation_results
        values["evaluation_table"] = evaluation_table(results) if results else None
        values["evaluation_command"] = results.get("command") if results else None
        values["speed_table"] = speed_table(self.speed or {})
        values["speed_note"] = speed_note(results)
        values["luxical_citation"] = LUXICAL_CITATION
        return values

    def _training_values(self) -> dict[str, Any]:
        config = self.training_config or {}
        teacher = (config["teacher"] or DEFAULT_TEACHER) if "teacher" in config else None
        is_hub_id = teacher is not None and teacher.count("/") == 1 and not Path(teacher).exists()
        return {
            "teacher": teacher,
            "teacher_url": f"https://huggingface.co/{teacher}" if is_hub_id else None,
            "recipe": training_recipe(config),
            "config_items": [(name, _format_value(value)) for name, value in sorted(config.items())],
        }


def attach_model_card(model: SentenceTransformer, **card_data: Any) -> LuxicalModelCardData:
    """Give `model` a `LuxicalModelCardData`, so that `model.save()` (and the trainer) write the Luxical card.

    Keyword arguments go to `LuxicalModelCardData`.
    """
    luxical_facts(model)  # a clear error for a model that is not a Luxical model
    card = LuxicalModelCardData(**card_data)
    model.model_card_data = card
    card.register_model(model)
    return card


def write_model_card(
    model_dir: str | os.PathLike[str],
    *,
    training_config: Any = None,
    evaluation_results: Any = None,
    speed: Mapping[str, float] | None = None,
    model_id: str | None = None,
    model: SentenceTransformer | None = None,
    **card_data: Any,
) -> Path:
    """(Re)write README.md of a saved Luxical model folder; returns its path.

    Inputs not given are taken from the folder: those of the previous card (luxical_card.json), the
    pipeline's config (pipeline_config.json) and a conversion record (luxical_conversion.json); the
    pipeline's training log and curve (training_log.json, training_curve.png) are shown when present.
    Pass `model` (the folder's model, already in memory) to skip loading it; it gets the new card data.
    """
    folder = _check_model_dir(model_dir)
    stored = _read_card_inputs(folder)
    inputs = {
        "training_config": training_config,
        "evaluation_results": evaluation_results,
        "speed": speed,
        "model_id": model_id,
        **card_data,
    }
    inputs = {**stored, **{key: value for key, value in inputs.items() if value is not None}}
    if "training_config" not in inputs and (folder / PIPELINE_CONFIG_FILE).is_file():
        inputs["training_config"] = read_json(folder / PIPELINE_CONFIG_FILE)
    if "converted_from" not in inputs and (folder / CONVERSION_FILE).is_file():
        inputs["converted_from"] = read_json(folder / CONVERSION_FILE).get("converted_from")
    if isinstance(inputs.get("evaluation_results"), (str, os.PathLike)):
        inputs["evaluation_results"] = read_json(inputs["evaluation_results"])

    if model is None:
        model = SentenceTransformer(str(folder), trust_remote_code=True, device="cpu")
    card = attach_model_card(model, **inputs)
    card.save_dir = str(folder)
    readme = folder / README_FILE
    readme.write_text(generate_model_card(model), encoding="utf-8")
    stored_inputs = {key: value for key, value in inputs.items() if _is_json(value)}
    stored_inputs["training_config"] = card.training_config
    (folder / CARD_INPUTS_FILE).write_text(
        json.dumps({"format_version": CARD_INPUTS_VERSION, **stored_inputs}, indent=2), encoding="utf-8"
    )
    return readme


def push_to_hub(
    model_dir: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    create_pr: bool = False,
    api: Any = None,
    **card_inputs: Any,
) -> CommitInfo:
    """Upload a saved Luxical model folder to the Hub repo `repo_id` ("org/name"), creating it if needed.

    The card in `model_dir/README.md` is rewritten first so that it names `repo_id`
    (`card_inputs` go to `write_model_card`); the upload carries the model's remote-code .py files, so
    `SentenceTransformer(repo_id, trust_remote_code=True)` works without luxical_st installed.

    Args:
        private: create the repo as private (an existing repo keeps its visibility).
        revision: branch to commit to; created from main if it does not exist.
        create_pr: open a pull request against main instead of committing to it.
        api: a `huggingface_hub.HfApi`-like client; `HfApi(token=token)` by default.

    Returns:
        the `CommitInfo` of the upload (a str: the commit URL; `.pr_url` when `create_pr`).
    """
    folder = _check_model_dir(model_dir)
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"repo_id must look like 'organization/name', got {repo_id!r}")
    if create_pr and revision not in (None, "main"):
        raise ValueError(
            f"create_pr opens a pull request against main; it cannot go with revision={revision!r}"
        )
    write_model_card(folder, model_id=repo_id, **card_inputs)  # before touching the Hub: it may fail
    client = api if api is not None else HfApi(token=token)
    client.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
    if revision is not None:
        client.create_branch(repo_id=repo_id, branch=revision, exist_ok=True, repo_type="model")
    return client.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        revision=revision,
        commit_message=commit_message or f"Upload Luxical model {folder.name}",
        create_pr=create_pr,
        ignore_patterns=["*.pyc"],
    )


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
    for module in modules[1:]:
        embedding = getattr(module, "embedding", None)
        linear = getattr(module, "linear", None)
        if isinstance(embedding, nn.EmbeddingBag):
            sizes.append(int(embedding.embedding_dim))
            has_bias |= getattr(module, "bias", None) is not None
        elif isinstance(linear, nn.Linear):
            sizes.append(int(linear.out_features))
            has_bias |= linear.bias is not None
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
        "output_dimensionality": sizes[-1],
    }


def _training_log_values(folder: str | os.PathLike[str] | None) -> dict[str, Any]:
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


def _folder_size_mib(folder: str | os.PathLike[str]) -> float:
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
        recipe.append(("Teacher", f"`{config['teacher'] or DEFAULT_TEACHER}`"))
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
        text = _LOSS_NAMES.get(config["loss"], f"`{config['loss']}`")
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


def _format_value(value: Any) -> str:
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


def check_evaluation_results(results: Any) -> dict[str, Any]:
    """evaluate.py's results (`luxical_st.evaluation.report` layout), checked where the card reads them:
    {"models": {name: {"path", "facts"}}, "mteb": {name: {task: {"main_score", "metric"}}} | None,
    "edu": ... | None, "speed": {name: {"docs_per_s", "mib_per_s", "ratio", ...}} | None}."""
    if not isinstance(results, Mapping):
        raise ValueError(f"evaluation results must be a JSON object, got {type(results).__name__}")
    if not isinstance(results.get("models"), Mapping) or not results["models"]:
        raise ValueError("evaluation results need a non-empty 'models' object (evaluate.py's results.json)")
    for name, scores in (results.get("mteb") or {}).items():
        for task, score in scores.items():
            if not isinstance(score, Mapping) or not _is_number(score.get("main_score")):
                raise ValueError(
                    f"evaluation results: mteb score of {name!r} on {task!r} has no numeric main_score"
                )
            if "metric" not in score:
                raise ValueError(f"evaluation results: mteb score of {name!r} on {task!r} has no metric")
    for name, entry in (results.get("speed") or {}).items():
        if not isinstance(entry, Mapping) or not all(
            _is_number(entry.get(key)) for key in ("docs_per_s", "mib_per_s", "ratio")
        ):
            raise ValueError(f"evaluation results: speed of {name!r} needs docs_per_s, mib_per_s and ratio")
    return dict(results)


def evaluation_table(results: Mapping[str, Any]) -> str:
    """evaluate.py's own Markdown table: rows = models; task scores, average, edu AUCs, speed."""
    from luxical_st.evaluation.report import markdown_table

    return markdown_table(dict(results)).strip()


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_speed(speed: Any) -> dict[str, float]:
    if not isinstance(speed, Mapping):
        raise TypeError(f"speed must map a setting to documents per second, got {type(speed).__name__}")
    for name, value in speed.items():
        if not _is_number(value) or not value > 0:
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
    if _is_number(entry.get("n_docs")) and _is_number(entry.get("mib")):
        scope = f"the same {entry['n_docs']:,} documents ({entry['mib']:.1f} MiB)"
    return (
        f"The documents/s and MiB/s in the evaluation table were measured by evaluate.py in one run over "
        f"{scope}, tokenization included; `x first` is the speed relative to the first model."
    )


# ---------------------------------------------------------------------------- folders


def _check_model_dir(model_dir: str | os.PathLike[str]) -> Path:
    if not isinstance(model_dir, (str, os.PathLike)):
        raise TypeError(f"model_dir must be a path, got {type(model_dir).__name__}")
    folder = Path(model_dir)
    if not (folder / "modules.json").is_file():
        raise ValueError(f"{folder} is not a saved sentence-transformers model folder (no modules.json)")
    return folder


def _read_card_inputs(folder: Path) -> dict[str, Any]:
    path = folder / CARD_INPUTS_FILE
    if not path.is_file():
        return {}
    stored = read_json(path)
    if not isinstance(stored, dict) or stored.pop("format_version", None) != CARD_INPUTS_VERSION:
        raise ValueError(f"{path} is not a card inputs file of format version {CARD_INPUTS_VERSION}")
    return {key: value for key, value in stored.items() if value is not None}


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
