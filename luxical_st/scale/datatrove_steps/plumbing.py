"""What the Luxical datatrove steps share: byte-bounded document batches, the lazily loaded encoder that
never travels with a pickled step (`LuxicalStep`), one encoder per model and process (`shared_encoder`),
and a writer adapter that does not deep-copy embeddings (`shallow_adapter`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from datatrove.data import Document

from luxical_st.scale.encoder import BatchEncoder


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


class LuxicalStep:
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
