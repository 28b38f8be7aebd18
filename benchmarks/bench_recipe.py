"""The training recipe measured on the offline suite: an ablation of recipe variants, and a learning
curve (quality against the number of teacher-labelled documents). Every row shows the full output and,
for a model with a lexical sketch, its distilled network alone, beside model2vec from the same teacher
and sparse TF-IDF (which need no labelled text).

    python benchmarks/bench_recipe.py ablation --output_dir runs/ablation \
        --variant "reference=--loss gram_kl --teacher_init false --lexical_sketch_dimensions 0 ..." \
        --variant "identity=--hidden_init identity"
    python benchmarks/bench_recipe.py curve --sizes 4000 16000 66256 --repeat 16000 \
        --output_dir runs/learning-curve

Both start from `--config` (default configs/quickstart.yaml) plus any `--set "--key value ..."`. One teacher
pass embeds the largest prefix of the corpus (plus the config's word documents); every run trains on
(a prefix of) those targets with the vocabulary and token embeddings mined once, so only the recipe
variant or the number of labelled documents changes. Runs and scores are kept under --output_dir, so a
rerun resumes. Writes `<command>.json`, `.md` and (curve) `.png`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("ablation", "curve"))
    parser.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    parser.add_argument(
        "--set", default="", help="config overrides for every run, e.g. '--num_train_epochs 4'"
    )
    parser.add_argument(
        "--variant", action="append", default=[], help="ablation: NAME=OVERRIDES (repeatable)"
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[4000, 16000, 66256],
        help="curve sizes (66,256: the whole quickstart blend)",
    )
    parser.add_argument("--repeat", type=int, nargs="*", default=[16000], help="curve sizes trained twice")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--tasks", nargs="*", default=None, help="offline suite tasks (default: all)")
    parser.add_argument("--no_baselines", action="store_true", help="skip the model2vec and TF-IDF rows")
    return parser.parse_args()


def suite_scores(label: str, model: Any, path: str, tasks: list[Any], cache: Path) -> dict[str, Any]:
    from luxical_st.evaluation.mteb_runner import run_mteb
    from luxical_st.results import category_scores, mteb_average

    results = {"mteb": {label: run_mteb(model, path, tasks, cache_dir=cache, label=label)}}
    return {"overall": mteb_average(results, label), "categories": category_scores(results, label)}


class Runs:
    """The shared source artifacts (targets of the largest prefix, vocabulary, token embeddings) and
    one pipeline run per (overrides, size, seed), each scored full and distilled-alone."""

    def __init__(self, args: argparse.Namespace, largest: int | None) -> None:
        from luxical_st.config import load_config
        from luxical_st.evaluation.mteb_runner import resolve_tasks
        from luxical_st.pipeline import (
            load_corpus,
            teacher_targets_step,
            token_embeddings_step,
            training_documents,
            vocabulary_step,
        )

        self.args, self.output = args, Path(args.output_dir)
        self.common = shlex.split(args.set)
        self.source = self.output / "source"
        limit = [] if largest is None else ["--max_documents", str(largest)]
        config = load_config(args.config, [*self.common, *limit, "--output_dir", str(self.source)])
        self.default_size = config.corpus.max_documents
        corpus = load_corpus(config)
        teacher_targets_step(config, self.source, lambda: corpus)
        vocabulary_step(config, self.source, lambda: corpus)
        token_embeddings_step(config, self.source)
        self.corpus = corpus
        self.source_ids = set(training_documents(config, corpus)["id"])
        self.tasks = resolve_tasks(args.tasks)
        self.cache = self.output / "mteb-cache"

    def train_and_score(self, name: str, overrides: list[str], size: int | None, seed: int) -> dict[str, Any]:
        from sentence_transformers import SentenceTransformer

        from luxical_st.artifacts import TARGETS_DIR, TOKEN_EMBEDDINGS_FILE, VOCABULARY_FILE
        from luxical_st.config import load_config
        from luxical_st.data.targets import subset_targets
        from luxical_st.evaluation.baselines import without_sketch
        from luxical_st.pipeline import run_pipeline, training_documents

        run_dir = self.output / name
        run_dir.mkdir(parents=True, exist_ok=True)
        limit = [] if size is None else ["--max_documents", str(size)]
        seeds = ["--model_seed", str(seed), "--seed", str(seed)]
        config = load_config(
            self.args.config, [*self.common, *overrides, *limit, *seeds, "--output_dir", str(run_dir)]
        )
        # the run's own documents (its corpus prefix and word documents), all labelled by the one pass
        keep = set(training_documents(config, self.corpus)["id"])
        if missing := keep - self.source_ids:
            raise SystemExit(f"{name}: {len(missing)} documents the shared teacher pass did not embed")
        subset_targets(self.source / TARGETS_DIR, run_dir / TARGETS_DIR, keep.__contains__)
        for file in (VOCABULARY_FILE, TOKEN_EMBEDDINGS_FILE):
            if (self.source / file).is_file() and not (run_dir / file).is_file():
                shutil.copyfile(self.source / file, run_dir / file)
        model_dir = run_pipeline(config)
        model = SentenceTransformer(str(model_dir), trust_remote_code=True, device="cpu")
        entry: dict[str, Any] = {"name": name, "overrides": overrides, "documents": size, "seed": seed}
        entry["full"] = suite_scores(name, model, str(model_dir), self.tasks, self.cache)
        distilled = without_sketch(model)
        entry["distilled"] = (
            suite_scores(
                f"{name}-distilled", distilled, f"baseline:distilled:{model_dir}", self.tasks, self.cache
            )
            if distilled is not None
            else None
        )
        return entry

    def baselines(self) -> dict[str, Any]:
        from luxical_st.evaluation.baselines import build_baseline

        return {
            name: suite_scores(
                name, build_baseline(f"baseline:{name}"), f"baseline:{name}", self.tasks, self.cache
            )
            for name in ("model2vec", "tfidf")
        }


def markdown(record: dict[str, Any]) -> str:
    categories = sorted({c for run in record["runs"] for c in (run["full"]["categories"] or {})})
    header = ["run", "documents", "output", "overall", *categories]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def row(name: str, documents: Any, kind: str, scores: dict[str, Any]) -> str:
        values = [scores["overall"], *(scores["categories"].get(c) for c in categories)]
        cells = ["-" if v is None else f"{v:.3f}" for v in values]
        return "| " + " | ".join([name, str(documents), kind, *cells]) + " |"

    for run in record["runs"]:
        documents = f"{run['documents']:,}" if run["documents"] else "config"
        lines.append(row(run["name"], documents, "full", run["full"]))
        if run.get("distilled"):
            lines.append(row(run["name"], documents, "distilled alone", run["distilled"]))
    for name, scores in (record.get("baselines") or {}).items():
        lines.append(row(name, "none", "static" if name == "model2vec" else "sparse", scores))
    return "\n".join(lines) + "\n"


def plot_curve(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for key, label, marker in (
        ("full", "student, full output", "o"),
        ("distilled", "distilled network alone", "s"),
    ):
        points = [(run["documents"], run[key]["overall"]) for run in record["runs"] if run.get(key)]
        if not points:
            continue
        sizes = sorted({size for size, _ in points})
        means = [float(sum(v for s, v in points if s == n) / sum(s == n for s, _ in points)) for n in sizes]
        line = axis.plot(sizes, means, marker=marker, label=label)[0]
        axis.scatter([s for s, _ in points], [v for _, v in points], color=line.get_color(), alpha=0.5, s=18)
    for (name, scores), style in zip((record.get("baselines") or {}).items(), ("--", ":"), strict=False):
        axis.axhline(scores["overall"], linestyle=style, color="grey", label=f"{name} (no labelled text)")
    axis.set_xscale("log")
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{round(value / 1000):g}k"))
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xticks(sorted({run["documents"] for run in record["runs"]}))
    axis.set_xlabel("teacher-labelled corpus documents (plus the config's word documents)")
    axis.set_ylabel("offline suite, overall")
    axis.set_title("Quality vs labelled documents (quickstart recipe)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    args = parse_args()
    if args.command == "ablation":
        plan = []
        for spec in args.variant:
            name, separator, overrides = spec.partition("=")
            if not separator or not name:
                raise SystemExit(f"--variant takes NAME=OVERRIDES, got {spec!r}")
            plan.append((name, shlex.split(overrides), None, 0))
        runs = Runs(args, None)
    else:
        largest = max([*args.sizes, *args.repeat])
        plan = [(f"n{size}-seed0", [], size, 0) for size in sorted(args.sizes)]
        plan += [(f"n{size}-seed1", [], size, 1) for size in args.repeat]
        runs = Runs(args, largest)
    path = runs.output / f"{args.command}.json"
    record: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    record["command"] = shlex.join(["python", "benchmarks/bench_recipe.py", *sys.argv[1:]])
    done = {run["name"] for run in record["runs"]}
    for name, overrides, size, seed in plan:
        if name in done:
            continue
        record["runs"].append(runs.train_and_score(name, overrides, size, seed))
        path.write_text(json.dumps(record, indent=2))
        print(markdown(record), flush=True)
    if not args.no_baselines and not record.get("baselines"):
        record["baselines"] = runs.baselines()
    path.write_text(json.dumps(record, indent=2))
    (runs.output / f"{args.command}.md").write_text(markdown(record))
    if args.command == "curve":
        plot_curve(record, runs.output / "curve.png")
    print(markdown(record))
    print(f"Wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
