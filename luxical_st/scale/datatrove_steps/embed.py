"""`LuxicalEmbed`: the datatrove step that embeds every document with a Luxical model, into
`doc.metadata` and/or one parquet shard per rank (`shards.RankShard`), with classifier-head scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep

from luxical_st.embedding_format import EMBEDDING_COLUMN, EmbeddingFormat
from luxical_st.scale.datatrove_steps.plumbing import LuxicalStep, document_batches, shared_encoder
from luxical_st.scale.datatrove_steps.shards import RankShard
from luxical_st.scale.encoder import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE, BatchEncoder


class LuxicalEmbed(LuxicalStep, PipelineStep):
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
