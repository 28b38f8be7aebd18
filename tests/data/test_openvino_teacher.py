"""The OpenVINO teacher backend: the real MiniLM teacher converted, its rows against torch float32."""

from __future__ import annotations

import numpy as np
import pytest

from luxical_st.data.teacher import embed_documents, load_teacher

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytestmark = pytest.mark.slow  # converts the teacher (~10 s each)


@pytest.fixture(scope="module")
def reference(tweet_texts: list[str]) -> np.ndarray:
    return load_teacher(max_seq_length=128).encode(tweet_texts[:64], batch_size=16)


def cosines(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return (first * second).sum(1) / np.linalg.norm(first, axis=1) / np.linalg.norm(second, axis=1)


@pytest.mark.parametrize(
    ("backend", "dtype", "bar"),
    [("openvino", "float32", 0.9999), ("openvino", "auto", 0.999), ("openvino-int8", "float32", 0.99)],
)
def test_openvino_rows_keep_the_float32_targets(
    reference: np.ndarray, tweet_texts: list[str], backend: str, dtype: str, bar: float
) -> None:
    from luxical_st.data.openvino_teacher import OpenVINOTransformer

    teacher = load_teacher(max_seq_length=128, dtype=dtype, backend=backend)
    assert isinstance(teacher[0].auto_model, OpenVINOTransformer)
    rows = teacher.encode(tweet_texts[:64], batch_size=16)  # length-sorted batches of varying width
    assert rows.shape == reference.shape
    assert cosines(rows, reference).min() >= bar
    codes = embed_documents(teacher, tweet_texts[:8], dimensions=384, limit=0.3, batch_size=4)
    assert codes.dtype == np.uint8 and codes.shape == (8, 384)


def test_bad_backends_fail_before_loading() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        load_teacher(backend="tensorrt")
    with pytest.raises(ValueError, match="runs on the CPU"):
        load_teacher(backend="openvino", device="cuda")
