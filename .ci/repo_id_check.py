"""Saved models load by Hub repo id where only sentence-transformers is installed.

Run by .ci/run in two environments:

    python .ci/repo_id_check.py prepare WORK NAME=FOLDER ...  # where luxical-st is installed
    python .ci/repo_id_check.py load WORK      # in a venv holding only torch + sentence-transformers

`prepare` lays every model folder out as a Hub cache snapshot (`WORK/hub/models--luxical-ci--NAME/
snapshots/<sha>/`, `refs/main`) and stores the project's own embeddings of real news text. `load`, with
`HF_HUB_OFFLINE=1` and that cache, calls `SentenceTransformer("luxical-ci/NAME", trust_remote_code=True)`
as a Hub user would: transformers' remote-code import check reads every module file first, so a file
that imports a package sentence-transformers does not bring fails here. Embeddings must match within 1e-6.
Only the standard library, numpy and sentence-transformers are imported at the top of this file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

ORGANISATION = "luxical-ci"


def edge_texts() -> list[str]:
    """Texts that empty the distilled half, the sketch half or both."""
    return ["", "   ", "[CLS]", "日本語のテキスト", "the", "Zyzzyva quixotic flummox"]


def prepare(work: Path, models: dict[str, Path]) -> None:
    from installed_check import news_texts  # beside this file; needs luxical-st, as prepare does
    from sentence_transformers import SentenceTransformer

    texts = news_texts(240)[-40:] + edge_texts()
    (work / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    for name, folder in models.items():
        sha = hashlib.sha1(name.encode()).hexdigest()
        repo = work / "hub" / f"models--{ORGANISATION}--{name}"
        shutil.copytree(folder, repo / "snapshots" / sha, dirs_exist_ok=True)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(sha, encoding="utf-8")
        model = SentenceTransformer(str(folder), trust_remote_code=True, device="cpu")
        np.save(work / f"{name}.npy", model.encode(texts, batch_size=16))
    (work / "models.json").write_text(json.dumps(sorted(models)), encoding="utf-8")
    print(f"prepared {len(models)} models as Hub snapshots: {', '.join(sorted(models))}")


def load(work: Path) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_CACHE"] = str(work / "hub")
    os.environ["HF_MODULES_CACHE"] = str(work / "modules_cache")
    from sentence_transformers import SentenceTransformer

    for package in ("luxical_st", "pyarrow", "arrow_tokenize", "datasets", "ray"):
        assert importlib.util.find_spec(package) is None, f"{package} is installed: this venv must be plain"
    texts = json.loads((work / "texts.json").read_text(encoding="utf-8"))
    for name in json.loads((work / "models.json").read_text(encoding="utf-8")):
        model = SentenceTransformer(f"{ORGANISATION}/{name}", trust_remote_code=True, device="cpu")
        got = model.encode(texts, batch_size=16)
        expected = np.load(work / f"{name}.npy")
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)
        norms = np.linalg.norm(got, axis=1)
        assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0)), f"{name}: rows neither unit nor zero"
        print(f"{ORGANISATION}/{name}: loaded by repo id, {got.shape[1]} dims, equal within 1e-6")


def main() -> None:
    mode, work = sys.argv[1], Path(sys.argv[2]).resolve()
    if mode == "prepare":
        work.mkdir(parents=True, exist_ok=True)
        pairs = (argument.split("=", 1) for argument in sys.argv[3:])
        prepare(work, {name: Path(folder) for name, folder in pairs})
    elif mode == "load":
        load(work)
    else:
        raise SystemExit(f"unknown mode {mode!r}: prepare or load")


if __name__ == "__main__":
    main()
