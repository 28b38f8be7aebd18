"""The pipeline config: one flat YAML file, parsed by `transformers.HfArgumentParser` into dataclasses.

Every YAML key is turned into a `--key=value` argument and parsed together with the command-line
overrides, so a YAML value gets exactly the type checks and choices a command-line value gets (the
plain `parse_yaml_file` passes values through unchecked). Range checks live in `__post_init__`.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

LossName = Literal["gram_kl", "mse", "cosine"]
HiddenInit = Literal["random", "identity"]
TeacherDtype = Literal["auto", "float32", "bfloat16", "float16"]
EngineName = Literal["local", "ray"]


def _require(condition: bool, key: str, message: str, value: Any) -> None:
    """Raise the ValueError that names the offending config key."""
    if not condition:
        raise ValueError(f"config key {key!r} {message}, got {value!r}")


def _finite(obj: Any) -> None:
    """Refuse NaN and infinite float values (YAML `.inf`, `.nan`): they would train a NaN model."""
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        values = value if isinstance(value, list) else [value]
        _require(
            all(not isinstance(v, float) or math.isfinite(v) for v in values),
            item.name,
            "must be finite",
            value,
        )


def _positive(obj: Any, *keys: str) -> None:
    for key in keys:
        value = getattr(obj, key)
        _require(value is None or value > 0, key, "must be positive", value)


def _ratio(obj: Any, *keys: str) -> None:
    for key in keys:
        value = getattr(obj, key)
        _require(0.0 <= value <= 1.0, key, "must lie in [0, 1]", value)


@dataclass
class CorpusConfig:
    """Where the training documents come from."""

    corpus: str = field(
        default="quickstart",
        metadata={
            "help": "'quickstart' (the offline blend of packaged texts), a local path or a Hub dataset id"
        },
    )
    corpus_split: str = field(default="train", metadata={"help": "dataset split"})
    corpus_data_files: str | None = field(
        default=None, metadata={"help": "glob of data files inside the dataset, e.g. sample/10BT/*.parquet"}
    )
    text_column: str = field(default="text", metadata={"help": "column holding the document text"})
    id_column: str = field(default="id", metadata={"help": "column holding a unique document id"})
    corpus_streaming: bool = field(
        default=False, metadata={"help": "stream the corpus instead of downloading it"}
    )
    max_documents: int | None = field(
        default=None, metadata={"help": "documents to embed with the teacher and train on (all if unset)"}
    )
    min_documents: int = field(default=50_000, metadata={"help": "size of the quickstart blend"})
    word_documents: bool = field(
        default=False,
        metadata={
            "help": "also distil every whole-word token of the tokenizer vocabulary as a one-word document "
            "(as model2vec does), so that single words get the teacher's word embeddings"
        },
    )

    def __post_init__(self) -> None:
        _finite(self)
        _positive(self, "max_documents", "min_documents")
        _require(bool(self.corpus), "corpus", "must name a corpus", self.corpus)


@dataclass
class TeacherConfig:
    """Step 1: teacher embeddings of every training document, truncated and stored as uint8."""

    teacher: str | None = field(
        default=None,
        metadata={"help": "teacher SentenceTransformer id or folder; unset = offline all-MiniLM-L6-v2"},
    )
    teacher_device: str = field(default="cpu", metadata={"help": "device the teacher runs on"})
    teacher_dtype: TeacherDtype = field(
        default="float32",
        metadata={
            "help": "precision the teacher runs in: bfloat16 is ~1.4x faster on CPUs with AVX512-BF16/AMX "
            "and on GPUs (targets within one uint8 step of float32) but slower on older CPUs; auto = "
            "bfloat16 where the device supports it, else float32"
        },
    )
    teacher_dimensions: int = field(default=256, metadata={"help": "leading (Matryoshka) dimensions kept"})
    quantization_limit: float = field(default=0.3, metadata={"help": "uint8 codes cover [-limit, limit]"})
    teacher_max_seq_length: int | None = field(
        default=512, metadata={"help": "tokens of a document the teacher reads (unset = its own limit)"}
    )
    teacher_batch_size: int = field(default=128, metadata={"help": "teacher encode batch size"})
    target_shard_size: int = field(default=10_000, metadata={"help": "documents per resumable target shard"})
    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "let the teacher run the Python code its Hub repo or folder ships (Arctic-Embed-M-v2.0 "
            "needs it); off: a teacher with its own code is refused before anything runs"
        },
    )

    def __post_init__(self) -> None:
        _finite(self)
        _positive(
            self,
            "teacher_dimensions",
            "teacher_max_seq_length",
            "quantization_limit",
            "teacher_batch_size",
            "target_shard_size",
        )
        _require(
            self.teacher_dtype in typing.get_args(TeacherDtype),
            "teacher_dtype",
            f"must be one of {typing.get_args(TeacherDtype)}",
            self.teacher_dtype,
        )


@dataclass
class VocabularyConfig:
    """Step 2: the n-gram vocabulary, mined with a Space-Saving summary over a corpus subsample."""

    tokenizer: str | None = field(
        default=None,
        metadata={"help": "tokenizer.json, folder or Hub id; unset = bert-base-uncased (offline)"},
    )
    vocabulary_documents: int | None = field(
        default=None, metadata={"help": "documents of the corpus to mine n-grams from (all if unset)"}
    )
    vocabulary_capacity: int = field(default=1_000_000, metadata={"help": "Space-Saving summary slots"})
    max_ngram_length: int = field(default=5, metadata={"help": "longest n-gram, in tokens"})
    min_count_multiple: float = field(
        default=8.0, metadata={"help": "keep n-grams counted at least this multiple of the summary minimum"}
    )
    max_vocabulary_size: int = field(default=2_000_000, metadata={"help": "cap on kept n-grams"})
    all_unigrams: bool = field(
        default=False,
        metadata={"help": "also keep every ordinary WordPiece token as a unigram, counted or not (count 1)"},
    )
    vocabulary_batch_size: int = field(default=1000, metadata={"help": "documents tokenized per batch"})

    def __post_init__(self) -> None:
        _finite(self)
        _positive(
            self,
            "vocabulary_documents",
            "vocabulary_capacity",
            "max_ngram_length",
            "min_count_multiple",
            "max_vocabulary_size",
            "vocabulary_batch_size",
        )


@dataclass
class ModelConfig:
    """Step 3: the student network."""

    layer_sizes: list[int] = field(
        default_factory=lambda: [96, 3072, 3072, 192],
        metadata={"help": "output width of every layer; the last is the embedding dimension"},
    )
    model_seed: int = field(default=0, metadata={"help": "seed of the initial weights"})
    teacher_init: bool = field(
        default=False,
        metadata={
            "help": "start the n-gram table from the teacher's embedding of each token (model2vec-style, "
            "n-grams as token means, PCA to half the first width, kept with both signs) instead of noise"
        },
    )
    lexical_sketch_dimensions: int = field(
        default=0,
        metadata={
            "help": "append a fixed count-sketch of the TF-IDF input this wide to the embedding after "
            "training (a skip path for rare n-grams; 0 = off, the reference architecture)"
        },
    )
    lexical_sketch_weight: float = field(
        default=0.3, metadata={"help": "share of the sketch in the output's cosine, in [0, 1)"}
    )
    teacher_init_norm: float = field(
        default=1.0, metadata={"help": "mean norm of the seeded n-gram rows (per sign half)"}
    )
    teacher_init_ngram_scale: float = field(
        default=0.0,
        metadata={
            "help": "with teacher_init: rows of n-grams longer than one token start at this share of their "
            "token mean (0: they start empty and learn only what their tokens alone do not say; their token "
            "means blur the seeded embedding: docs/training.md, How the network learns)"
        },
    )
    hidden_init: HiddenInit = field(
        default="random",
        metadata={
            "help": "start of the layers after the table: `random` (the reference), or `identity` (with "
            "teacher_init: pass the seeded features through, so training starts from the seeded static "
            "embedding instead of noise)"
        },
    )

    def __post_init__(self) -> None:
        _finite(self)
        sizes = self.layer_sizes
        _require(
            self.hidden_init in typing.get_args(HiddenInit),
            "hidden_init",
            f"must be one of {typing.get_args(HiddenInit)}",
            self.hidden_init,
        )
        _require(
            self.hidden_init != "identity" or self.teacher_init,
            "hidden_init",
            "identity needs teacher_init (there is nothing to pass through otherwise)",
            self.hidden_init,
        )
        _require(
            self.hidden_init != "identity" or min(sizes[1:-1], default=sizes[0]) >= 2 * (sizes[0] // 2),
            "hidden_init",
            "identity needs every middle layer at least as wide as the first",
            sizes,
        )
        _require(len(sizes) >= 2, "layer_sizes", "needs at least two layers", sizes)
        _require(all(size > 0 for size in sizes), "layer_sizes", "must all be positive", sizes)
        _positive(self, "teacher_init_norm")
        _require(
            self.teacher_init_ngram_scale >= 0,
            "teacher_init_ngram_scale",
            "must not be negative",
            self.teacher_init_ngram_scale,
        )
        _require(
            not self.teacher_init or sizes[0] >= 2,
            "teacher_init",
            "needs a first layer at least 2 wide",
            sizes,
        )
        _require(
            self.lexical_sketch_dimensions >= 0,
            "lexical_sketch_dimensions",
            "must be 0 (off) or positive",
            self.lexical_sketch_dimensions,
        )
        _require(
            0.0 <= self.lexical_sketch_weight < 1.0,
            "lexical_sketch_weight",
            "must lie in [0, 1)",
            self.lexical_sketch_weight,
        )


@dataclass
class TrainConfig:
    """Step 4: distillation with `SentenceTransformerTrainer`."""

    loss: LossName = field(
        default="gram_kl", metadata={"help": "gram_kl (Luxical), or mse/cosine embedding distillation"}
    )
    temperature: float = field(default=3.0, metadata={"help": "softmax temperature of the gram_kl loss"})
    gram_kl_weight: float = field(
        default=0.0,
        metadata={"help": "with loss mse/cosine: add this x gram_kl on the student's own embeddings"},
    )
    lexical_kl_weight: float = field(
        default=0.0,
        metadata={
            "help": "add this x the Gram-matrix KL between the student and the batch's own TF-IDF "
            "similarities (keeps which documents share rare n-grams)"
        },
    )
    learning_rate: float = field(default=1e-2, metadata={"help": "peak learning rate"})
    table_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "peak learning rate of the first layer's n-gram table (unset: learning_rate). Its "
            "updates are sparse: a rare n-gram moves only in the steps that contain it"
        },
    )
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1"})
    adam_beta2: float = field(default=0.9, metadata={"help": "AdamW beta2"})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps with linear warmup"})
    decay_ratio: float = field(default=0.10, metadata={"help": "share of final steps with linear decay to 0"})
    batch_size: int = field(default=3072, metadata={"help": "documents per step (the Gram matrix is batch²)"})
    num_train_epochs: float = field(default=3.0, metadata={"help": "passes over the training documents"})
    max_steps: int = field(
        default=-1, metadata={"help": "stop after this many steps (required when streaming)"}
    )
    pooled_documents: int = field(
        default=0,
        metadata={
            "help": "also train on documents rebuilt from up to this many consecutive passages (ids "
            "`<doc>#<k>`), each with the mean of its passages' teacher rows as target (0 = off)"
        },
    )
    streaming: bool = field(default=False, metadata={"help": "stream the teacher targets into training"})
    shuffle_buffer_size: int = field(default=50_000, metadata={"help": "shuffle buffer when streaming"})
    logging_steps: int = field(default=10, metadata={"help": "log loss and learning rate every N steps"})
    save_steps: int = field(default=500, metadata={"help": "write a resumable checkpoint every N steps"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept (all if unset)"})
    dataloader_num_workers: int = field(default=0, metadata={"help": "processes that tokenize batches"})
    train_device: str | None = field(
        default=None, metadata={"help": "cpu, cuda, ...; unset = best available"}
    )
    seed: int = field(default=0, metadata={"help": "seed of data order"})

    def __post_init__(self) -> None:
        _finite(self)
        _require(
            self.loss in typing.get_args(LossName),
            "loss",
            f"must be one of {typing.get_args(LossName)}",
            self.loss,
        )
        _positive(
            self,
            "temperature",
            "learning_rate",
            "adam_epsilon",
            "batch_size",
            "num_train_epochs",
            "shuffle_buffer_size",
            "logging_steps",
            "save_steps",
            "save_total_limit",
        )
        _require(
            self.batch_size >= 2, "batch_size", "must be at least 2 (in-batch Gram matrices)", self.batch_size
        )
        _ratio(self, "adam_beta1", "adam_beta2", "warmup_ratio", "decay_ratio")
        _require(
            self.warmup_ratio + self.decay_ratio <= 1.0,
            "warmup_ratio",
            "plus decay_ratio must be at most 1",
            (self.warmup_ratio, self.decay_ratio),
        )
        _require(self.weight_decay >= 0, "weight_decay", "must not be negative", self.weight_decay)
        _require(self.gram_kl_weight >= 0, "gram_kl_weight", "must not be negative", self.gram_kl_weight)
        _require(
            self.lexical_kl_weight >= 0, "lexical_kl_weight", "must not be negative", self.lexical_kl_weight
        )
        _require(
            self.gram_kl_weight == 0 or self.loss != "gram_kl",
            "gram_kl_weight",
            "only adds to the mse and cosine losses",
            self.gram_kl_weight,
        )
        _require(
            self.table_learning_rate is None or self.table_learning_rate > 0,
            "table_learning_rate",
            "must be positive (or unset)",
            self.table_learning_rate,
        )
        _require(
            self.max_steps == -1 or self.max_steps > 0,
            "max_steps",
            "must be -1 (unset) or positive",
            self.max_steps,
        )
        _require(
            not self.streaming or self.max_steps > 0,
            "max_steps",
            "must be set when streaming",
            self.max_steps,
        )
        _require(
            self.pooled_documents == 0 or self.pooled_documents >= 2,
            "pooled_documents",
            "must be 0 (off) or at least 2",
            self.pooled_documents,
        )
        _require(
            not (self.streaming and self.pooled_documents),
            "pooled_documents",
            "needs the targets in memory (streaming is set)",
            self.pooled_documents,
        )
        _require(
            self.dataloader_num_workers >= 0,
            "dataloader_num_workers",
            "must not be negative",
            self.dataloader_num_workers,
        )


@dataclass
class OutputConfig:
    """Where the artifacts go, and the optional Hub upload of the final model."""

    output_dir: str = field(default="output/luxical", metadata={"help": "folder of every pipeline artifact"})
    hub_repo_id: str | None = field(default=None, metadata={"help": "push the final model to this Hub repo"})
    hub_private: bool = field(default=False, metadata={"help": "create the Hub repo as private"})

    def __post_init__(self) -> None:
        _finite(self)
        _require(bool(self.output_dir), "output_dir", "must name a folder", self.output_dir)


@dataclass
class EngineConfig:
    """Where steps 1-2 (teacher targets, n-gram mining) run: this process, or Ray (the `scale` extra).
    Both write the same artifacts (the vocabulary is identical while the n-gram summary does not fill;
    beyond that both keep the Space-Saving guarantees)."""

    engine: EngineName = field(
        default="local",
        metadata={
            "help": "local: one process; ray: teacher actors (one GPU each where there are GPUs) "
            "and sharded n-gram mining on Ray"
        },
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "with engine: ray, join this cluster (unset: a local Ray)"}
    )
    ray_workers: int | None = field(
        default=None,
        metadata={
            "help": "with engine: ray, teacher actors and mining tasks in flight "
            "(unset: the cluster's GPUs, else its CPUs)"
        },
    )

    def __post_init__(self) -> None:
        _positive(self, "ray_workers")
        _require(self.engine in typing.get_args(EngineName), "engine", "must be local or ray", self.engine)


SECTIONS: dict[str, type] = {
    "corpus": CorpusConfig,
    "teacher": TeacherConfig,
    "vocabulary": VocabularyConfig,
    "model": ModelConfig,
    "training": TrainConfig,
    "output": OutputConfig,
    "engine": EngineConfig,
}


@dataclass
class PipelineConfig:
    """The whole pipeline, one section per step."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    vocabulary: VocabularyConfig = field(default_factory=VocabularyConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    def to_dict(self) -> dict[str, Any]:
        """The flat key -> value mapping, the layout of the YAML files."""
        flat: dict[str, Any] = {}
        for section in SECTIONS:
            flat.update(dataclasses.asdict(getattr(self, section)))
        return flat


def config_parser() -> Any:
    """The `HfArgumentParser` over every section; raises argparse.ArgumentError instead of exiting."""
    from transformers import HfArgumentParser

    return HfArgumentParser(list(SECTIONS.values()), exit_on_error=False, prog="train.py")  # type: ignore[arg-type]


def _annotations() -> dict[str, Any]:
    """Key -> resolved type of every config key (not `Field.type`: HfArgumentParser rewrites those)."""
    return {key: hint for cls in SECTIONS.values() for key, hint in typing.get_type_hints(cls).items()}


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _is_optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _yaml_values_to_argv(values: dict[str, Any], source: str) -> tuple[list[str], list[str]]:
    """(arguments, keys set to null) for the parser, after checking keys and value shapes."""
    fields = _annotations()
    argv: list[str] = []
    nulls: list[str] = []
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{source}: unknown config key {key!r}{hint}")
        annotation = fields[key]
        if value is None:
            _require(_is_optional(annotation), key, "cannot be null", value)
            nulls.append(key)
        elif isinstance(value, dict):
            raise ValueError(f"{source}: config key {key!r} must be a value or a list, got a mapping")
        elif isinstance(value, list):
            _require(_is_list(annotation), key, "takes a single value, not a list", value)
            _require(len(value) > 0, key, "must not be an empty list", value)
            argv += [f"--{key}", *map(str, value)]
        else:
            _require(not _is_list(annotation), key, "takes a list", value)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            argv.append(f"--{key}={text}")
    return argv, nulls


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read a flat YAML config (or only defaults) and apply `--key value` overrides after it.

    Raises ValueError naming the key for an unknown key, a value of the wrong type or choice, or a
    value out of range.
    """
    import yaml

    values: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            problem = " ".join(str(error).split())
            raise ValueError(f"{path} is not a readable YAML config: {problem}") from error
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config must be a mapping of keys to values")
        values = loaded or {}
    argv, nulls = _yaml_values_to_argv(values, source)
    if path is not None and overrides:
        source = f"{path} or command line"
    parser = config_parser()
    try:
        *sections, remaining = parser.parse_args_into_dataclasses(
            args=[*argv, *overrides], return_remaining_strings=True, look_for_args_file=False
        )
    except argparse.ArgumentError as error:
        raise ValueError(f"{source}: {error}") from error
    if remaining:
        raise ValueError(f"unknown command-line arguments: {' '.join(remaining)}")

    by_name = dict(zip(SECTIONS, sections, strict=True))
    overridden = {
        arg.split("=", 1)[0].lstrip("-").replace("-", "_") for arg in overrides if arg.startswith("--")
    }
    for key in set(nulls) - overridden:
        for name, section in by_name.items():
            if key in {f.name for f in dataclasses.fields(section)}:
                by_name[name] = dataclasses.replace(section, **{key: None})
    return PipelineConfig(**by_name)
