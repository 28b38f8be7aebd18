"""The model card (README.md) written beside every saved classifier head (`luxical_st.head_model`)."""

from __future__ import annotations

import json
from typing import Any


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows = []
    for name in ("test", "test_uncalibrated", "fasttext"):
        values = metrics.get(name)
        if isinstance(values, dict) and values:
            cells = ", ".join(
                f"{key} {value:.4f}" for key, value in values.items() if isinstance(value, float)
            )
            rows.append(f"| {name} | {cells} |")
    if not rows:
        return "No held-out evaluation was recorded."
    return "| split | metrics |\n|---|---|\n" + "\n".join(rows)


def head_card(config: dict[str, Any]) -> str:
    """A short card: what the head predicts, on which embedding model, its held-out scores, usage."""
    info = config.get("info", {})
    model = config.get("model") or "(embeddings given directly)"
    labels = ", ".join(config.get("labels", [])) or "a score"
    return f"""---
library_name: luxical-st
tags:
- luxical
- text-classification
- data-curation
---

# Classifier head: {config["task"]} {config["kind"]}

A {config["kind"]} head ({config["num_layers"]} layer(s)) predicting {labels} from the
{config["embedding_dimension"]}-dimensional embeddings of `{model}`.
Calibration: {config["calibration"]}. Trained on {info.get("dataset", "?")} (text column
`{info.get("text_column", "?")}`, label column `{info.get("label_column", "?")}`).

## Held-out evaluation

{_metrics_table(config.get("metrics", {}))}

## Usage

```python
from luxical_st.head_model import ClassifierHead

head = ClassifierHead.load("path/or/repo-id")
head.predict(["some text"]), head.predict_proba(["some text"])   # or embeddings, shape (n, dim)
```

The weights are plain safetensors (`layers.i.weight` of shape (in, out), ReLU between layers) and
`head_config.json`; no pickle.

```json
{json.dumps({k: config[k] for k in ("format_version", "task", "kind", "labels", "model")}, indent=2)}
```
"""
