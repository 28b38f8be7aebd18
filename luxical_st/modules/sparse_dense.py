"""`SparseDense`: the first Luxical layer, a sparse TF-IDF row times a weight matrix, then ReLU.

Stored as an `EmbeddingBag` (one row of weights per n-gram), so a text costs one contiguous row
read per distinct n-gram instead of a strided column read of a (out, in) matrix.

Kept free of luxical_st imports: this file is copied into saved models as remote code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from sentence_transformers.base.modules.module import Module
from torch import nn
from typing_extensions import Self

from .persistence import read_arrays, read_config, read_optional_json

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
ACTIVATIONS = {"relu": nn.ReLU, "identity": nn.Identity}
CONFIG_TYPES = {"num_features": int, "out_features": int, "bias": bool, "activation": str}
# NgramTfidf's config file (restated: ngram_tfidf.py imports this file).
NGRAM_TFIDF_CONFIG = "ngram_tfidf_config.json"


class LuxicalFeatures(dict[str, Any]):
    """The features dict of a Luxical model from its first layer on.

    - A key no module produced raises a KeyError that says what a Luxical model outputs, e.g. for
      `encode(..., output_value="token_embeddings")`.
    - In float16 (`model.half()`), sentence-transformers' `Normalize` turns an all-zero row (a text
      without known n-grams) into NaN, its epsilon rounding to 0: a row that was all zero before a
      module and is non-finite after it is set back to zero, as float32 gives.
    """

    def __missing__(self, key: Any) -> Any:
        if key == "token_embeddings":
            raise KeyError(
                "Luxical models have no token embeddings: they embed a whole document from its n-gram "
                "counts. Use output_value='sentence_embedding' (the default) or None"
            )
        raise KeyError(f"{key!r} is not an output of this Luxical model; it has {sorted(self)}")

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, torch.Tensor) and value.dtype == torch.float16 and value.ndim == 2:
            previous = self.get(key)
            if isinstance(previous, torch.Tensor) and previous.shape[0] == value.shape[0]:
                was_zero = (previous == 0).all(dim=-1) & ~torch.isfinite(value).all(dim=-1)
                if bool(was_zero.any()):
                    value = value.masked_fill(was_zero[:, None], 0)
        super().__setitem__(key, value)


class SparseDense(Module):
    """`h = activation(W s + b)` for the EmbeddingBag batch that `NgramTfidf.preprocess` produces.

    Args:
        num_features: rows of the weight matrix (the n-gram vocabulary size).
        out_features: width of the output.
        bias: add a learned bias (Luxical models have none).
        activation: "relu" (Luxical) or "identity".
        weight: optional (num_features, out_features) initial weights, used as they are (no copy);
            otherwise EmbeddingBag's N(0, 1) initialisation.
    """

    config_keys = ["num_features", "out_features", "bias", "activation"]

    def __init__(
        self,
        num_features: int,
        out_features: int,
        bias: bool = False,
        activation: str = "relu",
        weight: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if num_features < 1 or out_features < 1:
            raise ValueError(
                f"num_features and out_features must be positive, got {num_features}, {out_features}"
            )
        self.num_features = int(num_features)
        self.out_features = int(out_features)
        self.activation = activation
        if weight is not None and tuple(weight.shape) != (self.num_features, self.out_features):
            raise ValueError(
                f"weight has shape {tuple(weight.shape)}, expected {(self.num_features, self.out_features)}"
            )
        self.embedding = nn.EmbeddingBag(self.num_features, self.out_features, mode="sum", _weight=weight)
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None
        self.activation_function = ACTIVATIONS[activation]()

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        weights = features["per_sample_weights"].to(
            self.embedding.weight.dtype
        )  # e.g. after model.bfloat16()
        hidden = self.embedding(features["input_ids"], features["offsets"], per_sample_weights=weights)
        if self.bias is not None:
            hidden = hidden + self.bias
        features = features if isinstance(features, LuxicalFeatures) else LuxicalFeatures(features)
        features["sentence_embedding"] = self.activation_function(hidden)
        return features

    def get_embedding_dimension(self) -> int:
        return self.out_features

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "num_features": self.num_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "activation": self.activation,
        }

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        for name, tensor in self.state_dict().items():
            if not bool(torch.isfinite(tensor).all()):
                raise ValueError(
                    f"refusing to save {output_path}: SparseDense {name} holds NaN or infinite values "
                    "(a diverged training run or damaged weights)"
                )
        self.save_config(output_path)
        # Written beside and renamed: the weights of a loaded model are a mapping of the file they were
        # read from, which may be this very path; the old file stays whole until the mapping goes.
        path = Path(output_path) / WEIGHTS_FILE
        staging = path.with_name(path.name + ".partial")
        save_file(
            {name: tensor.contiguous() for name, tensor in self.state_dict().items()},
            str(staging),
            metadata={"format_version": str(FORMAT_VERSION)},
        )
        os.replace(staging, path)

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
        hub_kwargs: dict[str, Any] = {
            "subfolder": subfolder,
            "token": token,
            "cache_folder": cache_folder,
            "revision": revision,
            "local_files_only": local_files_only,
        }
        config_path = cls.load_file_path(model_name_or_path, filename=cls.config_file_name, **hub_kwargs)
        weights_path = cls.load_file_path(model_name_or_path, filename=WEIGHTS_FILE, **hub_kwargs)
        if config_path is None or weights_path is None:
            raise FileNotFoundError(
                f"{model_name_or_path!r}/{subfolder} lacks {cls.config_file_name} or {WEIGHTS_FILE}"
            )
        config = read_config(
            config_path,
            cls.config_keys,
            FORMAT_VERSION,
            CONFIG_TYPES,
            required=["num_features", "out_features"],
        )
        _check_neighbours(cls, model_name_or_path, subfolder, hub_kwargs, config, config_path)
        required = ["embedding.weight", *(["bias"] if config.get("bias") else [])]
        state = {}
        # Mapped, not read: no transient copies while loading, and processes that load the same file
        # share its pages.
        for name, array in read_arrays(weights_path, required, mmap=True).items():
            tensor = torch.from_numpy(array)
            if not tensor.is_floating_point():
                raise ValueError(f"{weights_path}: {name} must hold floats, got {tensor.dtype}")
            if not all(bool(torch.isfinite(rows).all()) for rows in tensor.split(1 << 16)):
                raise ValueError(f"{weights_path}: {name} holds NaN or infinite values")
            state[name] = tensor.float()  # float16/float64 files load as float32, the model's dtype
        try:  # the loaded weights are used in place: no random initialisation, no second copy
            module = cls(**config, weight=state.pop("embedding.weight"))
            unexpected = set(state) - set(module.state_dict())
            if unexpected:
                raise ValueError(f"unexpected tensors {sorted(unexpected)}")
            module.load_state_dict(state, strict=False)
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"{weights_path} does not match {config_path}: {error}") from error
        return module


def _check_neighbours(
    cls: Any,
    model_name_or_path: str,
    subfolder: str,
    hub_kwargs: dict[str, Any],
    config: dict[str, Any],
    config_path: str,
) -> None:
    """Check that the NgramTfidf in front has `num_features` n-grams and that the next layer reads
    `out_features` inputs, so that modules of two different models are never combined."""
    where = {key: value for key, value in hub_kwargs.items() if key != "subfolder"}
    modules = read_optional_json(cls.load_file_path(model_name_or_path, filename="modules.json", **where))
    if not isinstance(modules, list):
        return
    paths = [entry.get("path") if isinstance(entry, dict) else None for entry in modules]
    if subfolder not in paths:
        return
    index = paths.index(subfolder)
    if index > 0 and isinstance(paths[index - 1], str):
        path = cls.load_file_path(
            model_name_or_path, filename=NGRAM_TFIDF_CONFIG, subfolder=paths[index - 1], **where
        )
        features = (read_optional_json(path) or {}).get("num_features")
        if isinstance(features, int) and features != config["num_features"]:
            raise ValueError(
                f"{path} has num_features={features} but {config_path} has {config['num_features']} rows: "
                "the n-gram vocabulary and the first layer come from different models"
            )
    for later in paths[index + 1 :]:
        if not isinstance(later, str) or not later:
            continue
        path = cls.load_file_path(model_name_or_path, filename="config.json", subfolder=later, **where)
        width = (read_optional_json(path) or {}).get("in_features")
        if isinstance(width, int):
            if width != config["out_features"]:
                raise ValueError(
                    f"{path} reads in_features={width} but {config_path} has out_features="
                    f"{config['out_features']}: the layers come from different models"
                )
            return
