"""The suite's validation split: drawn from the suite's sources, over texts that no test task reads."""

from __future__ import annotations

import pytest

from luxical_st.evaluation import validation

pytestmark = pytest.mark.slow  # builds every suite task (and the tiny run)


@pytest.fixture(scope="module")
def evaluator():
    return validation.suite_validation()


def test_validation_texts_are_never_read_by_a_suite_task(evaluator) -> None:
    from luxical_st.evaluation.task_base import task_texts
    from luxical_st.evaluation.tasks import offline_tasks

    used = validation.suite_texts()
    assert len(used) > 10_000
    for task in offline_tasks():  # every kind of task: classification, clustering, pairs, STS, retrieval
        assert set(task_texts(task)) <= used, task.metadata.name
    assert evaluator.primary_metric == validation.PRIMARY_METRIC
    sizes = {}
    for ir in evaluator.evaluators:
        assert not (set(ir.queries) | set(ir.corpus)) & used, ir.name
        assert all(set(ir.relevant_docs[query_id]) <= set(ir.corpus_ids) for query_id in ir.queries_ids)
        sizes[ir.name] = (len(ir.queries), len(ir.corpus))
    assert sizes["validation-wikipedia"] == validation.SET_SIZES["wikipedia"]
    assert sizes["validation-wordnet"] == validation.SET_SIZES["wordnet"]
    assert sizes["validation-news"][0] == validation.SET_SIZES["news"][0] < sizes["validation-news"][1]


def test_news_articles_whose_halves_a_test_reads_are_left_out() -> None:
    from luxical_st.evaluation.document_tasks import halves
    from luxical_st.evaluation.tasks import offline_tasks

    (task,) = offline_tasks(["NewsHalvesRetrieval"])
    task.load_data()
    second_halves = set(task.dataset["default"]["test"]["corpus"]["text"])
    news = validation.validation_pairs(second_halves)["news"]
    assert news and not any(halves(body)[1] in second_halves for _, body in news)


def test_the_validation_score_is_the_mean_of_the_three_sets(evaluator, trained_model_path: str) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(trained_model_path, trust_remote_code=True, device="cpu")
    scores = evaluator(model)
    parts = [scores[f"{ir.name}_cosine_ndcg@10"] for ir in evaluator.evaluators]
    assert scores[validation.PRIMARY_METRIC] == pytest.approx(sum(parts) / 3)
    assert 0.05 < scores[validation.PRIMARY_METRIC] < 1
