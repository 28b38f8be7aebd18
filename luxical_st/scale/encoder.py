"""The one batch encoder of every scale-out path: a Luxical model loaded once per worker, texts embedded in
sub-batches bounded by text bytes, stored through `EmbeddingFormat`, plus classifier-head scores.

The Ray Data steps (`luxical_st.scale.ray_embed`) and the datatrove step both build a `BatchEncoder` in
each worker and call `columns(texts)`, so a column written by either path is the same.

Memory is bounded by bytes, not rows: `encode` cuts its input into consecutive runs of at most
`batch_bytes` UTF-8 bytes (and at most `batch_size` texts; a longer text goes alone), so a 10 MB document
in a batch of 3 KB ones is embedded on its own instead of with hundreds of neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.embedding_format import EMBEDDING_COLUMN, EmbeddingFormat
from luxical_st.head_model import ClassifierHead
from luxical_st.modules.ngram_tfidf import check_texts
from luxical_st.quantization import STORED_PRECISIONS

DEFAULT_BATCH_SIZE = 256
DEFAULT_BATCH_BYTES = 2 * 2**20  # text bytes per model.encode call
SCORE_PREFIX = "score_"


def byte_batches(byte_lengths: Sequence[int] | np.ndarray, batch_bytes: int, batch_size: int) -> list[slice]:
    """Consecutive slices covering all rows, each of at most `batch_size` rows and at most `batch_bytes`
    bytes (a row longer than `batch_bytes` forms a slice of its own)."""
    if batch_bytes < 1 or batch_size < 1:
        raise ValueError(f"batch_bytes and batch_size must be >= 1, got {batch_bytes}, {batch_size}")
    slices: list[slice] = []
    start, total = 0, 0
    for index, length in enumerate(byte_lengths):
        length = int(length)
        if index > start and (total + length > batch_bytes or index - start >= batch_size):
            slices.append(slice(start, index))
            start, total = index, 0
        total += length
    if start < len(byte_lengths):
        slices.append(slice(start, len(byte_lengths)))
    return slices


def head_name(path: str | Path) -> str:
    """The name of a head's score column suffix: its folder's base name."""
    return Path(str(path).rstrip("/")).name or str(path)


class BatchEncoder:
    """A SentenceTransformer loaded once (torch threads set to `threads`), embedding lists of texts.

    `fmt` fixes how `columns` stores the embedding (float32 of the model's dimension when None);
    `heads` are folders (or Hub ids) of `luxical_st.curate` classifier heads whose probabilities are
    added as `score_<folder name>` columns. `model` may also be an already loaded SentenceTransformer.
    """

    def __init__(
        self,
        model: Any,
        fmt: EmbeddingFormat | None = None,
        heads: Sequence[str] = (),
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        trust_remote_code: bool = False,
        device: str = "cpu",
    ) -> None:
        import torch

        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)
        if batch_size < 1 or batch_bytes < 1:
            raise ValueError(f"batch_size and batch_bytes must be >= 1, got {batch_size}, {batch_bytes}")
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        if isinstance(model, (str, Path)):
            from luxical_st.loading import load_sentence_transformer

            self.model_name = str(model)
            self.model = load_sentence_transformer(self.model_name, trust_remote_code, device=device)
        else:
            self.model = model
            self.model_name = ""
        self.model.eval()
        dimensions = self.model.get_embedding_dimension()
        if dimensions is None:
            dimensions = int(self.model.encode(["dimension probe"], convert_to_numpy=True).shape[1])
        self.dimensions = int(dimensions)
        self.fmt = fmt or EmbeddingFormat("float32", self.dimensions, model=self.model_name)
        if self.fmt.dimensions != self.dimensions:
            raise ValueError(
                f"the embedding format has {self.fmt.dimensions} dimensions, the model {self.dimensions}"
            )
        self.heads = self._load_heads(heads, trust_remote_code)

    def _load_heads(self, heads: Sequence[str], trust_remote_code: bool) -> dict[str, Any]:
        loaded: dict[str, Any] = {}
        for path in heads:
            name = head_name(path)
            if name in loaded:
                raise ValueError(f"two heads are named {name!r}: score columns need distinct folder names")
            head = ClassifierHead.load(path, trust_remote_code=trust_remote_code)
            if head.embedding_dimension != self.dimensions:
                raise ValueError(
                    f"head {path} takes {head.embedding_dimension}-dimensional embeddings, "
                    f"the model gives {self.dimensions}"
                )
            head.set_encoder(self.model)  # refuses a head trained on another model (probe check)
            loaded[name] = head
        return loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 embeddings (n, dimensions) of `texts`, encoded in byte-bounded sub-batches."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        lengths = [len(text.encode("utf-8")) for text in texts]
        parts = []
        for piece in byte_batches(lengths, self.batch_bytes, self.batch_size):
            part = self.model.encode(
                texts[piece], batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
            parts.append(np.asarray(part, dtype=np.float32))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def scores(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """Per head: P(labels[1]) for a binary head, the probability row for multiclass/multilabel, the
        predicted value for regression."""
        out: dict[str, np.ndarray] = {}
        for name, head in self.heads.items():
            if head.task == "regression":
                values = np.asarray(head.predict(embeddings), dtype=np.float32)
            else:
                values = np.asarray(head.predict_proba(embeddings), dtype=np.float32)
                if head.task == "binary":
                    values = values[:, 1]
            out[SCORE_PREFIX + name] = values
        return out

    def columns(self, texts: Sequence[str]) -> dict[str, Any]:
        """`embedding` (stored per `fmt`) and one `score_<head>` column per head, as pyarrow arrays."""
        import pyarrow as pa

        embeddings = self.encode(texts)
        columns: dict[str, Any] = {EMBEDDING_COLUMN: self.fmt.to_arrow(self.fmt.quantize(embeddings))}
        for name, values in self.scores(embeddings).items():
            if values.ndim == 1:
                columns[name] = pa.array(values, type=pa.float32())
            else:
                flat = pa.array(np.ascontiguousarray(values).reshape(-1), type=pa.float32())
                columns[name] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        return columns


def calibrate_format(
    encoder: BatchEncoder, texts: Sequence[str], precision: str, sample_size: int = 1000
) -> EmbeddingFormat:
    """The `EmbeddingFormat` for `precision` calibrated on (up to `sample_size` of) `texts`: int8/uint8
    ranges are the per-dimension min and max of their float embeddings."""
    if precision not in STORED_PRECISIONS:
        raise ValueError(f"precision must be one of {STORED_PRECISIONS}, got {precision!r}")
    texts = check_texts(texts, "calibration texts")[:sample_size]
    if len(texts) < 2:
        raise ValueError(f"calibration needs at least two texts, got {len(texts)}")
    return EmbeddingFormat.calibrate(precision, encoder.encode(texts), model=encoder.model_name)
