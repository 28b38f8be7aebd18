"""The one model loader of every ring: a SentenceTransformer by folder or Hub id, running no code the model
ships unless the user opted in.

The user's own `trust_remote_code` (default False) goes down to sentence-transformers and, through it,
to transformers, so their checks apply to every file they open: `modules.json` module classes, the
`auto_map` of any config, processor or tokenizer config, and the folders a module config points at
(`tokenizer_name_or_path`). `luxical_st.remote_code.check_remote_code` runs first only to refuse early,
with a message naming what it saw; it is not the gate.

One exception needs no opt-in: a local folder whose Luxical module files are byte-identical to this
installation's `luxical_st/modules` (every model this luxical-st saves). Its Luxical module types then
resolve to the classes already imported here, and the folder's own copies of that code never run;
every other module type still goes through sentence-transformers' gate with the user's flag.

Command lines whose model loads happen deep inside another package (evaluate.py through mteb) record
the user's opt-in with `allow_remote_code` and pass `remote_code_allowed(path)` at the loading line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luxical_st.remote_code import (
    LUXICAL_MODULE_TYPES,
    RemoteCodeRefusedError,
    check_remote_code,
    is_own_luxical_code,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_HINT = "trust_remote_code=True"
_ALLOWED: set[str] = set()


def allow_remote_code(names_or_paths: Iterable[str]) -> None:
    """Record that the user of this process opted in to running the code of these models."""
    _ALLOWED.update(str(name) for name in names_or_paths)


def remote_code_allowed(name_or_path: str | Path) -> bool:
    """Whether `allow_remote_code` recorded the user's opt-in for this model."""
    return str(name_or_path) in _ALLOWED


def own_module_classes(name_or_path: str | Path) -> dict[str, type]:
    """{modules.json type: this luxical-st's class} for a local folder whose Luxical code is byte-identical
    to this installation's; empty otherwise."""
    folder = Path(name_or_path)
    if not folder.is_dir() or not is_own_luxical_code(folder):
        return {}
    from luxical_st.modules.lexical_sketch import LexicalSketch
    from luxical_st.modules.ngram_tfidf import NgramTfidf
    from luxical_st.modules.sparse_dense import SparseDense

    classes: dict[str, type] = {
        "ngram_tfidf.NgramTfidf": NgramTfidf,
        "sparse_dense.SparseDense": SparseDense,
        "lexical_sketch.LexicalSketch": LexicalSketch,
    }
    assert set(classes) == LUXICAL_MODULE_TYPES
    return classes


def _load_with_classes(name: str, classes: dict[str, type], **kwargs: Any) -> SentenceTransformer:
    """A SentenceTransformer whose `modules.json` types in `classes` resolve to those classes; the others
    resolve as usual, sentence-transformers' `trust_remote_code` gate included."""
    from sentence_transformers import SentenceTransformer

    loader = getattr(SentenceTransformer, "_load_with_module_classes", None)
    if loader is not None:  # sentence-transformers >= 6.3
        return loader(name, classes, **kwargs)

    class _WithClasses(SentenceTransformer):  # older: the same resolution by overriding the resolver
        def _load_module_class_from_ref(self, class_ref: str, *args: Any, **more: Any) -> Any:
            if class_ref in classes:
                return classes[class_ref]
            return super()._load_module_class_from_ref(class_ref, *args, **more)

    model: SentenceTransformer = _WithClasses(name, **kwargs)
    model.__class__ = SentenceTransformer  # a plain SentenceTransformer once loaded (pickles, type checks)
    return model


def _refusal(name: str, error: Exception, how_to_opt_in: str) -> RemoteCodeRefusedError | None:
    """sentence-transformers' or transformers' refusal to run a model's code, as one clear message."""
    message = str(error)
    if "trust_remote_code" not in message:
        return None
    first = " ".join(message.split()).split(". ")[0].rstrip(".")
    return RemoteCodeRefusedError(name, first, how_to_opt_in)


def load_sentence_transformer(
    name_or_path: str | Path,
    trust_remote_code: bool = False,
    *,
    how_to_opt_in: str = DEFAULT_HINT,
    device: str | None = "cpu",
    **kwargs: Any,
) -> SentenceTransformer:
    """`SentenceTransformer(name_or_path)` running the model's own code only with `trust_remote_code`
    (this luxical-st's own Luxical folders excepted); otherwise a `RemoteCodeRefusedError` (a ValueError) that
    says how to opt in.
    `how_to_opt_in` names the switch in that message; kwargs go to `SentenceTransformer`."""
    from sentence_transformers import SentenceTransformer

    name = str(name_or_path)
    if not trust_remote_code:
        check_remote_code(name, False, how_to_opt_in)
    classes = own_module_classes(name)
    try:
        if classes:
            return _load_with_classes(
                name, classes, device=device, trust_remote_code=trust_remote_code, **kwargs
            )
        return SentenceTransformer(name, device=device, trust_remote_code=trust_remote_code, **kwargs)
    except (ValueError, ImportError, OSError) as error:
        refusal = None if trust_remote_code else _refusal(name, error, how_to_opt_in)
        if refusal is None:
            raise
        raise refusal from error


def check_models(paths: Iterable[str], trust_remote_code: bool) -> None:
    """Check the models evaluate.py loads (folders or Hub ids, and the folder of a `baseline:NAME:PATH`;
    other `baseline:` specs are built, not loaded). With `trust_remote_code` the user's opt-in is recorded
    for each of them (`allow_remote_code`), for the loaders deep inside the evaluation."""
    loaded = []
    for path in paths:
        if path.startswith("baseline:"):
            argument = path[len("baseline:") :].partition(":")[2]
            if not argument:
                continue
            path = argument
        check_remote_code(path, trust_remote_code, "--trust_remote_code")
        loaded.append(path)
    if trust_remote_code:
        allow_remote_code(loaded)
