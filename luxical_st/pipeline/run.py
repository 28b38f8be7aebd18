"""`run_pipeline`: every step of a config that has no complete artifact yet, in order, then the upload.

The run loads the tokenizer once and hands it to every step that needs it; the corpus and the teacher
are loaded at most once, when a step first needs them, and let go before training starts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from luxical_st.artifacts import (
    CHECKPOINTS_DIR,
    MODEL_DIR,
    TARGETS_DIR,
    TOKEN_EMBEDDINGS_FILE,
    VOCABULARY_FILE,
)
from luxical_st.config import PipelineConfig
from luxical_st.pipeline.engines import validation_factory
from luxical_st.pipeline.inputs import configured_teacher, configured_tokenizer, load_corpus
from luxical_st.pipeline.state import PipelineState, corpus_fingerprints, step_signature
from luxical_st.pipeline.steps import (
    teacher_targets_step,
    token_embeddings_step,
    vocabulary_step,
)
from luxical_st.pipeline.training_step import training_step

logger = logging.getLogger(__name__)


def claim_artifacts(config: PipelineConfig, output_dir: Path) -> None:
    """Record each step's signature in the run's state, refusing a config that would change an existing
    artifact (before any step runs)."""
    state = PipelineState(output_dir)
    corpus_files = corpus_fingerprints(config)  # once: hashing reads every corpus file
    existing = {
        "targets": (output_dir / TARGETS_DIR).exists(),
        "vocabulary": (output_dir / VOCABULARY_FILE).exists(),
        "token_embeddings": (output_dir / TOKEN_EMBEDDINGS_FILE).exists(),
        "training": (output_dir / MODEL_DIR).exists() or (output_dir / CHECKPOINTS_DIR).exists(),
    }
    for step, exists in existing.items():
        if step != "token_embeddings" or config.model.teacher_init:
            state.claim(step, step_signature(config, step, corpus_files), exists)


def distillation_inputs(config: PipelineConfig, output_dir: Path, tokenizer: Any) -> tuple[Path, Any, Any]:
    """Steps 1-2b: (teacher targets folder, vocabulary, teacher token embeddings or None)."""
    corpus = cache(lambda: load_corpus(config))
    teacher = cache(lambda: configured_teacher(config))  # loaded at most once, freed on return
    targets_dir = teacher_targets_step(config, output_dir, corpus, tokenizer=tokenizer, teacher=teacher)
    vocabulary = vocabulary_step(config, output_dir, corpus, tokenizer=tokenizer)
    token_embeddings = (
        token_embeddings_step(config, output_dir, tokenizer=tokenizer, teacher=teacher)
        if config.model.teacher_init
        else None
    )
    return targets_dir, vocabulary, token_embeddings


def run_pipeline(config: PipelineConfig, callbacks: Sequence[Any] = ()) -> Path:
    """Run every step that has no complete artifact yet, then push if the config names a Hub repo.

    Returns the folder of the final model, which loads with
    `SentenceTransformer(path, trust_remote_code=True)`.
    """
    output_dir = Path(config.output.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    claim_artifacts(config, output_dir)
    model_dir = output_dir / MODEL_DIR
    if (model_dir / "modules.json").is_file():
        logger.info("Model: reusing %s", model_dir)
    else:
        tokenizer = configured_tokenizer(config)
        validation = config.training.validation
        make_evaluator = validation_factory(validation) if validation else None
        targets_dir, vocabulary, token_embeddings = distillation_inputs(config, output_dir, tokenizer)
        training_step(
            config,
            output_dir,
            targets_dir,
            vocabulary,
            callbacks=callbacks,
            token_embeddings=token_embeddings,
            tokenizer=tokenizer,
            make_evaluator=make_evaluator,
        )
    if config.output.hub_repo_id:
        from luxical_st.hub import push_to_hub

        push_to_hub(model_dir, config.output.hub_repo_id, private=config.output.hub_private)
    return model_dir
