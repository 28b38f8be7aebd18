"""The warmup-stable-decay learning-rate schedule that Luxical trains with."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


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


def wsd_multiplier(step: int, num_training_steps: int, num_warmup_steps: int, num_decay_steps: int) -> float:
    """LR factor at optimizer step `step` (0-based): linear 0 -> 1, flat at 1, then linear down to 0.

    The same shape as the reference Luxical `wsd_lr_schedule`; the decay reaches 0 at the last step.
    """
    if step < num_warmup_steps:
        return step / num_warmup_steps
    steps_left = num_training_steps - step
    if steps_left < num_decay_steps:
        return max(0.0, steps_left / num_decay_steps)
    return 1.0


class WSDMultiplier:
    """Picklable LR lambda, so the scheduler's state_dict in a checkpoint records the phase lengths."""

    def __init__(self, num_training_steps: int, num_warmup_steps: int, num_decay_steps: int) -> None:
        self.num_training_steps = num_training_steps
        self.num_warmup_steps = num_warmup_steps
        self.num_decay_steps = num_decay_steps

    def __call__(self, step: int) -> float:
        return wsd_multiplier(step, self.num_training_steps, self.num_warmup_steps, self.num_decay_steps)


def get_wsd_schedule(
    optimizer: Optimizer,
    num_training_steps: int,
    warmup_ratio: float = 0.05,
    decay_ratio: float = 0.10,
    last_epoch: int = -1,
) -> LambdaLR:
    """WSD: `warmup_ratio` of the steps linear warmup, flat peak, the last `decay_ratio` linear decay to 0."""
    warmup, decay = wsd_phase_steps(num_training_steps, warmup_ratio, decay_ratio)
    return LambdaLR(optimizer, WSDMultiplier(num_training_steps, warmup, decay), last_epoch=last_epoch)
