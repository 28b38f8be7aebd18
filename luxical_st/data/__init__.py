"""Distillation data: training corpora, teacher targets (Luxical step 1) and the n-gram vocabulary
(step 2). Submodules import their heavy dependencies (datasets, sentence-transformers) lazily."""
