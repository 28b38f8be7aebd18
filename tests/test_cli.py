"""The console scripts' functions: shipped configs by name, clear exits, conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from luxical_st.cli import resolve_config, shipped_configs, train

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_configs_resolve_by_name_or_path(tmp_path):
    assert {"quickstart", "tiny", "luxical-one"} <= set(shipped_configs())
    for name in ("quickstart", "quickstart.yaml", "configs/quickstart.yaml"):
        assert resolve_config(name).read_bytes() == (ROOT / "configs" / "quickstart.yaml").read_bytes()
    own = tmp_path / "tiny.yaml"
    own.write_text("max_documents: 10\n")
    assert resolve_config(str(own)) == own  # an existing file wins over a shipped name
    with pytest.raises(FileNotFoundError, match=r"shipped: .*quickstart"):
        resolve_config("no-such-config")


def test_train_help_and_bad_config_exit_cleanly(capsys, tmp_path):
    assert train(["--help"]) == 0
    assert "--teacher_dimensions" in capsys.readouterr().out
    assert train(["--config", "no-such-config"]) == 2
    assert "no config file 'no-such-config'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss: triplet\n")
    assert train(["--config", str(bad)]) == 2
    assert "invalid choice: 'triplet'" in capsys.readouterr().err
