"""Code execution only by consent: find out whether loading a SentenceTransformer would run Python code
that the model itself ships, before anything is loaded.

sentence-transformers runs a model's own code when `trust_remote_code=True` is passed: module classes
outside `sentence_transformers.*` named in `modules.json`, and transformers' `auto_map` classes named in
a `config.json` or `tokenizer_config.json`. The teacher loader and evaluate.py pass that flag, so they
ask `check_remote_code` first, which refuses unless the user opted in (`trust_remote_code: true` in a
training config, `--trust_remote_code` for evaluate.py).

One exception needs no opt-in: a local folder holding a Luxical model whose module files are
byte-identical to this luxical-st's own `luxical_st/modules` (every model this installation saves):
the code it runs is the code already running. A Luxical folder saved by another luxical-st version,
edited, or on the Hub needs the opt-in like any other model with code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luxical_st.modules.ngram_tfidf import REMOTE_CODE_FILES

LUXICAL_MODULE_TYPES = frozenset(
    {"ngram_tfidf.NgramTfidf", "sparse_dense.SparseDense", "lexical_sketch.LexicalSketch"}
)
_CODE_CONFIGS = ("config.json", "tokenizer_config.json")


def _reader(name_or_path: str) -> Any:
    """A function (relative file path) -> parsed JSON or None, over a local folder or a Hub repo."""
    folder = Path(name_or_path)
    if folder.is_dir():

        def read_local(relative: str) -> Any:
            try:
                return json.loads((folder / relative).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None

        return read_local

    def read_hub(relative: str) -> Any:
        from huggingface_hub import hf_hub_download

        try:
            path = hf_hub_download(repo_id=name_or_path, filename=relative)
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except Exception:  # absent file, unknown repo, offline: nothing to read here
            return None

    return read_hub


def _is_own_luxical_code(folder: Path) -> bool:
    """Whether a local folder's Luxical module files are exactly this luxical-st's own."""
    here = Path(__file__).parent / "modules"
    present = [name for name in REMOTE_CODE_FILES if (folder / name).is_file()]
    if "ngram_tfidf.py" not in present or "sparse_dense.py" not in present:
        return False
    try:
        return all((folder / name).read_bytes() == (here / name).read_bytes() for name in present)
    except OSError:
        return False


def remote_code_in(name_or_path: str) -> list[str]:
    """What code of its own loading `name_or_path` as a SentenceTransformer would run (empty if none)."""
    read = _reader(name_or_path)
    modules = read("modules.json")
    entries = [entry for entry in modules if isinstance(entry, dict)] if isinstance(modules, list) else []
    reasons: list[str] = []
    custom = sorted(
        {
            str(entry.get("type"))
            for entry in entries
            if not str(entry.get("type")).startswith("sentence_transformers.")
        }
    )
    folders = {str(entry.get("path") or "") for entry in entries} or {""}
    for sub in sorted(folders):
        for name in _CODE_CONFIGS:
            config = read(f"{sub}/{name}" if sub else name)
            if isinstance(config, dict) and config.get("auto_map"):
                reasons.append(f"{sub + '/' if sub else ''}{name} maps classes to its own code (auto_map)")
    if custom and set(custom) <= LUXICAL_MODULE_TYPES and not reasons:
        folder = Path(name_or_path)
        if folder.is_dir() and _is_own_luxical_code(folder):
            return []
        where = "a Hub repo" if not folder.is_dir() else "saved by another luxical-st version, or edited"
        return [
            f"Luxical module code ({', '.join(REMOTE_CODE_FILES)}) that is not this luxical-st's: {where}"
        ]
    if custom:
        reasons.insert(
            0, f"modules.json names module classes outside sentence-transformers: {', '.join(custom)}"
        )
    return reasons


def check_remote_code(name_or_path: str, trust_remote_code: bool, how_to_opt_in: str) -> None:
    """Raise a ValueError saying how to opt in if loading `name_or_path` would run its own code and
    `trust_remote_code` is off."""
    if trust_remote_code:
        return
    reasons = remote_code_in(str(name_or_path))
    if reasons:
        raise ValueError(
            f"{name_or_path} ships Python code that loading it would run ({'; '.join(reasons)}). "
            f"Inspect that code; to run it, opt in with {how_to_opt_in}"
        )


@dataclass
class RemoteCodeArguments:
    """evaluate.py's opt-in to models that ship their own code."""

    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "let the models run the Python code their Hub repo or folder ships (a Luxical folder "
            "saved by this luxical-st needs no opt-in; one from the Hub or another version does)"
        },
    )


def check_models(paths: Iterable[str], trust_remote_code: bool) -> None:
    """Check the models evaluate.py loads (folders or Hub ids; `baseline:` specs are built, not loaded)."""
    for path in paths:
        if not path.startswith("baseline:"):
            check_remote_code(path, trust_remote_code, "--trust_remote_code")
