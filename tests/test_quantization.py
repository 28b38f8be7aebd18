"""The uint8 codec of the teacher targets (`luxical_st.quantization`): error at most half a step, saturation,
numpy and torch, bad input refused. Needs numpy and torch only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from luxical_st.quantization import dequantize_targets, quantize_targets


def test_quantisation_error_is_at_most_half_a_step() -> None:
    x = np.random.default_rng(0).uniform(-0.3, 0.3, size=(200, 64)).astype(np.float32)
    x[0, :4] = [-0.3, 0.3, 0.0, 0.1]
    q = quantize_targets(x)
    assert q.dtype == np.uint8 and q[0, 0] == 0 and q[0, 1] == 255
    error = np.abs(dequantize_targets(q) - x)
    assert error.max() <= 0.3 / 255 + 1e-6  # half of the 0.6 / 255 step
    assert (
        np.abs(dequantize_targets(quantize_targets(np.array([-2.0, 5.0]))) - [-0.3, 0.3]).max() < 1e-6
    )  # saturates
    wide = quantize_targets(x, limit=0.5)
    assert np.abs(dequantize_targets(wide, limit=0.5) - x).max() <= 0.5 / 255 + 1e-6
    as_torch = dequantize_targets(torch.from_numpy(q))
    assert isinstance(as_torch, torch.Tensor) and as_torch.dtype == torch.float32
    np.testing.assert_allclose(as_torch.numpy(), dequantize_targets(q), atol=1e-7)


def test_quantisation_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="float"):
        quantize_targets(np.array([1, 2]))
    with pytest.raises(ValueError, match="NaN"):
        quantize_targets(np.array([np.nan], np.float32))
    with pytest.raises(ValueError, match="limit"):
        quantize_targets(np.zeros(2, np.float32), limit=0.0)
    with pytest.raises(TypeError, match="integer codes"):
        dequantize_targets(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        dequantize_targets(np.array([256]))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        dequantize_targets([1, 2])  # type: ignore[call-overload]
