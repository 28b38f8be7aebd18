"""Curation on Luxical embeddings (extra: curate): classifier heads, clustering and semantic dedup.

- `luxical_st.curate.heads`: logistic-regression / ridge / MLP heads on embeddings, saved as
  safetensors + JSON (no pickle) with a reference to their embedding model; CLI `train` / `predict`.
- `luxical_st.curate.cluster`: faiss spherical k-means, a picture of cluster sizes and a 2-D map;
  `labels`: cluster labels from the model's own n-grams (by contrast with the corpus).
- `luxical_st.curate.dedup`: SemDeDup (k-means, then cosine pairs within each cluster).
- `luxical_st.curate.inputs`: the parquet input of every curate CLI (texts, or stored embeddings read
  through their `luxical_embedding.json`, int8 / binary kept at their stored size).
- `luxical_st.curate.lists`: small-list helpers (similarity, rank, topk, filter, deduplicate, cluster)
  over sentence-transformers' `util`; they need only sentence-transformers.

Inference of a saved head needs only numpy and safetensors; fitting needs scikit-learn, clustering
faiss-cpu. Each module checks its packages at first use and names the extra.
"""
