"""The pipeline config's one flat YAML file, parsed by `transformers.HfArgumentParser`.

Every YAML key is turned into a `--key=value` argument and parsed together with the command-line
overrides, so a YAML value gets exactly the type checks and choices a command-line value gets (the
plain `parse_yaml_file` passes values through unchecked). The parser reads each section's config keys
into a plain dataclass of those keys; the section is then built from them once, so its range checks
(`__post_init__`) see the final values.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import typing
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from luxical_st.config.checks import require
from luxical_st.config.pipeline_config import SECTIONS, PipelineConfig, section_keys


def _keys_field(item: dataclasses.Field[Any]) -> Any:
    """A copy of a section's field (default and help) for the parser's dataclass."""
    if item.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=item.default_factory, metadata=item.metadata)
    return dataclasses.field(default=item.default, metadata=item.metadata)


@cache
def parsed_keys(section: type) -> type:
    """The dataclass `HfArgumentParser` reads a section's config keys into: only those keys, with the
    section's types, defaults and help, and no checks (for the training section, the trainer's other
    arguments stay out of the command line, and its `output_dir` does not meet the output section's)."""
    hints = typing.get_type_hints(section)
    fields = {item.name: item for item in dataclasses.fields(section)}
    keys = [(key, hints[key], _keys_field(fields[key])) for key in section_keys(section)]
    return dataclasses.make_dataclass(f"{section.__name__}Keys", keys)


def config_parser() -> Any:
    """The `HfArgumentParser` over every section; raises argparse.ArgumentError instead of exiting."""
    from transformers import HfArgumentParser

    sections = [parsed_keys(section) for section in SECTIONS.values()]
    return HfArgumentParser(sections, exit_on_error=False, prog="train.py")  # type: ignore[arg-type]


def _annotations() -> dict[str, Any]:
    """Key -> resolved type of every config key (not `Field.type`: HfArgumentParser rewrites those)."""
    return {
        key: hint
        for section in SECTIONS.values()
        for key, hint in typing.get_type_hints(parsed_keys(section)).items()
    }


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _is_optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _yaml_values_to_argv(values: dict[str, Any], source: str) -> tuple[list[str], list[str]]:
    """(arguments, keys set to null) for the parser, after checking keys and value shapes."""
    fields = _annotations()
    argv: list[str] = []
    nulls: list[str] = []
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{source}: unknown config key {key!r}{hint}")
        annotation = fields[key]
        if value is None:
            require(_is_optional(annotation), key, "cannot be null", value)
            nulls.append(key)
        elif isinstance(value, dict):
            raise ValueError(f"{source}: config key {key!r} must be a value or a list, got a mapping")
        elif isinstance(value, list):
            require(_is_list(annotation), key, "takes a single value, not a list", value)
            require(len(value) > 0, key, "must not be an empty list", value)
            argv += [f"--{key}", *map(str, value)]
        else:
            require(not _is_list(annotation), key, "takes a list", value)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            argv.append(f"--{key}={text}")
    return argv, nulls


def _read_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problem = " ".join(str(error).split())
        raise ValueError(f"{path} is not a readable YAML config: {problem}") from error
    if loaded is not None and not isinstance(loaded, dict):
        raise ValueError(f"{path}: a config must be a mapping of keys to values")
    return loaded or {}


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read a flat YAML config (or only defaults) and apply `--key value` overrides after it.

    Raises ValueError naming the key for an unknown key, a value of the wrong type or choice, or a
    value out of range.
    """
    values = _read_yaml(path) if path is not None else {}
    source = "command line" if path is None else str(path)
    argv, nulls = _yaml_values_to_argv(values, source)
    if path is not None and overrides:
        source = f"{path} or command line"
    try:
        *parsed, remaining = config_parser().parse_args_into_dataclasses(
            args=[*argv, *overrides], return_remaining_strings=True, look_for_args_file=False
        )
    except argparse.ArgumentError as error:
        raise ValueError(f"{source}: {error}") from error
    if remaining:
        raise ValueError(f"unknown command-line arguments: {' '.join(remaining)}")

    overridden = {
        arg.split("=", 1)[0].lstrip("-").replace("-", "_") for arg in overrides if arg.startswith("--")
    }
    kept_nulls = set(nulls) - overridden
    sections = {}
    for (name, section), keys in zip(SECTIONS.items(), parsed, strict=True):
        given = dataclasses.asdict(keys)
        sections[name] = section(
            **{key: None if key in kept_nulls else value for key, value in given.items()}
        )
    return PipelineConfig(**sections)
