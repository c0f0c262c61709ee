"""The layout's rules, checked from the code: imports flow one way between folders, and every
module has its test file where a newcomer looks for it.

Every ``import bot.…`` / ``from bot… import`` in every module under ``bot/`` is read
with ``ast`` (imports inside functions included: a lazy import is still a dependency)
and the folder it comes from is held against what that folder may use, as drawn in
docs/architecture.md. ``tests/`` mirrors ``bot/``: ``bot/tick/risk.py`` is tested in
``tests/tick/test_risk.py``, ``bot/models.py`` in ``tests/test_models.py``, a package's
``__init__.py`` in ``test_init.py`` beside them; a module tested only through others sits
on ``TESTED_ELSEWHERE`` with where and why. Run alone with ``pytest tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
TESTS = Path(__file__).resolve().parent

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
    "chat": {"root", "ops", "tick"},
    "sweep": {"root", "ops", "tick", "strategies", "venues", "intel", "backtest"},
    "arena": {"root", "ops", "tick", "strategies", "venues", "intel", "backtest"},
    "cli": {"root", "ops", "tick", "strategies", "venues", "backtest", "intel", "sweep", "serve", "chat", "arena"},
}
ROOT_MODULES = {
    "clock",
    "models",
    "features",
    "exchange_models",
    "errors",
    "untrusted",
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


MAX_LINES = 420  # counted on ruff-formatted code (120 columns): width cannot buy length


def test_no_module_over_420_formatted_lines() -> None:
    """A module that grows past the cap is split by what it holds (a pure helper, a second
    concern), never by cutting one class across files: a class cut in two is harder to read
    than a long file, so such a class stays whole and the split takes what is around it."""
    long = {
        str(path.relative_to(BOT)): n for path in modules() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by what they hold (never one class across two files): {long}"


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


# module (path under bot/) -> where it is tested, and why it has no test file of its own. Keep it
# short: a module that grows logic of its own gets its file (an entry that is no longer needed fails).
TESTED_ELSEWHERE = {
    "backtest/recorder.py": "tests/backtest/test_loop.py, test_skip.py: the journal and store of every backtest run",
    "cli/base.py": "tests/cli/: the options and helpers every command shares, run by each command's tests",
    "cli/journal_view.py": "tests/cli/test_status.py: `bot journal` and its unreadable lines, as a real process",
    "cli/leaderboard.py": "tests/cli/test_arena.py: `bot arena` and `bot backtest --arena` print it",
    "config/arena.py": "tests/cli/test_arena.py, tests/arena/: the [arena] section, a bad one is one line",
    "config/backtest.py": "tests/config/test_file.py: each section is loaded and refused through load_settings",
    "config/base.py": "tests/config/test_file.py: the one Section (unknown keys refused) under every section",
    "config/llm.py": "tests/config/test_file.py, tests/strategies/test_claude.py: the [llm] keys and prices",
    "config/ops.py": "tests/config/test_file.py: trading windows, [ops], [notify], [serve] loaded and refused",
    "config/settings.py": "tests/config/test_file.py: Settings from config.toml, .env and BOT_*",
    "config/trading.py": "tests/config/test_file.py, tests/tick/test_risk.py: [exchange], [trading], [risk], [live]",
    "strategies/hold.py": "tests/strategies/test_kinds.py: the budget fallback the registry hands out",
    "tick/risk_entry.py": "tests/tick/test_risk.py: the risk step's entries (sizing, exits) through review()",
    "venues/holdings.py": "tests/venues/test_ccxt_broker.py, test_broker_contract.py: the reconciliation reads it",
    "venues/market_cache.py": "tests/venues/test_market.py: a tick with a fresh cache asks only for new candles",
    "errors.py": "tests/test_docs.py: every exit code documented; each one-line error test raises one",
    "intel/__init__.py": "tests/cli/test_tick.py: which intel a tick plugs in (a live tick asks the sources)",
    "intel/rank.py": "tests/intel/test_live.py: the ranking behind the context block's token budget",
    "ops/arena_state.py": "tests/cli/test_arena.py: the candidates' books, loadable after a killed tick",
    "ops/journal_index.py": "tests/ops/test_journal.py: parts in members, their indexes, the running totals",
    "ops/control.py": "tests/ops/test_state.py, tests/cli/test_control.py: rotation; pause, stop, close, the summary",
    "serve/api.py": "tests/cli/test_serve.py: the server as a real process, every endpoint",
    "serve/app.py": "tests/cli/test_serve.py: the app, its socket and the dashboard (the browser test)",
    "serve/metrics.py": "tests/cli/test_serve.py: Prometheus metrics from the state and the journal",
    "serve/schemas.py": "tests/cli/test_serve.py: the answers' shapes, a 422 naming the field",
    "sweep/cache.py": "tests/sweep/test_command.py: a rerun computes only the missing cells",
    "sweep/cluster.py": "tests/sweep/test_command.py: worker processes and an existing scheduler",
    "tick/context.py": "tests/tick/test_engine.py: what a tick is handed, built by every engine test",
    "tick/margin.py": "tests/tick/test_risk.py, tests/venues/test_paper.py: the liquidation buffer and price",
    "tick/portfolio.py": "tests/tick/test_risk.py: the account view every risk case starts from",
    "tick/precision.py": "tests/tick/test_risk.py: amounts rounded down to the lot step",
}


def _test_file_of(module: Path) -> Path:
    """``tick/risk.py`` -> ``tick/test_risk.py``; ``strategies/__init__.py`` -> ``strategies/test_init.py``."""
    name = "init" if module.stem == "__init__" else module.stem
    return module.with_name(f"test_{name}.py")


def _has_code(path: Path) -> bool:
    """A module with a function or a class: a docstring, re-exports or ``__main__`` have nothing to test alone."""
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for node in ast.parse(path.read_text()).body
    )


def untested_modules(bot: Path, tests: Path, elsewhere: dict[str, str]) -> tuple[list[str], list[str]]:
    """The modules with code but neither a test file nor an entry in ``elsewhere``, and the
    entries of ``elsewhere`` no longer needed (the module is gone, or has its file now)."""
    modules = {path.relative_to(bot).as_posix(): path for path in sorted(bot.rglob("*.py"))}
    has_file = {name for name in modules if (tests / _test_file_of(Path(name))).exists()}
    missing = [name for name, path in modules.items() if _has_code(path) and name not in has_file | set(elsewhere)]
    stale = [name for name in elsewhere if name not in modules or name in has_file]
    return missing, stale


def test_every_module_has_its_test_file() -> None:
    missing, stale = untested_modules(BOT, TESTS, TESTED_ELSEWHERE)
    assert not missing, (
        "add tests/<folder>/test_<module>.py for these (or a TESTED_ELSEWHERE entry saying where and why):\n"
        + "\n".join(missing)
    )
    assert not stale, (
        f"these TESTED_ELSEWHERE entries are no longer needed (the module is gone or has its file): {stale}"
    )


def test_the_test_file_check_sees_a_module_without_tests(tmp_path: Path) -> None:
    """The check above must be able to fail: a new module without a file, and a stale entry, are caught."""
    bot, tests = tmp_path / "bot", tmp_path / "tests"
    for name, text in {
        "__init__.py": '"""docstring only"""\n',
        "models.py": "class Side:\n    pass\n",
        "tick/__init__.py": "",
        "tick/risk.py": "def size():\n    pass\n",
        "tick/new.py": "def untested():\n    pass\n",
        "tick/context.py": "class Pass:\n    pass\n",
    }.items():
        (bot / name).parent.mkdir(parents=True, exist_ok=True)
        (bot / name).write_text(text)
    for name in ("test_models.py", "tick/test_risk.py"):
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).write_text("")
    elsewhere = {"tick/context.py": "built by every engine test", "tick/gone.py": "a module since removed"}
    assert untested_modules(bot, tests, elsewhere) == (["tick/new.py"], ["tick/gone.py"])
    (tests / "tick" / "test_context.py").write_text("")
    assert untested_modules(bot, tests, elsewhere)[1] == ["tick/context.py", "tick/gone.py"]
