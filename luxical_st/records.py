"""Files written whole or not at all, and the records that tie a folder to the settings of its run.

`write_atomic` writes through a `.tmp-` name and renames, so a killed writer leaves either the old file
or the new one, never half of one; `remove_leftovers` drops the `.tmp-` files of killed writers.
`claim_record` is the one "this folder belongs to one run" check of the project: the targets store,
the scale-out plans and the pipeline state keep their settings in a JSON record, and a rerun with other
settings is refused with every changed setting named.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary name beside `path`, then rename it to `path`."""
    path = Path(path)
    tmp = path.with_name(TMP_PREFIX + path.name)
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def write_json(path: str | os.PathLike[str], content: Any, indent: int = 2) -> Path:
    """`content` as JSON at `path`, atomically (keys in the order given)."""
    text = json.dumps(content, indent=indent) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_leftovers(folder: str | os.PathLike[str]) -> None:
    """Delete the temporary files that killed writers left in `folder`."""
    for stale in Path(folder).glob(TMP_PREFIX + "*"):
        if stale.is_file():
            stale.unlink()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def changed_settings(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """`key: <before> then, <now> now` for every key whose value differs, sorted by key."""
    return [
        f"{key}: {_shown(before.get(key))} then, {_shown(now.get(key))} now"
        for key in sorted(before.keys() | now.keys())
        if before.get(key) != now.get(key)
    ]


def claim_record(
    path: str | os.PathLike[str],
    record: dict[str, Any],
    *,
    run: str = "part of a",
    kept: Collection[str] = (),
) -> dict[str, Any]:
    """The record saved at `path`, or `record`, saved there. A saved record whose settings differ from
    `record`'s (keys in `kept` are stored but not compared) is refused, naming each changed setting;
    `run` says what the folder holds ("part of a" or "a finished")."""
    path = Path(path)
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        changes = changed_settings(
            {k: v for k, v in saved.items() if k not in kept},
            {k: v for k, v in record.items() if k not in kept},
        )
        if changes:
            raise ValueError(
                f"{path.parent} holds {run} run with other settings ({'; '.join(changes)}): "
                "use another output folder or delete that one"
            )
        return dict(saved)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record, indent=1)
    return record
