"""The console scripts: `luxical-train`, `luxical-evaluate` and `luxical-convert`.

`train.py` and `evaluate.py` at the top of a checkout call the same functions. Each command checks its
extra first (`pip install 'luxical-st[train]'`, `[eval]`), so a missing package is named at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from luxical_st.extras import require_extra

DEFAULT_CONFIG = "quickstart"
_PACKAGE = Path(__file__).resolve().parent


def config_folders() -> list[Path]:
    """Where shipped configs are: inside the installed package (a wheel), else the checkout's configs/."""
    return [folder for folder in (_PACKAGE / "configs", _PACKAGE.parent / "configs") if folder.is_dir()]


def shipped_configs() -> list[str]:
    """Names of the configs that ship with luxical-st (quickstart, tiny, luxical-one)."""
    return sorted({path.stem for folder in config_folders() for path in folder.glob("*.yaml")})


def resolve_config(name_or_path: str) -> Path:
    """A config file: an existing path as given, else a shipped config by name (`quickstart`, `tiny.yaml`,
    `configs/quickstart.yaml`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    for folder in config_folders():
        candidate = folder / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no config file {name_or_path!r} and no shipped config of that name; "
        f"shipped: {', '.join(shipped_configs()) or 'none found'}"
    )


TRAIN_DESCRIPTION = """Train a Luxical model end to end from one config: `luxical-train --config quickstart`
(or `python train.py --config configs/quickstart.yaml` in a checkout).

--config takes a YAML file or the name of a shipped config (quickstart, tiny, luxical-one). Any config
key can be overridden after it, e.g. `--num_train_epochs 1 --output_dir runs/try`.
"""


def train(argv: Sequence[str] | None = None) -> int:
    """`luxical-train`: run the whole pipeline of a config; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="luxical-train",
        description=TRAIN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument(
        "--config", default=DEFAULT_CONFIG, help="YAML file or shipped config name (default: quickstart)"
    )
    known, overrides = parser.parse_known_args(argv)
    if any(arg in ("-h", "--help") for arg in overrides):
        parser.print_help()
        print("\nConfig keys (each also a --key override):")
        from luxical_st.config import config_parser

        config_parser().print_help()
        return 0
    try:
        require_extra("train", "luxical-train")
        config_path = resolve_config(known.config)
    except (ImportError, FileNotFoundError) as error:
        print(f"luxical-train: {error}", file=sys.stderr)
        return 2

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from luxical_st.config import load_config
    from luxical_st.pipeline import run_pipeline

    try:
        config = load_config(config_path, overrides)
    except ValueError as error:
        print(f"luxical-train: {error}", file=sys.stderr)
        return 2
    from luxical_st.training.guard import guarded_pipeline

    try:  # a failure the user can fix (corpus, divergence, teacher code) is one line, not a traceback
        model_dir = guarded_pipeline(config, run_pipeline)
    except ValueError as error:
        print(f"luxical-train: {error}", file=sys.stderr)
        return 1
    print(f"Model saved to {model_dir}")
    return 0


def evaluate(argv: Sequence[str] | None = None) -> int:
    """`luxical-evaluate`: evaluate.py's suite (see `luxical-evaluate --help`)."""
    try:
        require_extra("eval", "luxical-evaluate")
    except ImportError as error:
        print(f"luxical-evaluate: {error}", file=sys.stderr)
        return 2
    from transformers import HfArgumentParser

    from luxical_st.evaluation import EvaluationArguments, model_specs, run_evaluation
    from luxical_st.loading import check_models
    from luxical_st.remote_code import RemoteCodeArguments, RemoteCodeRefusedError

    parser = HfArgumentParser((EvaluationArguments, RemoteCodeArguments))  # type: ignore[arg-type]
    args, trust = parser.parse_args_into_dataclasses(args=None if argv is None else list(argv))
    try:  # before any model loads: a model that ships its own code needs --trust_remote_code
        check_models(model_specs(args.model).values(), trust.trust_remote_code)
    except ValueError as error:
        print(f"luxical-evaluate: {error}", file=sys.stderr)
        return 2
    try:  # what the early check cannot see, sentence-transformers / transformers refuse as they load
        run_evaluation(args)
    except RemoteCodeRefusedError as error:
        print(f"luxical-evaluate: {error.opt_in_with('--trust_remote_code')}", file=sys.stderr)
        return 2
    return 0


def convert(argv: Sequence[str] | None = None) -> int:
    """`luxical-convert SRC OUT_DIR`: a reference Luxical model to a sentence-transformers folder."""
    from luxical_st.convert import main

    main(None if argv is None else list(argv))
    return 0
