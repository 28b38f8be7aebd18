"""The offline MTEB suite: real packaged data, fixed-seed sizes, mteb-valid layouts."""

from __future__ import annotations

from typing import Any

import pytest

from luxical_st.evaluation import tasks


def loaded(name: str) -> Any:
    """The built data of one offline task."""
    (task,) = tasks.offline_tasks([name])
    task.load_data()
    return task.dataset


def test_lee_pairs_are_the_upper_triangle_of_50_documents() -> None:
    pairs = tasks.lee_pairs()
    assert len(pairs) == 1225
    assert all(0.0 <= score <= 1.0 for _, _, score in pairs)
    assert len({first for first, _, _ in pairs} | {second for _, second, _ in pairs}) == 50


def test_word_pair_files() -> None:
    simlex, wordsim = tasks.word_pairs("simlex999.txt"), tasks.word_pairs("wordsim353.tsv")
    assert (len(simlex), len(wordsim)) == (999, 353)
    assert simlex[0] == ("old", "new", 1.58)
    assert all(0 <= score <= 10 and " " not in first for first, _, score in simlex + wordsim)


def test_rotten_tomatoes_drops_plot_synopses() -> None:
    texts, labels = tasks.rotten_tomatoes_reviews()
    assert (len(texts), sum(labels)) == (12808, 7403)
    assert set(labels) == {0, 1}


def test_wordnet_glosses_and_examples_are_separated() -> None:
    synsets = tasks.wordnet_synsets()
    assert len(synsets) == 117659 - 20  # all but the 20 glosses with unbalanced quotes
    by_id = {synset_id: (gloss, examples) for synset_id, gloss, examples in synsets}
    gloss, examples = by_id["noun-00003553"]
    assert gloss == "an assemblage of parts that is regarded as a single entity"
    assert examples == ["how big is that part compared to the whole?", "the team is a unit"]
    assert not any('"' in gloss for gloss, _ in by_id.values())


def test_missing_package_names_the_install_command() -> None:
    with pytest.raises(FileNotFoundError, match="pip install"):
        tasks.package_dir("no_such_package_for_luxical")


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("LeeDocSimilarity", {"test": 1225}),
        ("SimLex999", {"test": 999}),
        ("WordSim353", {"test": 353}),
        ("RottenTomatoesClassification", {"train": 11808, "test": 1000}),
    ],
)
def test_task_sizes(name: str, sizes: dict[str, int]) -> None:
    dataset = loaded(name)
    assert {split: len(dataset[split]) for split in sizes} == sizes


def test_classification_test_split_is_stratified_and_fixed() -> None:
    first, second = loaded("RottenTomatoesClassification"), loaded("RottenTomatoesClassification")
    assert list(first["test"]["text"]) == list(second["test"]["text"])
    share = sum(first["test"]["label"]) / 1000
    assert share == pytest.approx(7403 / 12808, abs=0.002)


def test_healthtweets_uses_only_the_heldout_split_without_urls() -> None:
    from luxical_st.data.corpus import load_healthtweets

    dataset = loaded("HealthTweetsClassification")
    test, train = dataset["test"], dataset["train"]
    assert len(test) == 800
    assert set(test["label"]) == set(range(16))
    heldout = {tasks.URL.sub("", text).strip() for text in load_healthtweets("heldout")["text"]}
    texts = list(test["text"]) + list(train["text"])
    assert all(text in heldout for text in texts)
    assert not any("http" in text for text in texts)


def test_wordnet_retrieval_every_query_has_its_gloss_in_the_corpus() -> None:
    split = loaded("WordNetGlossRetrieval")["default"]["test"]
    corpus_ids = set(split["corpus"]["id"])
    assert (len(split["queries"]), len(corpus_ids)) == (500, 2500)
    assert all(set(relevant) <= corpus_ids for relevant in split["relevant_docs"].values())
    assert set(split["relevant_docs"]) == set(split["queries"]["id"])


def test_all_tasks_have_citable_metadata() -> None:
    suite = tasks.offline_tasks()
    assert [task.metadata.name for task in suite] == [task.metadata.name for task in tasks.OFFLINE_TASKS]
    for task in suite:
        assert task.metadata.bibtex_citation and task.metadata.reference and task.metadata.description


def test_unknown_task_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="NoSuchTask"):
        tasks.offline_tasks(["NoSuchTask"])
