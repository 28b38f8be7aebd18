"""The Linux man-pages project's manual pages (Debian `manpages` and `manpages-dev`) as plain text: a
technical domain reserved for evaluation, which `luxical_st.data.corpus` never reads for training.

Each page is read from its roff source (no groff needed): the NAME line gives the page's names and its
one-line summary ("open and possibly create a file"), SYNOPSIS its `#include`s, DESCRIPTION the prose.
Pages of other packages in the same folders (their `.TH` line does not name "Linux man-pages") and the
links of one page under several names are left out, so every page is read once.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MAN_DIR = Path("/usr/share/man")
MAN_PAGES_PROJECT = "Linux man-pages"
SECTIONS = ("2", "3", "4", "5", "7")

_ESCAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\\((aq|cq|oq)"), "'"),
    (re.compile(r"\\\(dq"), '"'),
    (re.compile(r"\\\((em|en|hy)"), "-"),
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""),  # strings
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other special characters
    (re.compile(r"\\s[-+]?\d"), ""),  # size changes
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\ "), " "),
    (re.compile(r"\\[&:|^/,%c]"), ""),
)
_MACRO = re.compile(r"[.'](\S+)\s*(.*)")
_ARGUMENT = re.compile(r'"[^"]*"|\S+')
_INCLUDE = re.compile(r"#include <([^>]+)>")
_SPACE = re.compile(r"\s+")
_ALTERNATING = {"BR", "IR", "RB", "RI", "BI", "IB"}  # fonts alternate between arguments: no spaces
_FONT = {"B", "I", "SM", "SB"}


@dataclass(frozen=True)
class ManPage:
    """One manual page: `section` "2", "3", ...; `summary` the text after the dash of NAME."""

    name: str
    section: str
    names: str
    summary: str
    description: str
    includes: tuple[str, ...]


def unescape(text: str) -> str:
    """Roff text with its font, size and character escapes resolved to plain text."""
    for pattern, replacement in _ESCAPES:
        text = pattern.sub(replacement, text)
    return text


def _arguments(rest: str) -> list[str]:
    return [arg[1:-1] if arg.startswith('"') else arg for arg in _ARGUMENT.findall(rest)]


def roff_sections(source: str) -> tuple[list[str], dict[str, str]] | None:
    """The `.TH` arguments and the text of every `.SH` section of a man(7) page (None for a `.so`
    link). Font macros keep their text; other requests and comments are dropped."""
    title: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in source.splitlines():
        if line.startswith((".so ", "'so ")):
            return None
        if line.startswith(('.\\"', "'\\\"", '\\"')):
            continue
        match = _MACRO.match(line) if line.startswith((".", "'")) else None
        if line.startswith((".", "'")) and match is None:
            continue
        if match is not None:
            macro, rest = match.groups()
            if macro == "TH":
                title = _arguments(rest)
                continue
            if macro == "SH":
                current = sections.setdefault(" ".join(_arguments(rest)).upper(), [])
                continue
            if macro in _ALTERNATING:
                line = "".join(_arguments(rest))
            elif macro in _FONT or macro == "SS":
                line = " ".join(_arguments(rest))
            else:
                continue
        if current is not None:
            current.append(unescape(line))
    return title, {name: _SPACE.sub(" ", " ".join(lines)).strip() for name, lines in sections.items()}


def read_page(path: Path) -> ManPage | None:
    """The page at `path` (a gzipped roff file), or None when it is a link, another project's page,
    or has no NAME or DESCRIPTION."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
        parsed = roff_sections(handle.read())
    if parsed is None:
        return None
    title, sections = parsed
    if len(title) < 4 or not title[3].startswith(MAN_PAGES_PROJECT):
        return None
    name_line, description = sections.get("NAME", ""), sections.get("DESCRIPTION", "")
    names, dash, summary = name_line.partition(" - ")
    if not dash or not summary.strip() or not description:
        return None
    return ManPage(
        name=unescape(title[0]),
        section=title[1][:1],
        names=names.strip(),
        summary=summary.strip(),
        description=description,
        includes=tuple(_INCLUDE.findall(sections.get("SYNOPSIS", ""))),
    )


@cache
def man_pages(root: Path = MAN_DIR) -> tuple[ManPage, ...]:
    """Every page of the Linux man-pages project under `root` in sections 2-7, each file once (links
    resolved), in path order."""
    folders = [root / f"man{section}" for section in SECTIONS]
    if not any(folder.is_dir() for folder in folders):
        raise FileNotFoundError(
            f"{root} holds no manual pages: install them with `apt-get install manpages manpages-dev`"
        )
    seen: set[Path] = set()
    pages = []
    for folder in folders:
        for path in sorted(folder.glob("*.gz")):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            page = read_page(path)
            if page is not None:
                pages.append(page)
    if not pages:
        raise FileNotFoundError(
            f"{root} holds no page of the {MAN_PAGES_PROJECT} project: `apt-get install manpages`"
        )
    return tuple(pages)
