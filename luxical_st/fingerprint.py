"""Content fingerprints of input files, kept in a run's record so a resumed or repeated run notices an
input that changed since its artifacts were made (and refuses, naming the file, rather than mixing them).

A local file up to `FULL_HASH_BYTES` is hashed whole; a larger one by its size, modification time and a
hash of its head, middle and tail. A remote (fsspec URL) file by its size and the store's own content
id (the Hub's LFS sha256 or blob id, an ETag) where it gives one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

FULL_HASH_BYTES = 256 * 2**20
SAMPLE_BYTES = 2**20
_CHUNK = 4 * 2**20


def _sampled_sha256(handle: Any, size: int) -> str:
    digest = hashlib.sha256()
    if size <= FULL_HASH_BYTES:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
    for start in (0, size // 2 - SAMPLE_BYTES // 2, size - SAMPLE_BYTES):
        handle.seek(start)
        digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def file_fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The fingerprint of one file (see the module docstring): a JSON-ready dict."""
    name = os.fspath(path)
    if "://" in name:
        import fsspec

        fs, inner = fsspec.core.url_to_fs(name)
        info = fs.info(inner)
        lfs = info.get("lfs") or {}
        content_id = lfs.get("sha256") or info.get("blob_id") or info.get("ETag") or info.get("etag")
        return {"size": info.get("size"), "content_id": None if content_id is None else str(content_id)}
    stat = os.stat(name)
    with open(name, "rb") as handle:
        sha256 = _sampled_sha256(handle, stat.st_size)
    fingerprint: dict[str, Any] = {"size": stat.st_size, "sha256": sha256}
    if stat.st_size > FULL_HASH_BYTES:  # only samples are hashed: a rewrite also shows in the time
        fingerprint["mtime_ns"] = stat.st_mtime_ns
    return fingerprint


def fingerprints(paths: Iterable[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """{path: fingerprint} of `paths`."""
    return {os.fspath(path): file_fingerprint(path) for path in paths}


def describe_changes(
    before: Mapping[str, Mapping[str, Any]], now: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Descriptions ("PATH: what changed") of the files whose fingerprint differs between two records."""
    changes: list[str] = []
    for path in sorted(before.keys() | now.keys()):
        old, new = before.get(path), now.get(path)
        if old is None:
            changes.append(f"{path}: a new file")
        elif new is None:
            changes.append(f"{path}: gone")
        elif new.get("size") != old.get("size"):
            changes.append(f"{path}: size {old.get('size')} -> {new.get('size')} bytes")
        elif dict(new) != dict(old):
            changes.append(f"{path}: content changed (same size)")
    return changes


def changed_files(recorded: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Descriptions ("PATH: what changed") of the recorded files whose content is no longer the same."""
    changes: list[str] = []
    now: dict[str, dict[str, Any]] = {}
    for path in recorded:
        try:
            now[path] = file_fingerprint(path)
        except (OSError, ValueError) as error:
            changes.append(f"{path}: no longer readable ({type(error).__name__}: {error})")
    return changes + describe_changes({p: f for p, f in recorded.items() if p in now}, now)


def check_unchanged(recorded: Mapping[str, Mapping[str, Any]], made: str, remedy: str) -> None:
    """Refuse (ValueError naming the files) if a recorded input changed since `made` was made from it."""
    changes = changed_files(recorded)
    if changes:
        listed = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
        raise ValueError(f"the input changed since {made} was made from it: {listed}. {remedy}")
