"""Curation on Luxical embeddings (extra: curate): classifier heads, clustering and semantic dedup.

- `luxical_st.curate.heads`: logistic-regression / ridge / MLP heads on embeddings, saved as
  safetensors + JSON (no pickle) with a reference to their embedding model; CLI `train` / `predict`.
- `luxical_st.curate.cluster`: faiss spherical k-means, cluster labels from the model's own n-grams,
  a picture of cluster sizes and a 2-D map.
- `luxical_st.curate.dedup`: SemDeDup (k-means, then cosine pairs within each cluster).

Inference of a saved head needs only numpy and safetensors; fitting needs scikit-learn, clustering
faiss-cpu. Each module checks its packages at first use and names the extra.
"""

from __future__ import annotations

from luxical_st.extras import EXTRAS

# The import names of the `curate` extra's packages (setup.cfg extras_require). Registered here so
# `require_extra("curate")` works without the core knowing about this outer ring.
EXTRAS.setdefault("curate", ("datasets", "sklearn", "faiss", "safetensors", "matplotlib"))
