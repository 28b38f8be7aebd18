"""The optional rings of luxical-st and the one error a missing extra gives.

The core (modules, model building, conversion, the card, the upload) needs only sentence-transformers.
The recipe (data, config, training, pipeline) needs the `train` extra; evaluation, curation and
scale-out need the `eval`, `curate` and `scale` extras. Their modules call `require_extra` when
imported, so a missing package fails at once with the command that installs it, not with an
ImportError from deep inside.

The packages of each extra are read from the installed package's own metadata (setup.cfg's
`extras_require` is their one home), as model2vec's `get_package_extras` does.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, requires

DISTRIBUTION = "luxical-st"
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


@cache
def package_extras() -> dict[str, tuple[str, ...]]:
    """{extra: distribution names} from this package's metadata; empty when it is not installed
    (a bare checkout on sys.path), where nothing can be checked."""
    try:
        requirements = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        return {}
    extras: dict[str, list[str]] = {}
    for requirement in requirements:
        marker = _EXTRA_MARKER.search(requirement)
        if marker is None:
            continue
        name = re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]
        extras.setdefault(marker.group(1), []).append(name)
    return {extra: tuple(names) for extra, names in extras.items()}


def _installed(name: str) -> bool:
    try:
        distribution(name)
    except PackageNotFoundError:
        return False
    return True


def missing_packages(extra: str) -> list[str]:
    """The distributions of `extra` that are not installed here."""
    extras = package_extras()
    if not extras:
        return []
    if extra not in extras:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(extras)}")
    return [name for name in extras[extra] if not _installed(name)]


def require_extra(extra: str, feature: str | None = None) -> None:
    """Raise one ImportError naming `extra` and how to install it if any of its packages is missing."""
    missing = missing_packages(extra)
    if missing:
        what = feature or f"this part of luxical-st ({extra})"
        raise ImportError(
            f"{what} needs the '{extra}' extra, which is not installed (missing: {', '.join(missing)}): "
            f"pip install 'luxical-st[{extra}]'"
        )
