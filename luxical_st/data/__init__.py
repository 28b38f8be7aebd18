"""Distillation data: training corpora, the texts reserved for evaluation (`sources`), the teacher and its
targets (Luxical step 1) and the n-gram vocabulary (step 2); `commands` is their command line.
Submodules import their heavy dependencies (datasets, sentence-transformers) lazily."""
