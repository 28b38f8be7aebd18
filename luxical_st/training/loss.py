"""Distillation losses: Luxical's Gram-matrix KL, and embedding matching for comparison.

Teacher embeddings arrive as the `label` column: uint8 codes (dequantised here) or float rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns
from sentence_transformers.sentence_transformer.losses import EmbedDistillLoss
from torch import Tensor, nn
from torch.nn import functional

from luxical_st.config import LOSS_NAMES


def dequantize_labels(labels: Tensor, limit: float) -> Tensor:
    """Float32 teacher rows: integer tensors are uint8 codes (the collator may widen them to int64),
    float tensors are taken as already dequantised."""
    from luxical_st.quantization import dequantize_targets

    if labels.dim() != 2:
        raise ValueError(f"teacher labels must be a 2-D (batch, dim) tensor, got shape {tuple(labels.shape)}")
    if labels.is_floating_point():
        return labels.float()
    return cast(Tensor, dequantize_targets(labels, limit))


def _off_diagonal(gram: Tensor) -> Tensor:
    """The (rows, rows - 1) Gram matrix without its diagonal (the self-similarities)."""
    rows = gram.shape[0]
    keep = ~torch.eye(rows, dtype=torch.bool, device=gram.device)
    return gram[keep].view(rows, rows - 1)


def gram_kl(gram_student: Tensor, gram_target: Tensor, temperature: float) -> Tensor:
    """`τ² · KL(softmax(G_target/τ) ‖ softmax(G_student/τ))` over each row of two (batch, batch) Gram
    matrices, self-similarities left out of both softmaxes; batch-mean over rows."""
    return temperature**2 * functional.kl_div(
        functional.log_softmax(_off_diagonal(gram_student) / temperature, dim=1),
        functional.log_softmax(_off_diagonal(gram_target) / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    )


def gram_kl_divergence(student: Tensor, teacher: Tensor, temperature: float) -> Tensor:
    """`gram_kl` of the in-batch Gram matrices of `student` and `teacher` rows, both L2-normalised
    first (so their widths may differ)."""
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"student has {student.shape[0]} rows but teacher has {teacher.shape[0]}")
    if student.shape[0] < 2:
        raise ValueError("the Gram-matrix loss needs at least 2 texts per batch")
    student = functional.normalize(student.float(), dim=-1)
    teacher = functional.normalize(teacher.to(student.device).float(), dim=-1)
    return gram_kl(student @ student.T, teacher @ teacher.T, temperature)


def tfidf_gram(features: dict[str, Tensor]) -> Tensor:
    """(batch, batch) cosine similarities of the batch's TF-IDF rows: the EmbeddingBag layout that
    `NgramTfidf` produces (L2-normalised rows, each n-gram once per text), multiplied sparsely."""
    ids, offsets, weights = features["input_ids"], features["offsets"], features["per_sample_weights"]
    rows = len(offsets)
    bags = torch.bucketize(torch.arange(len(ids), device=ids.device), offsets, right=True) - 1
    width = int(ids.max()) + 1 if len(ids) else 1
    matrix = torch.sparse_coo_tensor(torch.stack([bags, ids]), weights.float(), (rows, width)).coalesce()
    return torch.sparse.mm(matrix, matrix.t()).to_dense()


def lexical_kl_divergence(student: Tensor, features: dict[str, Tensor], temperature: float) -> Tensor:
    """`gram_kl` with the batch's own TF-IDF similarities as the target: the student keeps the lexical
    neighbourhoods of its input (which documents share rare n-grams) beside the teacher's."""
    student = functional.normalize(student.float(), dim=-1)
    return gram_kl(student @ student.T, tfidf_gram(features).to(student.device), temperature)


class LuxicalDistillLoss(nn.Module):
    """Luxical's contrastive distillation: match the student's in-batch similarity structure to the teacher's.

    Args:
        model: the student `SentenceTransformer`.
        temperature: τ of the softened softmaxes (3 in Luxical-One); the loss is scaled by τ².
        quantization_limit: the clipping limit the uint8 teacher codes were made with.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        temperature: float = 3.0,
        quantization_limit: float = 0.3,
        lexical_kl_weight: float = 0.0,
    ):
        super().__init__()
        if lexical_kl_weight < 0:
            raise ValueError(f"lexical_kl_weight must be >= 0, got {lexical_kl_weight}")
        self.lexical_kl_weight = float(lexical_kl_weight)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if quantization_limit <= 0:
            raise ValueError(f"quantization_limit must be positive, got {quantization_limit}")
        self.model = model
        self.temperature = float(temperature)
        self.quantization_limit = float(quantization_limit)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError(
                "LuxicalDistillLoss needs the teacher embeddings as the dataset's 'label' column"
            )
        features = list(sentence_features)
        if len(features) != 1:
            raise ValueError(f"LuxicalDistillLoss takes one text column, got {len(features)}")
        student = self.model(features[0])["sentence_embedding"]
        teacher = dequantize_labels(labels.detach(), self.quantization_limit)
        loss = gram_kl_divergence(student, teacher, self.temperature)
        if self.lexical_kl_weight:
            loss = loss + self.lexical_kl_weight * lexical_kl_divergence(
                student, features[0], self.temperature
            )
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "quantization_limit": self.quantization_limit,
            "lexical_kl_weight": self.lexical_kl_weight,
        }

    @property
    def citation(self) -> str:
        return """
@misc{luxical2025,
    title = {Luxical: High-Speed Lexical-Dense Text Embeddings},
    author = {{DatologyAI}},
    year = {2025},
    url = {https://github.com/datologyai/luxical},
}
"""


class QuantizedEmbedDistillLoss(EmbedDistillLoss):
    """sentence-transformers' embedding distillation (`"mse"` or `"cosine"`) on uint8 teacher codes.

    A learned projection maps the student into the teacher's width when the two differ; it lives on
    the loss (trained, not saved with the model), as in `EmbedDistillLoss`. The projection means the
    student's own similarities are never matched directly: `gram_kl_weight` > 0 adds that many times
    Luxical's Gram-matrix KL on the unprojected student, which does.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        teacher_dim: int,
        distance_metric: str = "cosine",
        quantization_limit: float = 0.3,
        gram_kl_weight: float = 0.0,
        temperature: float = 3.0,
        lexical_kl_weight: float = 0.0,
    ) -> None:
        if distance_metric not in ("mse", "cosine"):
            raise ValueError(f"distance_metric must be 'mse' or 'cosine', got {distance_metric!r}")
        if gram_kl_weight < 0 or temperature <= 0:
            raise ValueError(
                f"gram_kl_weight must be >= 0 and temperature > 0, got {gram_kl_weight}, {temperature}"
            )
        student_dim = model.get_embedding_dimension()
        projection_dim = None if student_dim == teacher_dim else teacher_dim
        super().__init__(model, distance_metric=distance_metric, projection_dim=projection_dim)  # type: ignore[arg-type]
        self.quantization_limit = float(quantization_limit)
        self.gram_kl_weight = float(gram_kl_weight)
        self.temperature = float(temperature)
        if lexical_kl_weight < 0:
            raise ValueError(f"lexical_kl_weight must be >= 0, got {lexical_kl_weight}")
        self.lexical_kl_weight = float(lexical_kl_weight)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError("embedding distillation needs the teacher embeddings as the 'label' column")
        teacher = functional.normalize(dequantize_labels(labels.detach(), self.quantization_limit), dim=-1)
        embeddings = embed_columns(self.model, sentence_features)
        loss = self.compute_loss_from_embeddings(embeddings, [teacher] * len(embeddings))
        features = list(sentence_features)
        for student, column in zip(embeddings, features, strict=True):
            if self.gram_kl_weight:
                gram = gram_kl_divergence(student, teacher, self.temperature)
                loss = loss + self.gram_kl_weight * gram / len(embeddings)
            if self.lexical_kl_weight:
                lexical = lexical_kl_divergence(student, column, self.temperature)
                loss = loss + self.lexical_kl_weight * lexical / len(embeddings)
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        return {
            **super().get_config_dict(),
            "quantization_limit": self.quantization_limit,
            "gram_kl_weight": self.gram_kl_weight,
            "temperature": self.temperature,
            "lexical_kl_weight": self.lexical_kl_weight,
        }


def build_loss(
    name: str,
    model: SentenceTransformer,
    *,
    teacher_dim: int,
    temperature: float = 3.0,
    quantization_limit: float = 0.3,
    gram_kl_weight: float = 0.0,
    lexical_kl_weight: float = 0.0,
) -> nn.Module:
    """The loss a config names: "gram_kl" (Luxical), "mse" or "cosine" (embedding distillation,
    plus `gram_kl_weight` x gram_kl)."""
    if name == "gram_kl":
        return LuxicalDistillLoss(
            model,
            temperature=temperature,
            quantization_limit=quantization_limit,
            lexical_kl_weight=lexical_kl_weight,
        )
    if name in ("mse", "cosine"):
        return QuantizedEmbedDistillLoss(
            model,
            teacher_dim,
            distance_metric=name,
            quantization_limit=quantization_limit,
            gram_kl_weight=gram_kl_weight,
            temperature=temperature,
            lexical_kl_weight=lexical_kl_weight,
        )
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
