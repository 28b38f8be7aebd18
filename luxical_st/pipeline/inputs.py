"""What the steps read: the corpus a config names, the documents the teacher embeds, and the teacher."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from luxical_st.config import PipelineConfig, TeacherConfig
from luxical_st.data.corpus import first_documents

WORD = re.compile(r"[a-z]{2,}")
CORPUS_WORD = re.compile(r"[a-z]{3,}")
CORPUS_WORD_MIN_COUNT = 3


def load_corpus(config: PipelineConfig) -> Any:
    """The corpus a config names, with string columns "id" and "text": the offline quickstart blend,
    or a local/Hub dataset."""
    from luxical_st.data.corpus import load_quickstart_corpus, load_text_dataset

    corpus = config.corpus
    if corpus.corpus == "quickstart":
        return load_quickstart_corpus(min_documents=corpus.min_documents)
    return load_text_dataset(
        corpus.corpus,
        split=corpus.corpus_split,
        text_column=corpus.text_column,
        id_column=corpus.id_column,
        streaming=corpus.corpus_streaming,
        data_files=corpus.corpus_data_files,
    )


def vocabulary_words(tokenizer: Any) -> list[str]:
    """The whole-word entries of a WordPiece vocabulary: its ordinary tokens (`regular_token_ids`) of at
    least two letters and no ## marker, in id order."""
    from luxical_st.tokenizer import regular_token_ids

    tokens = (tokenizer.id_to_token(int(index)) for index in regular_token_ids(tokenizer))
    return [token for token in tokens if WORD.fullmatch(token)]


def corpus_words(documents: Any, tokenizer: Any, limit: int) -> list[str]:
    """Up to `limit` whole words of `documents` (lowercased runs of 3+ letters seen at least
    `CORPUS_WORD_MIN_COUNT` times) that `tokenizer` splits into several WordPieces, most frequent first
    (ties in alphabetical order): the words a vocabulary of whole-word tokens leaves out."""
    from tqdm.auto import tqdm

    from luxical_st.modules.ngram_tfidf import check_texts

    counts: Counter[str] = Counter()
    texts = iter(tqdm(iter_texts(documents, "text"), desc="Counting corpus words", unit=" docs"))
    for start in itertools.count(0, 1000):
        batch = check_texts(itertools.islice(texts, 1000), f"corpus texts[{start}:]")
        if not batch:
            break
        for text in batch:
            counts.update(CORPUS_WORD.findall(text.lower()))
    frequent = sorted(
        (w for w, n in counts.items() if n >= CORPUS_WORD_MIN_COUNT), key=lambda w: (-counts[w], w)
    )
    words: list[str] = []
    for start in range(0, len(frequent), 4096):
        batch = frequent[start : start + 4096]
        pieces = tokenizer.encode_batch(batch, add_special_tokens=False)
        words.extend(word for word, encoding in zip(batch, pieces, strict=True) if len(encoding.ids) > 1)
        if len(words) >= limit:
            break
    return words[:limit]


def training_documents(config: PipelineConfig, corpus: Any, tokenizer: Any = None) -> Any:
    """The documents the teacher embeds: the first `max_documents` of the corpus, plus (`word_documents`)
    the whole words of `tokenizer` (unset: the configured one) and (`corpus_words`) the corpus's frequent
    words that it splits into pieces, each as a one-word document with id `word-<word>`."""
    section = config.corpus
    documents = first_documents(corpus, section.max_documents)
    if not section.word_documents and not section.corpus_words:
        return documents
    import datasets

    tokenizer = tokenizer if tokenizer is not None else configured_tokenizer(config)
    words = vocabulary_words(tokenizer) if section.word_documents else []
    if section.corpus_words:
        counted = first_documents(corpus, section.corpus_words_documents)
        words += corpus_words(counted, tokenizer, section.corpus_words)
    extra = datasets.Dataset.from_dict({"id": [f"word-{word}" for word in words], "text": words})
    if not hasattr(documents, "__len__"):
        extra = extra.to_iterable_dataset()
    return datasets.concatenate_datasets([documents.select_columns(["id", "text"]), extra])


def configured_tokenizer(config: PipelineConfig) -> Any:
    """The WordPiece tokenizer the vocabulary section names."""
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    return load_wordpiece_tokenizer(config.vocabulary.tokenizer)


def iter_texts(dataset: Any, column: str, batch_size: int = 1000) -> Iterator[str]:
    """The texts of a Dataset or IterableDataset, read in batches."""
    for batch in dataset.select_columns([column]).iter(batch_size=batch_size):
        yield from batch[column]


def teacher_arguments(teacher: PipelineConfig | TeacherConfig) -> dict[str, Any]:
    """`load_teacher`'s arguments as the config (or its teacher section) sets them: model, device,
    length, precision, permission to run the teacher's own code."""
    section = teacher.teacher if isinstance(teacher, PipelineConfig) else teacher
    return {
        "name_or_path": section.teacher,
        "device": section.teacher_device,
        "max_seq_length": section.teacher_max_seq_length,
        "dtype": section.teacher_dtype,
        "trust_remote_code": section.trust_remote_code,
        "backend": section.teacher_backend,
    }


def configured_teacher(teacher: PipelineConfig | TeacherConfig) -> Any:
    """The teacher SentenceTransformer as the config (or its teacher section) sets it up."""
    from luxical_st.data.teacher import load_teacher

    return load_teacher(**teacher_arguments(teacher))
