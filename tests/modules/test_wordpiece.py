"""WordPieceEncoder gives exactly the tokenizer's own ids, on its fast ASCII path and its piecewise path."""

from __future__ import annotations

import random
import string
import unicodedata

import numpy as np
import pytest

from luxical_st.modules.wordpiece import PASSTHROUGH_CHARACTERS, WordPieceEncoder, split_at_whitespace


def reference_ids(tokenizer, texts):
    return [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


@pytest.fixture(
    scope="module",
    params=[(True, True), (True, False), (False, False)],
    ids=["word-cache", "arrow-tokenize", "tokenizers"],
)
def encoder(request, tokenizer):
    """Every tokenizing path: plain text through the word cache (the default), everything through
    arrow-tokenize (installed with the dev extra), and tokenizers alone."""
    use_word_cache, use_arrow = request.param
    if use_arrow:
        pytest.importorskip("arrow_tokenize")
    return WordPieceEncoder(tokenizer, use_arrow=use_arrow, use_word_cache=use_word_cache)


def test_plain_text_goes_through_the_word_cache(tokenizer, news_texts):
    encoder = WordPieceEncoder(tokenizer)
    assert encoder._word_cache is not None
    small = encoder._word_cache
    small.max_words = 300  # overflows: the cache starts afresh and stays correct
    texts = news_texts[:30]
    assert encoder.encode(texts) == reference_ids(tokenizer, texts)
    assert 0 < len(small) <= max(300, len(set(" ".join(texts).lower().split())))
    assert encoder.encode(texts[::-1]) == reference_ids(tokenizer, texts[::-1])


def test_the_arrow_path_is_taken_when_installed(tokenizer):
    pytest.importorskip("arrow_tokenize")
    encoder = WordPieceEncoder(tokenizer, use_word_cache=False)
    encoder.encode(["plain text", "Ünïcode text"])
    assert all(arrow is not None for arrow in encoder._arrow.values()) and len(encoder._arrow) == 2
    default = WordPieceEncoder(tokenizer)
    default.encode(["plain text", "Ünïcode text"])
    assert len(default._arrow) == 1 and len(default._word_cache) == 2  # only the Unicode text
    assert WordPieceEncoder(tokenizer, use_arrow=False)._arrow_tokenizer(tokenizer) is None


def test_flat_ids_match_the_lists(encoder, tokenizer, news_texts, edge_texts):
    texts = news_texts[:20] + edge_texts + ["", "   "]
    ids, lengths = encoder.encode_flat(texts)
    assert ids.dtype == lengths.dtype == np.int64
    assert lengths.tolist() == [len(row) for row in encoder.encode(texts)]
    assert ids.tolist() == [i for row in reference_ids(tokenizer, texts) for i in row]
    assert [a.size for a in encoder.encode_flat([])] == [0, 0]


def test_bert_tokenizer_takes_the_ascii_fast_path(encoder):
    assert encoder._ascii_tokenizer is not None


def test_real_text_ids_are_identical(encoder, tokenizer, news_texts, tweet_texts, edge_texts):
    texts = news_texts[:150] + tweet_texts + edge_texts
    assert any(text.isascii() for text in texts) and not all(text.isascii() for text in texts)
    assert encoder.encode(texts) == reference_ids(tokenizer, texts)


def test_random_ascii_with_punctuation_and_controls_is_identical(encoder, tokenizer):
    rng = random.Random(0)
    alphabet = string.printable + "\x00\x01\x0b\x0c\x1c\x1f\x7f" + "Ééß\ufffd\xa0" + PASSTHROUGH_CHARACTERS
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(400)]
    texts += [
        "WORD" * 40,
        "a\x0bb",
        "x\x1cy",
        "MiXeD CaSe, punctuation!? (yes) [SEP] [cls] ##ing",
        "[CLS]",
        "x[MASK]y",
    ]
    assert encoder.encode(texts) == reference_ids(tokenizer, texts)


def test_long_texts_are_cut_only_at_plain_whitespace():
    text = "alpha\x0bbeta " * 10 + "gamma\tdelta\n" * 10
    pieces = split_at_whitespace(text, 20)
    assert "".join(pieces) == text
    assert all(piece[-1] in " \t\n\r" for piece in pieces[:-1])
    assert split_at_whitespace("x" * 100, 10) == ["x" * 100]


def test_piecewise_encoding_is_identical(tokenizer, news_texts):
    small_pieces = WordPieceEncoder(tokenizer, piece_chars=500)
    texts = ["\n".join(news_texts[:5]), news_texts[5], "short"]
    assert small_pieces.encode(texts) == reference_ids(tokenizer, texts)


def test_lone_surrogates_are_replaced(encoder, tokenizer):
    assert encoder.encode(["bad \ud800 text"]) == reference_ids(tokenizer, ["bad \ufffd text"])


def test_passthrough_characters_are_untouched_by_bert_normalisation(tokenizer):
    for character in PASSTHROUGH_CHARACTERS:
        assert unicodedata.normalize("NFD", character) == character
        assert character.lower() == character
        assert unicodedata.category(character) not in {"Mn", "Cc", "Cf", "Zs", "Co", "Cn"}
        assert tokenizer.normalizer.normalize_str(f"x{character}y") == f"x{character}y"


def test_broken_encoding_marks_are_dropped_like_the_normaliser_does(encoder, tokenizer):
    texts = ["caf\ufffd au lait", "\ufffd\ufffdstart", "mid\ufffddle “quoted” — text…"]
    assert encoder.encode(texts) == reference_ids(tokenizer, texts)


def test_long_texts_without_whitespace_are_cut_at_punctuation_and_cjk(tokenizer):
    encoder = WordPieceEncoder(tokenizer, piece_chars=50)
    parts = encoder.split("word," * 100 + "中文" * 100)
    assert all(isinstance(part, str) and len(part) <= 100 for part in parts)
    assert "".join(parts) == "word," * 100 + "中文" * 100  # type: ignore[arg-type]
    # never inside an added token, whatever its case
    for text in ("[CLS]" * 100, "x[cLs]" * 100, "[MASK]" * 100):
        parts = encoder.split(text)
        assert len(parts) > 1 and all(part.endswith("]") for part in parts[:-1])  # type: ignore[union-attr]


def test_a_run_longer_than_a_wordpiece_word_is_one_unknown_token(tokenizer):
    encoder = WordPieceEncoder(tokenizer, piece_chars=50)
    unknown = tokenizer.token_to_id("[UNK]")
    text = "start " + "a" * 5000 + " end"
    assert [part for part in encoder.split(text) if isinstance(part, list)] == [[unknown]]
    assert encoder.encode([text]) == reference_ids(tokenizer, [text])


def test_piecewise_cuts_keep_ids_identical_on_random_unicode(tokenizer, news_texts):
    """Random runs of letters, punctuation, CJK, Unicode spaces, controls, accents and added tokens,
    cut into 50-character pieces, give the tokenizer's own ids."""
    small_pieces = WordPieceEncoder(tokenizer, piece_chars=50)
    rng = random.Random(1)
    alphabet = list("abcdeXYZé.,!?-'[]()中文日本語ひらがな \t\n\u3000\xa0\u2028\u0301\x00\x0b\ufffd—“”") + [
        "[CLS]",
        "[sep]",
        "[MASK]",
        "x" * 40,
    ]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(300)]
    texts += [
        "a" * 500,
        "中" * 400,
        "x[CLS]" * 100,
        "a" * 120 + "\x00" * 200 + "b",  # a long raw run that normalises to a short word
        "\x00" * 300 + "ab",
        "a\u0301" * 150,
        "ab.cd" * 100,
        "x" * 60 + "\x0b" * 1000 + "y" * 30,
        "Ünïcödé" * 40,
        "\ufffd" * 120 + "a" * 10,
        news_texts[0].replace(" ", ""),
    ]
    assert small_pieces.encode(texts) == reference_ids(tokenizer, texts)
