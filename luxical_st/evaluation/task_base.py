"""What every offline mteb task shares: the seed, metadata defaults, split builders and the mixin whose
`load_data` builds the data from installed packages instead of downloading it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata

SEED = 42
# mteb's text columns (classification, clustering, pair tasks, STS, retrieval corpus and queries).
TEXT_COLUMNS = ("text", "title", "sentences", "sentence1", "sentence2", "sentence")


def task_texts(task: Any) -> list[str]:
    """Every text an mteb task reads (all splits and subsets, both sides of each; ids, labels and
    relevance judgements left out), loading its data if it is not loaded yet."""
    if not getattr(task, "data_loaded", False):
        task.load_data()
    return list(_texts(task.dataset))


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, Dataset):
        for column in TEXT_COLUMNS:
            for value in node[column] if column in node.column_names else ():
                values = [value] if isinstance(value, str) else value or ()  # clustering: lists of texts
                yield from (text for text in values if isinstance(text, str))
    elif isinstance(node, Mapping):  # DatasetDict, subsets, mteb's retrieval split data
        for key, value in node.items():
            if key not in ("relevant_docs", "top_ranked"):
                yield from _texts(value)


def stratified_test_indices(labels: Sequence[int], test_size: int, seed: int) -> list[int]:
    """A fixed-seed stratified sample of `test_size` positions (class shares kept up to rounding)."""
    from sklearn.model_selection import train_test_split

    positions = list(range(len(labels)))
    _, test = train_test_split(positions, test_size=test_size, random_state=seed, stratify=list(labels))
    return sorted(test)


def classification_splits(texts: list[str], labels: list[int], test_size: int, seed: int) -> DatasetDict:
    """A DatasetDict with a stratified `test` split of `test_size` rows and the rest as `train`."""
    test = set(stratified_test_indices(labels, test_size, seed))
    split: dict[str, dict[str, list[Any]]] = {name: {"text": [], "label": []} for name in ("train", "test")}
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        part = split["test" if index in test else "train"]
        part["text"].append(text)
        part["label"].append(label)
    return DatasetDict({name: Dataset.from_dict(columns) for name, columns in split.items()})


def sts_dataset(pairs: list[tuple[str, str, float]]) -> DatasetDict:
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


def metadata(name: str, description: str, **fields: Any) -> TaskMetadata:
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


class OfflineTask(ABC):
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


def unique_queries(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (query, document) pairs whose query is not empty and occurs only once among `pairs` (a query
    shared by several documents has no single relevant one)."""
    counts = Counter(query for query, _ in pairs)
    return [(query, document) for query, document in pairs if query and counts[query] == 1]


def retrieval_split(
    queries: dict[str, str], corpus: dict[str, str], relevant: dict[str, str]
) -> dict[str, dict[str, RetrievalSplitData]]:
    """The mteb retrieval layout of one `test` split: query id -> text, document id -> text, and the
    one relevant document of each query."""
    split = RetrievalSplitData(
        corpus=Dataset.from_dict({"id": list(corpus), "text": list(corpus.values())}),
        queries=Dataset.from_dict({"id": list(queries), "text": list(queries.values())}),
        relevant_docs={query: {document: 1} for query, document in relevant.items()},
        top_ranked=None,
    )
    return {"default": {"test": split}}
