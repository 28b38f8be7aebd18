"""The offline MTEB suite: real packaged data, fixed-seed sizes, mteb-valid layouts."""

from __future__ import annotations

from typing import Any

import pytest

from luxical_st.data import packaged, sources
from luxical_st.evaluation import document_tasks, perturb, tasks


def loaded(name: str) -> Any:
    """The built data of one offline task."""
    (task,) = tasks.offline_tasks([name])
    task.load_data()
    return task.dataset


def test_lee_pairs_are_the_upper_triangle_of_50_documents() -> None:
    pairs = sources.lee_pairs()
    assert len(pairs) == 1225
    assert all(0.0 <= score <= 1.0 for _, _, score in pairs)
    assert len({first for first, _, _ in pairs} | {second for _, second, _ in pairs}) == 50


def test_word_pair_files() -> None:
    simlex, wordsim = sources.word_pairs("simlex999.txt"), sources.word_pairs("wordsim353.tsv")
    assert (len(simlex), len(wordsim)) == (999, 353)
    assert simlex[0] == ("old", "new", 1.58)
    assert all(0 <= score <= 10 and " " not in first for first, _, score in simlex + wordsim)


def test_rotten_tomatoes_drops_plot_synopses() -> None:
    texts, labels = sources.rotten_tomatoes_reviews()
    assert (len(texts), sum(labels)) == (12808, 7403)
    assert set(labels) == {0, 1}


def test_wordnet_glosses_and_examples_are_separated() -> None:
    synsets = sources.wordnet_synsets()
    assert len(synsets) == 117659 - 20  # all but the 20 glosses with unbalanced quotes
    by_id = {synset_id: (gloss, examples) for synset_id, gloss, examples in synsets}
    gloss, examples = by_id["noun-00003553"]
    assert gloss == "an assemblage of parts that is regarded as a single entity"
    assert examples == ["how big is that part compared to the whole?", "the team is a unit"]
    assert not any('"' in gloss for gloss, _ in by_id.values())


def test_missing_package_names_the_install_command() -> None:
    with pytest.raises(FileNotFoundError, match="pip install"):
        packaged.package_dir("no_such_package_for_luxical")


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


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("NewsOutletClassification", {"train": 900, "test": 900}),
        ("WikipediaTopicClassification", {"train": 1100, "test": 1100}),
        ("WikipediaTopicClustering", {"test": 2200}),
        ("NewsNearDuplicates", {"test": 1200}),
    ],
)
def test_document_task_sizes(name: str, sizes: dict[str, int]) -> None:
    dataset = loaded(name)
    assert {split: len(dataset[split]) for split in sizes} == sizes


def test_document_classification_splits_are_balanced_and_disjoint() -> None:
    dataset = loaded("NewsOutletClassification")
    train, test = dataset["train"], dataset["test"]
    assert not set(train["text"]) & set(test["text"])
    assert set(test["label"]) == set(range(9))
    assert all(list(test["label"]).count(label) == 100 for label in range(9))
    assert min(len(text.split()) for text in test["text"]) >= document_tasks.MIN_ARTICLE_WORDS


def test_near_duplicates_pair_real_copies_and_different_articles() -> None:
    data = loaded("NewsNearDuplicates")["test"]
    labels = list(data["labels"])
    assert labels.count(1) == labels.count(0) == 600
    pairs = list(zip(data["sentence1"], data["sentence2"], labels, strict=True))
    assert all(first != second for first, second, _ in pairs)
    overlap = [len(set(a.split()) & set(b.split())) / len(set(a.split())) for a, b, _ in pairs]
    copies = [value for value, (_, _, label) in zip(overlap, pairs, strict=True) if label]
    others = [value for value, (_, _, label) in zip(overlap, pairs, strict=True) if not label]
    assert sum(copies) / len(copies) > 2 * sum(others) / len(others)


def test_perturbations_change_text_deterministically() -> None:
    import random

    text = sources.news_articles()[10].text
    for name, make_copy in perturb.NEAR_DUPLICATE_KINDS.items():
        first, second = make_copy(text, random.Random(1)), make_copy(text, random.Random(1))
        assert first == second and first != text, name
    assert " ".join(text.split()).startswith(perturb.truncate(text, random.Random(0)))


@pytest.mark.parametrize(
    ("name", "queries", "documents"),
    [
        ("NewsHalvesRetrieval", 800, 2000),
        ("NewsTitleRetrieval", 800, 2000),
        ("WikipediaDescriptionRetrieval", 1000, 4000),
    ],
)
def test_document_retrieval_layout(name: str, queries: int, documents: int) -> None:
    split = loaded(name)["default"]["test"]
    corpus = dict(zip(split["corpus"]["id"], split["corpus"]["text"], strict=True))
    assert (len(split["queries"]), len(corpus)) == (queries, documents)
    assert set(split["relevant_docs"]) == set(split["queries"]["id"])
    for query, text in zip(split["queries"]["id"], split["queries"]["text"], strict=True):
        (document,) = split["relevant_docs"][query]
        assert document in corpus and text and text != corpus[document]


def test_news_halves_cut_at_a_sentence_boundary() -> None:
    text = sources.news_articles()[3].text
    first, second = document_tasks.halves(text)
    assert f"{first} {second}".split() == text.split()
    assert first.rstrip()[-1] in ".!?\"'\u201d)" and len(first.split()) >= len(text.split()) / 2


def test_every_task_has_a_category_and_words_are_not_the_headline() -> None:
    categories = {task.metadata.name: tasks.task_category(task.metadata.name) for task in tasks.OFFLINE_TASKS}
    assert all(categories.values())
    assert {categories["SimLex999"], categories["WordSim353"]} == {"words"}
    assert sum(category != "words" for category in categories.values()) >= 10
    assert tasks.task_category("STS12") is None


def test_man_page_tasks_build_from_the_technical_pages() -> None:
    from luxical_st.evaluation import technical_tasks

    classes = loaded("ManPageSectionClassification")
    assert len(classes["test"]) == 400
    assert not set(classes["train"]["text"]) & set(classes["test"]["text"])
    assert set(classes["test"]["label"]) == set(range(len(set(technical_tasks.SECTION_LABELS.values()))))
    clusters = loaded("ManPageTopicClustering")["test"]
    assert set(clusters["labels"]) == set(technical_tasks.HEADER_TOPICS)
    assert len(clusters["sentences"]) > 400
    split = loaded("ManPageSummaryRetrieval")["default"]["test"]
    assert (len(split["queries"]), len(split["corpus"])) == (700, 900)
    longest = max(len(text.split()) for text in split["corpus"]["text"])
    assert longest == technical_tasks.MAX_DESCRIPTION_WORDS
    assert {tasks.task_category(task.metadata.name) for task in technical_tasks.TECHNICAL_TASKS} == {
        technical_tasks.CATEGORY
    }
