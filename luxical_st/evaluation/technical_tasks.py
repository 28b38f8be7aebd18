"""Offline mteb tasks on a technical domain the training blend never touches: the Linux man-pages
project's manual pages (Debian `manpages` + `manpages-dev`, ~1,080 pages of sections 2-7).

| task | what | size (seed 42, man-pages 6.03) |
|---|---|---|
| ManPageSummaryRetrieval | NAME summary ("create a new thread") -> DESCRIPTION | 700 queries, 900 docs |
| ManPageSectionClassification | manual section of a DESCRIPTION (system call, ...) | 4 classes, test 400 |
| ManPageTopicClustering | k-means of DESCRIPTIONs vs their header's topic | ~500 pages, 10 topics |

Together they are the "technical docs" category: short technical queries, technical vocabulary
(identifiers, flags, jargon) and prose that none of the quickstart's news, speeches, recipes or
country profiles resemble.
"""

from __future__ import annotations

import random
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering import AbsTaskClustering

from luxical_st.data.manpages import ManPage, man_pages
from luxical_st.evaluation.document_tasks import SampledRetrieval
from luxical_st.evaluation.task_base import OfflineTask, classification_splits, metadata, unique_queries

CATEGORY = "technical docs"
MAX_DESCRIPTION_WORDS = 400
"""Descriptions are cut to their first 400 words (the longest overview pages run to thousands)."""

SECTION_LABELS = {"2": "system calls", "3": "library functions", "4": "devices and file formats",
                  "5": "devices and file formats", "7": "overviews and conventions"}  # fmt: skip
HEADER_TOPICS: dict[str, tuple[str, ...]] = {
    "math": ("math.h", "complex.h", "fenv.h", "tgmath.h"),
    "standard I/O": ("stdio.h", "printf.h", "stdio_ext.h"),
    "wide characters": ("wchar.h", "wctype.h"),
    "threads": ("pthread.h", "semaphore.h"),
    "strings": ("string.h", "strings.h", "ctype.h"),
    "signals": ("signal.h",),
    "time": ("time.h", "sys/time.h", "sys/timerfd.h", "sys/times.h"),
    "networking": ("sys/socket.h", "netdb.h", "netinet/in.h", "arpa/inet.h", "ifaddrs.h", "net/if.h"),
    "files and directories": ("fcntl.h", "sys/stat.h", "dirent.h", "sys/statvfs.h", "sys/xattr.h", "ftw.h"),
    "memory": ("sys/mman.h", "malloc.h", "alloca.h"),
}
"""Topic of a page: the first of its `#include`s that names one of these headers."""

MANPAGE_FIELDS: dict[str, Any] = {
    "reference": "https://www.kernel.org/doc/man-pages/",
    "date": ("1992-01-01", "2023-02-05"),
    "domains": ["Programming", "Written"],
    "license": "https://www.kernel.org/doc/man-pages/licenses.html",
    "annotations_creators": "derived",
    "bibtex_citation": r"""
@misc{linux_man_pages,
  author = {Kerrisk, Michael and Colomar, Alejandro and {Linux man-pages contributors}},
  title = {The Linux man-pages project},
  url = {https://www.kernel.org/doc/man-pages/},
  year = {2023},
}
""",
}


def description(page: ManPage) -> str:
    """The page's DESCRIPTION, cut to MAX_DESCRIPTION_WORDS words."""
    return " ".join(page.description.split()[:MAX_DESCRIPTION_WORDS])


def page_topic(page: ManPage) -> str | None:
    """The HEADER_TOPICS topic of the first of the page's includes that has one."""
    for header in page.includes:
        for topic, headers in HEADER_TOPICS.items():
            if header in headers:
                return topic
    return None


class ManPageSummaryRetrieval(SampledRetrieval):
    """Find a manual page from its one-line NAME summary (short technical query -> document)."""

    category = CATEGORY
    num_queries = 700
    num_documents = 900
    metadata = metadata(
        "ManPageSummaryRetrieval",
        "Linux man-pages (Debian manpages, manpages-dev): the query is a page's NAME summary (e.g. "
        "'open and possibly create a file'; summaries shared by several pages are left out), the relevant "
        "document its DESCRIPTION (first 400 words), among 900 descriptions (700 queries). "
        "Main score: nDCG@10.",
        type="Retrieval",
        main_score="ndcg_at_10",
        sample_creation="found",
        **MANPAGE_FIELDS,
    )

    def pairs(self) -> list[tuple[str, str]]:
        return unique_queries([(page.summary, description(page)) for page in man_pages()])


class ManPageSectionClassification(OfflineTask, AbsTaskClassification):
    """Which part of the manual a page's DESCRIPTION belongs to: system call, library function, device
    or file format, overview."""

    category = CATEGORY
    test_size = 400
    samples_per_label = 16
    n_experiments = 5
    metadata = metadata(
        "ManPageSectionClassification",
        "Linux man-pages: the label is the manual section of a page (2 system calls, 3 library functions, "
        "4-5 devices and file formats, 7 overviews and conventions), the text its DESCRIPTION (first 400 "
        "words). Test: a stratified 400; train: 5 experiments of 16 per class from the rest. "
        "Main score: accuracy.",
        type="Classification",
        main_score="accuracy",
        task_subtypes=["Topic classification"],
        sample_creation="found",
        **MANPAGE_FIELDS,
    )

    def build(self) -> Any:
        pages = man_pages()
        names = {name: index for index, name in enumerate(sorted(set(SECTION_LABELS.values())))}
        labels = [names[SECTION_LABELS[page.section]] for page in pages]
        return classification_splits([description(page) for page in pages], labels, self.test_size, self.seed)


class ManPageTopicClustering(OfflineTask, AbsTaskClustering):
    """k-means of manual pages against the topic of their header (math, threads, networking, ...)."""

    category = CATEGORY
    max_fraction_of_documents_to_embed = None
    max_documents_per_cluster = 400
    n_clusters = 10
    metadata = metadata(
        "ManPageTopicClustering",
        "Linux man-pages of sections 2-3 whose SYNOPSIS includes a header of 10 topics (math, standard "
        "I/O, wide characters, threads, strings, signals, time, networking, files and directories, "
        "memory; ~500 pages): their DESCRIPTIONs (first 400 words), 10 k-means runs on 400 of them "
        "each. Main score: V-measure.",
        type="Clustering",
        main_score="v_measure",
        sample_creation="found",
        **MANPAGE_FIELDS,
    )

    def build(self) -> Any:
        rows = [(description(page), topic) for page in man_pages() if (topic := page_topic(page))]
        random.Random(self.seed).shuffle(rows)
        test = Dataset.from_dict(
            {"sentences": [text for text, _ in rows], "labels": [topic for _, topic in rows]}
        )
        return DatasetDict({"test": test})


TECHNICAL_TASKS: tuple[type[AbsTask], ...] = (
    ManPageSectionClassification,
    ManPageTopicClustering,
    ManPageSummaryRetrieval,
)
