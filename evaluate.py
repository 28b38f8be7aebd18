"""Evaluate Luxical and other SentenceTransformer models side by side: MTEB, edu classifier, speed.

    python evaluate.py --model path/to/luxical --model path/to/minilm --output_dir out/

With no --tasks it runs the offline suite (no network needed); `--tasks STS12 Banking77Classification`
runs named MTEB tasks for users who are online. See `python evaluate.py --help`.
"""

from __future__ import annotations

from transformers import HfArgumentParser

from luxical_st.evaluation import EvaluationArguments, run_evaluation


def main() -> None:
    (args,) = HfArgumentParser(EvaluationArguments).parse_args_into_dataclasses()  # type: ignore[arg-type]
    run_evaluation(args)


if __name__ == "__main__":
    main()
