"""The warmup-stable-decay schedule, step by step and inside a real optimizer."""

from __future__ import annotations

import pytest
import torch

from luxical_st.training.schedule import get_wsd_schedule, wsd_multiplier, wsd_phase_steps


def test_phases_of_a_100_step_run() -> None:
    assert wsd_phase_steps(100, 0.05, 0.10) == (5, 10)
    factors = [wsd_multiplier(step, 100, 5, 10) for step in range(100)]
    assert factors[:6] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert all(factor == 1.0 for factor in factors[5:91])
    assert factors[90:] == pytest.approx([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert wsd_multiplier(100, 100, 5, 10) == 0.0


def test_matches_the_reference_luxical_schedule() -> None:
    luxical_training = pytest.importorskip("luxical.training")
    for step in range(0, 257):
        assert wsd_multiplier(step, 256, 13, 26) == pytest.approx(
            luxical_training.wsd_lr_schedule(step, 256, 13, 26)
        )


def test_scheduler_drives_the_optimizer_learning_rate() -> None:
    parameter = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([parameter], lr=1e-2, betas=(0.9, 0.9))
    scheduler = get_wsd_schedule(optimizer, num_training_steps=20, warmup_ratio=0.05, decay_ratio=0.10)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == 0.0 and rates[1] == pytest.approx(1e-2)
    assert rates[-2:] == pytest.approx([1e-2, 5e-3])
    # The state survives a checkpoint round trip (the lambda is a picklable object).
    state = scheduler.state_dict()
    assert state["lr_lambdas"][0]["num_decay_steps"] == 2


@pytest.mark.parametrize(
    ("steps", "warmup", "decay", "message"),
    [(0, 0.05, 0.1, "num_training_steps"), (10, -0.1, 0.1, "warmup_ratio"), (10, 0.6, 0.6, "at most 1")],
)
def test_rejects_impossible_schedules(steps: int, warmup: float, decay: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wsd_phase_steps(steps, warmup, decay)
