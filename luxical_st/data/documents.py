"""Long documents for distillation: passages the teacher reads whole, and pooled document targets.

A teacher reads a bounded number of tokens (all-MiniLM-L6-v2: 256, the quickstart: 128), while a Luxical
student reads every token of a document. Long texts are therefore cut into passages of at most
`max_words` words at paragraph and sentence boundaries; each passage is one training document with id
`<document id>#<passage number>`. After the teacher step, `pooled_document_targets` joins up to
`max_passages` consecutive passages of a document back into one text whose target is the mean of its
passages' teacher embeddings (re-normalised): the student also learns whole documents, at no extra
teacher cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import datasets

PASSAGE_SEPARATOR = "#"
"""`<document id>#<passage number>`: the id of a passage row."""
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")


def _pieces(paragraph: str, max_words: int) -> Iterator[str]:
    """A paragraph as pieces of at most `max_words` words, cut after sentences where possible."""
    words = paragraph.split()
    if len(words) <= max_words:
        yield " ".join(words)
        return
    current: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(words)):
        sentence_words = sentence.split()
        while len(sentence_words) > max_words:  # a run-on "sentence" (lists, verse): cut by words
            if current:
                yield " ".join(current)
                current = []
            yield " ".join(sentence_words[:max_words])
            sentence_words = sentence_words[max_words:]
        if current and len(current) + len(sentence_words) > max_words:
            yield " ".join(current)
            current = []
        current += sentence_words
    if current:
        yield " ".join(current)


def passages(text: str, max_words: int = 100, min_words: int = 8) -> list[str]:
    """`text` as consecutive passages of at most `max_words` words: paragraphs (blank-line separated)
    merged while they fit, long paragraphs cut after sentences. Passages shorter than `min_words`
    (headings, page furniture) are dropped unless the whole text is that short."""
    if max_words < 1 or min_words < 0:
        raise ValueError(
            f"max_words must be positive and min_words non-negative, got {max_words}, {min_words}"
        )
    result: list[str] = []
    current = ""
    for paragraph in _PARAGRAPHS.split(text):
        for piece in _pieces(paragraph, max_words):
            if not piece:
                continue
            if current and len(current.split()) + len(piece.split()) > max_words:
                result.append(current)
                current = ""
            current = f"{current}\n{piece}" if current else piece
    if current:
        result.append(current)
    kept = [passage for passage in result if len(passage.split()) >= min_words]
    return kept or result[:1]


def passage_rows(document_id: str, text: str, max_words: int = 100) -> tuple[list[str], list[str]]:
    """(ids, texts) of a document's passages, ids `<document_id>#<k>`."""
    texts = passages(text, max_words)
    return [f"{document_id}{PASSAGE_SEPARATOR}{k}" for k in range(len(texts))], texts


def pooled_document_targets(targets: datasets.Dataset, max_passages: int, limit: float) -> datasets.Dataset:
    """Documents rebuilt from passage rows (`<id>#<k>`): up to `max_passages` consecutive passages of a
    document joined by newlines, with the re-normalised mean of their dequantised teacher rows as the
    uint8 target. Only groups of two or more passages are returned (a single passage is already a row).
    Columns: id (`<id>#<first>-<last>`), text, embedding."""
    import datasets

    from luxical_st.quantization import dequantize_targets, quantize_targets

    if max_passages < 2:
        raise ValueError(f"pooling needs at least 2 passages per document, got {max_passages}")
    ids = targets["id"]
    groups: dict[tuple[str, int], list[int]] = {}
    for row, identifier in enumerate(ids):
        document, separator, number = identifier.rpartition(PASSAGE_SEPARATOR)
        if separator and number.isdigit():
            groups.setdefault((document, int(number) // max_passages), []).append(row)
    pooled = {key: rows for key, rows in groups.items() if len(rows) > 1}
    if not pooled:
        return datasets.Dataset.from_dict({"id": [], "text": [], "embedding": []}, features=targets.features)
    keys = list(pooled)
    texts: list[str] = []
    new_ids: list[str] = []
    rows_in_order: list[list[int]] = []
    for key in keys:
        rows = sorted(pooled[key], key=lambda r: int(ids[r].rpartition(PASSAGE_SEPARATOR)[2]))
        rows_in_order.append(rows)
        first, last = (ids[r].rpartition(PASSAGE_SEPARATOR)[2] for r in (rows[0], rows[-1]))
        new_ids.append(f"{key[0]}{PASSAGE_SEPARATOR}{first}-{last}")
    all_rows = sorted({row for rows in rows_in_order for row in rows})
    position = {row: index for index, row in enumerate(all_rows)}
    subset = targets.select(all_rows)
    codes = np.asarray(subset.with_format("numpy")["embedding"])
    subset_texts = subset["text"]
    vectors = dequantize_targets(codes, limit)
    means = np.stack([vectors[[position[r] for r in rows]].mean(axis=0) for rows in rows_in_order])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    for rows in rows_in_order:
        texts.append("\n".join(subset_texts[position[r]] for r in rows))
    columns: dict[str, Any] = {
        "id": new_ids,
        "text": texts,
        "embedding": list(quantize_targets(means, limit)),
    }
    return datasets.Dataset.from_dict(columns, features=targets.features)
