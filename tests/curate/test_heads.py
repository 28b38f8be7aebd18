"""Classifier heads on a real (small, untrained) Luxical model and real news articles: every task and
kind, calibration, numpy inference equal to scikit-learn's, safetensors round trip, CLI."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("safetensors")

from luxical_st import build_model
from luxical_st.curate.heads import encode_targets, fit_head, fit_layers, infer_task, main, train_head
from luxical_st.data.sources import news_articles
from luxical_st.head_model import HEAD_CONFIG_FILE, ClassifierHead
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def articles():
    return news_articles()[::6][:600]  # every outlet (the file is ordered by outlet)


@pytest.fixture(scope="module")
def model(trained_model_path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)


@pytest.fixture(scope="module")
def saved_model(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("curate") / "luxical"
    model.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def embeddings(model, articles):
    return model.encode([a.text for a in articles], convert_to_numpy=True)


@pytest.fixture(scope="module")
def outlets(articles):
    return [a.outlet for a in articles]


def test_tasks_are_inferred_from_labels():
    assert infer_task(["a", "b", "a"]) == "binary"
    assert infer_task([0, 1, 2]) == "multiclass"
    assert infer_task([0.5, 1.0, 2.25]) == "regression"
    assert infer_task([["a"], ["a", "b"], []]) == "multilabel"
    targets = encode_targets(["2", "10", "1"], "multiclass")
    assert targets.names == ["1", "2", "10"] and targets.y.tolist() == [1, 2, 0]


@pytest.mark.parametrize("kind", ["logreg", "ridge", "mlp"])
def test_multiclass_outlet_heads_beat_chance_and_calibrate(embeddings, outlets, kind):
    head = fit_head(embeddings, outlets, kind=kind, seed=0, c=100.0)
    assert head.task == "multiclass" and head.labels == sorted(set(outlets))
    test = head.metrics["test"]
    assert test["accuracy"] > 1.2 / len(head.labels) and test["roc_auc"] > 0.55
    assert head.calibration == "temperature" and head.slope is not None and head.slope[0] > 0
    probabilities = head.predict_proba(embeddings[:20])
    assert probabilities.shape == (20, len(head.labels))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)


def test_binary_head_metrics_and_platt_calibration(embeddings, outlets):
    top = max(set(outlets), key=outlets.count)
    labels = ["yes" if outlet == top else "no" for outlet in outlets]
    head = fit_head(embeddings, labels, kind="ridge", seed=0, c=100.0)
    assert head.task == "binary" and head.labels == ["no", "yes"] and head.calibration == "platt"
    assert set(head.metrics["test"]) >= {"roc_auc", "f1", "accuracy", "brier", "ece"}
    assert head.metrics["test"]["roc_auc"] > 0.65
    # ridge scores are not probabilities: Platt scaling must improve the Brier score on held-out data
    assert head.metrics["test"]["brier"] < head.metrics["test_uncalibrated"]["brier"]
    assert set(head.predict(embeddings[:30])) <= {"no", "yes"}


def test_multilabel_and_regression_heads(embeddings, outlets, articles):
    multilabel = [[o, "long"] if len(a.text) > 3000 else [o] for o, a in zip(outlets, articles, strict=True)]
    head = fit_head(embeddings, multilabel, kind="logreg", seed=0, c=100.0)
    assert head.task == "multilabel" and "long" in head.labels
    assert head.metrics["test"]["roc_auc"] > 0.55 and 0 <= head.metrics["test"]["micro_f1"] <= 1
    assert all(isinstance(row, list) for row in head.predict(embeddings[:5]))
    lengths = np.log([len(a.text.split()) + 1.0 for a in articles])
    regression = fit_head(
        embeddings, lengths.tolist(), task="regression", kind="ridge", binarize_at=6.0, seed=0
    )
    assert regression.task == "regression" and regression.calibration == "none"
    assert regression.metrics["test"]["spearman"] > 0.3 and "roc_auc" in regression.metrics["test"]
    predicted = regression.predict(embeddings)
    assert predicted.min() >= lengths.min() - 1e-6 and predicted.max() <= lengths.max() + 1e-6
    with pytest.raises(ValueError, match="ridge or mlp"):
        fit_head(embeddings, lengths.tolist(), kind="logreg")


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
def test_numpy_inference_equals_scikit_learn(embeddings, outlets, kind):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    targets = encode_targets(outlets, "multiclass")
    layers = fit_layers(embeddings, targets.y, "multiclass", kind, seed=0, hidden=32)
    head = ClassifierHead(task="multiclass", kind=kind, layers=layers, labels=targets.names)
    if kind == "logreg":
        reference = LogisticRegression(max_iter=2000).fit(embeddings, targets.y)
    else:
        reference = MLPClassifier((32,), early_stopping=True, max_iter=300, random_state=0)
        reference.fit(embeddings, targets.y)
    np.testing.assert_allclose(head.predict_proba(embeddings), reference.predict_proba(embeddings), atol=1e-4)


def test_save_load_round_trip_without_pickle(saved_model, articles, outlets, embeddings, tmp_path, model):
    texts = [a.text for a in articles]
    head = train_head(saved_model, texts, outlets, kind="logreg", seed=0)
    assert head.model == saved_model and head.probe is not None
    folder = head.save(tmp_path / "head")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "head.safetensors", HEAD_CONFIG_FILE]
    loaded = ClassifierHead.load(folder)
    assert loaded.labels == head.labels and loaded.metrics["test"] == head.metrics["test"]
    np.testing.assert_allclose(loaded.predict_proba(embeddings), head.predict_proba(embeddings), atol=1e-6)
    # texts are embedded by the referenced model (loaded from its folder, probe checked)
    np.testing.assert_allclose(
        loaded.predict_proba(texts[:40]), head.predict_proba(embeddings[:40]), atol=1e-5
    )
    assert loaded.predict(texts[:3]) == head.predict(embeddings[:3])


def test_a_different_model_or_bad_input_is_refused(embeddings, outlets, model, tokenizer, articles, tmp_path):
    head = train_head(model, [a.text for a in articles[:200]], outlets[:200], seed=0)
    rows = [e.ids for e in tokenizer.encode_batch([a.text for a in articles[:50]], add_special_tokens=False)]
    ngrams, _ = exact_ngram_vocabulary(rows, max_n=1, min_count=1)
    other = build_model(
        tokenizer, ngrams, np.ones(len(ngrams), np.float32), layer_sizes=(64, 128, 32), seed=9
    )
    with pytest.raises(ValueError, match="probe sentence"):
        head.set_encoder(other)
    with pytest.raises(ValueError, match="shape"):
        head.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError, match="must be a list of strings"):
        head.predict("one text")
    folder = head.save(tmp_path / "head")
    config = json.loads((folder / HEAD_CONFIG_FILE).read_text())
    (folder / HEAD_CONFIG_FILE).write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ValueError, match="format_version"):
        ClassifierHead.load(folder)


def test_cli_trains_and_predicts_on_parquet(saved_model, articles, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    fasttext = importlib.util.find_spec("fasttext") is not None  # the comparison (eval extra)
    rows = articles[:300]
    data = tmp_path / "labelled.parquet"
    pq.write_table(pa.table({"text": [a.text for a in rows], "outlet": [a.outlet for a in rows]}), data)
    main(["train", "--model", saved_model, "--dataset", str(data), "--label-column", "outlet",
          "--output", str(tmp_path / "head"), *(["--fasttext"] if fasttext else [])])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "multiclass" and (not fasttext or 0 <= report["fasttext"]["accuracy"] <= 1)
    pq.write_table(pa.table({"id": list(range(20)), "text": [a.text for a in articles[300:320]]}), data)
    main(["predict", "--head", str(tmp_path / "head"), "--input", str(data), "--id-column", "id",
          "--output", str(tmp_path / "scores.parquet")])  # fmt: skip
    scores = pq.read_table(tmp_path / "scores.parquet")
    assert scores.num_rows == 20 and scores.column_names[:2] == ["id", "prediction"]
    probability_columns = [c for c in scores.column_names if c.startswith("p_")]
    total = np.sum([scores.column(c).to_numpy() for c in probability_columns], axis=0)
    np.testing.assert_allclose(total, 1, atol=1e-5)
