"""Classifier heads against bad labels, crafted or damaged head files and stored embeddings of another
model: each refused with a message naming the file or the row, never NaN probabilities or wrong classes.
Real news embeddings of a small (untrained) Luxical model; no training run."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("safetensors")

import pyarrow as pa
import pyarrow.parquet as pq

from luxical_st.curate.heads import fit_head, main
from luxical_st.embedding_format import EmbeddingFormat
from luxical_st.head_model import HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, ClassifierHead
from tests.conftest import save_small_model


@pytest.fixture(scope="module")
def embeddings(tokenizer, news_texts, tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    path = save_small_model(tokenizer, news_texts[:150], tmp_path_factory.mktemp("m") / "m", (32, 64, 24))
    model = SentenceTransformer(path, device="cpu", trust_remote_code=True)
    return model.encode(news_texts[:200], convert_to_numpy=True)


def binary_head(embeddings, **kwargs) -> ClassifierHead:
    rng = np.random.default_rng(0)
    layer = (rng.normal(size=(embeddings.shape[1], 1)), np.zeros(1))
    return ClassifierHead(task="binary", kind="logreg", labels=["no", "yes"], layers=[layer], **kwargs)


def test_null_labels_and_plain_strings_among_label_lists_are_refused(embeddings):
    labels = ["sport" if i % 2 else "politics" for i in range(len(embeddings))]
    with pytest.raises(ValueError, match=r"2 labels are null \(rows \[3, 7\]\)"):
        fit_head(embeddings, [None if i in (3, 7) else v for i, v in enumerate(labels)])
    with pytest.raises(ValueError, match=r"labels are null \(rows \[5\]\)"):
        fit_head(embeddings, [float("nan") if i == 5 else float(i) / 7 for i in range(len(embeddings))])
    lists: list[Any] = [["sport"], ["politics", "sport"]] * (len(embeddings) // 2)
    lists[9] = "sports"
    with pytest.raises(ValueError, match=r"row 9 holds 'sports': write it as \['sports'\]"):
        fit_head(embeddings, lists)
    lists[9] = ["sport", None]
    with pytest.raises(ValueError, match=r"row 9's labels .* hold a null"):
        fit_head(embeddings, lists)
    head = fit_head(embeddings, labels)  # clean labels still train
    assert head.labels == ["politics", "sport"]


def test_nan_or_zero_calibration_and_nan_ranges_are_refused_at_construction_save_and_load(
    embeddings, tmp_path
):
    with pytest.raises(ValueError, match="slope holds NaN"):
        binary_head(embeddings, calibration="platt", slope=np.array([np.nan]), intercept=np.zeros(1))
    multiclass = ClassifierHead(
        task="multiclass", kind="logreg", labels=["a", "b", "c"], layers=[(np.ones((24, 3)), np.zeros(3))]
    )
    for temperature in (0.0, -1.0):
        with pytest.raises(ValueError, match="one positive temperature"):
            ClassifierHead(
                **{**vars(multiclass), "calibration": "temperature", "slope": np.array([temperature])}
            )
    regression = ClassifierHead(task="regression", kind="ridge", layers=[(np.ones((24, 1)), np.zeros(1))])
    with pytest.raises(ValueError, match="value_range must be two finite numbers"):
        ClassifierHead(**{**vars(regression), "value_range": (float("nan"), 1.0)})

    head = binary_head(embeddings)
    head.calibration, head.slope, head.intercept = "platt", np.array([np.nan]), np.zeros(1)  # set later
    with pytest.raises(ValueError, match="slope holds NaN"):
        head.save(tmp_path / "nan")
    assert not (tmp_path / "nan").exists()

    from safetensors.numpy import load_file, save_file

    folder = binary_head(embeddings, calibration="platt", slope=np.ones(1), intercept=np.zeros(1)).save(
        tmp_path / "h"
    )
    tensors = load_file(str(folder / HEAD_WEIGHTS_FILE))
    save_file({**tensors, "calibration.slope": np.array([np.nan])}, str(folder / HEAD_WEIGHTS_FILE))
    with pytest.raises(ValueError, match=rf"{folder}: not a valid head .*slope holds NaN"):
        ClassifierHead.load(folder)
    folder = regression.save(tmp_path / "r")
    config = json.loads((folder / HEAD_CONFIG_FILE).read_text())
    (folder / HEAD_CONFIG_FILE).write_text(json.dumps({**config, "value_range": [float("nan"), 2.0]}))
    with pytest.raises(ValueError, match="value_range must be two finite"):
        ClassifierHead.load(folder)


def test_damaged_head_files_are_named(embeddings, tmp_path):
    folder = binary_head(embeddings).save(tmp_path / "h")
    config = json.loads((folder / HEAD_CONFIG_FILE).read_text())
    (folder / HEAD_CONFIG_FILE).write_text(json.dumps({**config, "num_layers": 2}))
    with pytest.raises(
        ValueError, match=r"says num_layers 2, but .*head.safetensors has no tensor 'layers.1.weight'"
    ):
        ClassifierHead.load(folder)
    (folder / HEAD_CONFIG_FILE).write_text(json.dumps(config)[:-30])
    with pytest.raises(ValueError, match=rf"{folder / HEAD_CONFIG_FILE} is damaged"):
        ClassifierHead.load(folder)
    (folder / HEAD_CONFIG_FILE).write_text(json.dumps(config))
    (folder / HEAD_WEIGHTS_FILE).write_bytes((folder / HEAD_WEIGHTS_FILE).read_bytes()[:50])
    with pytest.raises(ValueError, match=rf"{folder / HEAD_WEIGHTS_FILE} is damaged"):
        ClassifierHead.load(folder)


def test_predict_on_stored_embeddings_of_another_model_is_refused(embeddings, tmp_path):
    stored = tmp_path / "stored"
    stored.mkdir()
    fmt = EmbeddingFormat("float32", embeddings.shape[1], model="org/luxical-a")
    table = pa.table({"id": [str(i) for i in range(len(embeddings))], "embedding": fmt.to_arrow(embeddings)})
    pq.write_table(table, stored / "part-0.parquet")
    fmt.save(stored)
    binary_head(embeddings, model="org/luxical-b").save(tmp_path / "head-b")
    binary_head(embeddings, model="org/luxical-a").save(tmp_path / "head-a")
    argv = ["predict", "--input", str(stored), "--embedding-column", "embedding", "--id-column", "id"]
    with pytest.raises(ValueError, match=r"of model 'org/luxical-a' .* trained on 'org/luxical-b'"):
        main([*argv, "--head", str(tmp_path / "head-b"), "--output", str(tmp_path / "b.parquet")])
    assert not (tmp_path / "b.parquet").exists()
    main([*argv, "--head", str(tmp_path / "head-a"), "--output", str(tmp_path / "a.parquet")])
    assert pq.read_table(tmp_path / "a.parquet").num_rows == len(embeddings)
