"""The house rules that no linter checks for us: no private name used outside its file, and rooms of one
idea (no module over ~400 lines). The rings themselves are import-linter's (`lint-imports`, pyproject)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "luxical_st"
MAX_LINES = 420


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_names_used_elsewhere(root: Path = PACKAGE) -> list[str]:
    """`file:line name` for every private name of a luxical_st module imported or read by another file."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        importer = _module_name(path, root)
        modules: set[str] = set()  # local names bound to luxical_st modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(node.module, node.level, importer, path.name == "__init__.py")
                if not source.startswith("luxical_st"):
                    continue
                for alias in node.names:
                    if _is_private(alias.name) and source != importer:
                        found.append(f"{path.relative_to(root.parent)}:{node.lineno} {source}.{alias.name}")
                    elif (root.parent / (source.replace(".", "/") + f"/{alias.name}")).exists() or (
                        root.parent / (source.replace(".", "/") + f"/{alias.name}.py")
                    ).exists():
                        modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("luxical_st") and alias.asname:
                        modules.add(alias.asname)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and _is_private(node.attr)
            ):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_outside_its_file() -> None:
    assert private_names_used_elsewhere() == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    package = tmp_path / "luxical_st"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("def _hidden():\n    return 1\n")
    (package / "b.py").write_text(
        "from luxical_st.sub.a import _hidden\nfrom .sub import a\nx = a._hidden()\n"
    )
    assert private_names_used_elsewhere(package) == [
        "luxical_st/b.py:1 luxical_st.sub.a._hidden",
        "luxical_st/b.py:3 a._hidden",
    ]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_is_a_room_of_one_idea(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines: split it by idea"
