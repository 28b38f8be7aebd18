"""Luxical steps for datatrove: embed documents (`LuxicalEmbed`) and keep them by a classifier head's score
(`LuxicalHeadFilter`).

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    LocalPipelineExecutor(
        [
            JsonlReader("corpus/"),
            LuxicalEmbed(
                "DatologyAI/luxical-one",  # a Hub model runs its own code: only with your opt-in
                precision="float16",
                output_folder="embeddings/",
                trust_remote_code=True,
            ),
            LuxicalHeadFilter("heads/edu", label="high", threshold=0.7),
            JsonlWriter("kept/", adapter=shallow_adapter),
        ],
        tasks=64, workers=8, logging_dir="logs/luxical",
    ).run()

Both steps load the model lazily, once per worker process (never in `__init__`, so they pickle for every
executor), and batch documents by text bytes, so memory follows the batch's bytes, not its row count. The
embedding goes into `doc.metadata` (a list in the stored precision) and/or a parquet side output, one shard
per rank with id, embedding and head scores (`datatrove_shards`), in the format every scale-out path writes.
Like every loader of luxical-st, neither step runs code a model ships unless `trust_remote_code=True`
(this luxical-st's own Luxical folders need no opt-in); a model that would is refused when the step is built.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.typeshelper import StatHints

from luxical_st.embedding_format import EMBEDDING_COLUMN, FORMAT_FILE, EmbeddingFormat

from .datatrove_shards import RankShard
from .encoder import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_SIZE,
    SCORE_PREFIX,
    BatchEncoder,
    head_name,
)

DEFAULT_SCORE_KEY = SCORE_PREFIX + "<head>"  # LuxicalHeadFilter's score key: named as LuxicalEmbed names it


def document_batches(
    documents: Iterable[Document] | None, max_bytes: int, max_documents: int, step: str
) -> Iterator[tuple[list[Document], int]]:
    """(documents, UTF-8 bytes of their texts) batches of at most `max_bytes` (or one larger document) and
    `max_documents`, as the stream arrives; a document whose text is not a string is refused with its id."""
    if documents is None:
        raise ValueError(f"{step} received no documents: put a reader (e.g. JsonlReader) before it")
    batch: list[Document] = []
    size = 0
    for document in documents:
        if not isinstance(document.text, str):
            raise TypeError(
                f"{step}: document {document.id!r} has text of type {type(document.text).__name__}, "
                "not str (check the reader's text_key)"
            )
        length = len(document.text.encode("utf-8", "surrogatepass"))
        if batch and (size + length > max_bytes or len(batch) >= max_documents):
            yield batch, size
            batch, size = [], 0
        batch.append(document)
        size += length
    if batch:
        yield batch, size


def shallow_adapter(writer: Any, document: Document) -> dict[str, Any]:
    """A writer `adapter` (JsonlWriter(..., adapter=shallow_adapter)) that hands the metadata over as it is.

    datatrove's default adapter is `dataclasses.asdict`, which deep-copies an embedding in metadata value by
    value (~1.1 ms per 704-dimensional document on one EPYC core, half the time of embedding it, 12 % of a
    reader -> LuxicalEmbed -> gzipped JsonlWriter job); this one copies nothing.
    Like the default it leaves out empty fields and honours `expand_metadata`; documents with media go to
    the default adapter."""
    if document.media:
        return writer._default_adapter(document)
    data: dict[str, Any] = (
        {"text": document.text, "id": document.id} if document.text else {"id": document.id}
    )
    if document.metadata:
        if writer.expand_metadata:
            data |= document.metadata
        else:
            data["metadata"] = document.metadata
    return data


class _LuxicalStep:
    """What both steps share: the lazily loaded, never pickled encoder and the byte-bounded batches."""

    threads: int | None
    batch_bytes: int
    batch_documents: int
    trust_remote_code: bool
    _encoder: Any

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_encoder"] = None  # a loaded model never travels to another worker: each loads its own
        return state

    def _set_encoding(
        self, threads: int | None, batch_bytes: int, batch_documents: int, trust_remote_code: bool
    ) -> None:
        """The encoding settings both steps take (checked now, not in a worker); no encoder loaded yet."""
        if batch_bytes < 1 or batch_documents < 1:
            raise ValueError(
                f"batch_bytes and batch_documents must be >= 1, got {batch_bytes}, {batch_documents}"
            )
        self.threads = threads
        self.batch_bytes = batch_bytes
        self.batch_documents = batch_documents
        self.trust_remote_code = trust_remote_code
        self._encoder = None

    def _check_model(self, model: str | None) -> None:
        """Refuse now, not in a worker, a model that would run its own code without the opt-in."""
        from luxical_st.remote_code import check_remote_code

        if model is not None:
            check_remote_code(model, self.trust_remote_code, "trust_remote_code=True")


class LuxicalEmbed(_LuxicalStep, PipelineStep):
    """Embed every document with a Luxical model; store the embedding in `doc.metadata[metadata_key]`
    (`metadata_key=None`: not there) and/or as parquet shards in `output_folder`, with the scores of the
    classifier `heads` (folders or Hub ids of `luxical_st.curate` heads, `score_<name>` in metadata and
    shards) computed in the same pass.

    `precision`: "float32", "float16" or "binary", or an `EmbeddingFormat` (int8 and uint8 need one, with
    ranges calibrated once for the whole job: `EmbeddingFormat.calibrate("int8", model.encode(sample))`).
    `threads`: torch threads per worker process (datatrove parallelises by workers; None: torch's default)."""

    name = "🔤 Luxical embed"
    type = "🔢 - EMBEDDING"

    def __init__(
        self,
        model: str | Path,
        precision: str | EmbeddingFormat = "float32",
        output_folder: DataFolderLike | None = None,
        metadata_key: str | None = EMBEDDING_COLUMN,
        heads: Sequence[str | Path] = (),
        threads: int | None = 1,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        batch_documents: int = DEFAULT_BATCH_SIZE,
        trust_remote_code: bool = False,
    ):
        super().__init__()
        if isinstance(precision, str) and precision in ("int8", "uint8"):
            raise ValueError(
                f"{precision} needs ranges calibrated once for the whole job, not per worker: pass "
                f"precision=EmbeddingFormat.calibrate({precision!r}, model.encode(sample_texts))"
            )
        if isinstance(precision, str):
            EmbeddingFormat(precision, dimensions=1)  # refuses an unknown precision now, not in a worker
        if metadata_key is None and output_folder is None:
            raise ValueError("LuxicalEmbed stores nothing: set metadata_key and/or output_folder")
        self.model = str(model)
        self.precision = precision
        self.output_folder = get_datafolder(output_folder) if output_folder is not None else None
        self.metadata_key = metadata_key
        self.heads = [str(head) for head in heads]
        self._set_encoding(threads, batch_bytes, batch_documents, trust_remote_code)
        self._check_model(self.model)

    def encoder(self) -> BatchEncoder:
        """The BatchEncoder of this worker (the model loaded at first use, once per process)."""
        if self._encoder is None:
            base = shared_encoder(self.model, self.threads, self.trust_remote_code)
            fmt = self.precision
            if isinstance(fmt, str):
                fmt = EmbeddingFormat(fmt, base.dimensions, model=base.model_name)
            if fmt == base.fmt and not self.heads:
                self._encoder = base
            else:  # the same loaded model, another storage format and/or heads
                self._encoder = BatchEncoder(
                    base.model,
                    fmt=fmt,
                    heads=self.heads,
                    batch_size=base.batch_size,
                    batch_bytes=base.batch_bytes,
                    trust_remote_code=self.trust_remote_code,
                )
        return self._encoder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        batches = document_batches(data, self.batch_bytes, self.batch_documents, "LuxicalEmbed")
        encoder = self.encoder()
        fmt: EmbeddingFormat = encoder.fmt
        shard = RankShard(self.output_folder, rank, fmt) if self.output_folder is not None else None
        try:
            for batch, size in batches:
                with self.track_time("batch"):
                    columns = encoder.columns([document.text for document in batch])
                    if shard is not None:
                        shard.write([document.id for document in batch], columns)
                    if self.metadata_key is not None:
                        rows = fmt.from_arrow(columns[EMBEDDING_COLUMN]).tolist()
                        for document, row in zip(batch, rows, strict=True):
                            document.metadata[self.metadata_key] = row
                    for column, values in columns.items():
                        if column != EMBEDDING_COLUMN:
                            for document, value in zip(batch, values.to_pylist(), strict=True):
                                document.metadata[column] = value
                self.stat_update("batches")
                self.stat_update("embedded", value=len(batch), unit="batch")
                self.stat_update("embedded_bytes", value=size, unit="batch")
                for document in batch:
                    self.update_doc_stats(document)
                    yield document
        except BaseException:
            if shard is not None:
                shard.abandon()
            raise
        if shard is not None:
            shard.finish()


class LuxicalHeadFilter(_LuxicalStep, BaseFilter):
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
            from luxical_st.curate.head_model import ClassifierHead

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
        """BaseFilter.run over byte-bounded batches (BaseFilter batches by document count)."""
        batches = document_batches(data, self.batch_bytes, self.batch_documents, "LuxicalHeadFilter")
        self.loaded_head()
        writer = self.exclusion_writer
        with writer if writer is not None else contextlib.nullcontext():
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
                        if writer is not None:
                            if reason:
                                document.metadata["filter_reason"] = reason
                            writer.write(document, rank)


_ENCODERS: dict[tuple[str, bool], BatchEncoder] = {}


def shared_encoder(model: str, threads: int | None = None, trust_remote_code: bool = False) -> BatchEncoder:
    """The float32 BatchEncoder of `model` in this process, loaded once: datatrove runs a fresh copy of the
    pipeline for every rank, a worker may run several ranks, and both steps may use the same model.
    `threads` (torch's, for the whole process) is set whenever given."""
    key = (str(model), trust_remote_code)
    if key not in _ENCODERS:
        try:
            _ENCODERS[key] = BatchEncoder(str(model), threads=threads, trust_remote_code=trust_remote_code)
        except OSError as error:
            raise OSError(f"cannot load the Luxical model {model!r}: {error}") from error
    elif threads is not None:
        import torch

        torch.set_num_threads(threads)
    return _ENCODERS[key]
