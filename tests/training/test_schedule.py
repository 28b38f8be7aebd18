"""The warmup-stable-decay schedule (transformers' `get_wsd_schedule`), step by step against the
reference Luxical schedule and inside a real optimizer."""

from __future__ import annotations

import pytest
import torch

from luxical_st.training.schedule import get_wsd_schedule, wsd_phase_steps


def factors(num_training_steps: int, warmup_ratio: float, decay_ratio: float) -> list[float]:
    """The LR factor the scheduler sets for each optimizer step of a run."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = get_wsd_schedule(optimizer, num_training_steps, warmup_ratio, decay_ratio)
    rates = []
    for _ in range(num_training_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_phases_of_a_100_step_run() -> None:
    assert wsd_phase_steps(100, 0.05, 0.10) == (5, 10)
    rates = factors(100, 0.05, 0.10)
    assert rates[:6] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert all(rate == 1.0 for rate in rates[5:91])
    assert rates[90:] == pytest.approx([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])


@pytest.mark.parametrize(
    ("warmup", "decay"), [(0.05, 0.10), (0.0, 0.1), (0.05, 0.0), (0.0, 0.0), (0.5, 0.5), (0.33, 0.33)]
)
def test_matches_the_reference_luxical_schedule_step_by_step(warmup: float, decay: float) -> None:
    luxical_training = pytest.importorskip("luxical.training")
    for steps in (*range(1, 40), 256, 1000):
        warmup_steps, decay_steps = wsd_phase_steps(steps, warmup, decay)
        expected = [
            luxical_training.wsd_lr_schedule(step, steps, warmup_steps, decay_steps) for step in range(steps)
        ]
        assert factors(steps, warmup, decay) == pytest.approx(expected, abs=1e-12), (steps, warmup, decay)


def test_scheduler_drives_the_optimizer_and_survives_a_checkpoint() -> None:
    parameter = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([parameter], lr=1e-2, betas=(0.9, 0.9))
    scheduler = get_wsd_schedule(optimizer, num_training_steps=20, warmup_ratio=0.05, decay_ratio=0.10)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        if len(rates) == 12:  # a checkpoint: a new scheduler of the same run resumes from its state
            state = scheduler.state_dict()
            scheduler = get_wsd_schedule(optimizer, 20, warmup_ratio=0.05, decay_ratio=0.10)
            scheduler.load_state_dict(state)
    assert rates[0] == 0.0 and rates[1] == pytest.approx(1e-2)
    assert rates[-2:] == pytest.approx([1e-2, 5e-3])


@pytest.mark.parametrize(
    ("steps", "warmup", "decay", "message"),
    [(0, 0.05, 0.1, "num_training_steps"), (10, -0.1, 0.1, "warmup_ratio"), (10, 0.6, 0.6, "at most 1")],
)
def test_rejects_impossible_schedules(steps: int, warmup: float, decay: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wsd_phase_steps(steps, warmup, decay)
