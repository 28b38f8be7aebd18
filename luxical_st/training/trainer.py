"""Distillation through sentence-transformers' own `SentenceTransformerTrainer`, with the WSD schedule."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from luxical_st.extras import require_extra

require_extra("train", "Luxical training")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer  # noqa: E402
from torch import nn  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from transformers.trainer_utils import get_last_checkpoint  # noqa: E402

from luxical_st.artifacts import TRAINING_LOG_FILE, TRAINING_PLOT_FILE  # noqa: E402
from luxical_st.config import TrainConfig  # noqa: E402
from luxical_st.training.optimizer import SparseRowAdamW, sparse_gradients  # noqa: E402
from luxical_st.training.schedule import get_wsd_schedule  # noqa: E402

logger = logging.getLogger(__name__)


class LuxicalTrainer(SentenceTransformerTrainer):
    """`SentenceTransformerTrainer` with Luxical's warmup-stable-decay schedule and a sparse-aware AdamW.

    The scheduler is built here, once the trainer knows the real step count (epochs x batches, or
    `max_steps` for streamed data), which a ready-made `optimizers=(opt, sched)` pair cannot know.
    The optimizer is the configured AdamW, extended to the n-gram table's sparse gradient.
    """

    def __init__(self, *args: Any, warmup_ratio: float = 0.05, decay_ratio: float = 0.10, **kwargs: Any):
        self.warmup_ratio = warmup_ratio
        self.decay_ratio = decay_ratio
        super().__init__(*args, **kwargs)

    def get_optimizer_cls_and_kwargs(self, args: Any, model: Any = None) -> tuple[Any, Any]:  # type: ignore[override]
        optimizer_cls, optimizer_kwargs = super().get_optimizer_cls_and_kwargs(args, model)
        if optimizer_cls is not torch.optim.AdamW:
            raise ValueError(f"Luxical trains with AdamW, the arguments ask for {optimizer_cls.__name__}")
        return SparseRowAdamW, optimizer_kwargs

    # transformers measures and clips the gradient with `clip_grad_norm_`, which rejects sparse
    # tensors: these two hooks do the same over dense and sparse gradients alike.
    def _clip_grad_norm(self, model: nn.Module) -> torch.Tensor:
        norm = gradient_norm(model.parameters())
        if self.args.max_grad_norm and norm > self.args.max_grad_norm:
            scale = self.args.max_grad_norm / (float(norm) + 1e-6)
            for parameter in model.parameters():
                if parameter.grad is not None:
                    parameter.grad.mul_(scale)
        return norm

    def _get_grad_norm(self, model: nn.Module, grad_norm: Any = None) -> Any:
        norm = gradient_norm(model.parameters()) if grad_norm is None else grad_norm
        if not math.isfinite(float(norm)):  # before the optimizer step: the weights are still finite
            raise NonFiniteLossError(
                f"training stopped at step {self.state.global_step + 1}: the loss or its gradient is not "
                f"finite (gradient norm {float(norm)}); lower learning_rate (or table_learning_rate) "
                "or check the teacher targets. Nothing of this step was saved"
            )
        return norm

    def create_scheduler(
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        if self.lr_scheduler is None:
            optimizer = optimizer if optimizer is not None else self.optimizer
            if optimizer is None:
                raise RuntimeError("create_scheduler needs the optimizer; create it first")
            self.lr_scheduler = get_wsd_schedule(
                optimizer,
                num_training_steps,
                warmup_ratio=self.warmup_ratio,
                decay_ratio=self.decay_ratio,
            )
        return self.lr_scheduler


class NonFiniteLossError(FloatingPointError):
    """Training reached a NaN or infinite loss or gradient; it stops before the weights take it in."""


def gradient_norm(parameters: Iterable[nn.Parameter]) -> torch.Tensor:
    """Global L2 norm of the gradients, sparse ones included (coalesced in place, once)."""
    squares = []
    for parameter in parameters:
        if parameter.grad is None:
            continue
        if parameter.grad.is_sparse:
            parameter.grad = parameter.grad.coalesce()
            squares.append(parameter.grad.values().float().square().sum())
        else:
            squares.append(parameter.grad.float().square().sum())
    return torch.stack(squares).sum().sqrt() if squares else torch.tensor(0.0)


def training_arguments(
    config: TrainConfig, checkpoint_dir: str | Path, best_metric: str | None = None
) -> TrainConfig:
    """The trainer's arguments: the training section itself (a `SentenceTransformerTrainingArguments`),
    writing its checkpoints to `checkpoint_dir`; with `best_metric`, every checkpoint is evaluated and
    the one with the highest metric is loaded at the end."""
    if best_metric is None:
        return dataclasses.replace(config, output_dir=str(checkpoint_dir))
    return dataclasses.replace(
        config,
        output_dir=str(checkpoint_dir),
        eval_strategy="steps",
        eval_steps=config.save_steps,
        load_best_model_at_end=True,
        metric_for_best_model=best_metric,
        greater_is_better=True,
    )


def as_training_dataset(targets: Any, config: TrainConfig, text_column: str = "text") -> Any:
    """The (text, label) view of a teacher-targets dataset that the ST collator expects.

    The collator hands the column named `label` to the loss and tokenizes every other column as
    text, so the id column is dropped. A streamed dataset is shuffled through a buffer.
    """
    import datasets

    columns = set(targets.column_names or ())
    missing = {text_column, "embedding"} - columns
    if missing:
        raise ValueError(f"teacher targets lack column(s) {sorted(missing)}; they have {sorted(columns)}")
    dataset = targets.select_columns([text_column, "embedding"]).rename_column("embedding", "label")
    if isinstance(dataset, datasets.IterableDataset):
        dataset = dataset.shuffle(seed=config.seed, buffer_size=config.shuffle_buffer_size)
    return dataset


def train_model(
    model: SentenceTransformer,
    train_dataset: Any,
    loss: nn.Module,
    config: TrainConfig,
    checkpoint_dir: str | Path,
    callbacks: Sequence[TrainerCallback] = (),
    evaluator: Any = None,
) -> dict[str, Any]:
    """Train `model` in place, resuming from the last checkpoint in `checkpoint_dir` if there is one.
    With a sentence-transformers `evaluator`, every checkpoint is scored on it and `model` ends as the
    checkpoint with the best `evaluator.primary_metric` (which may be the last).

    Returns the trainer's final metrics plus `log_history` (loss and learning rate per logged step, the
    evaluator's scores per checkpoint) and, with an evaluator, `best_checkpoint_step` and `best_metric`.
    """
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if config.train_device is not None:
        model.to(config.train_device)
    # A Luxical student embeds every text alike: its card shows the symmetric usage, also when a retrieval
    # evaluator (which ST would take for an asymmetric query/document model) scores its checkpoints.
    model.model_card_data.ir_model = False
    trainer = LuxicalTrainer(
        model=model,
        args=training_arguments(config, checkpoint_dir, evaluator and evaluator.primary_metric),
        train_dataset=train_dataset,
        loss=loss,
        evaluator=evaluator,
        callbacks=list(callbacks),
        warmup_ratio=config.warmup_ratio,
        decay_ratio=config.decay_ratio,
    )
    if (
        config.max_steps == -1
        and hasattr(train_dataset, "__len__")
        and len(train_dataset) < config.batch_size
    ):
        raise ValueError(
            f"{len(train_dataset)} training documents are fewer than one batch (batch_size="
            f"{config.batch_size}; only full batches are used): lower batch_size or use a larger corpus"
        )
    last = last_complete_checkpoint(checkpoint_dir)
    if last is not None:
        logger.info("Resuming training from %s", last)
    with sparse_gradients([model]):
        output = trainer.train(resume_from_checkpoint=last)
    result = {
        **output.metrics,
        "global_step": trainer.state.global_step,
        "log_history": trainer.state.log_history,
    }
    if evaluator is not None:
        best = trainer.state.best_model_checkpoint
        if best is None:
            raise RuntimeError(f"training with validation {evaluator!r} recorded no best checkpoint")
        # the trainer only logs it when loading the best checkpoint fails: check that it took
        check_weights_of(model, best)
        result["best_checkpoint_step"] = int(best.rsplit("-", 1)[-1])
        result["best_metric"] = trainer.state.best_metric
        result["validation_metric"] = f"eval_{evaluator.primary_metric}"
        logger.info("Kept checkpoint %s (validation %.4f)", best, trainer.state.best_metric)
    return result


def check_weights_of(model: nn.Module, checkpoint: str | Path) -> None:
    """Raise unless `model` holds the weights that `checkpoint` saved in its module folders
    (`<index>_<Module>/model.safetensors`)."""
    from safetensors.torch import load_file

    state = model.state_dict()
    files = sorted(Path(checkpoint).glob("*/model.safetensors"))
    if not files:
        raise RuntimeError(f"{checkpoint} holds no module weights")
    for path in files:
        index = path.parent.name.split("_", 1)[0]
        for key, saved in load_file(path).items():
            current = state.get(f"{index}.{key}")
            if current is None or not torch.equal(current.detach().cpu(), saved):
                raise RuntimeError(f"the trained model does not hold {path}'s {key}: loading it failed")


def last_complete_checkpoint(checkpoint_dir: str | Path) -> str | None:
    """The newest checkpoint that transformers finished writing, or None.

    transformers writes a checkpoint's files one after another and `trainer_state.json` last, so a kill
    while it writes leaves a folder without one (or with a partial one). Its `get_last_checkpoint` picks
    the newest `checkpoint-N` folder whether finished or not: such unfinished folders are removed here,
    and training resumes from the last complete checkpoint.
    """
    while (last := get_last_checkpoint(str(checkpoint_dir))) is not None:
        try:
            json.loads((Path(last) / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            logger.warning("Removing %s: its writing was interrupted (no complete trainer_state.json)", last)
            shutil.rmtree(last)
            continue
        return last
    return None


def save_training_log(result: dict[str, Any], folder: str | Path) -> Path:
    """Write the metrics and log history as JSON and plot the curve; returns the plot's path."""
    folder = Path(folder)
    (folder / TRAINING_LOG_FILE).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return plot_training_curve(
        result["log_history"],
        folder / TRAINING_PLOT_FILE,
        validation_metric=result.get("validation_metric"),
        kept_step=result.get("best_checkpoint_step"),
    )


def plot_training_curve(
    log_history: Sequence[dict[str, Any]],
    path: str | Path,
    validation_metric: str | None = None,
    kept_step: int | None = None,
) -> Path:
    """Loss (left axis, log scale) and learning rate (right axis) against the optimizer step; with a
    `validation_metric` logged at checkpoints, a second panel of its scores with the `kept_step` marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logged = [entry for entry in log_history if "loss" in entry and "step" in entry]
    steps = [entry["step"] for entry in logged]
    scores = [
        (entry["step"], entry[validation_metric])
        for entry in log_history
        if validation_metric and validation_metric in entry and "step" in entry
    ]
    if scores:
        figure, (loss_axis, score_axis) = plt.subplots(
            2, 1, figsize=(7, 6), dpi=100, sharex=True, height_ratios=(2, 1)
        )
        score_axis.plot(*zip(*scores, strict=True), marker="o", color="tab:green")
        if kept_step is not None:
            score_axis.axvline(kept_step, color="gray", linestyle=":", label=f"kept: step {kept_step}")
            score_axis.legend(loc="lower right")
        score_axis.set_xlabel("step")
        score_axis.set_ylabel(f"validation\n{str(validation_metric).removeprefix('eval_')}")
    else:
        figure, loss_axis = plt.subplots(figsize=(7, 4), dpi=100)
    loss_axis.plot(steps, [entry["loss"] for entry in logged], color="tab:blue", label="loss")
    if not scores:
        loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("distillation loss", color="tab:blue")
    if logged and min(entry["loss"] for entry in logged) > 0:
        loss_axis.set_yscale("log")
    lr_axis = loss_axis.twinx()
    lr_axis.plot(
        steps, [entry.get("learning_rate", float("nan")) for entry in logged], color="tab:orange", label="lr"
    )
    lr_axis.set_ylabel("learning rate", color="tab:orange")
    loss_axis.set_title("Luxical distillation")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    plt.close(figure)
    return path
