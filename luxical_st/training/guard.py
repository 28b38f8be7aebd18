"""A training run that cannot go on says why in one line, and leaves no bookkeeping for work never done.

`guarded_pipeline(config, run)` wraps `run_pipeline`: before anything runs it refuses a teacher that
would execute its own code without `trust_remote_code: true`; afterwards it turns the failures a user
can fix (an empty, unreadable or too small corpus, a diverged training run, a refused config change)
into a `PipelineError` whose message names the file or key and the problem, and removes a
`pipeline_state.json` that this run wrote beside no artifact at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luxical_st.artifacts import (
    CHECKPOINTS_DIR,
    MODEL_DIR,
    STATE_FILE,
    TARGETS_DIR,
    TOKEN_EMBEDDINGS_FILE,
    VOCABULARY_FILE,
)
from luxical_st.records import remove_leftovers

logger = logging.getLogger(__name__)

_ARTIFACTS = (TARGETS_DIR, VOCABULARY_FILE, TOKEN_EMBEDDINGS_FILE, CHECKPOINTS_DIR, MODEL_DIR)
TRUST_HINT = "`trust_remote_code: true` in the config (or --trust_remote_code true)"


class PipelineError(ValueError):
    """A pipeline run stopped for a reason the user can fix; the message says which, in one line."""


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def describe_failure(error: BaseException, config: Any) -> str | None:
    """A one-line account of a failure the user can fix, or None for anything else (a bug: re-raised)."""
    corpus = config.corpus.corpus
    chain = _causes(error)
    names = {type(cause).__name__ for cause in chain}
    if isinstance(error, StopIteration) or "corresponds to no data" in str(error):
        return f"corpus {corpus}: it holds no documents"
    if "DatasetGenerationError" in names:
        root = chain[-1]
        if any(isinstance(cause, UnicodeDecodeError) for cause in chain):
            root = next(cause for cause in chain if isinstance(cause, UnicodeDecodeError))
            return f"corpus {corpus} is not UTF-8 text: {_one_line(root)}"
        if "EmptyDataError" in names or "BatchSize must be greater than 0" in str(root):
            return f"corpus {corpus}: it holds no documents ({_one_line(root)})"
        return f"corpus {corpus} could not be read: {_one_line(root)}"
    if isinstance(error, (ValueError, FileNotFoundError, FloatingPointError)):
        return " ".join(str(error).split()) or _one_line(error)
    return None


def _remove_unused_state(output_dir: Path, had_state: bool, had_dir: bool) -> None:
    """Remove the state file (and the output folder) this run created if no artifact exists beside it."""
    if had_state or any((output_dir / name).exists() for name in _ARTIFACTS):
        return
    (output_dir / STATE_FILE).unlink(missing_ok=True)
    remove_leftovers(output_dir)
    if not had_dir and output_dir.is_dir() and not any(output_dir.iterdir()):
        output_dir.rmdir()


def guarded_pipeline(config: Any, run: Callable[..., Path], *args: Any, **kwargs: Any) -> Path:
    """`run(config, *args, **kwargs)` (the pipeline) with the checks and one-line failures above."""
    from luxical_st.remote_code import check_remote_code

    if config.teacher.teacher is not None:
        try:
            check_remote_code(config.teacher.teacher, config.teacher.trust_remote_code, TRUST_HINT)
        except ValueError as error:
            raise PipelineError(f"teacher {error}") from error
    output_dir = Path(config.output.output_dir)
    had_dir, had_state = output_dir.is_dir(), (output_dir / STATE_FILE).is_file()
    try:
        return run(config, *args, **kwargs)
    except Exception as error:
        _remove_unused_state(output_dir, had_state, had_dir)
        message = describe_failure(error, config)
        if message is None:
            raise
        logger.debug("pipeline failure", exc_info=True)
        raise PipelineError(message) from error
