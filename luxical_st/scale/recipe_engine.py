"""`engine: ray` for the recipe: steps 1-2 (teacher targets, n-gram mining) on Ray.

Registered as the `ray` entry point of the `luxical_st.engines` group (setup.cfg), where
`luxical_st.pipeline.engines.engine_for` finds it; the pipeline itself never imports this ring. Both
methods hand the work to `ray_teacher.ray_teacher_targets` and `ray_mining.ray_mine_vocabulary`, which
write the artifacts the local engine writes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from luxical_st.config import EngineConfig, TeacherConfig, VocabularyConfig
from luxical_st.pipeline import teacher_arguments
from luxical_st.pipeline.engines import vocabulary_settings
from luxical_st.scale.ray_mining import ray_mine_vocabulary
from luxical_st.scale.ray_teacher import ray_teacher_targets


class RayEngine:
    """Teacher actors (one GPU each where the cluster has GPUs) and sharded n-gram mining on Ray, on the
    cluster at `ray_address` (unset: a local Ray) with `ray_workers` in flight."""

    def __init__(self, config: EngineConfig) -> None:
        self.workers = config.ray_workers
        self.address = config.ray_address

    def teacher_targets(
        self, documents: Any, targets_dir: Path, teacher: TeacherConfig, load_teacher: Callable[[], Any]
    ) -> Path:
        """Each actor loads its own teacher from the teacher section (`load_teacher` is not used)."""
        return ray_teacher_targets(
            documents,
            targets_dir,
            teacher_arguments(teacher),
            dimensions=teacher.teacher_dimensions,
            limit=teacher.quantization_limit,
            batch_size=teacher.teacher_batch_size,
            shard_size=teacher.target_shard_size,
            workers=self.workers,
            ray_address=self.address,
        )

    def mine_vocabulary(self, documents: Any, tokenizer: Any, vocabulary: VocabularyConfig) -> Any:
        """Each task loads the tokenizer the vocabulary section names (`tokenizer` is not sent)."""
        return ray_mine_vocabulary(
            documents,
            vocabulary.tokenizer,
            workers=self.workers,
            ray_address=self.address,
            **vocabulary_settings(vocabulary),
        )
