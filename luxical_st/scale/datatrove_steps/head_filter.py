"""`LuxicalHeadFilter`: the datatrove filter that keeps documents by a Luxical classifier head's score,
reusing an embedding `LuxicalEmbed` stored in the metadata, or embedding the text with the head's model."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.typeshelper import StatHints

from luxical_st.embedding_format import EMBEDDING_COLUMN, FORMAT_FILE, EmbeddingFormat
from luxical_st.head_model import ClassifierHead
from luxical_st.scale.datatrove_steps.plumbing import LuxicalStep, document_batches, shared_encoder
from luxical_st.scale.encoder import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_SIZE,
    SCORE_PREFIX,
    BatchEncoder,
    head_name,
)

DEFAULT_SCORE_KEY = SCORE_PREFIX + "<head>"  # LuxicalHeadFilter's score key: named as LuxicalEmbed names it


class LuxicalHeadFilter(LuxicalStep, BaseFilter):
    """Keep the documents whose score by a Luxical classifier head (`luxical_st.curate`; a folder or Hub id,
    or a loaded `ClassifierHead`) is >= `threshold` (`keep_above=False`: < `threshold`).

    The score is the calibrated probability of `label` (default for a binary head: its second label, the
    positive class; a multiclass or multilabel head needs one), or the value of a regression head. It is
    stored in `doc.metadata[score_key]` (None: not stored; by default `score_<head folder name>` as
    `LuxicalEmbed(heads=...)` names it, `_<label>` appended unless it is a binary head's second label). An
    embedding already in
    `doc.metadata[embedding_key]` (written by `LuxicalEmbed`) is reused, dequantised through
    `embedding_format` (an `EmbeddingFormat`, or the folder of its `luxical_embedding.json`; not needed for
    float32/float16); other documents are embedded with the head's own model (or `model`), which the
    head checks against the model it was trained on."""

    name = "🔤 Luxical head filter"

    def __init__(
        self,
        head: Any,
        threshold: float = 0.5,
        label: str | None = None,
        keep_above: bool = True,
        score_key: str | None = DEFAULT_SCORE_KEY,
        embedding_key: str | None = EMBEDDING_COLUMN,
        embedding_format: EmbeddingFormat | str | Path | None = None,
        model: str | Path | None = None,
        exclusion_writer: DiskWriter | None = None,
        threads: int | None = 1,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        batch_documents: int = DEFAULT_BATCH_SIZE,
        trust_remote_code: bool = False,
    ):
        super().__init__(exclusion_writer=exclusion_writer)
        # a loaded head travels without its encoder (a whole model) to the workers
        self.head = str(head) if isinstance(head, str | Path) else dataclasses.replace(head, _encoder=None)
        self.threshold = float(threshold)
        self.label = label
        self.keep_above = keep_above
        self.score_key = score_key
        self.embedding_key = embedding_key
        if isinstance(embedding_format, str | Path):
            embedding_format = EmbeddingFormat.load(embedding_format)
        self.embedding_format = embedding_format
        self.model = None if model is None else str(model)
        self._set_encoding(threads, batch_bytes, batch_documents, trust_remote_code)
        self._check_model(self.model)
        self._head: Any = None
        self._column: int | None = None
        self._score_key: str | None = None
        if not isinstance(self.head, str):
            self._set_head(self.head)  # checks the label now, not in a worker

    def _set_head(self, head: Any) -> None:
        """Check the head and the label now: a wrong label fails before any document is read."""
        if head.task == "regression":
            if self.label is not None:
                raise ValueError(f"a regression head has no labels; got label={self.label!r}")
            column = None
        elif self.label is None:
            if head.task != "binary":
                raise ValueError(f"a {head.task} head needs label=, one of {head.labels}")
            column = 1
        elif self.label not in head.labels:
            raise ValueError(f"label {self.label!r} is not one of the head's labels {head.labels}")
        else:
            column = head.labels.index(self.label)
        self._head, self._column = head, column
        self._score_key = self.score_key
        if self.score_key == DEFAULT_SCORE_KEY:
            name = head_name(self.head) if isinstance(self.head, str) else "head"
            plain = column is None or (head.task == "binary" and column == 1)
            self._score_key = SCORE_PREFIX + name + ("" if plain else f"_{head.labels[column]}")

    def loaded_head(self) -> Any:
        if self._head is None:
            head = self.head
            if isinstance(head, str):
                head = ClassifierHead.load(head, trust_remote_code=self.trust_remote_code)
            self._set_head(head)
        return self._head

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_head"] = None  # loaded again (from its folder) in the worker
        if not isinstance(self.head, str):
            state["head"] = dataclasses.replace(self.head, _encoder=None)
        return state

    def encoder(self) -> BatchEncoder:
        """The BatchEncoder of the head's model (loaded at first use, checked by the head's probe)."""
        if self._encoder is None:
            head = self.loaded_head()
            model = self.model or head.model
            if model is None:
                raise ValueError(
                    "documents without a stored embedding need a model: this head names none; pass model="
                )
            encoder = shared_encoder(model, self.threads, self.trust_remote_code)
            head.set_encoder(encoder.model)  # refuses a model that embeds unlike the head's own
            self._encoder = encoder
        return self._encoder

    def embeddings(self, batch: list[Document]) -> np.ndarray:
        """Float32 embeddings of a batch: stored ones dequantised, the others encoded from their text."""
        dimension = self.loaded_head().embedding_dimension
        stored = [
            document.metadata.get(self.embedding_key) if self.embedding_key else None for document in batch
        ]
        result = np.empty((len(batch), dimension), dtype=np.float32)
        have = [i for i, values in enumerate(stored) if values is not None]
        if have:
            result[have] = self._dequantize([stored[i] for i in have], [batch[i].id for i in have], dimension)
            self.stat_update("reused_embeddings", value=len(have), unit="batch")
        missing = [i for i, values in enumerate(stored) if values is None]
        if missing:
            result[missing] = self.encoder().encode([batch[i].text for i in missing])
            self.stat_update("embedded", value=len(missing), unit="batch")
        return result

    def _dequantize(self, rows: list[Any], ids: list[str], dimension: int) -> np.ndarray:
        fmt = self.embedding_format
        width = dimension if fmt is None else fmt.width
        what = f"{dimension}-dimensional embeddings" + ("" if fmt is None else f" stored as {fmt.precision}")
        for doc_id, row in zip(ids, rows, strict=True):
            if not isinstance(row, list):
                raise ValueError(f"document {doc_id!r}: metadata[{self.embedding_key!r}] is not a list")
        values = np.asarray(rows) if len({len(row) for row in rows}) == 1 else None
        if values is not None and values.dtype.kind not in "iuf":
            raise ValueError(f"metadata[{self.embedding_key!r}] holds values that are not all numbers")
        if fmt is None and values is not None and not np.issubdtype(values.dtype, np.floating):
            raise ValueError(
                f"metadata[{self.embedding_key!r}] holds quantised (integer) embeddings: pass "
                f"embedding_format= (the EmbeddingFormat, or the folder of its {FORMAT_FILE})"
            )
        if values is None or values.shape[1] != width:
            doc_id, row = next((i, r) for i, r in zip(ids, rows, strict=True) if len(r) != width)
            raise ValueError(
                f"document {doc_id!r}: metadata[{self.embedding_key!r}] has {len(row)} values, not {width} "
                f"(the head takes {what})"
            )
        return values.astype(np.float32) if fmt is None else fmt.dequantize(values)

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        head = self.loaded_head()
        if self._column is None:
            return np.asarray(head.predict(embeddings), dtype=np.float64)
        return np.asarray(head.predict_proba(embeddings)[:, self._column], dtype=np.float64)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        scores = self.scores(self.embeddings(batch))
        keep = scores >= self.threshold if self.keep_above else scores < self.threshold
        if self._score_key is not None:
            for document, score in zip(batch, scores.tolist(), strict=True):
                document.metadata[self._score_key] = score
        return [bool(k) for k in keep]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """datatrove 0.10's `BaseFilter.run`, line for line, over byte-bounded batches: `BaseFilter.run`
        cuts batches by document count (`batched(data, self.batch_size)`, not a hook a subclass can
        replace), and a batch of 10 MB documents must not be held whole."""
        batches = document_batches(data, self.batch_bytes, self.batch_documents, "LuxicalHeadFilter")
        self.loaded_head()
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as writer:
            for batch, _ in batches:
                self.stat_update("batches")
                with self.track_time("batch"):
                    results = self.filter_batch(batch)
                for document, result in zip(batch, results, strict=True):
                    self.stat_update(StatHints.total)
                    kept, reason = get_filter_result(result)
                    if kept:
                        self.stat_update(StatHints.forwarded)
                        self.update_doc_stats(document)
                        yield document
                    else:
                        self.stat_update(StatHints.dropped)
                        if reason:
                            self.stat_update(f"dropped_{reason}")
                        if writer is not None:
                            if reason:
                                document.metadata["filter_reason"] = reason
                            writer.write(document, rank)
