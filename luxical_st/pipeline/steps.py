"""Steps 1-2b of the recipe: teacher targets, n-gram vocabulary, teacher token embeddings.

Each step returns its artifact, reusing the one under `output_dir` when it is complete. A step takes
what the run already loaded (the tokenizer, the teacher as a once-only loader) and loads it from the
config only when called on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luxical_st.artifacts import TARGETS_DIR, TOKEN_EMBEDDINGS_FILE, VOCABULARY_FILE
from luxical_st.config import PipelineConfig
from luxical_st.data.corpus import first_documents
from luxical_st.pipeline.engines import Engine, engine_for
from luxical_st.pipeline.inputs import configured_teacher, configured_tokenizer, training_documents
from luxical_st.records import write_atomic

logger = logging.getLogger(__name__)


def teacher_targets_step(
    config: PipelineConfig,
    output_dir: Path,
    corpus: Callable[[], Any],
    *,
    tokenizer: Any = None,
    teacher: Callable[[], Any] | None = None,
    engine: Engine | None = None,
) -> Path:
    """Step 1: embed the training documents with the teacher (resumes from its finished shards).

    `corpus()` gives the corpus; `tokenizer` is needed for `word_documents` (unset: the configured
    one); `teacher()` gives the teacher (unset: the configured one); `engine` unset: the configured one.
    """
    from luxical_st.data.targets import targets_complete

    targets_dir = output_dir / TARGETS_DIR
    if targets_complete(targets_dir):
        logger.info("Teacher targets: reusing %s", targets_dir)
        return targets_dir
    engine = engine or engine_for(config.engine)
    documents = training_documents(config, corpus(), tokenizer)
    return engine.teacher_targets(
        documents, targets_dir, config.teacher, teacher or (lambda: configured_teacher(config))
    )


def vocabulary_step(
    config: PipelineConfig,
    output_dir: Path,
    corpus: Callable[[], Any],
    *,
    tokenizer: Any = None,
    engine: Engine | None = None,
) -> Any:
    """Step 2: mine the n-gram vocabulary (and its IDF) from a corpus subsample, or reuse the saved one."""
    from luxical_st.data.vocabulary import NgramVocabulary
    from luxical_st.tokenizer import regular_token_ids

    path = output_dir / VOCABULARY_FILE
    if path.is_file():
        logger.info("Vocabulary: reusing %s", path)
        return NgramVocabulary.load(path)
    vocab_config = config.vocabulary
    engine = engine or engine_for(config.engine)
    documents = first_documents(corpus(), vocab_config.vocabulary_documents)
    tokenizer = tokenizer if tokenizer is not None else configured_tokenizer(config)
    vocabulary = engine.mine_vocabulary(documents, tokenizer, vocab_config)
    if vocab_config.all_unigrams:
        vocabulary = vocabulary.with_unigrams(regular_token_ids(tokenizer))
    write_atomic(path, vocabulary.save)
    logger.info("Vocabulary: %d n-grams saved to %s", len(vocabulary.ngrams), path)
    return vocabulary


def token_embeddings_step(
    config: PipelineConfig,
    output_dir: Path,
    *,
    tokenizer: Any = None,
    teacher: Callable[[], Any] | None = None,
) -> Any:
    """Step 2b (`teacher_init`): the teacher's embedding of every WordPiece token, or the saved ones."""
    import numpy as np

    from luxical_st.training.teacher_init import teacher_token_embeddings

    path = output_dir / TOKEN_EMBEDDINGS_FILE
    if path.is_file():
        logger.info("Teacher token embeddings: reusing %s", path)
        return np.load(path)
    embeddings = teacher_token_embeddings(
        teacher() if teacher is not None else configured_teacher(config),
        tokenizer if tokenizer is not None else configured_tokenizer(config),
        batch_size=config.teacher.teacher_batch_size,
    )

    def save(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.save(handle, embeddings)

    write_atomic(path, save)
    return embeddings
