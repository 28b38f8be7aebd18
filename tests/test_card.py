"""The Luxical card at every save, usage examples from real documents, and the core ring's imports."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from huggingface_hub import ModelCard
from sentence_transformers import SentenceTransformer

from luxical_st.artifacts import CARD_INPUTS_FILE
from luxical_st.card import LuxicalModelCardData, document_examples, template_path, write_model_card
from luxical_st.model import build_model
from tests.conftest import exact_ngram_vocabulary


@pytest.fixture(scope="module")
def model(tokenizer, news_texts):
    rows = [encoding.ids for encoding in tokenizer.encode_batch(news_texts[:30], add_special_tokens=False)]
    ngrams, counts = exact_ngram_vocabulary(rows, max_n=3, min_count=2)
    idf = (np.log(counts.sum()) - np.log(counts)).astype(np.float32)
    return build_model(tokenizer, ngrams, idf, layer_sizes=(16, 8), seed=1)


def luxical_card_checks(text: str) -> None:
    assert "trust_remote_code=True)" in text
    assert "Maximum Sequence Length:** unlimited" in text and "inf tokens" not in text
    assert "Luxical: High-Speed Lexical-Dense Text Embeddings" in text
    assert "luxical" in ModelCard(text).data.tags


def test_model_save_writes_the_luxical_card_without_asking(model, tmp_path):
    assert isinstance(model.model_card_data, LuxicalModelCardData)
    model.save(str(tmp_path / "saved"))
    luxical_card_checks((tmp_path / "saved" / "README.md").read_text(encoding="utf-8"))


def test_a_loaded_model_saves_its_luxical_card_again(model, tmp_path):
    model.save(str(tmp_path / "first"))
    loaded = SentenceTransformer(str(tmp_path / "first"), trust_remote_code=True, device="cpu")
    loaded.save(str(tmp_path / "second"))
    luxical_card_checks((tmp_path / "second" / "README.md").read_text(encoding="utf-8"))


def test_examples_are_real_documents_in_snippet_widget_and_rewrites(model, news_texts, tmp_path):
    words = ["xu", "ska", "lac", "msc"]  # one-word documents (word_documents) never become examples
    examples = document_examples(words + news_texts[:50] + [news_texts[0]])
    assert len(examples) == 4 and len(set(examples)) == 4
    assert all(len(text.split()) >= 40 and len(text) <= 604 for text in examples)
    assert all(text.removesuffix(" ...") in " ".join(" ".join(news_texts[:50]).split()) for text in examples)

    folder = tmp_path / "model"
    model.save(str(folder))
    write_model_card(folder, model=model, examples=examples)
    write_model_card(folder)  # a later rewrite (loading the folder) keeps them
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert repr(examples[0]) in text.split("```python", 1)[1]  # the usage snippet
    widget = ModelCard(text).data.widget
    assert widget[0]["source_sentence"] == examples[0] and widget[0]["sentences"] == examples[1:]
    assert json.loads((folder / CARD_INPUTS_FILE).read_text())["examples"] == examples
    with pytest.raises(ValueError, match="examples"):
        LuxicalModelCardData(examples=["only one"])


def test_examples_are_passages_of_documents_never_one_line_quotes(news_texts, tweet_texts):
    """A blend like the quickstart's: short quotes and posts among passages of long documents."""
    quotes = ["Bart: Mom, a man just died.", "Homer: Mmm... donuts. Is there anything they can't do?"]
    groups = zip(quotes * 20, tweet_texts[:40], news_texts[:40], strict=True)
    blend = [text for group in groups for text in group]
    examples = document_examples(blend)
    assert len(examples) == 4
    flat = [" ".join(text.split()) for text in news_texts[:40]]
    for example in examples:
        passage = example.removesuffix(" ...")
        assert len(example.split()) >= 40 and any(text.startswith(passage) for text in flat)
        assert example.endswith((".", '."', "?", "!", " ...")) and len(example) <= 604
    sources = {next(i for i, t in enumerate(flat) if t.startswith(e.removesuffix(" ..."))) for e in examples}
    assert len(sources) == 4 and max(sources) - min(sources) >= 20  # four documents, across the blend
    assert document_examples(quotes * 10 + tweet_texts[:40]) == []  # no passages: no examples at all


def test_every_card_fact_is_read_from_the_model_a_lexical_sketch_included(model, news_texts, tmp_path):
    import copy

    from luxical_st.model import add_lexical_sketch

    sketched = copy.deepcopy(model)
    sketched.save(str(tmp_path / "before"))  # a card made before the sketch: its title must not stay
    add_lexical_sketch(sketched, dimensions=24, weight=0.25, sublinear_tf=True)
    dimensions = sketched.encode(["a text"]).shape[1]
    assert dimensions == 8 + 24
    folder = tmp_path / "sketched"
    sketched.save(str(folder))
    write_model_card(folder)  # and a rewrite from the saved folder alone
    text = (folder / "README.md").read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("# "))
    assert title.startswith(f"# Luxical {dimensions}-d lexical-dense embeddings")
    assert f"**Output Dimensionality:** {dimensions} dimensions" in text
    assert f"unit vectors of\n{dimensions} dimensions" in text
    assert "| Lexical sketch | the 8 distilled dimensions joined with 24 dimensions" in text
    assert "n-grams (sublinear term frequency, `(1 + ln count) x idf`) (weight 0.25)" in text


def test_template_is_the_top_level_file():
    assert template_path().read_text(encoding="utf-8").count("{{ usage_snippet }}") == 1


CORE_IMPORTS = """
import sys
import luxical_st, luxical_st.card, luxical_st.hub, luxical_st.convert, luxical_st.model
outer = sorted(name for name in sys.modules if name.startswith(
    ("luxical_st.pipeline", "luxical_st.config", "luxical_st.training", "luxical_st.data",
     "luxical_st.evaluation")))
print(",".join(outer))
"""


@pytest.mark.slow
def test_the_core_imports_no_recipe_and_no_evaluation():
    """The core ring (model, conversion, card, upload) loads without the recipe or evaluation rings."""
    result = subprocess.run([sys.executable, "-c", CORE_IMPORTS], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""
