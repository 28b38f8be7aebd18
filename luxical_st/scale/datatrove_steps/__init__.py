"""Luxical steps for datatrove: embed documents (`LuxicalEmbed`) and keep them by a classifier head's score
(`LuxicalHeadFilter`).

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    LocalPipelineExecutor(
        [
            JsonlReader("corpus/"),
            LuxicalEmbed(
                "DatologyAI/luxical-one",  # a Hub model runs its own code: only with your opt-in
                precision="float16",
                output_folder="embeddings/",
                trust_remote_code=True,
            ),
            LuxicalHeadFilter("heads/edu", label="high", threshold=0.7),
            JsonlWriter("kept/", adapter=shallow_adapter),
        ],
        tasks=64, workers=8, logging_dir="logs/luxical",
    ).run()

Both steps load the model lazily, once per worker process (never in `__init__`, so they pickle for every
executor), and batch documents by text bytes, so memory follows the batch's bytes, not its row count. The
embedding goes into `doc.metadata` (a list in the stored precision) and/or a parquet side output, one shard
per rank with id, embedding and head scores (`datatrove_steps.shards`), in the format every scale-out path
writes.
Like every loader of luxical-st, neither step runs code a model ships unless `trust_remote_code=True`
(this luxical-st's own Luxical folders need no opt-in); a model that would is refused when the step is built.
"""

from luxical_st.scale.datatrove_steps.embed import LuxicalEmbed
from luxical_st.scale.datatrove_steps.head_filter import DEFAULT_SCORE_KEY, LuxicalHeadFilter
from luxical_st.scale.datatrove_steps.plumbing import document_batches, shallow_adapter, shared_encoder

__all__ = [
    "DEFAULT_SCORE_KEY",
    "LuxicalEmbed",
    "LuxicalHeadFilter",
    "document_batches",
    "shallow_adapter",
    "shared_encoder",
]
