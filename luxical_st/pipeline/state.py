"""`pipeline_state.json`: the settings each artifact of a run was made with.

A step's signature is the config values that determine its artifact, plus for a step that reads a local
corpus the content fingerprints of its files. A restart whose signature would change an existing
artifact is refused, naming every changed setting, rather than mixing artifacts of two configs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from luxical_st.artifacts import STATE_FILE
from luxical_st.config import PipelineConfig, section_values
from luxical_st.records import changed_settings, write_json

# Keys that change how fast or where a step runs, or how it reports, but not what it produces.
NEUTRAL_KEYS = frozenset(
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
STEP_SECTIONS = {
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
    for section in STEP_SECTIONS[step]:
        signature.update(section_values(getattr(config, section)))
    signature = {key: value for key, value in signature.items() if key not in NEUTRAL_KEYS}
    if "corpus" in STEP_SECTIONS[step]:
        files = corpus_fingerprints(config) if corpus_files is None else corpus_files
        if files:
            signature[CORPUS_FILES_KEY] = files
    return signature


def step_defaults(step: str) -> dict[str, Any]:
    """The default value of every config key in `step`'s signature."""
    defaults = PipelineConfig()
    values: dict[str, Any] = {}
    for section in STEP_SECTIONS.get(step, ()):
        values.update(section_values(getattr(defaults, section)))
    return values


class PipelineState:
    """`pipeline_state.json`: the signature each existing artifact was made with."""

    def __init__(self, output_dir: Path) -> None:
        import json

        self.path = output_dir / STATE_FILE
        self.steps: dict[str, dict[str, Any]] = (
            json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}
        )

    def claim(self, step: str, signature: dict[str, Any], artifact_exists: bool) -> None:
        """Record `signature` for `step`; refuse if an existing artifact was made with another one."""
        recorded = self.steps.get(step)
        # A key that an older version did not record held its default then: a new key keeps the old
        # behaviour by default, so it changes an existing artifact only when set to something else.
        defaults = step_defaults(step)
        missing = {key: defaults.get(key) for key in signature if key not in (recorded or {})}
        changes = changed_settings(
            {key: value for key, value in {**missing, **(recorded or {})}.items() if key != CORPUS_FILES_KEY},
            {key: value for key, value in signature.items() if key != CORPUS_FILES_KEY},
        )
        before, now = (recorded or {}).get(CORPUS_FILES_KEY) or {}, signature.get(CORPUS_FILES_KEY) or {}
        if artifact_exists and recorded is not None and (changes or before != now):
            if before != now:  # name the changed corpus files
                from luxical_st.fingerprint import describe_changes

                changes.append(f"the corpus changed since: {'; '.join(describe_changes(before, now)[:3])}")
            listed = "; ".join(changes)
            raise ValueError(
                f"the {step} artifact in {self.path.parent} was made with other settings: {listed}; "
                "use a new output_dir or delete that artifact to redo the step"
            )
        self.steps[step] = signature
        write_json(self.path, {name: self.steps[name] for name in sorted(self.steps)})
