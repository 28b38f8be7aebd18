"""Curation on Luxical embeddings (extra: curate): classifier heads, clustering and semantic dedup.

- `luxical_st.curate.heads`: training logistic-regression / ridge / MLP heads on embeddings (labelled
  data, fitting and calibration, held-out metrics, CLI `train` / `predict`); the head itself, saved as
  safetensors + JSON (no pickle) with a reference to its embedding model, is `luxical_st.head_model`.
- `luxical_st.curate.fasttext_baseline`: the supervised fastText classifier heads are compared with.
- `luxical_st.curate.cluster`: faiss spherical k-means, a picture of cluster sizes and a 2-D map;
  `labels`: cluster labels from the model's own n-grams (by contrast with the corpus).
- `luxical_st.curate.dedup`: SemDeDup (k-means, then cosine pairs within each cluster);
  `ray_dedup`: the same on Ray Data for a stored corpus no single machine holds (extra: scale too).
- `luxical_st.curate.inputs`: the parquet input of every curate CLI (texts, or stored embeddings read
  through their `luxical_embedding.json`, int8 / binary kept at their stored size).
- `luxical_st.curate.lists`: small-list helpers (similarity, rank, topk, filter, deduplicate, cluster)
  over sentence-transformers' `util`; they need only sentence-transformers.

Inference of a saved head needs only numpy and safetensors; fitting needs scikit-learn, clustering
faiss-cpu. Each module checks its packages at first use and names the extra.
"""
