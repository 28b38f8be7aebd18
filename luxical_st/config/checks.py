"""The range checks of the config sections: each failure is a ValueError naming the config key."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def require(condition: bool, key: str, message: str, value: Any) -> None:
    """Raise the ValueError that names the offending config key."""
    if not condition:
        raise ValueError(f"config key {key!r} {message}, got {value!r}")


def require_finite(obj: Any, keys: Iterable[str]) -> None:
    """Refuse NaN and infinite float values (YAML `.inf`, `.nan`) of `keys`: they would train a NaN model."""
    for key in keys:
        value = getattr(obj, key)
        values = value if isinstance(value, list) else [value]
        require(
            all(not isinstance(v, float) or math.isfinite(v) for v in values), key, "must be finite", value
        )


def require_positive(obj: Any, *keys: str) -> None:
    """Each of `keys` is unset (None) or above zero."""
    for key in keys:
        value = getattr(obj, key)
        require(value is None or value > 0, key, "must be positive", value)


def require_ratio(obj: Any, *keys: str) -> None:
    """Each of `keys` lies in [0, 1]."""
    for key in keys:
        value = getattr(obj, key)
        require(0.0 <= value <= 1.0, key, "must lie in [0, 1]", value)


def require_choice(value: Any, key: str, choices: tuple[Any, ...]) -> None:
    """`value` is one of `choices`."""
    require(value in choices, key, f"must be one of {choices}", value)
