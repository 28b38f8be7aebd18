"""Evaluate Luxical and other SentenceTransformer models side by side: MTEB, edu classifier, speed.

    python evaluate.py --model path/to/luxical --model path/to/minilm --output_dir out/

With no --tasks it runs the offline suite (no network needed); `--tasks STS12 Banking77Classification`
runs named MTEB tasks for users who are online. See `python evaluate.py --help`. The same as the
`luxical-evaluate` console script (`luxical_st.cli.evaluate`).
"""

from __future__ import annotations

import sys

from luxical_st.cli import evaluate

if __name__ == "__main__":
    sys.exit(evaluate())
