"""Train a Luxical model end to end from one config: `python train.py --config configs/quickstart.yaml`.

Any config key can be overridden after the file, e.g. `--num_train_epochs 1 --output_dir runs/try`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs", "quickstart.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, add_help=False)
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="flat YAML config (default: quickstart)")
    known, overrides = parser.parse_known_args(argv)
    if any(arg in ("-h", "--help") for arg in overrides):
        parser.print_help()
        print("\nConfig keys (each also a --key override):")
        from luxical_st.config import config_parser

        config_parser().print_help()
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from luxical_st.config import load_config
    from luxical_st.pipeline import run_pipeline

    try:
        config = load_config(known.config, overrides)
    except ValueError as error:
        print(f"train.py: {error}", file=sys.stderr)
        return 2
    model_dir = run_pipeline(config)
    print(f"Model saved to {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
