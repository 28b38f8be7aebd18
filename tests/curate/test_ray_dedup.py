"""SemDeDup on a real local Ray over stored int8 shards of a tiny trained student's embeddings of real
news with planted copies: exactly the in-memory groups when every pair is seen (k = 1), the planted
copies found with several clusters, both keep rules, and the CLI."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("datatrove")
pytest.importorskip("faiss")

import pyarrow as pa
import pyarrow.parquet as pq

from luxical_st.curate.dedup import semantic_dedup
from luxical_st.curate.ray_dedup import DUPLICATES_FILE, SUMMARY_FILE, main, ray_semantic_dedup
from luxical_st.data.sources import news_articles
from luxical_st.evaluation.perturb import NEAR_DUPLICATE_KINDS
from tests.conftest import write_stored_embeddings

PLANTED = [(i, 300 + i) for i in range(20)] + [(20 + i, 320 + i) for i in range(10)]


@pytest.fixture(scope="module")
def stored(trained_model_path, tmp_path_factory):
    """300 articles, a light-edited copy of 0..19, an exact copy of 20..29 and an empty text, embedded
    and stored as int8 in three shards of 40-row row groups, as luxical-embed writes them."""
    from sentence_transformers import SentenceTransformer

    originals = list(dict.fromkeys(a.text for a in news_articles()[:330]))[:300]
    rng = random.Random(0)
    corpus = originals + [NEAR_DUPLICATE_KINDS["light_edit"](originals[i], rng) for i in range(20)]
    corpus += originals[20:30] + [""]
    model = SentenceTransformer(trained_model_path, device="cpu", trust_remote_code=True)
    embeddings = model.encode(corpus, convert_to_numpy=True)
    return write_stored_embeddings(embeddings, tmp_path_factory.mktemp("stored"), 3, row_group_size=40)


def read_duplicates(folder):
    table = pq.read_table(folder / DUPLICATES_FILE)
    return table, table.column("position").to_numpy(), table.column("group").to_numpy()


def test_one_cluster_gives_exactly_the_in_memory_groups(ray_local, stored, tmp_path):
    folder, ids, rows = stored
    summary = ray_semantic_dedup(str(folder), tmp_path / "out", threshold=0.95, k=1)
    expected = semantic_dedup(rows, threshold=0.95, k=1)
    table, positions, groups = read_duplicates(tmp_path / "out")
    assert sorted(positions.tolist()) == np.flatnonzero(expected.group >= 0).tolist()
    assert table.column("id").to_pylist() == [ids[p] for p in positions]
    partition = sorted(sorted(positions[groups == g].tolist()) for g in set(groups.tolist()))
    assert partition == sorted(sorted(m.tolist()) for m in expected.groups)
    kept = positions[table.column("keep").to_numpy(zero_copy_only=False)]
    assert sorted(kept.tolist()) == sorted(int(m[0]) for m in expected.groups)  # the first of each group
    assert summary["removed"] == expected.removed and summary["documents"] == len(ids)
    assert json.loads((tmp_path / "out" / SUMMARY_FILE).read_text())["pairs"] == summary["pairs"]


def test_several_clusters_find_the_planted_copies_and_keep_one_per_group(ray_local, stored, tmp_path):
    folder, _, _ = stored
    summary = ray_semantic_dedup(
        str(folder), tmp_path / "c", threshold=0.95, k=3, sample_size=200, keep="central"
    )
    table, positions, groups = read_duplicates(tmp_path / "c")
    group_of = dict(zip(positions.tolist(), groups.tolist(), strict=True))
    found = sum(a in group_of and group_of.get(a) == group_of.get(b) for a, b in PLANTED)
    assert found >= 28 and summary["removed"] <= 35
    keep = table.column("keep").to_numpy(zero_copy_only=False)
    assert all(keep[groups == g].sum() == 1 for g in set(groups.tolist()))
    main([str(folder), str(tmp_path / "cli"), "--threshold", "0.95", "--k", "3", "--sample-size", "200"])
    cli, cli_positions, cli_groups = read_duplicates(tmp_path / "cli")
    assert sorted(cli_positions.tolist()) == sorted(positions.tolist())  # the same documents, keep="first"
    cli_keep = cli.column("keep").to_numpy(zero_copy_only=False)
    for group in set(cli_groups.tolist()):  # keep="first": the earliest document of each group
        members = cli_groups == group
        assert cli_positions[members & cli_keep].tolist() == [cli_positions[members].min()]


def test_bad_settings_and_columns_fail_before_any_ray_work(stored, tmp_path):
    folder, _, _ = stored
    with pytest.raises(ValueError, match="keep must be"):
        ray_semantic_dedup(str(folder), tmp_path / "x", keep="last")
    with pytest.raises(ValueError, match="threshold is a cosine"):
        ray_semantic_dedup(str(folder), tmp_path / "x", threshold=1.5)
    with pytest.raises(ValueError, match="no column 'vector'"):
        ray_semantic_dedup(str(folder), tmp_path / "x", embedding_column="vector")
    with pytest.raises(FileNotFoundError, match="no parquet file"):
        ray_semantic_dedup(str(tmp_path / "nothing"), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_partial_run_resumes_and_a_new_threshold_reuses_the_assignments(ray_local, stored, tmp_path):
    folder, _, _ = stored
    settings = {"threshold": 0.95, "k": 3, "sample_size": 200}
    fresh = ray_semantic_dedup(str(folder), tmp_path / "fresh", **settings)
    partial_run = ray_semantic_dedup(str(folder), tmp_path / "run", max_units=2, **settings)
    assert partial_run["units_remaining"] == partial_run["units"] - 2 > 0
    assert not (tmp_path / "run" / DUPLICATES_FILE).exists()
    assert len(list((tmp_path / "run" / "assigned").glob("*.parquet"))) == 2
    first_two = {p: p.stat().st_mtime_ns for p in (tmp_path / "run" / "assigned").glob("*.parquet")}
    resumed = ray_semantic_dedup(str(folder), tmp_path / "run", **settings)
    assert all(p.stat().st_mtime_ns == t for p, t in first_two.items())  # finished units are not redone
    assert {k: v for k, v in resumed.items() if k != "seconds"} == {
        k: v for k, v in fresh.items() if k != "seconds"
    }
    assert pq.read_table(tmp_path / "run" / DUPLICATES_FILE).equals(
        pq.read_table(tmp_path / "fresh" / DUPLICATES_FILE)
    )
    looser = ray_semantic_dedup(str(folder), tmp_path / "run", **{**settings, "threshold": 0.9})
    assert looser["removed"] >= resumed["removed"]
    assert all(p.stat().st_mtime_ns == t for p, t in first_two.items())
    with pytest.raises(ValueError, match="other settings"):
        ray_semantic_dedup(str(folder), tmp_path / "run", **{**settings, "k": 4})


def test_a_rerun_over_changed_stored_embeddings_is_refused_naming_the_file(ray_local, stored, tmp_path):
    import shutil

    folder = tmp_path / "stored"
    shutil.copytree(stored[0], folder)
    first = ray_semantic_dedup(str(folder), tmp_path / "run", threshold=0.95, k=1)
    table = pq.read_table(folder / "part-01.parquet")  # the shard rewritten: every row a copy of its first
    copies = pa.table(
        {"id": table.column("id"), "embedding": pa.repeat(table.column("embedding")[0], len(table))}
    )
    pq.write_table(copies.cast(table.schema), folder / "part-01.parquet", row_group_size=40)
    with pytest.raises(ValueError, match=r"input changed since.*part-01\.parquet"):
        ray_semantic_dedup(str(folder), tmp_path / "run", threshold=0.95, k=1)
    assert (
        ray_semantic_dedup(str(folder), tmp_path / "new", threshold=0.95, k=1)["removed"] > first["removed"]
    )
    fmt = json.loads((folder / "luxical_embedding.json").read_text())
    fmt["ranges"][1][0] += 1.0
    (folder / "luxical_embedding.json").write_text(json.dumps(fmt))
    with pytest.raises(ValueError, match=r"input changed since.*luxical_embedding\.json"):
        ray_semantic_dedup(str(folder), tmp_path / "new", threshold=0.95, k=1)
