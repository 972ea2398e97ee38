"""The layers, checked on the import graph: the core knows no front and no queue, the
Telegram front and the workers know only the core, and `guanai/` wires them together.

Every module of `domain`, `bot`, `workers` and `guanai` is read with `ast`, nothing is
imported. Imports inside functions (the lazy ones) count; imports under
`if TYPE_CHECKING:` do not, since they load nothing when the code runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "bot", "workers", "guanai")

#: package → the top-level packages it must never import
FORBIDDEN = {
    "domain": {"bot", "workers", "guanai", "aiogram", "arq"},  # the core knows no wiring
    "bot": {"workers"},
    "workers": {"bot", "aiogram"},
    "guanai": {"aiogram"},  # aiogram lives in the Telegram front (`bot/`) only
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import under `node`, at any depth."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imported(ast.Module(body=[other], type_ignores=[]), module, is_package)
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield child.lineno, alias.name
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = module.split(".")
                base = base[: len(base) - child.level + (1 if is_package else 0)]
                name = ".".join([*base, *([child.module] if child.module else [])])
            else:
                name = child.module or ""
            yield child.lineno, name
        yield from _imported(child, module, is_package)


def imports() -> Iterator[tuple[str, str, int, str]]:
    """(package, module, line, imported top-level package) for each module of PACKAGES."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, name in _imported(tree, module, path.name == "__init__.py"):
                yield package, module, line, name.split(".")[0]


def test_the_walk_sees_lazy_imports_and_skips_type_checking_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import aiogram\n"
        "def f():\n    from domain.wording.notices import Notices\n"
        "from . import sibling\n"
    )
    found = {name for _, name in _imported(ast.parse(source), "workers.jobs", False)}
    assert found == {"typing", "domain.wording.notices", "workers"}


@pytest.mark.parametrize("package", PACKAGES)
def test_each_layer_imports_only_what_it_may(package: str) -> None:
    wrong = [
        f"{module}:{line} imports {imported}"
        for where, module, line, imported in imports()
        if where == package and imported in FORBIDDEN[package]
    ]
    assert wrong == []


def test_aiogram_is_imported_only_by_the_telegram_front() -> None:
    """The shared texts (`bot/*.py`), the core, the workers and the wiring speak through
    `domain.language`, not aiogram's i18n: a front without aiogram renders them too."""
    importers = {module for _, module, _, name in imports() if name == "aiogram"}
    outside = {m for m in importers if m != "bot.telegram" and not m.startswith("bot.telegram.")}
    assert outside == set()
    assert importers  # the walk does see the Telegram front's imports


def test_the_matrix_front_needs_nothing_of_the_telegram_one() -> None:
    wrong = []
    for path in sorted((ROOT / "bot" / "matrix").rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _imported(tree, module, path.name == "__init__.py"):
            if name.split(".")[0] == "aiogram" or name.startswith("bot.telegram"):
                wrong.append(f"{module}:{line} imports {name}")
    assert wrong == []
