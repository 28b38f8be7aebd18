"""Reading saved module files with errors that name the file (corrupt, truncated, newer, mistyped).

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from safetensors import SafetensorError
from safetensors.numpy import load_file


def read_config(
    path: str | os.PathLike[str], known_keys: Sequence[str], format_version: int
) -> dict[str, Any]:
    """Read a module config JSON, checking its format version and its keys; returns it without the version."""
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
