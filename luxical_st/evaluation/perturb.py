"""Planted near-duplicates: the kinds of copies a web corpus holds, made from real text with a seeded RNG.

Each function returns a changed copy of `text`; `NEAR_DUPLICATE_KINDS` names them. They serve the
near-duplicate pair-classification task (and any dedup measurement): a copy should stay closer to its
source than two different documents of the same outlet and day are to each other, and a boilerplate
block shared by two different documents should not make them duplicates.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from luxical_st.data.sources import sentences

BOILERPLATE_BLOCKS = (
    (
        "Skip to main content. Menu. Home. News. World. Business. Sport. Culture. Opinion. Subscribe.",
        "Sign up for our daily newsletter and get the day's top stories delivered straight to your "
        "inbox. We use cookies to improve your experience on our site. By continuing to browse you "
        "agree to our use of cookies. Read our privacy policy. Share this article on Facebook, "
        "Twitter or by email. All rights reserved.",
    ),
    (
        "Advertisement. Story continues below. Most read. Trending now.",
        "Related coverage: more stories from our newsroom. Follow us on social media for breaking news "
        "alerts. Comments are closed for this article. Copyright 2017. This material may not be "
        "published, broadcast, rewritten or redistributed.",
    ),
)


def light_edit(text: str, rng: random.Random, rate: float = 0.08) -> str:
    """About `rate` of the words deleted, doubled, swapped with the next one or given a typo."""
    words = text.split()
    edited: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if rng.random() >= rate:
            edited.append(word)
        else:
            action = rng.randrange(4)
            if action == 1:
                edited += [word, word]
            elif action == 2 and index + 1 < len(words):
                edited += [words[index + 1], word]
                index += 1
            elif action == 3 and len(word) > 3:
                cut = rng.randrange(1, len(word) - 2)
                edited.append(word[:cut] + word[cut + 1] + word[cut] + word[cut + 2 :])
            # action 0 (or an action that does not apply): the word is dropped
        index += 1
    return " ".join(edited)


def truncate(text: str, rng: random.Random) -> str:
    """The first 25-50% of the words: a copy cut short (a teaser, a paywall, a crawl limit)."""
    words = text.split()
    keep = max(1, round(len(words) * rng.uniform(0.25, 0.5)))
    return " ".join(words[:keep])


def add_boilerplate(text: str, rng: random.Random, block: int | None = None) -> str:
    """The text inside a site's header and footer (navigation, cookie notice, newsletter, copyright)."""
    header, footer = BOILERPLATE_BLOCKS[rng.randrange(len(BOILERPLATE_BLOCKS)) if block is None else block]
    return f"{header}\n{text}\n{footer}"


def rewrite(text: str, rng: random.Random) -> str:
    """A paraphrase-like rewrite: 40% of the sentences dropped, neighbouring sentences swapped, and
    light word edits in what is left."""
    parts = sentences(text)
    kept = [part for part in parts if rng.random() >= 0.4] or parts[:1]
    for index in range(0, len(kept) - 1, 2):
        if rng.random() < 0.5:
            kept[index], kept[index + 1] = kept[index + 1], kept[index]
    return light_edit(" ".join(kept), rng, rate=0.05)


NEAR_DUPLICATE_KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "light_edit": light_edit,
    "truncation": truncate,
    "boilerplate": add_boilerplate,
    "rewrite": rewrite,
}
