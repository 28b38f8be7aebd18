"""Reading saved module files with errors that name the file (corrupt, truncated, newer, mistyped).

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from safetensors import SafetensorError
from safetensors.numpy import load_file


def read_config(
    path: str | os.PathLike[str],
    known_keys: Sequence[str],
    format_version: int,
    types: Mapping[str, type] | None = None,
    required: Sequence[str] = (),
) -> dict[str, Any]:
    """Read a module config JSON, checking its format version, its keys and (with `types`) the type of
    each value; returns it without the version."""
    try:
        with open(path, encoding="utf8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable JSON config: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object")
    version = config.pop("format_version", None)
    if not isinstance(version, int):
        raise ValueError(f"{path} has no integer format_version")
    if version > format_version:
        raise ValueError(
            f"{path} has format_version {version}, newer than this code's {format_version}: "
            "upgrade luxical-st or load the model's own code with trust_remote_code=True"
        )
    unknown = set(config) - set(known_keys)
    if unknown:
        raise ValueError(f"{path} has unknown keys {sorted(unknown)}; known keys: {sorted(known_keys)}")
    missing = [key for key in required if key not in config]
    if missing:
        raise ValueError(f"{path} lacks the key(s) {missing}")
    for key, expected in (types or {}).items():
        value = config.get(key)
        # JSON has no int/bool distinction in Python's eyes (True is an int): check it apart.
        if key in config and (
            not isinstance(value, expected) or (expected is int and isinstance(value, bool))
        ):
            raise ValueError(f"{path}: {key!r} must be {expected.__name__}, got {value!r}")
    return config


def read_arrays(path: str | os.PathLike[str], required: Sequence[str]) -> dict[str, Any]:
    """Load a safetensors file as numpy arrays, checking that the required names are there."""
    try:
        arrays = load_file(path)
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{path} is corrupt or truncated: {error}") from error
    missing = set(required) - set(arrays)
    if missing:
        raise ValueError(f"{path} lacks the arrays {sorted(missing)}")
    return arrays


def read_json(path: str | os.PathLike[str] | None) -> Any:
    """A JSON file's content, or None if it is absent or unreadable (for optional cross-checks)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None
