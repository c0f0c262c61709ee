"""One row in ``bot.strategies.KINDS`` is all a new strategy needs: a dummy kind added
there alone (and nowhere else) runs through a tick (`bot tick --replay`'s own assembly),
a backtest, an arena candidate and a sweep cell."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Action, Decision
from bot.strategies import KINDS, Kind, build, kind_of, names
from tests.conftest import run_bot

START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the bundled sample's first tick with 500 closed candles
END = START + timedelta(minutes=30)
SEEN: list[str] = []  # the dummy's name at every call: proof that it, and nothing else, decided


class Dummy:
    """Buys the first coin with a stop and a take-profit, every time it is asked."""

    name = "dummy"
    trace = None  # free: nothing to account

    async def decide(self, *, features, portfolio, prompt) -> list[Decision]:
        SEEN.append(self.name)
        coin = sorted(features)[0]
        price = features[coin].price
        return [
            Decision(
                coin=coin,
                action=Action.BUY,
                confidence=0.9,
                size_pct=5,
                leverage=2,
                stop_loss=price * 0.97,
                take_profit=price * 1.10,
                reasoning="the dummy kind decided",
            )
        ]


@pytest.fixture
def dummy(monkeypatch):
    """The one place a new kind is added: a row of the registry."""
    monkeypatch.setitem(KINDS, "dummy", Kind("dummy", "a test kind", lambda _settings, _key, _clock: Dummy()))
    SEEN.clear()
    yield
    SEEN.clear()


def _settings(tmp_path, **sections) -> Settings:
    return Settings(_env_file=None, base_dir=tmp_path, **sections)


def test_a_new_kind_runs_through_a_replayed_tick(tmp_path, dummy):
    from bot.cli.tick import _tick

    (tmp_path / "var" / "replay").mkdir(parents=True)  # `bot tick` makes it when it takes the lock
    report = asyncio.run(_tick(_settings(tmp_path, strategy={"name": "dummy"}), dry_run=True, replay="", data_dir=None))
    assert report.strategy == "dummy" and SEEN == ["dummy"]
    assert [decision.reasoning for decision in report.decisions] == ["the dummy kind decided"]
    assert report.fills, "the dummy's BUY went through risk to the paper broker"


def test_a_new_kind_runs_through_a_backtest(tmp_path, dummy):
    from bot.backtest.runner import BacktestRequest, backtest_command

    request = BacktestRequest(strategy="dummy", start=START, end=END)
    result = backtest_command(_settings(tmp_path), request, progress=False, notify=lambda _line: None)
    assert result.strategy == "dummy"
    assert SEEN == ["dummy"] * 11  # asked at every tick of the half hour


def test_a_new_kind_runs_as_an_arena_candidate(tmp_path, dummy):
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest

    arena = {"candidates": [{"name": "new", "strategy": "dummy"}, {"name": "base", "strategy": "rules"}]}
    result = arena_backtest(_settings(tmp_path, arena=arena), BacktestRequest(start=START, end=END), notify=print)
    kinds = {entry.name: entry.strategy for entry in result.board.standings}
    assert kinds == {"new": "dummy", "base": "rules"}
    # its own book every tick, and the account's decisions while it is the active candidate
    assert SEEN == ["dummy"] * 22
    assert result.account.strategy == "arena (new)"


def test_a_new_kind_runs_as_a_sweep_cell(tmp_path, dummy):
    from bot.sweep.cell import CellTask, run_cell, strategy_of

    settings = _settings(tmp_path, strategy={"name": "dummy"})
    row = run_cell(CellTask(settings=settings, strategy=strategy_of(settings), start=START, end=END), "key")
    assert row.ok, row.error
    assert row.ticks == 11 and SEEN == ["dummy"] * 11


def test_auto_is_the_paid_kind_with_its_key_else_the_baseline(tmp_path):
    assert names(auto=True) == ["auto", "rules", "claude"]
    assert build(_settings(tmp_path)).name == "rules"
    keyed = _settings(tmp_path, anthropic_api_key="sk-test-key-0123456789")
    assert build(keyed).name == "claude"


def test_an_unknown_kind_is_one_line_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError) as error:
        build(_settings(tmp_path, strategy={"name": "rulez"}))
    assert str(error.value) == "`strategy.name` 'rulez': use one of auto, rules, claude — did you mean `rules`?"
    with pytest.raises(ConfigError, match=r"^--strategy 'auto': use one of rules, claude$"):
        kind_of("auto", option="--strategy")


def test_an_arena_candidate_of_an_unknown_kind_names_the_candidate(tmp_path):
    from bot.arena.arena import memory_arena

    settings = _settings(tmp_path, arena={"candidates": [{"name": "x", "strategy": "claud"}]})
    with pytest.raises(ConfigError, match=r"^\[\[arena.candidates\]\] 'x': strategy 'claud': use one of rules, claude"):
        memory_arena(settings, make_strategy=build)


def test_a_bad_strategy_name_stops_the_tick_before_anything_is_recorded(project):
    result = run_bot("tick", "--dry-run", "--replay", cwd=project, env={"BOT_STRATEGY__NAME": "claudee"})
    assert result.returncode == 2
    assert result.stderr == (
        "error: `strategy.name` 'claudee': use one of auto, rules, claude — did you mean `claude`?\n"
    )
    assert not (project / "var" / "replay" / "state.json").exists()


def test_the_cli_help_lists_the_registry(project):
    result = run_bot("backtest", "--help", cwd=project)
    assert " | ".join(names()) in " ".join(result.stdout.split())
