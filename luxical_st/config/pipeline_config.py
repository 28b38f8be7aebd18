"""`PipelineConfig`: the whole recipe's config, one section per step, and the flat key -> value view of
it that the YAML files, the run record and the model card use."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from luxical_st.config.sections import (
    CorpusConfig,
    EngineConfig,
    ModelConfig,
    OutputConfig,
    TeacherConfig,
    VocabularyConfig,
)
from luxical_st.config.training import TRAINING_KEYS, TrainConfig

SECTIONS: dict[str, type] = {
    "corpus": CorpusConfig,
    "teacher": TeacherConfig,
    "vocabulary": VocabularyConfig,
    "model": ModelConfig,
    "training": TrainConfig,
    "output": OutputConfig,
    "engine": EngineConfig,
}


def section_keys(section: type[Any]) -> tuple[str, ...]:
    """The config keys of a section class: its fields, or for the training section `TRAINING_KEYS` (the
    trainer's other arguments are not config keys)."""
    if issubclass(section, TrainConfig):
        return TRAINING_KEYS
    return tuple(item.name for item in dataclasses.fields(section))


def section_values(section: Any) -> dict[str, Any]:
    """{config key: value} of a section, in key order (values copied)."""
    return {key: copy.deepcopy(getattr(section, key)) for key in section_keys(type(section))}


@dataclass
class PipelineConfig:
    """The whole pipeline, one section per step."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    vocabulary: VocabularyConfig = field(default_factory=VocabularyConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    def to_dict(self) -> dict[str, Any]:
        """The flat key -> value mapping, the layout of the YAML files."""
        flat: dict[str, Any] = {}
        for section in SECTIONS:
            flat.update(section_values(getattr(self, section)))
        return flat
