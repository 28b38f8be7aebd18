"""`LexicalSketch`: a fixed count-sketch of the TF-IDF input, concatenated to the dense embedding.

A dense embedding of a few hundred dimensions keeps what a document is about but loses which rare
n-grams it holds (names, numbers, exact phrases): the evidence sparse TF-IDF retrieval lives on. This
module is the skip path that lets that evidence survive the bottleneck. Every n-gram feature is hashed
(seeded, reproducible, nothing stored) to `hashes` signed buckets of a `dimensions`-wide sketch; the
sketch of a text is the signed sum of its TF-IDF weights, L2-normalised, so the dot product of two
sketches estimates their TF-IDF cosine (a Johnson-Lindenstrauss projection). With `sublinear_tf` the
sketched weight of an n-gram is `(1 + ln count) x idf` rather than the input's `count x idf`, as
scikit-learn's `sublinear_tf` (a phrase repeated through a long document no longer drowns the rest;
retrieval of document halves 0.724 -> 0.746 on the project's suite). The output is

    [sqrt(1 - weight) * dense, sqrt(weight) * sketch]

whose cosine is `(1 - weight) * cos(dense) + weight * cos(sketch)`: a hybrid of the distilled semantics
and the lexical overlap of the input, in one vector that any cosine index, classifier or clustering
uses as it is. The concatenation is L2-normalised once more, so every row is unit length or all zero:
a text whose distilled half is zero (its n-grams reach no ReLU unit) is its sketch alone, and a text
with no known n-gram still embeds to all zeros.

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.module import Module
from torch.nn import functional
from typing_extensions import Self

# Format 2 adds `sublinear_tf`; a sketch without it is saved as format 1, which older code reads.
FORMAT_VERSION = 2
PLAIN_FORMAT_VERSION = 1


def sketch_buckets(
    num_features: int, dimensions: int, hashes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(buckets, signs), each (num_features, hashes): the seeded hash of every feature. numpy's PCG64
    stream is stable across versions, so a saved model rebuilds the same sketch from its config."""
    rng = np.random.default_rng(seed)
    buckets = rng.integers(0, dimensions, size=(num_features, hashes), dtype=np.int64)
    signs = rng.integers(0, 2, size=(num_features, hashes), dtype=np.int8).astype(np.float32) * 2 - 1
    return buckets, signs / np.sqrt(hashes, dtype=np.float32)


class LexicalSketch(Module):
    """Concatenate a `dimensions`-wide count-sketch of the TF-IDF row to the sentence embedding.

    Args:
        num_features: the n-gram vocabulary size of the model's `NgramTfidf`.
        input_dimensions: width of the incoming (L2-normalised) sentence embedding.
        dimensions: width of the sketch.
        weight: share of the sketch in the cosine of two outputs, in [0, 1).
        hashes: buckets per n-gram (more: less variance from collisions).
        seed: seed of the feature hashes.
        sublinear_tf: sketch `(1 + ln count) x idf` (needs the "counts" `NgramTfidf` emits) instead of
            the input's `count x idf`.
    """

    config_keys = [
        "num_features",
        "input_dimensions",
        "dimensions",
        "weight",
        "hashes",
        "seed",
        "sublinear_tf",
    ]

    def __init__(
        self,
        num_features: int,
        input_dimensions: int,
        dimensions: int = 256,
        weight: float = 0.3,
        hashes: int = 2,
        seed: int = 0,
        sublinear_tf: bool = False,
    ) -> None:
        super().__init__()
        if min(num_features, input_dimensions, dimensions, hashes) < 1:
            raise ValueError(
                "num_features, input_dimensions, dimensions and hashes must be positive, got "
                f"{num_features}, {input_dimensions}, {dimensions}, {hashes}"
            )
        if not 0.0 <= float(weight) < 1.0:
            raise ValueError(f"weight must lie in [0, 1), got {weight}")
        self.num_features = int(num_features)
        self.input_dimensions = int(input_dimensions)
        self.dimensions = int(dimensions)
        self.weight = float(weight)
        self.hashes = int(hashes)
        self.seed = int(seed)
        self.sublinear_tf = bool(sublinear_tf)
        buckets, signs = sketch_buckets(self.num_features, self.dimensions, self.hashes, self.seed)
        self.register_buffer("buckets", torch.from_numpy(buckets), persistent=False)
        self.register_buffer("signs", torch.from_numpy(signs), persistent=False)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        dense = features["sentence_embedding"]
        ids, offsets = features["input_ids"], features["offsets"]
        rows = len(offsets)
        bags = torch.bucketize(torch.arange(len(ids), device=ids.device), offsets, right=True) - 1
        weights = features["per_sample_weights"].float()
        if self.sublinear_tf:  # count x idf / |row| -> (1 + ln count) x idf / |row|; rows are renormalised
            if "counts" not in features:
                raise ValueError(
                    "a LexicalSketch with sublinear_tf needs the n-gram counts its NgramTfidf input emits "
                    "(the `counts` feature): this NgramTfidf is older; save the model again with luxical-st"
                )
            counts = features["counts"].float()
            weights = weights * (1.0 + torch.log(counts)) / counts
        weights = weights[:, None] * self.signs[ids]
        sketch = torch.zeros(rows * self.dimensions, device=dense.device, dtype=torch.float32)
        flat = (bags[:, None] * self.dimensions + self.buckets[ids]).reshape(-1)
        sketch.index_add_(0, flat, weights.reshape(-1).to(sketch.device))
        sketch = functional.normalize(sketch.view(rows, self.dimensions), dim=-1)
        joined = torch.cat(
            [dense * (1.0 - self.weight) ** 0.5, (sketch * self.weight**0.5).to(dense.dtype)], dim=-1
        )
        # A no-op where both halves are unit vectors; rescales a row whose one half is all zero.
        features["sentence_embedding"] = functional.normalize(joined, dim=-1)
        return features

    def get_embedding_dimension(self) -> int:
        return self.input_dimensions + self.dimensions

    def get_config_dict(self) -> dict[str, Any]:
        config = {key: getattr(self, key) for key in self.config_keys}
        if not self.sublinear_tf:  # the first format's sketch: a config older code loads as it is
            del config["sublinear_tf"]
            return {"format_version": PLAIN_FORMAT_VERSION, **config}
        return {"format_version": FORMAT_VERSION, **config}

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)
        # The model folder carries this file as remote code (NgramTfidf copies it too where it can).
        source, target = Path(__file__), Path(output_path).parent / Path(__file__).name
        if source.resolve() != target.resolve():
            target.write_bytes(source.read_bytes())

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        init_defaults: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Self:
        config = cls.load_config(
            model_name_or_path,
            subfolder=subfolder,
            token=token,
            cache_folder=cache_folder,
            revision=revision,
            local_files_only=local_files_only,
        )
        version = config.pop("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{model_name_or_path}/{subfolder}: LexicalSketch format {version} is newer than this "
                f"code's {FORMAT_VERSION}; upgrade luxical-st or load with trust_remote_code=True"
            )
        unknown = set(config) - set(cls.config_keys)
        if unknown:
            raise ValueError(
                f"{model_name_or_path}/{subfolder}: unknown LexicalSketch keys {sorted(unknown)}"
            )
        return cls(**config)
