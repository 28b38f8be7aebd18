"""The whole Luxical recipe as restartable steps: teacher targets -> vocabulary -> model -> training -> save.

Every step leaves its artifact under `output_dir` (names in `luxical_st.artifacts`) and is skipped when
that artifact is complete, so a killed run picks up where it stopped. `pipeline_state.json` (`state`)
records the config each artifact was made with; a restart whose config would change an existing
artifact is refused rather than mixing artifacts of two configs. Steps 1-2 run on an engine
(`engines`): this process, or a plug-in such as Ray.
"""

from luxical_st.extras import require_extra

require_extra("train", "the Luxical training pipeline")

from luxical_st.pipeline.engines import Engine, LocalEngine, engine_for  # noqa: E402
from luxical_st.pipeline.inputs import (  # noqa: E402
    load_corpus,
    teacher_arguments,
    training_documents,
    vocabulary_words,
)
from luxical_st.pipeline.run import run_pipeline  # noqa: E402
from luxical_st.pipeline.state import PipelineState, step_signature  # noqa: E402
from luxical_st.pipeline.steps import teacher_targets_step, token_embeddings_step, vocabulary_step  # noqa: E402

__all__ = [
    "Engine",
    "LocalEngine",
    "PipelineState",
    "engine_for",
    "load_corpus",
    "run_pipeline",
    "step_signature",
    "teacher_arguments",
    "teacher_targets_step",
    "token_embeddings_step",
    "training_documents",
    "vocabulary_step",
    "vocabulary_words",
]
