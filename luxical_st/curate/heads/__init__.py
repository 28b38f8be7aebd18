"""Classifier heads on Luxical (or any SentenceTransformer) embeddings: train from a labelled dataset,
evaluate on held-out data, save, load and predict.

- `labelled`: texts and labels of a Hub id, a local file or folder, or a packaged `offline:` set; the
  task inferred and labels encoded;
- `fitting`: scikit-learn fits copied into a numpy head, its calibration, `fit_head` / `train_head`;
- `metrics`: held-out metrics, uncalibrated and fastText ones beside them;
- `cli`: `python -m luxical_st.curate.heads train|predict`.

The head itself (numpy inference, safetensors + JSON, its card) is `luxical_st.head_model`, in the
core: predicting with a saved head needs neither scikit-learn nor this package.
"""

from luxical_st.curate.heads.cli import main
from luxical_st.curate.heads.fitting import calibrate_head, fit_head, fit_layers, split_indices, train_head
from luxical_st.curate.heads.labelled import encode_targets, infer_task, load_labelled
from luxical_st.head_model import ClassifierHead

__all__ = [
    "ClassifierHead",
    "calibrate_head",
    "encode_targets",
    "fit_head",
    "fit_layers",
    "infer_task",
    "load_labelled",
    "main",
    "split_indices",
    "train_head",
]
