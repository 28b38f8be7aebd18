"""A classifier head on sentence embeddings: numpy inference, safetensors + JSON persistence (no pickle).

A head is a stack of affine layers with ReLU between them (one layer for logistic regression and
ridge, two or more for an MLP) plus an optional calibration of its scores:

- binary / multilabel: one score per output, probability = sigmoid(slope * score + intercept)
  (Platt scaling; slope 1, intercept 0 when uncalibrated);
- multiclass: one score per class, probabilities = softmax(score / temperature);
- regression: the score itself, clipped to the range of the training targets.

The head keeps a reference to the embedding model it was trained on (a folder or Hub id) and that
model's embedding of a fixed probe sentence, so texts are embedded by the right model and a different
model is refused instead of giving silently wrong scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.head_card import head_card
from luxical_st.modules.ngram_tfidf import check_texts

HEAD_FORMAT_VERSION = 1
HEAD_CONFIG_FILE = "head_config.json"
HEAD_WEIGHTS_FILE = "head.safetensors"
HEAD_CARD_FILE = "README.md"
TASKS = ("binary", "multiclass", "multilabel", "regression")
KINDS = ("logreg", "ridge", "mlp")
PROBE_TEXT = "Luxical heads check their embedding model with this sentence about curating web text."
PROBE_MIN_COSINE = 0.999


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))  # overflow-free logistic


def softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


@dataclass
class ClassifierHead:
    """A trained head. `layers` are (weight (in, out), bias (out,)) float32 pairs; `labels` name the
    classes (binary, multiclass) or labels (multilabel) in output order, empty for regression."""

    task: str
    kind: str
    layers: list[tuple[np.ndarray, np.ndarray]]
    labels: list[str] = field(default_factory=list)
    model: str | None = None
    calibration: str = "none"  # "none", "platt" or "temperature"
    slope: np.ndarray | None = None  # platt: (outputs,); temperature: (1,) holding the temperature
    intercept: np.ndarray | None = None
    value_range: tuple[float, float] | None = None
    probe: np.ndarray | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    trust_remote_code: bool = False
    _encoder: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not self.layers:
            raise ValueError("a head needs at least one layer")
        self.layers = [
            (np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)) for w, b in self.layers
        ]
        for (w, b), (next_w, _) in zip(self.layers, self.layers[1:] + [(None, None)], strict=True):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ValueError(f"layer weight {w.shape} and bias {b.shape} do not fit")
            if next_w is not None and next_w.shape[0] != w.shape[1]:
                raise ValueError("consecutive layers do not fit")
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise ValueError("head weights hold NaN or infinite values")
        expected = {"binary": 1, "multiclass": len(self.labels), "multilabel": len(self.labels)}
        if self.task in expected and self.num_outputs != expected[self.task]:
            raise ValueError(
                f"a {self.task} head over {len(self.labels)} labels has {self.num_outputs} outputs"
            )
        if self.task == "binary" and len(self.labels) != 2:
            raise ValueError(f"a binary head needs 2 labels, got {self.labels}")
        self.check_calibration()

    def check_calibration(self) -> None:
        """Refuse a calibration or value range that would give NaN or meaningless outputs: non-finite
        Platt slopes or intercepts, a temperature that is not a positive number, a NaN or reversed
        regression range, a non-finite probe embedding."""
        if self.calibration not in ("none", "platt", "temperature"):
            raise ValueError(f"calibration must be none, platt or temperature, got {self.calibration!r}")
        for name in ("slope", "intercept", "probe"):
            value = getattr(self, name)
            if value is not None and not np.isfinite(np.asarray(value, dtype=np.float64)).all():
                raise ValueError(f"the head's {name} holds NaN or infinite values: {np.asarray(value)[:8]}")
        if self.calibration == "temperature":
            temperature = None if self.slope is None else np.asarray(self.slope, dtype=np.float64).ravel()
            if temperature is None or temperature.size != 1 or not temperature[0] > 0:
                raise ValueError(
                    f"a temperature calibration needs one positive temperature, got {temperature}"
                )
        if self.calibration == "platt" and (self.slope is None or self.intercept is None):
            raise ValueError("a platt calibration needs a slope and an intercept")
        if self.value_range is not None:
            low, high = (float(v) for v in self.value_range)
            if not (np.isfinite(low) and np.isfinite(high) and low <= high):
                raise ValueError(
                    f"value_range must be two finite numbers, low <= high, got {self.value_range}"
                )

    @property
    def embedding_dimension(self) -> int:
        return int(self.layers[0][0].shape[0])

    @property
    def num_outputs(self) -> int:
        return int(self.layers[-1][0].shape[1])

    # ------------------------------------------------------------------ inference

    def decision_function(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Raw scores (n, outputs) of texts or of stored embeddings (a 2-d array)."""
        x = self.embed(inputs, batch_size=batch_size)
        for index, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if index < len(self.layers) - 1:
                np.maximum(x, 0, out=x)
        return x

    def predict_proba(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Calibrated probabilities: (n, 2) for binary (columns = `labels`), (n, classes) for
        multiclass, (n, labels) independent probabilities for multilabel."""
        if self.task == "regression":
            raise ValueError("a regression head has no probabilities; use predict")
        scores = self.decision_function(inputs, batch_size=batch_size).astype(np.float64)
        if self.task == "multiclass":
            temperature = (
                float(self.slope[0]) if self.calibration == "temperature" and self.slope is not None else 1.0
            )
            return softmax(scores / temperature)
        if self.calibration == "platt" and self.slope is not None and self.intercept is not None:
            scores = scores * self.slope + self.intercept
        probabilities = _sigmoid(scores)
        if self.task == "binary":
            return np.column_stack([1 - probabilities[:, 0], probabilities[:, 0]])
        return probabilities

    def predict(self, inputs: Any, batch_size: int = 256, threshold: float = 0.5) -> Any:
        """Scores (regression, float array), label names (binary/multiclass, list of str) or lists of
        label names (multilabel, probability >= threshold)."""
        if self.task == "regression":
            values = self.decision_function(inputs, batch_size=batch_size)[:, 0]
            if self.value_range is not None:
                values = np.clip(values, *self.value_range)
            return values
        probabilities = self.predict_proba(inputs, batch_size=batch_size)
        if self.task == "binary":
            return [self.labels[int(p >= threshold)] for p in probabilities[:, 1]]
        if self.task == "multiclass":
            return [self.labels[i] for i in probabilities.argmax(axis=1)]
        return [[self.labels[j] for j in np.flatnonzero(row >= threshold)] for row in probabilities]

    def embed(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Stored embeddings (a 2-d array or tensor) as float32, or texts embedded by the head's model."""
        if hasattr(inputs, "shape"):
            if hasattr(inputs, "detach"):  # a torch tensor
                inputs = inputs.detach().float().cpu().numpy()
            array = np.asarray(inputs, dtype=np.float32)
            if array.ndim != 2 or array.shape[1] != self.embedding_dimension:
                raise ValueError(
                    f"embeddings must have shape (n, {self.embedding_dimension}), got {array.shape}"
                )
            return array.copy()
        texts = check_texts(inputs)
        if not texts:
            return np.zeros((0, self.embedding_dimension), dtype=np.float32)
        encoder = self.encoder()
        return np.asarray(encoder.encode(texts, batch_size=batch_size, convert_to_numpy=True), np.float32)

    def encoder(self) -> Any:
        """The embedding model (loaded once from `model`, checked against the stored probe)."""
        if self._encoder is None:
            if self.model is None:
                raise ValueError(
                    "this head has no embedding model reference; pass embeddings, or set_encoder"
                )
            from luxical_st.loading import load_sentence_transformer

            hint = "trust_remote_code=True (--trust-remote-code)"
            self.set_encoder(
                load_sentence_transformer(self.model, self.trust_remote_code, how_to_opt_in=hint)
            )
        return self._encoder

    def set_encoder(self, encoder: Any) -> None:
        """Use an already loaded SentenceTransformer; refused if it embeds the probe sentence unlike the
        model the head was trained on."""
        if self.probe is not None:
            vector = np.asarray(encoder.encode([PROBE_TEXT], convert_to_numpy=True), np.float64)[0]
            probe = self.probe.astype(np.float64)
            denominator = np.linalg.norm(vector) * np.linalg.norm(probe)
            same_shape = vector.shape == probe.shape  # another width: no cosine to compute
            cosine = float(vector @ probe / denominator) if same_shape and denominator else 0.0
            if not same_shape or cosine < PROBE_MIN_COSINE:
                raise ValueError(
                    f"this encoder embeds the probe sentence unlike the model the head was trained on "
                    f"({self.model}): cosine {cosine:.4f} < {PROBE_MIN_COSINE}"
                )
        self._encoder = encoder

    # ------------------------------------------------------------------ persistence

    def save(self, folder: str | Path) -> Path:
        """Write head.safetensors, head_config.json and a model card (README.md) into `folder`."""
        from safetensors.numpy import save_file

        self.check_calibration()  # fields set after construction (calibrate) are checked here too
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {}
        for index, (weight, bias) in enumerate(self.layers):
            tensors[f"layers.{index}.weight"] = np.ascontiguousarray(weight)
            tensors[f"layers.{index}.bias"] = np.ascontiguousarray(bias)
        for name, value in (("calibration.slope", self.slope), ("calibration.intercept", self.intercept)):
            if value is not None:
                tensors[name] = np.asarray(value, dtype=np.float64)
        if self.probe is not None:
            tensors["probe"] = np.asarray(self.probe, dtype=np.float32)
        save_file(tensors, str(root / HEAD_WEIGHTS_FILE))
        config = {
            "format_version": HEAD_FORMAT_VERSION,
            "task": self.task,
            "kind": self.kind,
            "labels": self.labels,
            "model": self.model,
            "embedding_dimension": self.embedding_dimension,
            "num_layers": len(self.layers),
            "activation": "relu",
            "calibration": self.calibration,
            "value_range": list(self.value_range) if self.value_range is not None else None,
            "probe_text": PROBE_TEXT if self.probe is not None else None,
            "metrics": self.metrics,
            "info": self.info,
        }
        (root / HEAD_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (root / HEAD_CARD_FILE).write_text(head_card(config), encoding="utf-8")
        return root

    @classmethod
    def load(cls, folder_or_repo_id: str | Path, trust_remote_code: bool = False) -> ClassifierHead:
        """Load a head saved by `save` from a folder or a Hub repo id."""
        try:  # a saved head needs only numpy and safetensors (a core dependency) to predict
            from safetensors.numpy import load_file
        except ImportError as error:  # pragma: no cover
            raise ImportError(
                "loading a classifier head needs safetensors: pip install 'luxical-st[curate]'"
            ) from error

        root = Path(folder_or_repo_id)
        if not root.is_dir():
            from huggingface_hub import snapshot_download

            root = Path(snapshot_download(str(folder_or_repo_id)))
        config_path = root / HEAD_CONFIG_FILE
        if not config_path.is_file():
            raise FileNotFoundError(f"{config_path} not found: not a luxical-st classifier head")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"{config_path} is damaged (not JSON: {error})") from None
        if not isinstance(config, dict):
            raise ValueError(f"{config_path} is damaged: a JSON object was expected")
        version = config.get("format_version")
        if version != HEAD_FORMAT_VERSION:
            raise ValueError(
                f"{config_path}: format_version {version!r}, this luxical-st reads {HEAD_FORMAT_VERSION}"
            )
        missing = [key for key in ("task", "kind", "num_layers") if key not in config]
        if missing:
            raise ValueError(f"{config_path}: missing key {missing[0]!r}")
        weights_path = root / HEAD_WEIGHTS_FILE
        if not weights_path.is_file():
            raise FileNotFoundError(f"{weights_path} not found: the head's weights are missing")
        try:
            tensors = load_file(str(weights_path))
        except Exception as error:  # safetensors raises its own error types for a damaged file
            raise ValueError(f"{weights_path} is damaged ({type(error).__name__}: {error})") from None
        try:
            num_layers = int(config["num_layers"])
        except (TypeError, ValueError):
            raise ValueError(f"{config_path}: num_layers {config['num_layers']!r} is not a number") from None
        names = [f"layers.{i}.{part}" for i in range(num_layers) for part in ("weight", "bias")]
        absent = [name for name in names if name not in tensors]
        if absent:
            raise ValueError(
                f"{config_path} says num_layers {num_layers}, but {weights_path} has no tensor "
                f"{absent[0]!r} (it holds {sorted(tensors)})"
            )
        layers = [(tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"]) for i in range(num_layers)]
        value_range = config.get("value_range")
        try:
            labels = config.get("labels") or []
            if not isinstance(labels, list) or not all(isinstance(v, str | int) for v in labels):
                raise ValueError(f"labels must be a list of strings, got {labels!r}")
            return cls(
                task=config["task"],
                kind=config["kind"],
                layers=layers,
                labels=[str(label) for label in labels],
                model=config.get("model"),
                calibration=config.get("calibration", "none"),
                slope=tensors.get("calibration.slope"),
                intercept=tensors.get("calibration.intercept"),
                value_range=(float(value_range[0]), float(value_range[1])) if value_range else None,
                probe=tensors.get("probe"),
                metrics=config.get("metrics", {}),
                info=config.get("info", {}),
                trust_remote_code=trust_remote_code,
            )
        except (TypeError, ValueError, IndexError) as error:
            raise ValueError(f"{root}: not a valid head ({error})") from None

    def push_to_hub(self, repo_id: str, private: bool = False, folder: str | Path | None = None) -> str:
        """Save (into `folder` or a temporary folder) and upload the head with its card; returns the URL."""
        import tempfile

        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(repo_id, private=private, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            root = self.save(folder or tmp)
            info = api.upload_folder(
                repo_id=repo_id, folder_path=str(root), commit_message="Upload classifier head"
            )
        return str(info)
