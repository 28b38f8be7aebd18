"""`evaluate.py` end to end on two tiny real Luxical models: offline suite, edu run, speed, report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from transformers import HfArgumentParser

from luxical_st.evaluation import EvaluationArguments, model_specs
from luxical_st.model import build_model
from tests.conftest import exact_ngram_vocabulary

REPO_ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_paths(tokenizer, tweet_texts, tmp_path_factory) -> list[str]:
    """Two saved Luxical models (different widths) over the uni- and bigrams of 500 real tweets."""
    rows = [encoding.ids for encoding in tokenizer.encode_batch(tweet_texts, add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for name, sizes in (("lux-a", (32, 64, 24)), ("lux-b", (16, 32, 16))):
        build_model(tokenizer, ngrams, idf, layer_sizes=sizes, seed=1).save(str(folder / name))
        paths.append(str(folder / name))
    return paths


def parse(argv: list[str]) -> EvaluationArguments:
    (args,) = HfArgumentParser(EvaluationArguments).parse_args_into_dataclasses(argv)  # type: ignore[arg-type]
    return args


def test_repeated_model_flags_and_labels() -> None:
    args = parse(["--model", "a/b", "--model", "mini=/x/model", "/y/model", "--tasks", "SimLex999"])
    assert args.model == ["a/b", "mini=/x/model", "/y/model"]
    assert model_specs(args.model) == {"b": "a/b", "mini": "/x/model", "y-model": "/y/model"}
    # Folders named like run artifacts are labelled by their run, not numbered "model", "model-2".
    assert model_specs(["/p/quickstart/model", "/q/tiny/model"]) == {
        "quickstart-model": "/p/quickstart/model",
        "tiny-model": "/q/tiny/model",
    }
    assert model_specs(["/p/run/model", "/q/run/model"]) == {
        "run-model": "/p/run/model",
        "run-model-2": "/q/run/model",
    }
    assert args.tasks == ["SimLex999"] and args.edu_threshold is None


def test_model_is_required() -> None:
    with pytest.raises(SystemExit):
        parse(["--output_dir", "x"])


@pytest.mark.slow
def test_evaluate_runs_offline_end_to_end(tiny_paths: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable,
        str(REPO_ROOT / "evaluate.py"),
        *("--model", f"first={tiny_paths[0]}", "--model", tiny_paths[1]),
        *("--output_dir", str(out), "--mteb_cache", str(tmp_path / "cache")),
        *("--edu_max_docs", "1500", "--speed_docs", "40"),
        *("--tasks", "LeeDocSimilarity", "SimLex999", "WikipediaTopicClassification"),
        *("--tasks", "WikipediaTopicClustering", "NewsNearDuplicates", "NewsTitleRetrieval"),
    ]
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg"}
    completed = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env={**_env(), **env}
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["first", "lux-b"]
    tasks = {"LeeDocSimilarity", "SimLex999", "WikipediaTopicClassification"}
    tasks |= {"WikipediaTopicClustering", "NewsNearDuplicates", "NewsTitleRetrieval"}
    for scores in results["mteb"].values():
        assert set(scores) == tasks
        assert scores["NewsTitleRetrieval"]["category"] == "query -> document retrieval"
        assert all(-1 <= score["main_score"] <= 1 for score in scores.values())
    assert results["edu"]["n_test"] == 150 and set(results["edu"]["models"]) == {"first", "lux-b"}
    assert results["speed"]["first"]["ratio"] == 1.0 and results["speed"]["lux-b"]["docs_per_s"] > 0

    table = (out / "results.md").read_text()
    header = table.splitlines()[0]
    assert "query -> document retrieval" in header and "overall" in header and "docs/s" in header
    assert "| LeeDocSimilarity | document similarity (STS) | cosine_pearson |" in table
    assert "| first |" in table and "| lux-b |" in table and "fastText (raw text)" in table
    for plot in ("edu_roc.png", "quality_vs_speed.png", "categories.png"):
        assert (out / plot).read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / "cache" / "results" / "local__first").is_dir()


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "MTEB_CACHE"}


def test_speed_only_run_writes_tables_without_plots(tiny_paths: list[str], tmp_path: Path) -> None:
    from luxical_st.evaluation import run_evaluation

    args = parse(["--model", *tiny_paths, "--output_dir", str(tmp_path), "--skip_mteb", "--skip_edu"])
    args.speed_docs = 20
    results = run_evaluation(args)
    assert results["mteb"] is None and results["edu"] is None
    table = (tmp_path / "results.md").read_text()
    assert table.splitlines()[0] == "| model | params | dim | docs/s | MiB/s | x first |"
    assert not list(tmp_path.glob("*.png"))


def test_a_model_with_a_sketch_gets_its_distilled_network_as_a_second_row(tiny_paths, tweet_texts, tmp_path):
    """evaluate.py shows the distilled output beside the full one (same folder, sketch removed), scored
    on the same tasks; the distilled row's vectors are the network's own, not the mixed output."""
    from luxical_st.evaluation import run_evaluation
    from luxical_st.evaluation.baselines import build_baseline, without_sketch
    from luxical_st.loading import load_sentence_transformer
    from luxical_st.model import add_lexical_sketch

    model = load_sentence_transformer(tiny_paths[0])  # this installation's own module classes
    plain = model.encode(tweet_texts[:20])
    assert without_sketch(model) is None
    add_lexical_sketch(model, dimensions=32, weight=0.5)
    model.save(str(tmp_path / "sketched" / "model"))
    distilled = build_baseline(f"baseline:distilled:{tmp_path / 'sketched' / 'model'}")
    np.testing.assert_allclose(distilled.encode(tweet_texts[:20]), plain, atol=1e-6)
    with pytest.raises(ValueError, match="no LexicalSketch"):
        build_baseline(f"baseline:distilled:{tiny_paths[0]}")

    args = parse(
        ["--model", str(tmp_path / "sketched" / "model"), "--model", tiny_paths[1], "--tasks", "SimLex999"]
        + ["--output_dir", str(tmp_path / "out"), "--skip_edu", "--skip_speed", "--no_cache"]
    )
    results = run_evaluation(args)
    assert list(results["models"]) == ["sketched-model", "sketched-model-distilled", "lux-b"]
    assert results["models"]["sketched-model-distilled"]["facts"]["embed_dim"] == 24
    assert results["models"]["sketched-model"]["facts"]["embed_dim"] == 24 + 32
    assert set(results["mteb"]) == set(results["models"])
    assert "sketched-model-distilled" in (tmp_path / "out" / "results.md").read_text()
