"""The layout's one rule, checked from the code: imports flow one way between folders.

Every ``import bot.…`` / ``from bot… import`` in every module under ``bot/`` is read
with ``ast`` (imports inside functions included: a lazy import is still a dependency)
and the folder it comes from is held against what that folder may use, as drawn in
docs/architecture.md. Run alone with ``pytest tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# folder -> the folders it may import (itself always allowed); "root" is models, config, errors, log
MAY_IMPORT = {
    "root": set(),
    "ops": {"root"},
    "tick": {"root", "ops"},
    "strategies": {"root", "ops", "tick"},
    "venues": {"root", "ops", "tick"},
    "intel": {"root", "ops", "tick"},
    "backtest": {"root", "ops", "tick", "strategies", "venues", "intel"},
    "serve": {"root", "ops", "tick"},
    "sweep": {"root", "ops", "tick", "strategies", "venues", "intel", "backtest"},
    "arena": {"root", "ops", "tick", "strategies", "venues", "intel", "backtest"},
    "cli": {"root", "ops", "tick", "strategies", "venues", "backtest", "intel", "sweep", "serve", "arena"},
}
ROOT_MODULES = {
    "models",
    "features",
    "exchange_models",
    "errors",
    "log",
    "__init__",
}
ROOT_PACKAGES = {"config"}  # contracts split by concern: their modules are root modules
ENTRY = {"__main__"}  # `python -m bot` runs the CLI: the one module allowed to reach the top


def folder_of(module: str) -> str:
    """``bot.tick.risk`` -> ``tick``; ``bot.models`` -> ``root``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    head = parts[1]
    return "root" if head in ROOT_MODULES | ROOT_PACKAGES else head


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "bot"]
        elif (
            isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "bot"
        ):
            if node.module == "bot":  # `from bot import ops` names a folder (or a root module)
                found += [(node.lineno, f"bot.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; write the absolute `bot.` path")
    return found


def modules() -> list[Path]:
    return sorted(path for path in BOT.rglob("*.py") if path.stem not in ENTRY)


def test_every_folder_is_known() -> None:
    folders = {path.relative_to(BOT).parts[0] for path in modules() if len(path.relative_to(BOT).parts) > 1}
    folders -= ROOT_PACKAGES
    assert folders <= set(MAY_IMPORT), (
        f"a new folder needs a row in MAY_IMPORT and docs/architecture.md: {folders - set(MAY_IMPORT)}"
    )
    assert {path.stem for path in BOT.glob("*.py")} <= ROOT_MODULES | ENTRY, "only the contracts live at the root"


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(BOT)))
def test_imports_flow_one_way(path: Path) -> None:
    relative = path.relative_to(BOT)
    here = "root" if len(relative.parts) == 1 or relative.parts[0] in ROOT_PACKAGES else relative.parts[0]
    allowed = MAY_IMPORT[here] | {here}
    wrong = [
        f"{relative}:{line} imports {module} ({folder_of(module)})"
        for line, module in imports_of(path)
        if folder_of(module) not in allowed
    ]
    assert not wrong, f"{here} may import only {sorted(allowed)}:\n" + "\n".join(wrong)


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    """The rule above must be able to fail: a tick module importing a venue is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from bot.venues.paper import PaperBroker\n    import bot.cli\n")
    found = imports_of(bad)
    assert found == [(2, "bot.venues.paper"), (3, "bot.cli")]
    assert {folder_of(module) for _, module in found} - (MAY_IMPORT["tick"] | {"tick"}) == {"venues", "cli"}


def test_no_module_over_400_lines() -> None:
    long = {str(path.relative_to(BOT)): n for path in modules() if (n := len(path.read_text().splitlines())) > 420}
    assert not long, f"split these by what they hold: {long}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _eager_imports(path: Path, known: set[str]) -> set[str]:
    """Modules of the bot imported when ``path`` is imported: module-level statements only
    (not inside functions, not under ``if TYPE_CHECKING``)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            }
    return {name for name in found if name in known}


def test_no_import_cycles() -> None:
    """Module-level imports form no cycle: each module can be read knowing only what it imports."""
    paths = {_module_name(path): path for path in BOT.rglob("*.py")}
    graph = {name: _eager_imports(path, set(paths)) - {name} for name, path in paths.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(name) :], name]))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
