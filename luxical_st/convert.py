"""Convert a reference Luxical model (the `luxical` package's `.npz`, or the Hub's safetensors copy)
into a sentence-transformers model folder.

    python -m luxical_st.convert SRC OUT_DIR

SRC is an `Embedder.save` `.npz`, a `model.safetensors` with `embedder.*` arrays, a folder holding
one of them, or a Hub repo id such as `DatologyAI/luxical-one`.
"""

from __future__ import annotations

import argparse
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

from luxical_st.artifacts import CONVERSION_FILE
from luxical_st.model import build_model
from luxical_st.modules import PAD_TOKEN
from luxical_st.tokenizer import prepare_tokenizer

SUPPORTED_REFERENCE_VERSION = 1
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
# Hub safetensors names -> `Embedder.save` npz names.
_SAFETENSORS_NAMES = {
    "embedder.tokenizer": "tokenizer",
    "embedder.recognized_ngrams": "recognized_ngrams",
    "embedder.ngram_keys": "ngram_hash_to_ngram_idx_keys",
    "embedder.ngram_vals": "ngram_hash_to_ngram_idx_values",
    "embedder.idf_values": "idf_values",
    "embedder.num_layers": "num_nn_layers",
    "embedder.version": "version",
}


def fnv1a_ngram_hashes(ngrams: np.ndarray) -> np.ndarray:
    """The reference's n-gram keys: FNV-1a 64 over the little-endian bytes of each padded uint32 row."""
    data = np.ascontiguousarray(ngrams.astype("<u4")).view(np.uint8).reshape(len(ngrams), -1)
    hashes = np.full(len(ngrams), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in data.T:
            hashes ^= column.astype(np.uint64)
            hashes *= _FNV_PRIME
    return hashes.view(np.int64)


def _resolve_source(source: str) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        candidates = sorted(path.glob("*.npz")) + sorted(path.glob("*.safetensors"))
        if not candidates:
            raise FileNotFoundError(f"{path} holds no .npz or .safetensors Luxical model")
        return candidates[0]
    looks_local = path.suffix in {".npz", ".safetensors", ".npy"} or source.startswith((".", "/", "~"))
    if looks_local or source.count("/") != 1 or Path(source.split("/")[0]).is_dir():
        raise FileNotFoundError(f"{source} does not exist: no such local file or folder (nor a Hub repo id)")
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=source, filename="model.safetensors"))
    except Exception as error:  # offline, unknown repo, no such file, no access: all mean "not found"
        raise FileNotFoundError(
            f"{source} is no local file or folder, and the Hub repo {source!r} could not be read "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        ) from error


def read_reference_arrays(source: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a reference model under the `Embedder.save` names, from either file format."""
    path = _resolve_source(str(source))
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            raw = load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise ValueError(f"{path} is corrupt or truncated: {error}") from error
        arrays = {}
        for name, array in raw.items():
            if name in _SAFETENSORS_NAMES:
                arrays[_SAFETENSORS_NAMES[name]] = array
            elif name.startswith("embedder.nn_layer_"):
                arrays[name.removeprefix("embedder.")] = array
        arrays.setdefault("version", np.array(SUPPORTED_REFERENCE_VERSION, dtype=np.int64))
    else:
        try:  # a plain .npy loads as one array, which is no context manager (TypeError)
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, TypeError, zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise ValueError(f"{path} is not a readable Luxical .npz: {error}") from error
    required = ["tokenizer", "recognized_ngrams", "idf_values", "num_nn_layers"]
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ValueError(f"{path} is not a Luxical model: it lacks {missing}")
    version = int(np.asarray(arrays["version"]).reshape(-1)[0])
    if version != SUPPORTED_REFERENCE_VERSION:
        raise ValueError(
            f"{path} has Luxical format version {version}; only {SUPPORTED_REFERENCE_VERSION} is known"
        )
    arrays["source_path"] = np.array(str(path))
    return arrays


def reference_to_parts(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Tokenizer, n-grams (-1 padded int32), IDF and (out, in) layer matrices of a reference model.

    The reference finds rows through its FNV-1a hash map; that map is checked against the stored
    n-grams so the converted exact index assigns every n-gram the same row.
    """
    source = str(arrays.get("source_path", "the reference model"))
    try:
        tokenizer = prepare_tokenizer(
            Tokenizer.from_str(np.asarray(arrays["tokenizer"]).tobytes().decode("utf-8"))
        )
    except Exception as error:  # tokenizers raises a bare Exception on malformed JSON
        raise ValueError(f"{source}: its tokenizer is not a valid tokenizer.json: {error}") from error
    padded = np.asarray(arrays["recognized_ngrams"]).astype(np.uint32)
    ngrams = padded.view(np.int32).copy()
    ngrams[padded == np.iinfo(np.uint32).max] = PAD_TOKEN
    if "ngram_hash_to_ngram_idx_keys" in arrays:
        keys = np.asarray(arrays["ngram_hash_to_ngram_idx_keys"]).astype(np.int64)
        rows = np.asarray(arrays["ngram_hash_to_ngram_idx_values"]).astype(np.int64)
        if keys.size != len(ngrams) or not np.array_equal(fnv1a_ngram_hashes(padded)[rows], keys):
            raise ValueError("the model's n-gram hash map does not match its recognized_ngrams")
    num_layers = int(np.asarray(arrays["num_nn_layers"]).reshape(-1)[0])
    missing = [f"nn_layer_{i}" for i in range(num_layers) if f"nn_layer_{i}" not in arrays]
    if num_layers < 1 or missing:
        raise ValueError(f"{source} says num_nn_layers={num_layers} but lacks {missing or 'any layer'}")
    layers = [np.asarray(arrays[f"nn_layer_{i}"], dtype=np.float32) for i in range(num_layers)]
    idf = np.asarray(arrays["idf_values"], dtype=np.float32)
    for name, array in [("idf_values", idf), *((f"nn_layer_{i}", layer) for i, layer in enumerate(layers))]:
        if not np.isfinite(array).all():
            raise ValueError(f"{source}: {name} holds NaN or infinite values; refusing to convert")
    return {"tokenizer": tokenizer, "ngrams": ngrams, "idf": idf, "layers": layers}


def convert_reference(source: str | Path, output_dir: str | Path | None = None) -> SentenceTransformer:
    """Build the sentence-transformers equivalent of a reference Luxical model; save it if asked."""
    arrays = read_reference_arrays(source)
    parts = reference_to_parts(arrays)
    layers = parts["layers"]
    model = build_model(
        parts["tokenizer"],
        parts["ngrams"],
        parts["idf"],
        layer_sizes=[layer.shape[0] for layer in layers],
        layer_weights=layers,
    )
    if output_dir is not None:
        model.save(str(output_dir))
        provenance = {"converted_from": str(arrays["source_path"]), "luxical_format_version": 1}
        (Path(output_dir) / CONVERSION_FILE).write_text(json.dumps(provenance, indent=2))
        from luxical_st.card import write_model_card

        write_model_card(output_dir, model=model)
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="reference .npz / .safetensors file, folder, or Hub repo id")
    parser.add_argument("output_dir", help="folder to write the sentence-transformers model to")
    args = parser.parse_args(argv)
    try:
        model = convert_reference(args.source, args.output_dir)
    except (ValueError, FileNotFoundError) as error:
        parser.exit(2, f"luxical_st.convert: error: {error}\n")
    print(f"Saved {model} to {args.output_dir}")


if __name__ == "__main__":
    main()
