"""The extras gate: each extra's packages come from the installed metadata (setup.cfg is their one home)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from luxical_st import extras

ROOT = Path(__file__).resolve().parents[1]


def test_extras_are_read_from_the_package_metadata_as_setup_cfg_states_them() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = {
        extra: [re.split(r"[\s<>=!~;\[(]", line.strip(), maxsplit=1)[0] for line in value.splitlines()]
        for extra, value in config["options.extras_require"].items()
    }
    declared = {
        extra: [name for name in names if name and not name.startswith("#")]
        for extra, names in declared.items()
    }
    found = extras.package_extras()
    for extra in ("train", "eval", "curate", "scale"):
        assert sorted(found[extra]) == sorted(declared[extra]), extra
        assert extras.missing_packages(extra) == []  # this environment installs every extra
    with pytest.raises(ValueError, match="unknown extra"):
        extras.missing_packages("nonexistent")


def test_a_missing_package_fails_once_with_the_install_command(monkeypatch) -> None:
    monkeypatch.setattr(extras, "package_extras", lambda: {"scale": ("ray", "no-such-distribution-xyz")})
    with pytest.raises(
        ImportError, match=r"needs the 'scale' extra.*no-such-distribution-xyz.*luxical-st\[scale\]"
    ):
        extras.require_extra("scale", "luxical-embed")


def test_a_real_extra_package_reported_missing(monkeypatch) -> None:
    real = extras._installed
    monkeypatch.setattr(extras, "_installed", lambda name: name != "numba" and real(name))
    with pytest.raises(ImportError, match=r"'train' extra.*numba.*pip install 'luxical-st\[train\]'"):
        extras.require_extra("train", "the pipeline")
    with pytest.raises(ValueError, match="unknown extra"):
        extras.require_extra("nope")
