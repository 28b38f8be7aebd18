"""Steps 3-4 of the recipe: build the student, distil the teacher's targets into it, save it with its card."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from luxical_st.artifacts import CHECKPOINTS_DIR, MODEL_DIR, PIPELINE_CONFIG_FILE
from luxical_st.config import PipelineConfig
from luxical_st.pipeline.inputs import configured_tokenizer, iter_texts

logger = logging.getLogger(__name__)

# Training documents read for the card's usage examples.
EXAMPLE_DOCUMENTS = 2000


def final_loss(result: dict[str, Any]) -> float | None:
    """The last logged training loss of a `train_model` result, or None."""
    losses = [entry["loss"] for entry in result.get("log_history", []) if "loss" in entry]
    return losses[-1] if losses else None


def training_step(
    config: PipelineConfig,
    output_dir: Path,
    targets_dir: Path,
    vocabulary: Any,
    callbacks: Sequence[Any] = (),
    token_embeddings: Any = None,
    tokenizer: Any = None,
    make_evaluator: Any = None,
) -> Path:
    """Steps 3-4: build the student over `tokenizer` (unset: the configured one) and `vocabulary` (its
    n-gram table seeded from `token_embeddings` when given), distil the teacher targets of `targets_dir`
    into it (resuming from checkpoints), save it with its Luxical card (the config, the training run,
    usage examples from the training documents). With the config's `validation`, every checkpoint is
    scored by the evaluator `make_evaluator()` builds (unset: the registered one) and the best is kept.
    Returns the model folder."""
    from luxical_st.card import document_examples, luxical_card
    from luxical_st.data.targets import load_teacher_targets, read_targets_metadata
    from luxical_st.model import build_model
    from luxical_st.training.loss import build_loss
    from luxical_st.training.trainer import as_training_dataset, train_model

    if tokenizer is None:
        tokenizer = configured_tokenizer(config)
    train_config = config.training
    model = build_model(
        tokenizer,
        vocabulary.ngrams,
        vocabulary.idf,
        layer_sizes=config.model.layer_sizes,
        seed=config.model.model_seed,
    )
    identity_axes = None  # the principal axes an identity-started network outputs
    if token_embeddings is not None:
        from luxical_st.training.teacher_init import seed_first_layer, seed_identity_path

        axes = seed_first_layer(
            model,
            token_embeddings,
            row_norm=config.model.teacher_init_norm,
            ngram_scale=config.model.teacher_init_ngram_scale,
        )
        if config.model.hidden_init == "identity":
            seed_identity_path(model, axes.shape[1], seed=config.model.model_seed)
            identity_axes = axes
    targets = load_teacher_targets(targets_dir, streaming=train_config.streaming)
    examples = document_examples(itertools.islice(iter_texts(targets, "text"), EXAMPLE_DOCUMENTS))
    luxical_card(model, training_config=config, examples=examples if len(examples) > 1 else None)
    if train_config.pooled_documents:
        import datasets

        from luxical_st.data.documents import pooled_document_targets

        pooled = pooled_document_targets(
            targets, train_config.pooled_documents, config.teacher.quantization_limit
        )
        logger.info(
            "Pooled documents: %d, of up to %d passages each", len(pooled), train_config.pooled_documents
        )
        targets = datasets.concatenate_datasets([targets, pooled])
    dataset = as_training_dataset(targets, train_config)
    loss = build_loss(
        train_config.loss,
        model,
        teacher_dim=int(read_targets_metadata(targets_dir)["dimensions"]),
        temperature=train_config.temperature,
        quantization_limit=config.teacher.quantization_limit,
        gram_kl_weight=train_config.gram_kl_weight,
        lexical_kl_weight=train_config.lexical_kl_weight,
    )
    if identity_axes is not None:
        from luxical_st.training.teacher_init import seed_projection

        seed_projection(loss, identity_axes)
    evaluator = None
    if train_config.validation:
        if make_evaluator is None:
            from luxical_st.pipeline.engines import validation_factory

            make_evaluator = validation_factory(train_config.validation)
        evaluator = make_evaluator()
    result = train_model(
        model,
        dataset,
        loss,
        train_config,
        output_dir / CHECKPOINTS_DIR,
        callbacks=callbacks,
        evaluator=evaluator,
    )
    if config.model.lexical_sketch_dimensions:
        from luxical_st.model import add_lexical_sketch

        add_lexical_sketch(
            model,
            config.model.lexical_sketch_dimensions,
            config.model.lexical_sketch_weight,
            sublinear_tf=config.model.lexical_sketch_sublinear_tf,
        )
    return save_model(model, result, config, output_dir)


def save_model(model: Any, result: dict[str, Any], config: PipelineConfig, output_dir: Path) -> Path:
    """The trained model's folder, written whole or not at all: the model, its training log and curve,
    the pipeline config and the card (rendered again with the training log beside it)."""
    from luxical_st.card import write_model_card
    from luxical_st.training.trainer import save_training_log

    model_dir = output_dir / MODEL_DIR
    partial = output_dir / f"partial-{MODEL_DIR}"
    shutil.rmtree(partial, ignore_errors=True)
    model.save(str(partial))
    save_training_log(result, partial)
    (partial / PIPELINE_CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    write_model_card(partial, model=model)
    os.replace(partial, model_dir)
    logger.info("Model saved to %s (final loss %s)", model_dir, final_loss(result))
    return model_dir
