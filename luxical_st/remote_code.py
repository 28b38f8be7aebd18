"""Code execution only by consent: find out whether loading a SentenceTransformer would run Python code
that the model itself ships, before anything is loaded.

sentence-transformers runs a model's own code when `trust_remote_code=True` is passed: module classes
outside `sentence_transformers.*` named in `modules.json`, and transformers' `auto_map` classes named in
a `config.json` or `tokenizer_config.json`. The teacher loader and evaluate.py pass that flag, so they
ask `check_remote_code` first, which refuses unless the user opted in (`trust_remote_code: true` in a
training config, `--trust_remote_code` for evaluate.py). This is an early refusal with a clear message,
not the gate: every model is loaded by `luxical_st.loading.load_sentence_transformer`, which passes the
user's own flag down to sentence-transformers and transformers.

One exception needs no opt-in: a local folder holding a Luxical model whose module files are
byte-identical to this luxical-st's own `luxical_st/modules` (every model this installation saves):
the code it runs is the code already running. A Luxical folder saved by another luxical-st version,
edited, or on the Hub needs the opt-in like any other model with code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luxical_st.modules.ngram_tfidf import REMOTE_CODE_FILES

LUXICAL_MODULE_TYPES = frozenset(
    {"ngram_tfidf.NgramTfidf", "sparse_dense.SparseDense", "lexical_sketch.LexicalSketch"}
)
# The configs read for an early refusal; the loader passes the user's flag down for every other file.
_CODE_CONFIGS = (
    "config.json",
    "tokenizer_config.json",
    "processor_config.json",
    "preprocessor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
)


class RemoteCodeRefusedError(ValueError):
    """Loading a model would run code it ships, and the user did not opt in (the message says how)."""

    def __init__(self, name_or_path: str, reasons: str, how_to_opt_in: str) -> None:
        self.name_or_path, self.reasons, self.how_to_opt_in = name_or_path, reasons, how_to_opt_in
        super().__init__(
            f"{name_or_path} ships Python code that loading it would run ({reasons}). "
            f"Inspect that code; to run it, opt in with {how_to_opt_in}"
        )

    def __reduce__(self) -> Any:  # pickles (Ray sends errors between processes)
        return type(self), (self.name_or_path, self.reasons, self.how_to_opt_in)

    def opt_in_with(self, how_to_opt_in: str) -> RemoteCodeRefusedError:
        """The same refusal naming another switch (a command line's flag for the library's argument)."""
        return RemoteCodeRefusedError(self.name_or_path, self.reasons, how_to_opt_in)


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


def is_own_luxical_code(folder: Path) -> bool:
    """Whether a local folder's Luxical module files are exactly this luxical-st's own."""
    here = Path(__file__).parent / "modules"
    present = [name for name in REMOTE_CODE_FILES if (folder / name).is_file()]
    if "ngram_tfidf.py" not in present or "sparse_dense.py" not in present:
        return False
    try:
        return all((folder / name).read_bytes() == (here / name).read_bytes() for name in present)
    except OSError:
        return False


def _code_elsewhere(settings: Any, name_or_path: str, prefix: str) -> list[str]:
    """The auto_map code of a folder a module's sentence_bert_config.json takes its tokenizer from."""
    reasons = []
    for key in ("tokenizer_name_or_path", "processor_name_or_path"):
        elsewhere = settings.get(key) if isinstance(settings, dict) else None
        if not isinstance(elsewhere, str) or elsewhere in ("", name_or_path):
            continue
        read = _reader(elsewhere)
        for name in _CODE_CONFIGS:
            config = read(name)
            if isinstance(config, dict) and config.get("auto_map"):
                reasons.append(
                    f"{prefix}sentence_bert_config.json takes its {key.split('_')[0]} from {elsewhere}, "
                    f"whose {name} maps classes to its own code (auto_map)"
                )
    return reasons


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
        prefix = f"{sub}/" if sub else ""
        for name in _CODE_CONFIGS:
            config = read(prefix + name)
            if isinstance(config, dict) and config.get("auto_map"):
                reasons.append(f"{prefix}{name} maps classes to its own code (auto_map)")
        reasons += _code_elsewhere(read(prefix + "sentence_bert_config.json"), name_or_path, prefix)
    if custom and set(custom) <= LUXICAL_MODULE_TYPES and not reasons:
        folder = Path(name_or_path)
        if folder.is_dir() and is_own_luxical_code(folder):
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
        raise RemoteCodeRefusedError(str(name_or_path), "; ".join(reasons), how_to_opt_in)


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
