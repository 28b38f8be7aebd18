"""The training section (step 4): sentence-transformers' own `SentenceTransformerTrainingArguments`, with
Luxical's fields added.

The section *is* the trainer's arguments: `training.trainer` hands it to `SentenceTransformerTrainer`
with only the checkpoint folder filled in. Its config keys (`TRAINING_KEYS`) are Luxical's own fields
plus twelve inherited arguments (optimizer, epochs, logging and checkpoint cadence, seed); six of those
are declared again, for Luxical's defaults and whole-number steps. Every other inherited argument is not a
config key: those Luxical trains with are fixed in `__post_init__` (fused AdamW, full batches only, no
reporting), the rest keep the library's defaults.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal

from sentence_transformers import SentenceTransformerTrainingArguments

from luxical_st.config.checks import require, require_choice, require_finite, require_positive, require_ratio

LossName = Literal["gram_kl", "mse", "cosine"]
LOSS_NAMES: tuple[str, ...] = typing.get_args(LossName)
"""The distillation losses a config can name (`training.loss.build_loss` builds them)."""

# The first layer's n-gram table (`SparseDense.embedding`), by parameter name in the loss module: the
# parameter `table_learning_rate` applies to.
TABLE_PARAMETER = r"(^|\.)embedding\.weight$"

VALIDATION_GROUP = "luxical_st.validation"
"""The entry-point group of the evaluators that the training key `validation` names (luxical-st
registers `suite`, `luxical_st.evaluation.validation:suite_validation`)."""

TRAINING_KEYS = (
    "loss",
    "temperature",
    "gram_kl_weight",
    "lexical_kl_weight",
    "learning_rate",
    "table_learning_rate",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "weight_decay",
    "warmup_ratio",
    "decay_ratio",
    "batch_size",
    "num_train_epochs",
    "max_steps",
    "pooled_documents",
    "streaming",
    "shuffle_buffer_size",
    "logging_steps",
    "save_steps",
    "save_total_limit",
    "validation",
    "dataloader_num_workers",
    "train_device",
    "seed",
)
"""The config keys of the training section, in the order of the YAML files and `PipelineConfig.to_dict`."""


@dataclass
class TrainConfig(SentenceTransformerTrainingArguments):
    """Step 4: distillation with `SentenceTransformerTrainer`, whose training arguments this is."""

    # Luxical's own fields.
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
    table_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "peak learning rate of the first layer's n-gram table (unset: learning_rate). Its "
            "updates are sparse: a rare n-gram moves only in the steps that contain it"
        },
    )
    # The warmup-stable-decay schedule (`training.schedule`). sentence-transformers declares a deprecated
    # `warmup_ratio` of its own, which under transformers 5 it moves into `warmup_steps`: `__post_init__`
    # keeps it here, where the schedule reads it.
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps with linear warmup"})
    decay_ratio: float = field(default=0.10, metadata={"help": "share of final steps with linear decay to 0"})
    batch_size: int = field(default=3072, metadata={"help": "documents per step (the Gram matrix is batch²)"})
    pooled_documents: int = field(
        default=0,
        metadata={
            "help": "also train on documents rebuilt from up to this many consecutive passages (ids "
            "`<doc>#<k>`), each with the mean of its passages' teacher rows as target (0 = off)"
        },
    )
    streaming: bool = field(default=False, metadata={"help": "stream the teacher targets into training"})
    shuffle_buffer_size: int = field(default=50_000, metadata={"help": "shuffle buffer when streaming"})
    train_device: str | None = field(
        default=None, metadata={"help": "cpu, cuda, ...; unset = best available"}
    )
    validation: str | None = field(
        default=None,
        metadata={
            "help": "score every checkpoint (each save_steps) on this validation evaluator and keep the "
            "best (suite: retrieval on the offline suite's sources over texts no test reads; needs the "
            "'eval' extra); unset: keep the last"
        },
    )

    # Inherited arguments with Luxical's defaults (steps as whole numbers: a float below 1 would be read
    # by transformers as a share of the run).
    learning_rate: float = field(default=1e-2, metadata={"help": "peak learning rate"})
    adam_beta2: float = field(default=0.9, metadata={"help": "AdamW beta2"})
    logging_steps: int = field(default=10, metadata={"help": "log loss and learning rate every N steps"})
    save_steps: int = field(default=500, metadata={"help": "write a resumable checkpoint every N steps"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept (all if unset)"})
    seed: int = field(default=0, metadata={"help": "seed of data order"})

    def __post_init__(self) -> None:
        self.check()
        # The arguments Luxical trains with, which are not config keys.
        self.per_device_train_batch_size = self.batch_size
        self.learning_rate_mapping = (
            {} if self.table_learning_rate is None else {TABLE_PARAMETER: self.table_learning_rate}
        )
        self.optim = "adamw_torch_fused"  # one kernel per step: 10x faster than foreach on CPU
        self.logging_first_step = True
        self.save_strategy = "steps"
        self.data_seed = self.seed
        # The Gram-matrix loss needs at least two rows; a ragged last batch would also weigh its few
        # documents like a full batch.
        self.dataloader_drop_last = True
        self.use_cpu = self.train_device == "cpu"
        # Accelerate's batch dispatching (its default for streamed data) cuts every tensor of a batch to
        # `batch_size` rows, which corrupts the flat EmbeddingBag input_ids/weights.
        self.accelerator_config = {"dispatch_batches": False}
        self.report_to = "none"
        warmup_ratio = self.warmup_ratio
        setattr(self, "warmup_ratio", None)  # noqa: B010 (not moved into warmup_steps, see above)
        super().__post_init__()
        self.warmup_ratio = warmup_ratio

    def check(self) -> None:
        """The range checks of the config keys; a ValueError names the key."""
        require_finite(self, TRAINING_KEYS)
        require_choice(self.loss, "loss", LOSS_NAMES)
        if self.validation is not None:
            from importlib.metadata import entry_points

            names = tuple(sorted(point.name for point in entry_points(group=VALIDATION_GROUP)))
            require_choice(self.validation, "validation", names)
        require_positive(
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
        require(
            self.batch_size >= 2, "batch_size", "must be at least 2 (in-batch Gram matrices)", self.batch_size
        )
        require_ratio(self, "adam_beta1", "adam_beta2", "warmup_ratio", "decay_ratio")
        require(
            self.warmup_ratio + self.decay_ratio <= 1.0,
            "warmup_ratio",
            "plus decay_ratio must be at most 1",
            (self.warmup_ratio, self.decay_ratio),
        )
        require(self.weight_decay >= 0, "weight_decay", "must not be negative", self.weight_decay)
        require(self.gram_kl_weight >= 0, "gram_kl_weight", "must not be negative", self.gram_kl_weight)
        require(
            self.lexical_kl_weight >= 0, "lexical_kl_weight", "must not be negative", self.lexical_kl_weight
        )
        require(
            self.gram_kl_weight == 0 or self.loss != "gram_kl",
            "gram_kl_weight",
            "only adds to the mse and cosine losses",
            self.gram_kl_weight,
        )
        require(
            self.table_learning_rate is None or self.table_learning_rate > 0,
            "table_learning_rate",
            "must be positive (or unset)",
            self.table_learning_rate,
        )
        require(
            self.max_steps == -1 or self.max_steps > 0,
            "max_steps",
            "must be -1 (unset) or positive",
            self.max_steps,
        )
        require(
            not self.streaming or self.max_steps > 0,
            "max_steps",
            "must be set when streaming",
            self.max_steps,
        )
        require(
            self.pooled_documents == 0 or self.pooled_documents >= 2,
            "pooled_documents",
            "must be 0 (off) or at least 2",
            self.pooled_documents,
        )
        require(
            not (self.streaming and self.pooled_documents),
            "pooled_documents",
            "needs the targets in memory (streaming is set)",
            self.pooled_documents,
        )
        require(
            self.dataloader_num_workers >= 0,
            "dataloader_num_workers",
            "must not be negative",
            self.dataloader_num_workers,
        )
