"""The warmup-stable-decay learning-rate schedule that Luxical trains with: transformers' own
`get_wsd_schedule` with linear warmup and linear decay, its phases given as ratios of the run."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR
from transformers.optimization import get_wsd_schedule as _transformers_wsd_schedule


def wsd_phase_steps(num_training_steps: int, warmup_ratio: float, decay_ratio: float) -> tuple[int, int]:
    """(warmup steps, decay steps) for a run of `num_training_steps`; checks the ratios fit in one run."""
    if num_training_steps < 1:
        raise ValueError(f"num_training_steps must be positive, got {num_training_steps}")
    for name, ratio in (("warmup_ratio", warmup_ratio), ("decay_ratio", decay_ratio)):
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {ratio}")
    if warmup_ratio + decay_ratio > 1.0:
        raise ValueError(f"warmup_ratio + decay_ratio must be at most 1, got {warmup_ratio} + {decay_ratio}")
    return math.ceil(warmup_ratio * num_training_steps), math.ceil(decay_ratio * num_training_steps)


def get_wsd_schedule(
    optimizer: Optimizer,
    num_training_steps: int,
    warmup_ratio: float = 0.05,
    decay_ratio: float = 0.10,
    last_epoch: int = -1,
) -> LambdaLR:
    """WSD: `warmup_ratio` of the steps linear warmup, flat peak, the last `decay_ratio` linear decay to 0.

    At every optimizer step (0 .. num_training_steps - 1) this is the reference Luxical
    `wsd_lr_schedule` (tests/training/test_schedule.py compares them step by step).
    """
    warmup, decay = wsd_phase_steps(num_training_steps, warmup_ratio, decay_ratio)
    return _transformers_wsd_schedule(
        optimizer,
        num_warmup_steps=warmup,
        num_decay_steps=decay,
        num_training_steps=num_training_steps,
        warmup_type="linear",
        decay_type="linear",
        last_epoch=last_epoch,
    )
