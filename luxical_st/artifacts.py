"""The names of the files a Luxical model folder or a pipeline run holds: one place for every module
that writes or reads them (the pipeline, the trainer, the converter, the card and the upload)."""

from __future__ import annotations

# In a saved model folder, beside sentence-transformers' own files.
README_FILE = "README.md"
# The inputs of the last rendered card, so a later render (after evaluation, before a push) keeps them.
CARD_INPUTS_FILE = "luxical_card.json"
# Written by `luxical_st.convert` next to a converted reference model.
CONVERSION_FILE = "luxical_conversion.json"
# Written by the pipeline next to the model it trained.
PIPELINE_CONFIG_FILE = "pipeline_config.json"
TRAINING_LOG_FILE = "training_log.json"
TRAINING_PLOT_FILE = "training_curve.png"

# In a pipeline's output_dir.
TARGETS_DIR = "targets"
VOCABULARY_FILE = "vocabulary.npz"
TOKEN_EMBEDDINGS_FILE = "teacher_token_embeddings.npy"
CHECKPOINTS_DIR = "checkpoints"
MODEL_DIR = "model"
STATE_FILE = "pipeline_state.json"
