"""The optional rings of luxical-st and the one error a missing extra gives.

The core (modules, model building, conversion, the card, the upload) needs only sentence-transformers.
The recipe (data, config, training, pipeline) needs the `train` extra; evaluation, curation and
scale-out need the `eval`, `curate` and `scale` extras. Their modules call `require_extra` when
imported, so a missing package fails at once with the command that installs it, not with an
ImportError from deep inside.
"""

from __future__ import annotations

import importlib.util

# The import name of each extra's packages (as in setup.cfg's extras_require).
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("datasets", "numba", "accelerate", "yaml", "tqdm", "matplotlib"),
    "eval": ("datasets", "tqdm", "mteb", "sklearn", "matplotlib"),
    "curate": ("datasets", "sklearn", "faiss", "safetensors", "matplotlib"),
    "scale": ("ray", "datatrove", "pyarrow", "tqdm"),
}


def missing_modules(extra: str) -> list[str]:
    """The packages of `extra` that cannot be imported here."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(EXTRAS)}")
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, feature: str | None = None) -> None:
    """Raise one ImportError naming `extra` and how to install it if any of its packages is missing."""
    missing = missing_modules(extra)
    if missing:
        what = feature or f"this part of luxical-st ({extra})"
        raise ImportError(
            f"{what} needs the '{extra}' extra, which is not installed (missing: {', '.join(missing)}): "
            f"pip install 'luxical-st[{extra}]'"
        )
