"""The config sections of the recipe's data and model steps, and of where its output goes and its
steps 1-2 run. The training section (`training.TrainConfig`) has its own module; `loader` reads them
all from one flat YAML file. Range checks live in `__post_init__` and name the offending key.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from luxical_st.config.checks import require, require_choice, require_finite, require_positive
from luxical_st.data.teacher import TEACHER_BACKENDS

HiddenInit = Literal["random", "identity"]
TeacherDtype = Literal["auto", "float32", "bfloat16", "float16"]
EngineName = Literal["local", "ray"]


def field_names(obj: Any) -> list[str]:
    """The config keys of a plain section: all its fields."""
    return [item.name for item in dataclasses.fields(obj)]


@dataclass
class CorpusConfig:
    """Where the training documents come from."""

    corpus: str = field(
        default="quickstart",
        metadata={
            "help": "'quickstart' (the offline blend of packaged texts), a local path or a Hub dataset id"
        },
    )
    corpus_split: str = field(default="train", metadata={"help": "dataset split"})
    corpus_data_files: str | None = field(
        default=None, metadata={"help": "glob of data files inside the dataset, e.g. sample/10BT/*.parquet"}
    )
    text_column: str = field(default="text", metadata={"help": "column holding the document text"})
    id_column: str = field(default="id", metadata={"help": "column holding a unique document id"})
    corpus_streaming: bool = field(
        default=False, metadata={"help": "stream the corpus instead of downloading it"}
    )
    max_documents: int | None = field(
        default=None, metadata={"help": "documents to embed with the teacher and train on (all if unset)"}
    )
    min_documents: int = field(default=50_000, metadata={"help": "size of the quickstart blend"})
    word_documents: bool = field(
        default=False,
        metadata={
            "help": "also distil every whole-word token of the tokenizer vocabulary as a one-word document "
            "(as model2vec does), so that single words get the teacher's word embeddings"
        },
    )
    corpus_words: int = field(
        default=0,
        metadata={
            "help": "also distil, as one-word documents, up to this many whole words of the corpus that the "
            "tokenizer splits into several WordPieces (3+ letters, seen at least 3 times, most frequent "
            "first), so that such words get the teacher's word embeddings too"
        },
    )
    corpus_words_documents: int | None = field(
        default=None,
        metadata={"help": "count `corpus_words` over the corpus's first N documents (unset: all of them)"},
    )

    def __post_init__(self) -> None:
        require_finite(self, field_names(self))
        require_positive(self, "max_documents", "min_documents", "corpus_words_documents")
        require(self.corpus_words >= 0, "corpus_words", "must be >= 0", self.corpus_words)
        require(
            not (self.corpus_streaming and self.corpus_words and self.corpus_words_documents is None),
            "corpus_words_documents",
            "must be set to count corpus_words over a streamed corpus (unset reads all of it)",
            self.corpus_words_documents,
        )
        require(bool(self.corpus), "corpus", "must name a corpus", self.corpus)


@dataclass
class TeacherConfig:
    """Step 1: teacher embeddings of every training document, truncated and stored as uint8."""

    teacher: str | None = field(
        default=None,
        metadata={"help": "teacher SentenceTransformer id or folder; unset = offline all-MiniLM-L6-v2"},
    )
    teacher_device: str = field(default="cpu", metadata={"help": "device the teacher runs on"})
    teacher_dtype: TeacherDtype = field(
        default="float32",
        metadata={
            "help": "precision the teacher runs in: bfloat16 is ~1.4x faster on CPUs with AVX512-BF16/AMX "
            "and on GPUs (targets within one uint8 step of float32) but slower on older CPUs; auto = "
            "bfloat16 where the device supports it, else float32"
        },
    )
    teacher_backend: str | None = field(
        default=None,
        metadata={
            "help": "openvino: run the teacher's transformer with OpenVINO on the CPU (in teacher_dtype; "
            "2.6x float32 torch in bfloat16 on AVX512-BF16 CPUs, rows >= 0.9999 cosine), openvino-int8: "
            "with int8 weights (2.4x, >= 0.997); needs the 'openvino' extra. Unset: torch"
        },
    )
    teacher_dimensions: int = field(default=256, metadata={"help": "leading (Matryoshka) dimensions kept"})
    quantization_limit: float = field(default=0.3, metadata={"help": "uint8 codes cover [-limit, limit]"})
    teacher_max_seq_length: int | None = field(
        default=512, metadata={"help": "tokens of a document the teacher reads (unset = its own limit)"}
    )
    teacher_batch_size: int = field(default=128, metadata={"help": "teacher encode batch size"})
    target_shard_size: int = field(default=10_000, metadata={"help": "documents per resumable target shard"})
    trust_remote_code: bool = field(
        default=False,
        metadata={
            "help": "let the teacher run the Python code its Hub repo or folder ships (Arctic-Embed-M-v2.0 "
            "needs it); off: a teacher with its own code is refused before anything runs"
        },
    )

    def __post_init__(self) -> None:
        require_finite(self, field_names(self))
        require_positive(
            self,
            "teacher_dimensions",
            "teacher_max_seq_length",
            "quantization_limit",
            "teacher_batch_size",
            "target_shard_size",
        )
        require_choice(self.teacher_dtype, "teacher_dtype", typing.get_args(TeacherDtype))
        if self.teacher_backend is not None:
            require_choice(self.teacher_backend, "teacher_backend", TEACHER_BACKENDS)
            require(
                self.teacher_backend == "torch" or self.teacher_device == "cpu",
                "teacher_backend",
                f"runs on the CPU, not on teacher_device {self.teacher_device!r}",
                self.teacher_backend,
            )


@dataclass
class VocabularyConfig:
    """Step 2: the n-gram vocabulary, mined with a Space-Saving summary over a corpus subsample."""

    tokenizer: str | None = field(
        default=None,
        metadata={"help": "tokenizer.json, folder or Hub id; unset = bert-base-uncased (offline)"},
    )
    vocabulary_documents: int | None = field(
        default=None, metadata={"help": "documents of the corpus to mine n-grams from (all if unset)"}
    )
    vocabulary_capacity: int = field(default=1_000_000, metadata={"help": "Space-Saving summary slots"})
    max_ngram_length: int = field(default=5, metadata={"help": "longest n-gram, in tokens"})
    min_count_multiple: float = field(
        default=8.0, metadata={"help": "keep n-grams counted at least this multiple of the summary minimum"}
    )
    max_vocabulary_size: int = field(default=2_000_000, metadata={"help": "cap on kept n-grams"})
    all_unigrams: bool = field(
        default=False,
        metadata={"help": "also keep every ordinary WordPiece token as a unigram, counted or not (count 1)"},
    )
    vocabulary_batch_size: int = field(default=1000, metadata={"help": "documents tokenized per batch"})

    def __post_init__(self) -> None:
        require_finite(self, field_names(self))
        require_positive(
            self,
            "vocabulary_documents",
            "vocabulary_capacity",
            "max_ngram_length",
            "min_count_multiple",
            "max_vocabulary_size",
            "vocabulary_batch_size",
        )


@dataclass
class ModelConfig:
    """Step 3: the student network."""

    layer_sizes: list[int] = field(
        default_factory=lambda: [96, 3072, 3072, 192],
        metadata={"help": "output width of every layer; the last is the embedding dimension"},
    )
    model_seed: int = field(default=0, metadata={"help": "seed of the initial weights"})
    teacher_init: bool = field(
        default=False,
        metadata={
            "help": "start the n-gram table from the teacher's embedding of each token (model2vec-style, "
            "n-grams as token means, PCA to half the first width, kept with both signs) instead of noise"
        },
    )
    lexical_sketch_dimensions: int = field(
        default=0,
        metadata={
            "help": "append a fixed count-sketch of the TF-IDF input this wide to the embedding after "
            "training (a skip path for rare n-grams; 0 = off, the reference architecture)"
        },
    )
    lexical_sketch_weight: float = field(
        default=0.3, metadata={"help": "share of the sketch in the output's cosine, in [0, 1)"}
    )
    lexical_sketch_sublinear_tf: bool = field(
        default=False,
        metadata={
            "help": "sketch (1 + ln count) x idf instead of the input's count x idf (scikit-learn's "
            "sublinear_tf): repeated phrases no longer drown a long document"
        },
    )
    teacher_init_norm: float = field(
        default=1.0, metadata={"help": "mean norm of the seeded n-gram rows (per sign half)"}
    )
    teacher_init_ngram_scale: float = field(
        default=0.0,
        metadata={
            "help": "with teacher_init: rows of n-grams longer than one token start at this share of their "
            "token mean (0: they start empty and learn only what their tokens alone do not say; their token "
            "means blur the seeded embedding: docs/training.md, How the network learns)"
        },
    )
    hidden_init: HiddenInit = field(
        default="random",
        metadata={
            "help": "start of the layers after the table: `random` (the reference), or `identity` (with "
            "teacher_init: pass the seeded features through, so training starts from the seeded static "
            "embedding instead of noise)"
        },
    )

    def __post_init__(self) -> None:
        require_finite(self, field_names(self))
        sizes = self.layer_sizes
        require_choice(self.hidden_init, "hidden_init", typing.get_args(HiddenInit))
        require(
            self.hidden_init != "identity" or self.teacher_init,
            "hidden_init",
            "identity needs teacher_init (there is nothing to pass through otherwise)",
            self.hidden_init,
        )
        require(
            self.hidden_init != "identity" or min(sizes[1:-1], default=sizes[0]) >= 2 * (sizes[0] // 2),
            "hidden_init",
            "identity needs every middle layer at least as wide as the first",
            sizes,
        )
        require(len(sizes) >= 2, "layer_sizes", "needs at least two layers", sizes)
        require(all(size > 0 for size in sizes), "layer_sizes", "must all be positive", sizes)
        require_positive(self, "teacher_init_norm")
        require(
            self.teacher_init_ngram_scale >= 0,
            "teacher_init_ngram_scale",
            "must not be negative",
            self.teacher_init_ngram_scale,
        )
        require(
            not self.teacher_init or sizes[0] >= 2,
            "teacher_init",
            "needs a first layer at least 2 wide",
            sizes,
        )
        require(
            self.lexical_sketch_dimensions >= 0,
            "lexical_sketch_dimensions",
            "must be 0 (off) or positive",
            self.lexical_sketch_dimensions,
        )
        require(
            0.0 <= self.lexical_sketch_weight < 1.0,
            "lexical_sketch_weight",
            "must lie in [0, 1)",
            self.lexical_sketch_weight,
        )


@dataclass
class OutputConfig:
    """Where the artifacts go, and the optional Hub upload of the final model."""

    output_dir: str = field(default="output/luxical", metadata={"help": "folder of every pipeline artifact"})
    hub_repo_id: str | None = field(default=None, metadata={"help": "push the final model to this Hub repo"})
    hub_private: bool = field(default=False, metadata={"help": "create the Hub repo as private"})

    def __post_init__(self) -> None:
        require_finite(self, field_names(self))
        require(bool(self.output_dir), "output_dir", "must name a folder", self.output_dir)


@dataclass
class EngineConfig:
    """Where steps 1-2 (teacher targets, n-gram mining) run: this process, or Ray (the `scale` extra; an
    engine plug-in, `luxical_st.pipeline.engines`). Both write the same artifacts (the vocabulary is
    identical while the n-gram summary does not fill; beyond that both keep the Space-Saving guarantees)."""

    engine: EngineName = field(
        default="local",
        metadata={
            "help": "local: one process; ray: teacher actors (one GPU each where there are GPUs) "
            "and sharded n-gram mining on Ray"
        },
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "with engine: ray, join this cluster (unset: a local Ray)"}
    )
    ray_workers: int | None = field(
        default=None,
        metadata={
            "help": "with engine: ray, teacher actors and mining tasks in flight "
            "(unset: the cluster's GPUs, else its CPUs)"
        },
    )

    def __post_init__(self) -> None:
        require_positive(self, "ray_workers")
        require(self.engine in typing.get_args(EngineName), "engine", "must be local or ray", self.engine)
