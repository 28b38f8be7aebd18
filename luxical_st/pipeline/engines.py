"""Where steps 1-2 run: the engine that computes the teacher targets and mines the n-gram vocabulary.

The local engine (this process) is built in. Any other is a plug-in, found by its config name among the
`luxical_st.engines` entry points: luxical-st registers `ray` (`luxical_st.scale.recipe_engine`, which
needs the `scale` extra), so the recipe never imports the scale-out code itself. Every engine writes
the same artifacts: the targets folder of `luxical_st.data.targets`, an `NgramVocabulary`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from luxical_st.config import VALIDATION_GROUP, EngineConfig, TeacherConfig, VocabularyConfig
from luxical_st.pipeline.inputs import iter_texts

ENGINE_GROUP = "luxical_st.engines"
LOCAL_ENGINE = "local"


class Engine(Protocol):
    """What an engine does for the recipe; it is built from the config's engine section."""

    def teacher_targets(
        self, documents: Any, targets_dir: Path, teacher: TeacherConfig, load_teacher: Callable[[], Any]
    ) -> Path:
        """Embed `documents` (columns id, text) into the target shards of `targets_dir`, resuming the
        shards an earlier run finished; returns the folder. `load_teacher()` is the run's teacher in this
        process (loaded once per run, if the engine asks for it)."""
        ...

    def mine_vocabulary(self, documents: Any, tokenizer: Any, vocabulary: VocabularyConfig) -> Any:
        """The `NgramVocabulary` of `documents` (column text), tokenized with `tokenizer` (the one the
        vocabulary section names)."""
        ...


def vocabulary_settings(vocabulary: VocabularyConfig) -> dict[str, Any]:
    """The mining settings of a vocabulary section, as `mine_vocabulary` and its engines take them."""
    return {
        "capacity": vocabulary.vocabulary_capacity,
        "max_ngram_length": vocabulary.max_ngram_length,
        "min_count_multiple": vocabulary.min_count_multiple,
        "max_vocabulary_size": vocabulary.max_vocabulary_size,
        "batch_size": vocabulary.vocabulary_batch_size,
    }


class LocalEngine:
    """Steps 1-2 in this process: `compute_teacher_targets` and `mine_vocabulary`."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config

    def teacher_targets(
        self, documents: Any, targets_dir: Path, teacher: TeacherConfig, load_teacher: Callable[[], Any]
    ) -> Path:
        from luxical_st.data.targets import compute_teacher_targets

        return compute_teacher_targets(
            documents,
            load_teacher(),
            targets_dir,
            dimensions=teacher.teacher_dimensions,
            limit=teacher.quantization_limit,
            batch_size=teacher.teacher_batch_size,
            shard_size=teacher.target_shard_size,
        )

    def mine_vocabulary(self, documents: Any, tokenizer: Any, vocabulary: VocabularyConfig) -> Any:
        from luxical_st.data.vocabulary import mine_vocabulary

        texts = iter_texts(documents, "text", vocabulary.vocabulary_batch_size)
        return mine_vocabulary(texts, tokenizer, **vocabulary_settings(vocabulary))


def plugin(group: str, name: str, key: str, extra: str) -> Any:
    """The object registered as `name` in the entry-point `group` (ImportError naming the config `key`
    and the extra that registers it when it is missing or cannot be imported)."""
    found = entry_points(group=group, name=name)
    if not found:
        raise ImportError(
            f"{key}: {name} is not installed: no {name!r} entry point in the {group!r} group "
            f"(installing luxical-st registers it; it needs the {extra!r} extra: "
            f"pip install 'luxical-st[{extra}]')"
        )
    try:
        return next(iter(found)).load()
    except ImportError as error:
        raise ImportError(f"{key}: {name} could not be loaded: {error}") from error


def engine_for(config: EngineConfig) -> Engine:
    """The engine the config's `engine` names: the local one, or the plug-in registered under that name
    (`ray`, which needs the 'scale' extra)."""
    if config.engine == LOCAL_ENGINE:
        return LocalEngine(config)
    engine: Engine = plugin(ENGINE_GROUP, config.engine, "engine", "scale")(config)
    return engine


def validation_factory(name: str) -> Callable[[], Any]:
    """What builds the sentence-transformers evaluator the training config's `validation` names, found
    among the `luxical_st.validation` entry points (`suite`: the offline suite's validation split, which
    needs the 'eval' extra); the trainer keeps the checkpoint with its best `primary_metric`. Loaded
    before the first step, so a missing extra stops the run at once; called when training starts."""
    factory: Callable[[], Any] = plugin(VALIDATION_GROUP, name, "validation", "eval")
    return factory
