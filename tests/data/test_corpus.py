"""Corpora: the healthtweets held-out rule, the quickstart blend, local datasets through `datasets`."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import datasets
import pytest

from luxical_st.data.corpus import (
    PROSE_SOURCES,
    QUICKSTART_PASSAGE_WORDS,
    QUICKSTART_SOURCES,
    load_healthtweets,
    load_quickstart_corpus,
    load_text_dataset,
)


@pytest.fixture(scope="module")
def quickstart() -> datasets.Dataset:
    return load_quickstart_corpus()


def test_healthtweets_splits_follow_the_heldout_rule() -> None:
    train, heldout = load_healthtweets("train"), load_healthtweets("heldout")
    assert train.column_names == ["text", "label"] == heldout.column_names
    assert all(zlib.crc32(t.strip().encode("utf-8")) % 5 == 0 for t in heldout["text"])
    assert not any(zlib.crc32(t.strip().encode("utf-8")) % 5 == 0 for t in train["text"])
    texts = list(train["text"]) + list(heldout["text"])
    assert len(set(texts)) == len(texts) > 60_000  # deduplicated, nearly all 63,326 tweets
    assert 0.18 < len(heldout) / len(texts) < 0.22
    assert len(set(heldout["label"])) == 16 and "nytimeshealth" in set(heldout["label"])
    with pytest.raises(ValueError, match="split"):
        load_healthtweets("test")  # type: ignore[arg-type]


def test_quickstart_corpus_is_a_deterministic_blend_without_heldout_tweets(quickstart) -> None:
    assert quickstart.column_names == ["id", "text"]
    assert len(quickstart) >= 50_000
    ids, texts = list(quickstart["id"]), list(quickstart["text"])
    assert len(set(ids)) == len(ids) and len(set(texts)) == len(texts)
    assert all(text == text.strip() and text for text in texts)
    sources = {i.split("-", 1)[0] for i in ids}
    known = set(QUICKSTART_SOURCES) | set(PROSE_SOURCES)
    assert {"tweets", "quotes", "headlines", "debates", "parliament", "sotu", "factbook"} <= sources <= known
    # Documents enter as passages `<source>-<document>#<k>` of at most QUICKSTART_PASSAGE_WORDS words.
    passages = [text for i, text in zip(ids, texts, strict=True) if "#" in i]
    assert len(passages) > 20_000
    assert max(len(text.split()) for text in passages) <= QUICKSTART_PASSAGE_WORDS
    assert not set(load_healthtweets("heldout")["text"]) & set(texts)
    # A prefix is a mix of sources (the tiny config trains on the first 2,000 documents).
    assert len({i.split("-", 1)[0] for i in ids[:2000]}) >= 6
    again = load_quickstart_corpus()
    assert list(again["id"]) == ids and list(again["text"]) == texts


def test_quickstart_corpus_never_holds_evaluation_text(quickstart) -> None:
    from luxical_st.data import sources

    texts = set(quickstart["text"])
    reserved = [a.text for a in sources.news_articles()] + [a.text for a in sources.wikipedia_articles()]
    reserved += [first for first, _, _ in sources.lee_pairs()] + sources.rotten_tomatoes_reviews()[0]
    assert not texts & set(reserved)
    words = {word for text in reserved[:2000] for word in [" ".join(text.split()[:12])]}
    assert not any(" ".join(text.split()[:12]) in words for text in texts)


def test_quickstart_corpus_refuses_to_be_too_small() -> None:
    with pytest.raises(ValueError, match=r"needs 10000000 documents but .* give \d+"):
        load_quickstart_corpus(min_documents=10_000_000)
    with pytest.raises(ValueError, match="positive"):
        load_quickstart_corpus(min_documents=0)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_local_files_get_standard_columns(tmp_path: Path, tweet_texts: list[str]) -> None:
    rows = [{"doc": f"d{i}", "body": text, "extra": i} for i, text in enumerate(tweet_texts[:30])]
    _write_jsonl(tmp_path / "a.jsonl", rows)
    data = load_text_dataset(str(tmp_path / "a.jsonl"), text_column="body", id_column="doc")
    assert set(data.column_names) == {"id", "text"} and len(data) == 30
    assert data[3] == {"id": "d3", "text": tweet_texts[3]}

    no_ids = load_text_dataset(str(tmp_path / "a.jsonl"), text_column="body", id_column="missing")
    assert list(no_ids["id"]) == [str(i) for i in range(30)]

    folder = tmp_path / "parquet"
    folder.mkdir()
    datasets.Dataset.from_dict({"text": tweet_texts[:10], "id": list(range(10))}).to_parquet(
        folder / "p.parquet"
    )
    local = load_text_dataset(str(folder))
    assert list(local["id"]) == [str(i) for i in range(10)] and list(local["text"]) == tweet_texts[:10]

    streamed = load_text_dataset(str(folder), streaming=True)
    assert isinstance(streamed, datasets.IterableDataset)
    assert [row["id"] for row in streamed] == [str(i) for i in range(10)]

    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"text": tweet_texts[:5], "id": list("abcde")}).save_to_disk(str(saved))
    assert list(load_text_dataset(str(saved))["id"]) == list("abcde")


def test_bad_local_datasets_fail_clearly(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "a.jsonl", [{"body": "hello"}])
    with pytest.raises(ValueError, match=r"has no column\(s\) \['text'\]"):
        load_text_dataset(str(tmp_path / "a.jsonl"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"no \.parquet"):
        load_text_dataset(str(tmp_path / "notes.txt"))
