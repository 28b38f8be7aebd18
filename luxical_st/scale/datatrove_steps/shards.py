"""The parquet side output of `LuxicalEmbed`: one shard per datatrove rank, in any datatrove `DataFolder`
(local, s3://, hf://), beside the folder's one `luxical_embedding.json`.

A shard is written as `{rank:05d}.parquet.partial` and renamed to `{rank:05d}.parquet` when its rank has
finished, so a reader never sees half a shard, and a rank that runs again (datatrove reruns the ranks
without a completion) replaces its own shard: every document is in the folder exactly once.

Why not datatrove's `ParquetWriter`: it writes under the final name from the first row (a killed rank
leaves a footer-less `00000.parquet` that readers take for a shard), keeps an older run's shard when a rank
now has no documents, and builds its rows from per-document dicts (`RecordBatch.from_pylist`), where this
writer takes the encoder's Arrow columns (fixed-size int8 / binary lists) as they are.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from typing import Any

from luxical_st.embedding_format import FORMAT_FILE, EmbeddingFormat

PARTIAL_SUFFIX = ".partial"


class RankShard:
    """The parquet side output of one rank: written as `{rank:05d}.parquet.partial`, renamed when complete;
    the folder's `luxical_embedding.json` must agree with the format of every shard in it."""

    def __init__(self, folder: Any, rank: int, fmt: EmbeddingFormat):
        self.folder = folder
        self.name = f"{rank:05d}.parquet"
        self.partial = self.name + PARTIAL_SUFFIX
        self.fmt = fmt
        self.handle: Any = None
        self.writer: Any = None
        self._save_format(rank)

    def _save_format(self, rank: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            text = self.fmt.save(tmp).read_text()
        if self.folder.isfile(FORMAT_FILE):
            with self.folder.open(FORMAT_FILE, "r") as handle:
                existing = handle.read()
            if json.loads(existing) != json.loads(text):
                raise ValueError(
                    f"{self.folder.path}/{FORMAT_FILE} holds another embedding format than this step "
                    f"writes ({existing.strip()} vs {text.strip()}): use a new output_folder"
                )
            return
        staged = f"{FORMAT_FILE}.{rank:05d}"  # every rank writes the same file: stage, then rename
        with self.folder.open(staged, "w") as handle:
            handle.write(text)
        self.folder.mv(staged, FORMAT_FILE)

    def write(self, ids: list[str], columns: Mapping[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": pa.array(ids, pa.string()), **columns})
        if self.writer is None:
            self.handle = self.folder.open(self.partial, "wb")
            self.writer = pq.ParquetWriter(self.handle, table.schema)
        self.writer.write_table(table)

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.handle.close()

    def finish(self) -> None:
        self._close()
        if self.writer is not None:
            self.folder.mv(self.partial, self.name)
        elif self.folder.isfile(self.name):  # this rank has no documents now: drop an older run's shard
            self.folder.rm(self.name)

    def abandon(self) -> None:
        self._close()
        if self.folder.isfile(self.partial):
            self.folder.rm(self.partial)
