"""Bulk embedding on a real local Ray (2 CPUs): equality with `model.encode`, stored precisions, head scores,
a killed run resumed to exactly-once output, JSONL byte-range units, and clear errors for bad input."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("datatrove")

import pyarrow as pa
import pyarrow.parquet as pq

from luxical_st.embedding_format import EmbeddingFormat, embeddings_of, format_of, read_stored
from luxical_st.scale.ray_embed import embed_dataset, embed_files
from luxical_st.scale.units import COMPLETE_FILE, plan_units, read_unit
from tests.conftest import save_small_model

ROOT = Path(__file__).resolve().parents[2]
# The tests build their model themselves; its module code may differ from a working tree being edited.
embed = functools.partial(embed_files, trust_remote_code=True)


@pytest.fixture(scope="module")
def model_path(tokenizer, news_texts, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("scale") / "luxical"
    return save_small_model(tokenizer, news_texts[:150], path, layer_sizes=(32, 64, 24))


@pytest.fixture(scope="module")
def model(model_path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu", trust_remote_code=True)


@pytest.fixture(scope="module")
def corpus(news_texts, tweet_texts, tmp_path_factory) -> Path:
    """300 news articles and tweets with ids, in parquet row groups of 25."""
    texts = [text for pair in zip(news_texts[:150], tweet_texts[:150], strict=True) for text in pair]
    path = tmp_path_factory.mktemp("corpus") / "news.parquet"
    pq.write_table(pa.table({"id": [f"doc-{i}" for i in range(len(texts))], "text": texts}), path, 25)
    return path


def read_output(folder: Path) -> tuple[list[str], np.ndarray, pa.Table]:
    table = read_stored(folder)  # every shard; the plan and format files beside them are skipped
    values = embeddings_of(table.column("embedding"), format_of(folder), str(folder))
    return table.column("id").to_pylist(), values, table


@pytest.mark.slow
def test_map_batches_equals_model_encode(ray_local, model, model_path, news_texts, edge_texts):
    import ray.data

    texts = news_texts[:200] + edge_texts
    dataset = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=4)
    rows = embed_dataset(dataset, model_path, workers=2, batch_bytes=50_000).take_all()
    rows.sort(key=lambda row: row["id"])
    got = np.stack([np.asarray(row["embedding"], np.float32) for row in rows])
    assert [row["id"] for row in rows] == list(range(len(texts)))
    assert np.abs(got - model.encode(texts, convert_to_numpy=True)).max() <= 1e-6


@pytest.mark.slow
def test_files_int8_binary_and_head_scores(ray_local, model, model_path, corpus, tmp_path):
    from luxical_st.head_model import ClassifierHead

    texts = pq.read_table(corpus).column("text").to_pylist()
    expected = model.encode(texts, convert_to_numpy=True)
    rng = np.random.default_rng(0)
    head = ClassifierHead(
        task="binary", kind="logreg", labels=["no", "yes"], layers=[(rng.normal(size=(24, 1)), np.zeros(1))]
    )
    head.save(tmp_path / "quality")
    summary = embed(
        str(corpus), tmp_path / "int8", model_path, precision="int8", heads=[str(tmp_path / "quality")],
        workers=2, unit_rows=50,
    )  # fmt: skip
    assert summary["rows"] == len(texts) and (tmp_path / "int8" / COMPLETE_FILE).is_file()
    ids, values, table = read_output(tmp_path / "int8")
    order = np.argsort([int(i.split("-")[1]) for i in ids])
    fmt = EmbeddingFormat.load(tmp_path / "int8")
    assert fmt.precision == "int8" and table.column("embedding").type == fmt.arrow_type()
    starts, ends = (np.asarray(r, np.float32) for r in fmt.ranges)  # type: ignore[union-attr]
    assert np.all(np.abs(values[order] - np.clip(expected, starts, ends)) <= (ends - starts) / 510 + 1e-6)
    scores = table.column("score_quality").to_numpy()[order]
    assert np.allclose(scores, head.predict_proba(expected)[:, 1], atol=1e-6)
    # the curate CLIs read the job's folder and dequantise its int8 column through the saved format
    from luxical_st.curate import dedup, heads

    stored = ["--input", str(tmp_path / "int8"), "--embedding-column", "embedding", "--id-column", "id"]
    heads.main(
        ["predict", "--head", str(tmp_path / "quality"), *stored, "--output", str(tmp_path / "p.parquet")]
    )
    predicted = pq.read_table(tmp_path / "p.parquet")
    assert predicted.column("id").to_pylist() == ids
    assert np.allclose(predicted.column("p_yes").to_numpy(), head.predict_proba(values)[:, 1], atol=1e-6)
    dedup.main([*stored, "--threshold", "0.99", "--k", "2", "--output", str(tmp_path / "keep.parquet")])
    keep = pq.read_table(tmp_path / "keep.parquet")
    expected_keep = dedup.semantic_dedup(values, threshold=0.99, k=2).keep
    assert keep.column("id").to_pylist() == ids and keep.column("keep").to_pylist() == expected_keep.tolist()

    embed(str(corpus), tmp_path / "binary", model_path, precision="binary", workers=1, unit_rows=100)
    ids, values, _ = read_output(tmp_path / "binary")
    order = np.argsort([int(i.split("-")[1]) for i in ids])
    assert np.array_equal(values[order], np.where(expected > 0, 1.0, -1.0))


@pytest.mark.slow
def test_killed_run_resumes_with_every_id_exactly_once(ray_local, model_path, corpus, tmp_path):
    output = tmp_path / "out"
    command = [
        sys.executable, "-m", "luxical_st.embed", str(corpus), str(output), "--model", model_path,
        "--workers", "1", "--unit-rows", "25", "--batch-bytes", "8k",
        "--ray-address", ray_local.get_runtime_context().gcs_address, "--trust-remote-code",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(list(output.glob("news*.parquet"))) < 3 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    written = len(list(output.glob("news*.parquet")))
    assert 3 <= written < 12, f"the job was not killed mid-way ({written} of 12 units written)"
    assert not (output / COMPLETE_FILE).exists()

    summary = embed(str(corpus), output, model_path, workers=2)  # the rerun: settings from the plan
    assert summary["units_written"] == 12 - written and summary["rows"] == 300
    ids, _, _ = read_output(output)
    assert sorted(ids) == sorted(f"doc-{i}" for i in range(300))  # every id, exactly once
    assert not list(output.glob(".tmp-*"))
    with pytest.raises(ValueError, match="other settings"):  # the folder belongs to one run
        (output / COMPLETE_FILE).unlink()
        embed(str(corpus), output, model_path, precision="binary")


def test_jsonl_byte_ranges_cover_every_line_once(news_texts, tmp_path):
    path = tmp_path / "docs.jsonl"
    records = [{"id": i, "text": text} for i, text in enumerate(news_texts[:120])]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    units = plan_units([str(path)], unit_bytes=7_777)  # cuts fall inside lines
    assert len(units) > 10
    ids = [
        i for unit in units for table in read_unit(unit, ["id"], 16) for i in table.column("id").to_pylist()
    ]
    assert ids == list(range(120))


def test_bad_input_gives_clear_errors(ray_local, model_path, corpus, tmp_path, capsys):
    with pytest.raises(ValueError, match="no column 'body'"):
        embed(str(corpus), tmp_path / "a", model_path, text_column="body")
    with pytest.raises(ValueError, match="precision must be one of"):
        embed(str(corpus), tmp_path / "b", model_path, precision="int4")
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["one", None, "three"]}), nulls)
    with pytest.raises(TypeError, match="null in row 1"):
        embed(str(nulls), tmp_path / "c", model_path)
    late = tmp_path / "late-null.parquet"
    texts = ["a real sentence"] * 60 + [None] + ["another one"] * 9
    pq.write_table(pa.table({"id": [str(i) for i in range(70)], "text": texts}), late, row_group_size=20)
    with pytest.raises(ValueError, match=r"1 of 4 units failed.*null in row 60"):  # by an actor
        embed(str(late), tmp_path / "late", model_path, workers=1, unit_rows=20)
    assert len(list((tmp_path / "late").glob("late-null*.parquet"))) == 3
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text('{"id": 1, "text": 5}\n{"id": 2, "text": 6}\n', encoding="utf-8")
    with pytest.raises(TypeError, match="holds int64, not strings"):
        embed(str(numbers), tmp_path / "d", model_path)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), empty)
    with pytest.raises(ValueError, match="no documents"):
        embed(str(empty), tmp_path / "e", model_path)
    (tmp_path / "no-files").mkdir()
    with pytest.raises(ValueError, match=r"holds no \.parquet"):
        embed(str(tmp_path / "no-files"), tmp_path / "f", model_path)

    from luxical_st.embed import main

    argv = [str(corpus), str(tmp_path / "g"), "--model", model_path, "--text-column", "body"]
    assert main([*argv, "--trust-remote-code"]) == 1
    err = capsys.readouterr().err
    assert "luxical-embed:" in err and "no column 'body'" in err


@pytest.fixture(scope="module")
def small_corpus(news_texts, tmp_path_factory) -> Path:
    """40 news articles with ids, in parquet row groups of 10."""
    path = tmp_path_factory.mktemp("small") / "small.parquet"
    pq.write_table(pa.table({"id": [f"s-{i}" for i in range(40)], "text": news_texts[:40]}), path, 10)
    return path


def test_finished_folder_refuses_a_rerun_with_another_model_or_precision(
    ray_local, tokenizer, news_texts, model_path, small_corpus, tmp_path, capsys
):
    output = tmp_path / "out"
    assert embed(str(small_corpus), output, model_path, workers=1)["rows"] == 40
    other_model = save_small_model(tokenizer, news_texts[:150], tmp_path / "other", (32, 64, 24), seed=9)
    with pytest.raises(ValueError, match=r"finished run with other settings \(precision: 'float32' then"):
        embed(str(small_corpus), output, model_path, precision="int8")
    with pytest.raises(ValueError, match=r"finished run with other settings \(model: "):
        embed(str(small_corpus), output, other_model)
    from luxical_st.embed import main

    argv = [str(small_corpus), str(output), "--model", model_path, "--trust-remote-code"]
    assert main([*argv, "--precision", "int8"]) == 1
    assert "precision: 'float32' then, 'int8' now" in capsys.readouterr().err
    assert EmbeddingFormat.load(output).precision == "float32"  # the folder is untouched
    assert embed(str(small_corpus), output, model_path)["rows"] == 40  # the same command: still done


def test_input_rewritten_between_kill_and_resume_is_refused(ray_local, model_path, news_texts, tmp_path):
    source = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": [f"d-{i}" for i in range(40)], "text": news_texts[:40]}), source, 10)
    output = tmp_path / "out"
    assert (
        embed(str(source), output, model_path, workers=1, unit_rows=10, max_units=1)["units_remaining"] == 3
    )
    rewritten = news_texts[100:160]
    pq.write_table(pa.table({"id": [f"d-{i}" for i in range(60)], "text": rewritten}), source, 10)
    with pytest.raises(ValueError, match=rf"input changed since part of a run.*{source}: size"):
        embed(str(source), output, model_path, workers=1)
    assert len(list(output.glob("docs*.parquet"))) == 1  # nothing more was written

    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(news_texts[:20])))
    embed(str(jsonl), tmp_path / "j", model_path, workers=1, unit_bytes=20_000, max_units=1)
    same_size = jsonl.read_text().replace("the", "THE")  # same length, other content
    jsonl.write_text(same_size)
    with pytest.raises(ValueError, match=rf"{jsonl}: content changed"):
        embed(str(jsonl), tmp_path / "j", model_path, workers=1)


def test_refused_first_run_leaves_nothing_and_rows_are_file_rows(
    ray_local, model_path, small_corpus, tmp_path
):
    output = tmp_path / "out"
    with pytest.raises(ValueError, match="no column 'body'"):
        embed(str(small_corpus), output, model_path, text_column="body")
    assert not (output / "embed_plan.json").exists() and not list(output.glob("*"))
    assert embed(str(small_corpus), output, model_path, workers=1)["rows"] == 40  # the corrected command

    records = [{"id": i, "text": None if i == 47 else f"document number {i}"} for i in range(60)]
    jsonl = tmp_path / "late.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records[:30]) + "\n\n" + "".join(
        json.dumps(r) + "\n" for r in records[30:]
    ))  # fmt: skip
    with pytest.raises(ValueError, match=r"late.jsonl: text column 'text' is null in row 47"):
        embed(str(jsonl), tmp_path / "j", model_path, workers=1, unit_bytes=500)


def test_mistyped_local_paths_say_they_do_not_exist(model_path, small_corpus, tmp_path, capsys):
    from luxical_st.embed import main

    with pytest.raises(FileNotFoundError, match="does not exist"):
        embed("dta/docs.parquet", tmp_path / "a", model_path)
    with pytest.raises(FileNotFoundError, match="no such local folder"):
        embed(str(small_corpus), tmp_path / "b", str(tmp_path / "modle"))
    assert main([str(tmp_path / "missing" / "docs.parquet"), str(tmp_path / "c"), "--model", model_path]) == 1
    err = capsys.readouterr().err
    assert "docs.parquet does not exist" in err and "Traceback" not in err and "offline" not in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_a_head_of_another_model_is_refused_in_one_line_before_any_work(model_path, corpus, tmp_path, capsys):
    """Its probe embedding is not this model's: refused on the driver, one line, nothing written (inside
    a Ray actor the same refusal arrived as a 244-line traceback)."""
    from luxical_st.embed import main
    from luxical_st.head_model import ClassifierHead

    rng = np.random.default_rng(1)
    head = ClassifierHead(
        task="binary",
        kind="logreg",
        labels=["no", "yes"],
        layers=[(rng.normal(size=(24, 1)), np.zeros(1))],
        probe=rng.normal(size=24).astype(np.float32),
    )
    head.save(tmp_path / "other")
    argv = [str(corpus), str(tmp_path / "out"), "--model", model_path, "--head", str(tmp_path / "other")]
    assert main([*argv, "--trust-remote-code"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("luxical-embed: ") and "\n" not in error and "probe" in error, error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
