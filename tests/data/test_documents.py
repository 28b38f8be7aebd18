"""Long documents: passages at paragraph/sentence boundaries, prose readers, pooled document targets."""

from __future__ import annotations

import numpy as np
import pytest

from luxical_st.data import prose
from luxical_st.data.documents import passage_rows, passages, pooled_document_targets
from luxical_st.quantization import dequantize_targets, quantize_targets


def test_passages_keep_every_word_in_order_within_the_limit(news_texts: list[str]) -> None:
    for text in news_texts[:50]:
        parts = passages(text, max_words=60, min_words=0)
        assert all(0 < len(part.split()) <= 60 for part in parts)
        assert " ".join(parts).split() == text.split()


def test_passages_cut_after_sentences_and_drop_scraps() -> None:
    text = "Title\n\n" + " ".join(f"Sentence number {i} is here." for i in range(40))
    parts = passages(text, max_words=25, min_words=3)
    assert parts[0].startswith("Sentence number 0") and all(part.endswith(".") for part in parts)
    assert passages("Just a heading", max_words=25, min_words=8) == ["Just a heading"]
    with pytest.raises(ValueError, match="max_words"):
        passages(text, max_words=0)


def test_passage_rows_number_the_passages() -> None:
    first, second = (
        "One two three four five six seven eight.",
        "Nine ten eleven twelve thirteen fourteen fifteen sixteen.",
    )
    ids, texts = passage_rows("sotu-1790", f"{first}\n\n{second}", max_words=8)
    assert ids == ["sotu-1790#0", "sotu-1790#1"] and texts == [first, second]


@pytest.mark.parametrize("reader", [prose.sotu_speeches, prose.recipes, prose.factbook_sections])
def test_prose_readers_give_long_english_documents(reader) -> None:
    documents = reader()
    assert len(documents) > 200
    ids = [identifier for identifier, _ in documents]
    assert len(set(ids)) == len(ids)
    words = [len(text.split()) for _, text in documents]
    assert np.median(words) > 60 and all(w > 0 for w in words)
    assert " the " in documents[len(documents) // 2][1]


def test_pooled_targets_average_consecutive_passages(news_texts: list[str]) -> None:
    import datasets

    ids, texts = passage_rows("news-0", news_texts[0], max_words=40)
    ids += ["tweet-1", "news-9#0"]
    texts += ["a lone tweet", "a single passage"]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(ids), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes = quantize_targets(vectors, 0.3)
    targets = datasets.Dataset.from_dict({"id": ids, "text": texts, "embedding": list(codes)})
    pooled = pooled_document_targets(targets, max_passages=3, limit=0.3)
    passages_count = len(ids) - 2
    assert len(pooled) == sum(
        len(range(s, min(s + 3, passages_count))) > 1 for s in range(0, passages_count, 3)
    )
    assert pooled[0]["id"] == "news-0#0-2" and pooled[0]["text"] == "\n".join(texts[:3])
    expected = dequantize_targets(codes[:3], 0.3).mean(axis=0)
    expected /= np.linalg.norm(expected)
    got = dequantize_targets(np.asarray(pooled[0]["embedding"], dtype=np.uint8), 0.3)
    np.testing.assert_allclose(got, np.clip(expected, -0.3, 0.3), atol=0.3 / 255 + 1e-6)
    assert pooled.features == targets.features
    with pytest.raises(ValueError, match="at least 2"):
        pooled_document_targets(targets, max_passages=1, limit=0.3)
