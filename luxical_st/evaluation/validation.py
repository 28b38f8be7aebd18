"""The offline suite's validation split: retrieval over the suite's own sources, on texts that none of
its tasks reads, for choosing the best training checkpoint (never the test split).

Every text of every suite task (test and train splits, queries and corpora; 45,168 texts) is collected
first, then three retrieval sets are drawn from the rest of the same sources:

| set | query -> relevant document | size (seed 42) |
|---|---|---|
| wikipedia | Wikidata short description -> lead summary | 500 queries, 2,000 summaries |
| wordnet | example sentence -> its gloss | 500 queries, 2,500 glosses |
| news | headline -> article body | 200 queries, every unused body (208) |

The score is the mean nDCG@10 of the three (`sentence_transformers`' `InformationRetrievalEvaluator`
in a `SequentialEvaluator`). The training recipe finds this through the `luxical_st.validation` entry
point `suite` (config key `validation: suite`), so the recipe never imports the evaluation.
"""

from __future__ import annotations

import random
from typing import Any

from sentence_transformers.base.evaluation.sequential import SequentialEvaluator
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

from luxical_st.data.sources import news_articles, wikipedia_articles, wordnet_synsets
from luxical_st.evaluation.document_tasks import MIN_ARTICLE_WORDS, halves
from luxical_st.evaluation.task_base import SEED, task_texts, unique_queries
from luxical_st.evaluation.tasks import offline_tasks

PRIMARY_METRIC = "sequential_score"
"""The evaluator's main score; the trainer reports it as `eval_sequential_score`."""
SET_SIZES = {"wikipedia": (500, 2000), "wordnet": (500, 2500), "news": (200, 2000)}
"""(queries, documents) of each validation set, at most."""


def suite_texts(seed: int = SEED) -> set[str]:
    """Every text that a task of the offline suite reads (both sides of every split)."""
    return {text for task in offline_tasks(seed=seed) for text in task_texts(task)}


def _sampled(
    pairs: list[tuple[str, str]], used: set[str], sizes: tuple[int, int], rng: random.Random
) -> tuple[dict[str, Any], dict[str, Any], dict[str, set[str]]]:
    """Queries, corpus and relevance of up to `sizes` (query, document) pairs that no test reads, each
    query text unique among the pairs."""
    free = [(q, d) for q, d in unique_queries(pairs) if q not in used and d not in used]
    documents = rng.sample(free, min(sizes[1], len(free)))
    queries = documents[: sizes[0]]
    return (
        {f"q{i}": query for i, (query, _) in enumerate(queries)},
        {f"d{i}": document for i, (_, document) in enumerate(documents)},
        {f"q{i}": {f"d{i}"} for i in range(len(queries))},
    )


def validation_pairs(used: set[str]) -> dict[str, list[tuple[str, str]]]:
    """(query, relevant document) candidates of each validation set; news articles whose halves a test
    reads (NewsHalvesRetrieval) are left out here, every other used text and every empty or shared
    query by `_sampled`."""
    return {
        "wikipedia": [(a.description, a.text) for a in wikipedia_articles()],
        "wordnet": [(examples[0], gloss) for _, gloss, examples in wordnet_synsets() if examples],
        "news": [
            (a.title, a.text)
            for a in news_articles()
            if len(a.text.split()) >= MIN_ARTICLE_WORDS and halves(a.text)[1] not in used
        ],
    }


def suite_validation(seed: int = SEED, batch_size: int = 256) -> SequentialEvaluator:
    """The validation evaluator: the mean nDCG@10 of the three sets, over texts no suite task reads."""
    used = suite_texts(seed)
    rng = random.Random(seed)
    evaluators = []
    for name, pairs in validation_pairs(used).items():
        queries, corpus, relevant = _sampled(pairs, used, SET_SIZES[name], rng)
        if not queries:
            raise ValueError(f"the {name} validation set is empty: every text of it is read by a test task")
        evaluators.append(
            InformationRetrievalEvaluator(
                queries,
                corpus,
                relevant,
                name=f"validation-{name}",
                mrr_at_k=[10],
                ndcg_at_k=[10],
                accuracy_at_k=[1],
                precision_recall_at_k=[10],
                map_at_k=[10],
                batch_size=batch_size,
                show_progress_bar=False,
            )
        )
    evaluator = SequentialEvaluator(evaluators, main_score_function=lambda scores: sum(scores) / len(scores))
    evaluator.primary_metric = PRIMARY_METRIC  # set by the first call too: the trainer needs it before
    return evaluator
