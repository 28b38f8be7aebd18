"""The model card of a Luxical model.

`LuxicalModelCardData` is a `SentenceTransformerModelCardData` that renders `model_card_template.md`
with the facts of a Luxical model (vocabulary, n-gram range, layer sizes, parameters, size on disk),
its teacher and training recipe, evaluation and speed tables, limitations and the Luxical citation.
`build_model` gives every Luxical model one, so `model.save()` (and the trainer, and
`SentenceTransformer.push_to_hub`) write the Luxical card, the way sentence-transformers writes its own;
`write_model_card` (re)writes the card of any saved Luxical model folder.

The template has one source, the top-level `model_card_template.md`: a wheel carries a copy inside
the package (setup.py's build hook), a source checkout reads it where it is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer
from sentence_transformers.base.model_card import generate_model_card
from sentence_transformers.sentence_transformer.model_card import SentenceTransformerModelCardData

from luxical_st.artifacts import (
    CARD_INPUTS_FILE,
    CONVERSION_FILE,
    PIPELINE_CONFIG_FILE,
    README_FILE,
)
from luxical_st.card_content import (
    OFFLINE_TEACHER,
    check_speed,
    flatten_training_config,
    folder_size_mib,
    format_value,
    luxical_facts,
    read_json,
    speed_note,
    speed_table,
    training_log_values,
    training_recipe,
)
from luxical_st.results import check_evaluation_results, markdown_table

TEMPLATE_NAME = "model_card_template.md"
CARD_INPUTS_VERSION = 1
# Usage examples taken from training documents: this many passages, each of at least MIN_EXAMPLE_WORDS
# words (passages of long documents, not one-line quotes or tweets), cut to MAX_EXAMPLE_CHARS.
NUM_EXAMPLES = 4
MIN_EXAMPLE_WORDS = 50
MAX_EXAMPLE_CHARS = 600
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s)")

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


def template_path() -> Path:
    """The card template: the copy a wheel ships inside the package, else the checkout's top-level file."""
    package = Path(__file__).resolve().parent
    for candidate in (package / TEMPLATE_NAME, package.parent / TEMPLATE_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{TEMPLATE_NAME} is neither in {package} nor in {package.parent}: this luxical-st install is "
        "incomplete; reinstall it from a wheel or a source checkout"
    )


def _passage(text: str) -> str:
    """`text` (whitespace collapsed) cut to MAX_EXAMPLE_CHARS: at its last sentence end in the second
    half of that span, else at a word boundary with " ..." appended."""
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    span = text[: MAX_EXAMPLE_CHARS + 1]
    ends = [match.end() for match in _SENTENCE_END.finditer(span) if match.end() >= MAX_EXAMPLE_CHARS // 2]
    if ends:
        return span[: ends[-1]]
    return span[:MAX_EXAMPLE_CHARS].rsplit(" ", 1)[0] + " ..."


def document_examples(texts: Iterable[str], count: int = NUM_EXAMPLES) -> list[str]:
    """Up to `count` passages of real documents for the card's usage snippet and widget: distinct texts of
    at least MIN_EXAMPLE_WORDS words (words, fragments, quotes and short posts are skipped), taken evenly
    spaced over the given texts so they come from different parts of a shuffled blend, each cut to
    MAX_EXAMPLE_CHARS at a sentence end where one is near."""
    seen: set[str] = set()
    candidates = []
    for text in texts:
        if not isinstance(text, str):
            continue
        words = text.split()
        key = " ".join(words)
        if len(words) < MIN_EXAMPLE_WORDS or key in seen:
            continue
        seen.add(key)
        candidates.append(_passage(key))
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / count
    return [candidates[int(i * step)] for i in range(count)]


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
        examples: texts for the usage snippet and the Hub widget (e.g. `document_examples` of the
            training documents); sentence-transformers' own sample sentences otherwise.
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
    examples: list[str] | None = None

    template_path: Path = field(default_factory=template_path, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_inputs()

    def _check_inputs(self) -> None:
        self.training_config = flatten_training_config(self.training_config)
        if isinstance(self.evaluation_results, (str, os.PathLike)):
            self.evaluation_results = read_json(self.evaluation_results)
        if self.evaluation_results is not None:
            self.evaluation_results = check_evaluation_results(self.evaluation_results)
        if self.speed is not None:
            self.speed = check_speed(self.speed)
        if self.examples is not None:
            if not all(isinstance(text, str) and text for text in self.examples) or len(self.examples) < 2:
                raise ValueError(f"examples must be at least two non-empty texts, got {self.examples!r}")
            self.examples = list(self.examples)
            self.usage_examples = self.examples
            # One widget entry (the trainer keeps a widget that is already set).
            widget: dict[str, Any] = {"source_sentence": self.examples[0], "sentences": self.examples[1:]}
            self.widget = [widget]

    def update(self, **inputs: Any) -> None:
        """Set card inputs (the `__init__` arguments) on a card that is already attached to a model."""
        for key, value in inputs.items():
            if not hasattr(self, key):
                raise TypeError(f"LuxicalModelCardData has no input {key!r}")
            setattr(self, key, value)
        if inputs.get("model_id") is not None:
            self.set_model_id(inputs["model_id"])
        self._check_inputs()

    def get_default_model_name(self) -> str:
        """The title, from the model itself: its output width (a lexical sketch included) and vocabulary."""
        if self.model is None:
            return "Luxical model"
        facts = luxical_facts(self.model)
        name = (
            f"Luxical {facts['output_dimensionality']}-d lexical-dense embeddings "
            f"({facts['vocabulary_size']:,} n-grams)"
        )
        self.__dict__["_default_model_name"] = name  # not a field: never card metadata
        return name

    def generate_usage_snippet(self) -> str:
        """sentence-transformers' snippet with `trust_remote_code=True`: the modules are remote code."""
        snippet = super().generate_usage_snippet()
        return snippet.replace('")\n# Run inference', '", trust_remote_code=True)\n# Run inference', 1)

    def to_dict(self) -> dict[str, Any]:
        if self.model_name is not None and self.model_name == self.__dict__.get("_default_model_name"):
            self.model_name = None  # a title this card made earlier is made again, from the model as it is
        values = super().to_dict()
        if self.model is None:
            raise ValueError("LuxicalModelCardData renders only once attached to a model (attach_model_card)")
        facts = luxical_facts(self.model)
        values.update(facts)  # every fact read from the model as it is now, not as the card first saw it
        values["file_size_mib"] = folder_size_mib(self.save_dir) if self.save_dir else None
        values.update(training_log_values(self.save_dir))
        values.update(self._training_values())
        results = self.evaluation_results
        values["evaluation_table"] = markdown_table(dict(results)).strip() if results else None
        values["evaluation_command"] = results.get("command") if results else None
        values["speed_table"] = speed_table(self.speed or {})
        values["speed_note"] = speed_note(results)
        values["luxical_citation"] = LUXICAL_CITATION
        values.pop("examples", None)  # shown as the usage snippet and widget, not as metadata
        return values

    def _training_values(self) -> dict[str, Any]:
        config = self.training_config or {}
        teacher = (config["teacher"] or OFFLINE_TEACHER) if "teacher" in config else None
        is_hub_id = teacher is not None and teacher.count("/") == 1 and not Path(teacher).exists()
        return {
            "teacher": teacher,
            "teacher_url": f"https://huggingface.co/{teacher}" if is_hub_id else None,
            "recipe": training_recipe(config),
            "config_items": [(name, format_value(value)) for name, value in sorted(config.items())],
        }


def attach_model_card(model: SentenceTransformer, **card_data: Any) -> LuxicalModelCardData:
    """Give `model` a new `LuxicalModelCardData`, so that `model.save()` (and the trainer) write the
    Luxical card. Keyword arguments go to `LuxicalModelCardData`."""
    luxical_facts(model)  # a clear error for a model that is not a Luxical model
    card = LuxicalModelCardData(**card_data)
    model.model_card_data = card
    card.register_model(model)
    return card


def luxical_card(model: SentenceTransformer, **card_data: Any) -> LuxicalModelCardData:
    """The model's `LuxicalModelCardData`, updated with `card_data`; a new one if it has none yet."""
    card = model.model_card_data
    if isinstance(card, LuxicalModelCardData):
        card.update(**card_data)
        return card
    return attach_model_card(model, **card_data)


def write_model_card(
    model_dir: str | os.PathLike[str],
    *,
    training_config: Any = None,
    evaluation_results: Any = None,
    speed: Mapping[str, float] | None = None,
    model_id: str | None = None,
    model: SentenceTransformer | None = None,
    trust_remote_code: bool = False,
    **card_data: Any,
) -> Path:
    """(Re)write README.md of a saved Luxical model folder; returns its path.

    Inputs not given are taken from the folder: those of the previous card (luxical_card.json), the
    pipeline's config (pipeline_config.json) and a conversion record (luxical_conversion.json); the
    pipeline's training log and curve (training_log.json, training_curve.png) are shown when present.
    Pass `model` (the folder's model, already in memory) to skip loading it; its card data is updated
    (what the trainer recorded in it is kept).
    """
    folder = check_model_dir(model_dir)
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
        from luxical_st.loading import load_sentence_transformer

        model = load_sentence_transformer(folder, trust_remote_code)
        card = attach_model_card(model, **inputs)
    else:
        card = luxical_card(model, **inputs)
    card.save_dir = str(folder)
    readme = folder / README_FILE
    readme.write_text(generate_model_card(model), encoding="utf-8")
    stored_inputs = {key: value for key, value in inputs.items() if _is_json(value)}
    stored_inputs["training_config"] = card.training_config
    if card.examples:
        stored_inputs["examples"] = card.examples
    (folder / CARD_INPUTS_FILE).write_text(
        json.dumps({"format_version": CARD_INPUTS_VERSION, **stored_inputs}, indent=2), encoding="utf-8"
    )
    return readme


def check_model_dir(model_dir: str | os.PathLike[str]) -> Path:
    """`model_dir` as a Path, checked to be a saved sentence-transformers model folder."""
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
