"""Run mteb on any SentenceTransformer, with a `ModelMeta` that states Luxical's facts.

Named MTEB tasks (`mteb.get_tasks`) need the Hub; the offline suite of `luxical_st.evaluation.tasks`
runs anywhere. Results are cached the mteb way (`ResultCache`, `{cache}/results/{name}/{revision}/`);
a local model folder gets a content hash as its revision, so a retrained model is never mistaken
for the old one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mteb
import numpy as np
from datasets import Dataset
from mteb.abstasks.abstask import AbsTask
from mteb.models import ModelMeta, SentenceTransformerEncoderWrapper
from sentence_transformers import SentenceTransformer
from torch.utils.data import DataLoader

from luxical_st.evaluation.baselines import build_baseline, is_baseline, model_revision
from luxical_st.evaluation.task_base import task_texts
from luxical_st.evaluation.task_tfidf import task_fitted
from luxical_st.evaluation.tasks import OFFLINE_TASKS, offline_tasks, task_category
from luxical_st.loading import load_sentence_transformer, remote_code_allowed

LUXICAL_LICENSE = "apache-2.0"
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def load_model_or_baseline(name_or_path: str, device: str = "cpu") -> SentenceTransformer:
    """Any SentenceTransformer by path or Hub id (Luxical folders carry their modules as remote
    code), or a `baseline:NAME` built on the spot."""
    if is_baseline(name_or_path):
        return build_baseline(name_or_path).to(device)
    return load_sentence_transformer(name_or_path, remote_code_allowed(name_or_path), device=device)


def is_luxical(model: SentenceTransformer) -> bool:
    """A Luxical model starts with NgramTfidf -> SparseDense (matched by class name: a saved model
    loads its own copy of the module code)."""
    names = [type(module).__name__ for module in list(model)[:2]]
    return names == ["NgramTfidf", "SparseDense"]


def model_name(name_or_path: str, label: str | None = None) -> str:
    """An mteb model name (`organization/name`): a Hub id itself, else `local/<label or folder>`."""
    if not Path(name_or_path).exists() and HUB_ID.fullmatch(name_or_path):
        return name_or_path
    return f"local/{label or Path(name_or_path).resolve().name}"


def folder_revision(folder: str | Path) -> str:
    """A short hash of every file in a model folder: the cache key of a local model."""
    digest = hashlib.blake2b(digest_size=8)
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode("utf-8"))
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def model_facts(model: SentenceTransformer) -> dict[str, Any]:
    """Parameters, embedding dimension, memory and token limit (None: reads every token) of a model,
    plus a Luxical model's vocabulary size."""
    parameters = sum(parameter.numel() for parameter in model.parameters())
    memory = sum(parameter.numel() * parameter.element_size() for parameter in model.parameters())
    dimension, limit = model.get_embedding_dimension(), model.max_seq_length
    if dimension is None:
        raise ValueError("The model does not report its embedding dimension (no Dense or Pooling module)")
    facts: dict[str, Any] = {
        "n_parameters": int(parameters),
        "embed_dim": None if task_fitted(model) is not None else int(dimension),  # None: one per task
        "memory_usage_mb": round(memory / 2**20, 2),
        "max_seq_length": None if limit is None or limit == float("inf") else int(limit),
        "luxical": is_luxical(model),
    }
    if facts["luxical"]:
        first_layer = model[1]
        facts["num_ngrams"] = int(getattr(model[0], "num_features", 0))
        facts["n_embedding_parameters"] = int(sum(p.numel() for p in first_layer.parameters()))
    return facts


def _load_encoder(
    name: str, revision: str | None = None, device: str | None = None, *, model_path: str, **kwargs: Any
) -> SentenceTransformerEncoderWrapper:
    """mteb loader: `ModelMeta.load_model()` calls it with the meta's name; the folder or id to load
    (with `trust_remote_code=True`) comes from `loader_kwargs`."""
    return DedupEncoder(load_model_or_baseline(model_path, device=device or "cpu"))


def _revision(model: SentenceTransformer, name_or_path: str, hub_revision: str | None) -> str | None:
    """The mteb cache key: a content hash for local folders and built baselines, else the Hub's."""
    if Path(name_or_path).exists():
        return folder_revision(name_or_path)
    if is_baseline(name_or_path):
        return model_revision(model)
    return hub_revision


def model_meta(model: SentenceTransformer, name_or_path: str, label: str | None = None) -> ModelMeta:
    """The mteb `ModelMeta` of a model: what mteb can read from the SentenceTransformer, with the
    name, a revision, parameter count, dimension, memory and a loader that passes
    `trust_remote_code=True`; for a Luxical model also the licence and the unlimited input length."""
    facts = model_facts(model)
    local = Path(name_or_path).exists()
    base = ModelMeta.from_sentence_transformer_model(model, fetch_from_hf=False)
    update: dict[str, Any] = {
        "name": model_name(name_or_path, label),
        "revision": _revision(model, name_or_path, base.revision),
        "n_parameters": facts["n_parameters"],
        "embed_dim": facts["embed_dim"],
        "memory_usage_mb": facts["memory_usage_mb"],
        "similarity_fn_name": base.similarity_fn_name or "cosine",
        "framework": ["Sentence Transformers", "PyTorch"],
        "loader": _load_encoder,
        "loader_kwargs": {"model_path": str(name_or_path)},
    }
    if facts["luxical"]:
        update |= {
            "n_embedding_parameters": facts["n_embedding_parameters"],
            "max_tokens": None,
            "license": LUXICAL_LICENSE,
            "open_weights": True,
            "languages": ["eng-Latn"],
            "use_instructions": False,
            "reference": None if local else f"https://huggingface.co/{name_or_path}",
            "adapted_from": None,
        }
    return ModelMeta.model_validate({**base.model_dump(), **update})


class DedupEncoder(SentenceTransformerEncoderWrapper):
    """mteb's SentenceTransformer wrapper that encodes every distinct text once per call: STS pairs
    repeat texts (each Lee document is in 49 pairs), and the scores do not change."""

    def encode(self, inputs: Any, **kwargs: Any) -> Any:
        dataset = getattr(inputs, "dataset", None)
        if not isinstance(dataset, Dataset) or dataset.column_names != ["text"]:
            return super().encode(inputs, **kwargs)
        texts = dataset["text"]
        unique = list(dict.fromkeys(texts))
        if len(unique) == len(texts):
            return super().encode(inputs, **kwargs)
        position = {text: index for index, text in enumerate(unique)}
        loader = DataLoader(Dataset.from_dict({"text": unique}), batch_size=inputs.batch_size)
        embeddings = np.asarray(super().encode(loader, **kwargs))
        return embeddings[[position[text] for text in texts]]


def mteb_encoder(
    model: SentenceTransformer, name_or_path: str, label: str | None = None
) -> SentenceTransformerEncoderWrapper:
    """The model wrapped for `mteb.evaluate`, carrying its filled-in `ModelMeta`. mteb's own guess
    at the meta warns that a Luxical model has no `tokenizer.vocab`; that guess is replaced, so the
    warning is muted."""
    meta_logger = logging.getLogger("mteb.models.model_meta")
    level = meta_logger.level
    meta_logger.setLevel(logging.ERROR)
    try:
        encoder = DedupEncoder(model)
        encoder.mteb_model_meta = model_meta(model, name_or_path, label)
    finally:
        meta_logger.setLevel(level)
    return encoder


def resolve_tasks(names: Sequence[str] | None, seed: int = 42) -> list[AbsTask]:
    """Offline suite tasks by name, other names through `mteb.get_tasks`; None means the offline suite."""
    if not names:
        return offline_tasks(seed=seed)
    offline_names = {task.metadata.name.lower() for task in OFFLINE_TASKS}
    local = [name for name in names if name.lower() in offline_names]
    remote = [name for name in names if name.lower() not in offline_names]
    tasks: list[AbsTask] = offline_tasks(local, seed=seed) if local else []
    if remote:
        try:
            tasks += list(mteb.get_tasks(tasks=remote))
        except KeyError as error:
            offline = sorted(task.metadata.name for task in OFFLINE_TASKS)
            raise ValueError(f"Unknown task in {remote}: {error.args[0]}; offline tasks: {offline}") from None
    return tasks


def run_mteb(
    model: SentenceTransformer,
    name_or_path: str,
    tasks: Sequence[AbsTask],
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    overwrite_strategy: str = "only-missing",
    batch_size: int = 32,
    label: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate one model on `tasks`; returns {task: {"main_score", "metric", "type", "scores"}}.

    `cache_dir=None` uses mteb's default cache (`$MTEB_CACHE` or ~/.cache/mteb); `use_cache=False`
    runs everything and stores nothing.
    """
    cache = None
    if use_cache:
        cache = mteb.ResultCache(cache_dir) if cache_dir is not None else mteb.ResultCache()
    encoder = mteb_encoder(model, name_or_path, label)
    fitted = task_fitted(model)  # fitted on each task's texts: the tasks run one at a time
    task_results = []
    for group in [[task] for task in tasks] if fitted is not None else [list(tasks)]:
        if fitted is not None:
            fitted.fit(task_texts(group[0]))
        result = mteb.evaluate(
            encoder,
            group,
            cache=cache,
            overwrite_strategy=overwrite_strategy,
            encode_kwargs={"batch_size": batch_size},
            show_progress_bar=True,
        )
        task_results += list(result.task_results)
    by_name = {task.metadata.name: task for task in tasks}
    scores: dict[str, dict[str, Any]] = {}
    for task_result in task_results:
        metadata = by_name[task_result.task_name].metadata
        scores[task_result.task_name] = {
            "main_score": float(task_result.get_score()),
            "metric": metadata.main_score,
            "type": metadata.type,
            "category": task_category(task_result.task_name),
            "scores": task_result.scores,
        }
    return scores
