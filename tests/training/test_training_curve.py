"""The training curve plot: loss and learning rate, plus the validation panel when checkpoints were scored."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")


def test_validation_scores_get_their_own_panel(tmp_path: Path) -> None:
    from PIL import Image

    from luxical_st.training.trainer import plot_training_curve

    history = [{"step": step, "loss": 1 / step, "learning_rate": 1e-3} for step in range(1, 31)]
    plain = plot_training_curve(history, tmp_path / "plain.png")
    scored = history + [{"step": step, "eval_sequential_score": 0.5 + step / 100} for step in (10, 20, 30)]
    validated = plot_training_curve(scored, tmp_path / "validated.png", "eval_sequential_score", kept_step=30)
    with Image.open(plain) as first, Image.open(validated) as second:
        assert first.size == (700, 400)
        assert second.size == (700, 600)  # the second panel
    # a metric that was never logged leaves the plain plot
    unlogged = plot_training_curve(history, tmp_path / "unlogged.png", "eval_missing")
    with Image.open(unlogged) as third:
        assert third.size == (700, 400)
