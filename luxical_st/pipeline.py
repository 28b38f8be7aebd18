"""The whole Luxical recipe as restartable steps: teacher targets -> vocabulary -> model -> training -> save.

Every step leaves its artifact under `output_dir` and is skipped when that artifact is complete, so a
killed run picks up where it stopped. `pipeline_state.json` records the config each artifact was
made with; a restart whose config would change an existing artifact is refused rather than mixing
artifacts of two configs.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from luxical_st.extras import require_extra

require_extra("train", "the Luxical training pipeline")

from luxical_st.artifacts import (  # noqa: E402
    CHECKPOINTS_DIR,
    MODEL_DIR,
    STATE_FILE,
    TARGETS_DIR,
    TOKEN_EMBEDDINGS_FILE,
    VOCABULARY_FILE,
)
from luxical_st.artifacts import PIPELINE_CONFIG_FILE as CONFIG_FILE  # noqa: E402
from luxical_st.config import PipelineConfig  # noqa: E402
from luxical_st.data.corpus import first_documents  # noqa: E402
from luxical_st.records import write_json  # noqa: E402

logger = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINTS_DIR",
    "CONFIG_FILE",
    "MODEL_DIR",
    "STATE_FILE",
    "TARGETS_DIR",
    "TOKEN_EMBEDDINGS_FILE",
    "VOCABULARY_FILE",
    "run_pipeline",
]
# Training documents read for the card's usage examples.
_EXAMPLE_DOCUMENTS = 2000

_WORD = re.compile(r"[a-z]{2,}")
# Keys that change how fast or where a step runs, or how it reports, but not what it produces.
_NEUTRAL_KEYS = frozenset(
    {
        "teacher_device",
        "teacher_batch_size",
        "vocabulary_batch_size",
        "logging_steps",
        "save_steps",
        "save_total_limit",
        "dataloader_num_workers",
        "train_device",
        "output_dir",
        "hub_repo_id",
        "hub_private",
        "trust_remote_code",  # permission to load the teacher, not a property of the targets
    }
)
# In a step's signature: {path: fingerprint} of the local corpus files the step read.
CORPUS_FILES_KEY = "corpus_files"
# The config sections each artifact depends on.
_STEP_SECTIONS = {
    "targets": ("corpus", "teacher"),
    "vocabulary": ("corpus", "vocabulary"),
    "token_embeddings": ("teacher", "vocabulary"),
    "training": ("corpus", "teacher", "vocabulary", "model", "training"),
}


def corpus_fingerprints(config: PipelineConfig) -> dict[str, Any]:
    """{path: fingerprint} of the local corpus files the config reads (empty for the quickstart blend and
    Hub ids). Hashing reads the files: `run_pipeline` computes this once for all its steps."""
    from luxical_st.data.corpus import local_corpus_files
    from luxical_st.fingerprint import fingerprints

    files = local_corpus_files(config.corpus.corpus)
    return dict(fingerprints(files)) if files else {}


def step_signature(
    config: PipelineConfig, step: str, corpus_files: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The config values that determine the artifact of `step`, and for a step that reads a local corpus
    the content fingerprints of its files (`CORPUS_FILES_KEY`), so a corpus changed in place is noticed.
    `corpus_files` are those fingerprints when the caller has them (`corpus_fingerprints`)."""
    signature: dict[str, Any] = {}
    for section in _STEP_SECTIONS[step]:
        signature.update(dataclasses.asdict(getattr(config, section)))
    signature = {key: value for key, value in signature.items() if key not in _NEUTRAL_KEYS}
    if "corpus" in _STEP_SECTIONS[step]:
        files = corpus_fingerprints(config) if corpus_files is None else corpus_files
        if files:
            signature[CORPUS_FILES_KEY] = files
    return signature


class PipelineState:
    """`pipeline_state.json`: the signature each existing artifact was made with."""

    def __init__(self, output_dir: Path) -> None:
        self.path = output_dir / STATE_FILE
        self.steps: dict[str, dict[str, Any]] = (
            json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}
        )

    def claim(self, step: str, signature: dict[str, Any], artifact_exists: bool) -> None:
        """Record `signature` for `step`; refuse if an existing artifact was made with another one."""
        recorded = self.steps.get(step)
        if artifact_exists and recorded is not None and recorded != signature:
            changed = sorted(
                key for key in signature.keys() | recorded.keys() if signature.get(key) != recorded.get(key)
            )
            what = f"with other values of {', '.join(changed)}"
            if CORPUS_FILES_KEY in changed:  # name the changed corpus files
                from luxical_st.fingerprint import describe_changes

                before, now = recorded.get(CORPUS_FILES_KEY) or {}, signature.get(CORPUS_FILES_KEY) or {}
                what += f" (the corpus changed since: {'; '.join(describe_changes(before, now)[:3])})"
            raise ValueError(
                f"the {step} artifact in {self.path.parent} was made {what}; "
                "use a new output_dir or delete that artifact to redo the step"
            )
        self.steps[step] = signature
        write_json(self.path, {name: self.steps[name] for name in sorted(self.steps)})


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
    return [token for token in tokens if _WORD.fullmatch(token)]


def training_documents(config: PipelineConfig, corpus: Any) -> Any:
    """The documents the teacher embeds: the first `max_documents` of the corpus, plus the tokenizer's
    words when `word_documents` is set."""
    documents = first_documents(corpus, config.corpus.max_documents)
    if not config.corpus.word_documents:
        return documents
    import datasets

    from luxical_st.tokenizer import load_wordpiece_tokenizer

    words = vocabulary_words(load_wordpiece_tokenizer(config.vocabulary.tokenizer))
    extra = datasets.Dataset.from_dict({"id": [f"word-{word}" for word in words], "text": words})
    if not hasattr(documents, "__len__"):
        extra = extra.to_iterable_dataset()
    return datasets.concatenate_datasets([documents.select_columns(["id", "text"]), extra])


def iter_texts(dataset: Any, column: str, batch_size: int = 1000) -> Iterator[str]:
    """The texts of a Dataset or IterableDataset, read in batches."""
    for batch in dataset.select_columns([column]).iter(batch_size=batch_size):
        yield from batch[column]


def teacher_arguments(config: PipelineConfig) -> dict[str, Any]:
    """`load_teacher`'s arguments as the config sets them (model, device, length, precision)."""
    teacher_config = config.teacher
    return {
        "name_or_path": teacher_config.teacher,
        "device": teacher_config.teacher_device,
        "max_seq_length": teacher_config.teacher_max_seq_length,
        "dtype": teacher_config.teacher_dtype,
        "trust_remote_code": teacher_config.trust_remote_code,
    }


def configured_teacher(config: PipelineConfig) -> Any:
    """The teacher SentenceTransformer as the config sets it up."""
    from luxical_st.data.teacher import load_teacher

    return load_teacher(**teacher_arguments(config))


def _ray_engine(config: PipelineConfig) -> bool:
    """Whether steps 1-2 run on Ray (`engine: ray`). The Ray steps live in the outer `scale` ring; these
    two lazy imports under `engine: ray` are the recipe's only references to it (an engine plug-in)."""
    if config.engine.engine != "ray":
        return False
    require_extra("scale", "engine: ray")
    return True


def teacher_targets_step(config: PipelineConfig, output_dir: Path, corpus: Callable[[], Any]) -> Path:
    """Step 1: embed the training documents with the teacher (resumes from its finished shards)."""
    from luxical_st.data.teacher import compute_teacher_targets, targets_complete

    targets_dir = output_dir / TARGETS_DIR
    if targets_complete(targets_dir):
        logger.info("Teacher targets: reusing %s", targets_dir)
        return targets_dir
    teacher_config = config.teacher
    if _ray_engine(config):
        from luxical_st.scale.ray_teacher import ray_teacher_targets

        return ray_teacher_targets(
            training_documents(config, corpus()),
            targets_dir,
            teacher_arguments(config),
            dimensions=teacher_config.teacher_dimensions,
            limit=teacher_config.quantization_limit,
            batch_size=teacher_config.teacher_batch_size,
            shard_size=teacher_config.target_shard_size,
            workers=config.engine.ray_workers,
            ray_address=config.engine.ray_address,
        )
    return compute_teacher_targets(
        training_documents(config, corpus()),
        configured_teacher(config),
        targets_dir,
        dimensions=teacher_config.teacher_dimensions,
        limit=teacher_config.quantization_limit,
        batch_size=teacher_config.teacher_batch_size,
        shard_size=teacher_config.target_shard_size,
    )


def vocabulary_step(config: PipelineConfig, output_dir: Path, corpus: Callable[[], Any]) -> Any:
    """Step 2: mine the n-gram vocabulary (and its IDF) from a corpus subsample, or reuse the saved one."""
    from luxical_st.data.vocabulary import NgramVocabulary, mine_vocabulary, regular_token_ids
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    path = output_dir / VOCABULARY_FILE
    if path.is_file():
        logger.info("Vocabulary: reusing %s", path)
        return NgramVocabulary.load(path)
    vocab_config = config.vocabulary
    documents = first_documents(corpus(), vocab_config.vocabulary_documents)
    tokenizer = load_wordpiece_tokenizer(vocab_config.tokenizer)
    settings: dict[str, Any] = {
        "capacity": vocab_config.vocabulary_capacity,
        "max_ngram_length": vocab_config.max_ngram_length,
        "min_count_multiple": vocab_config.min_count_multiple,
        "max_vocabulary_size": vocab_config.max_vocabulary_size,
        "batch_size": vocab_config.vocabulary_batch_size,
    }
    if _ray_engine(config):
        from luxical_st.scale.ray_mining import ray_mine_vocabulary

        vocabulary = ray_mine_vocabulary(
            documents,
            vocab_config.tokenizer,
            workers=config.engine.ray_workers,
            ray_address=config.engine.ray_address,
            **settings,
        )
    else:
        texts = iter_texts(documents, "text", vocab_config.vocabulary_batch_size)
        vocabulary = mine_vocabulary(texts, tokenizer, **settings)
    if vocab_config.all_unigrams:
        vocabulary = vocabulary.with_unigrams(regular_token_ids(tokenizer))
    partial = path.with_name(f"partial-{path.name}")
    vocabulary.save(partial)
    os.replace(partial, path)
    logger.info("Vocabulary: %d n-grams saved to %s", len(vocabulary.ngrams), path)
    return vocabulary


def token_embeddings_step(config: PipelineConfig, output_dir: Path) -> Any:
    """Step 2b (`teacher_init`): the teacher's embedding of every WordPiece token, or the saved ones."""
    import numpy as np

    from luxical_st.tokenizer import load_wordpiece_tokenizer
    from luxical_st.training.teacher_init import teacher_token_embeddings

    path = output_dir / TOKEN_EMBEDDINGS_FILE
    if path.is_file():
        logger.info("Teacher token embeddings: reusing %s", path)
        return np.load(path)
    embeddings = teacher_token_embeddings(
        configured_teacher(config),
        load_wordpiece_tokenizer(config.vocabulary.tokenizer),
        batch_size=config.teacher.teacher_batch_size,
    )
    partial = path.with_name(f"partial-{path.name}")
    with partial.open("wb") as handle:
        np.save(handle, embeddings)
    os.replace(partial, path)
    return embeddings


def training_step(
    config: PipelineConfig,
    output_dir: Path,
    targets_dir: Path,
    vocabulary: Any,
    callbacks: Sequence[Any] = (),
    token_embeddings: Any = None,
) -> Path:
    """Steps 3-4: build the student (its n-gram table seeded from `token_embeddings` when given),
    distil the teacher into it (resuming from checkpoints), save it with its Luxical card (the config,
    the training run, usage examples from the training documents)."""
    from luxical_st.card import document_examples, luxical_card, write_model_card
    from luxical_st.data.teacher import load_teacher_targets, read_targets_metadata
    from luxical_st.model import build_model
    from luxical_st.tokenizer import load_wordpiece_tokenizer
    from luxical_st.training.loss import build_loss
    from luxical_st.training.trainer import as_training_dataset, save_training_log, train_model

    train_config = config.training
    model = build_model(
        load_wordpiece_tokenizer(config.vocabulary.tokenizer),
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
    examples = document_examples(itertools.islice(iter_texts(targets, "text"), _EXAMPLE_DOCUMENTS))
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
    result = train_model(
        model, dataset, loss, train_config, output_dir / CHECKPOINTS_DIR, callbacks=callbacks
    )
    if config.model.lexical_sketch_dimensions:
        from luxical_st.model import add_lexical_sketch

        add_lexical_sketch(model, config.model.lexical_sketch_dimensions, config.model.lexical_sketch_weight)
    model_dir = output_dir / MODEL_DIR
    partial = output_dir / f"partial-{MODEL_DIR}"
    shutil.rmtree(partial, ignore_errors=True)
    model.save(str(partial))
    save_training_log(result, partial)
    (partial / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    write_model_card(partial, model=model)  # again, now with the training log beside it
    os.replace(partial, model_dir)
    logger.info("Model saved to %s (final loss %s)", model_dir, _final_loss(result))
    return model_dir


def _final_loss(result: dict[str, Any]) -> float | None:
    losses = [entry["loss"] for entry in result.get("log_history", []) if "loss" in entry]
    return losses[-1] if losses else None


def run_pipeline(config: PipelineConfig, callbacks: Sequence[Any] = ()) -> Path:
    """Run every step that has no complete artifact yet, then push if the config names a Hub repo.

    Returns the folder of the final model, which loads with
    `SentenceTransformer(path, trust_remote_code=True)`.
    """
    output_dir = Path(config.output.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    state = PipelineState(output_dir)
    model_dir = output_dir / MODEL_DIR

    corpus = cache(lambda: load_corpus(config))
    targets_dir = output_dir / TARGETS_DIR
    vocabulary_path = output_dir / VOCABULARY_FILE
    corpus_files = corpus_fingerprints(config)  # once: hashing reads every corpus file
    state.claim("targets", step_signature(config, "targets", corpus_files), targets_dir.exists())
    state.claim("vocabulary", step_signature(config, "vocabulary", corpus_files), vocabulary_path.exists())
    if config.model.teacher_init:
        state.claim(
            "token_embeddings",
            step_signature(config, "token_embeddings", corpus_files),
            (output_dir / TOKEN_EMBEDDINGS_FILE).exists(),
        )
    state.claim(
        "training",
        step_signature(config, "training", corpus_files),
        model_dir.exists() or (output_dir / CHECKPOINTS_DIR).exists(),
    )
    if (model_dir / "modules.json").is_file():
        logger.info("Model: reusing %s", model_dir)
    else:
        targets_dir = teacher_targets_step(config, output_dir, corpus)
        vocabulary = vocabulary_step(config, output_dir, corpus)
        token_embeddings = token_embeddings_step(config, output_dir) if config.model.teacher_init else None
        training_step(
            config,
            output_dir,
            targets_dir,
            vocabulary,
            callbacks=callbacks,
            token_embeddings=token_embeddings,
        )
    if config.output.hub_repo_id:
        from luxical_st.hub import push_to_hub

        push_to_hub(model_dir, config.output.hub_repo_id, private=config.output.hub_private)
    return model_dir
