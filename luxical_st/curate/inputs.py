"""The parquet input every curate CLI shares: texts embedded on the fly by `--model`, or the embeddings
a scale-out job stored (`--embedding-column`, dequantised through the `luxical_embedding.json` that
luxical-embed and LuxicalEmbed save beside their shards).

`--input` is a parquet file, a folder of parquet shards (as luxical-embed writes) or a glob.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from luxical_st.embedding_format import StoredRows, embeddings_of, format_of, parquet_files, read_stored
from luxical_st.modules.ngram_tfidf import check_texts


def add_input_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    parser.add_argument("--input", required=True, help="parquet file, folder of parquet shards or glob")
    parser.add_argument("--model", default=None, help=model_help)
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default=None, help="default: the row number")
    parser.add_argument(
        "--embedding-column", default=None, help="stored embeddings (e.g. luxical-embed's) instead of texts"
    )
    parser.add_argument("--trust-remote-code", action="store_true", help="run code a Hub model ships")


@dataclass
class CurateInput:
    """What a curate CLI works on: ids (an Arrow array), the texts when the input holds them, the
    embeddings (float32, or quantised `StoredRows` dequantised as they are read), and the model when one
    was given."""

    ids: Any
    texts: list[str] | None
    embeddings: np.ndarray | StoredRows
    model: Any = None


def text_list(column: Any, where: str) -> list[str]:
    """The strings of an Arrow text column; a null or non-string row is named, never embedded as "None"."""
    return check_texts(column.to_pylist(), where)


def read_input(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    batch_size: int = 256,
    texts_wanted: bool = False,
) -> CurateInput:
    """The input `add_input_arguments` describes; a usage error when it gives neither stored embeddings
    nor a model and texts. Texts are read, and the model loaded, only where they are used: to embed, or
    with `texts_wanted` (cluster labels); stored embeddings alone need neither."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from luxical_st.loading import load_sentence_transformer
    from luxical_st.remote_code import RemoteCodeRefusedError

    if not args.embedding_column and not args.model:
        parser.error("give --embedding-column, or --model and a text column")
    names = pq.read_schema(parquet_files(args.input)[0]).names
    for column in (args.id_column, args.embedding_column):
        if column and column not in names:
            parser.error(f"{args.input} has no column {column!r} (columns: {names})")
    use_texts = (not args.embedding_column or texts_wanted) and args.text_column in names
    wanted = [args.id_column, args.embedding_column, args.text_column if use_texts else None]
    table = read_stored(args.input, [column for column in wanted if column])
    texts = None
    if use_texts:
        texts = text_list(table.column(args.text_column), f"{args.input}: column {args.text_column!r}")
    use_model = args.model and (not args.embedding_column or texts_wanted)
    try:
        model: Any = (
            load_sentence_transformer(args.model, args.trust_remote_code, how_to_opt_in="--trust-remote-code")
            if use_model
            else None
        )
    except RemoteCodeRefusedError as error:
        parser.error(str(error))
    if args.embedding_column:
        where = f"{args.input}: column {args.embedding_column!r}"
        column = table.column(args.embedding_column)
        embeddings = embeddings_of(column, format_of(args.input), where, lazy=True)  # int8 stays int8
    elif texts is None:
        parser.error(f"{args.input} has no text column {args.text_column!r} to embed")
    else:
        embeddings = model.encode(texts, batch_size=batch_size, convert_to_numpy=True)
    ids = table.column(args.id_column) if args.id_column else pa.array(np.arange(len(embeddings)))
    return CurateInput(ids=ids, texts=texts, embeddings=embeddings, model=model)


def joined_texts(
    source: str, ids: Any, id_column: str, text_column: str, limit: int
) -> tuple[list[str], np.ndarray]:
    """Texts for rows of another input, matched by id: the first `limit` rows of `source` (parquet
    file, folder or glob with `id_column` and `text_column`) whose id is among `ids`; (texts, the
    row of each in `ids`). For cluster labels when the clustered input holds only stored embeddings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = read_stored(source, [id_column, text_column]).slice(0, limit)
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    rows = pc.index_in(table.column(id_column).cast(pa.string()), value_set=ids.cast(pa.string()))
    rows = rows.fill_null(-1).to_numpy(zero_copy_only=False)
    found = np.flatnonzero(rows >= 0)
    if not len(found):
        raise ValueError(f"{source}: none of the first {limit:,} ids in {id_column!r} is in the input")
    texts = text_list(table.column(text_column).take(pa.array(found)), f"{source}: column {text_column!r}")
    return texts, rows[found]
