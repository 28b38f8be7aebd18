"""The pipeline config: one flat YAML file (`loader`), read into one section per step.

`sections` holds the data, model, output and engine sections, `training` the training section (a
`SentenceTransformerTrainingArguments` with Luxical's fields), `pipeline_config` the whole.
"""

from luxical_st.config.loader import config_parser, load_config
from luxical_st.config.pipeline_config import SECTIONS, PipelineConfig, section_keys, section_values
from luxical_st.config.sections import (
    CorpusConfig,
    EngineConfig,
    ModelConfig,
    OutputConfig,
    TeacherConfig,
    VocabularyConfig,
)
from luxical_st.config.training import LOSS_NAMES, TRAINING_KEYS, VALIDATION_GROUP, TrainConfig

__all__ = [
    "LOSS_NAMES",
    "SECTIONS",
    "TRAINING_KEYS",
    "VALIDATION_GROUP",
    "CorpusConfig",
    "EngineConfig",
    "ModelConfig",
    "OutputConfig",
    "PipelineConfig",
    "TeacherConfig",
    "TrainConfig",
    "VocabularyConfig",
    "config_parser",
    "load_config",
    "section_keys",
    "section_values",
]
