"""Reading saved module files with errors that name the file (corrupt, truncated, newer, mistyped).

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file

# safetensors dtype names -> numpy, for the arrays read by mapping the file.
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U32": "<u4", "U8": "u1"}


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


def read_arrays(path: str | os.PathLike[str], required: Sequence[str], mmap: bool = False) -> dict[str, Any]:
    """Load a safetensors file as numpy arrays, checking that the required names are there.

    With `mmap`, the arrays are copy-on-write mappings of the file (nothing is read until used, and
    processes mapping the same file share its pages); a writer must then replace the file, never
    truncate it, while it is mapped."""
    try:
        arrays = _map_file(path) if mmap else load_file(path)
    except (SafetensorError, OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path} is corrupt or truncated: {error}") from error
    missing = set(required) - set(arrays)
    if missing:
        raise ValueError(f"{path} lacks the arrays {sorted(missing)}")
    return arrays


def read_optional_json(path: str | os.PathLike[str] | None) -> Any:
    """A JSON file's content, or None if it is absent or unreadable (for optional cross-checks)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _map_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    with safe_open(str(path), framework="np") as checked:  # validates the header and the offsets
        names = list(checked.keys())
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
    arrays = {}
    for name in names:
        entry = header[name]
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        dtype = _DTYPES[entry["dtype"]]
        if begin == end:
            arrays[name] = np.empty(shape, dtype=dtype)
        else:
            arrays[name] = np.memmap(path, dtype=dtype, mode="c", offset=8 + size + begin, shape=shape)
    return arrays
