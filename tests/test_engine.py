"""run_tick's error policy, driven tick by tick with a scripted strategy on replayed history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.broker.paper import PaperBroker
from bot.config import Settings
from bot.engine import TickContext, run_tick
from bot.errors import ConfigError
from bot.history import HistoryMarket
from bot.models import Action, Decision, Outcome
from bot.state import BotState

START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.state: BotState | None = None
        self.saves = 0

    def load(self) -> BotState | None:
        return self.state.model_copy(deep=True) if self.state else None

    def save(self, state: BotState) -> None:
        self.state = state.model_copy(deep=True)
        self.saves += 1


class MemoryJournal(list):
    append = list.append


class ScriptedStrategy:
    """Returns the next scripted item each tick; an exception instance is raised instead."""

    name = "scripted"

    def __init__(self, *script) -> None:
        self.script = list(script)

    async def decide(self, *, features, portfolio, prompt):
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class BrokenBroker:
    async def settle(self, *, book, snapshot, now):
        return []

    async def execute(self, plans, *, book, prices, now):
        raise RuntimeError("exchange said no")


def _ctx(strategy, *, market=None, broker=None, coins=("BTC", "ETH")):
    settings = Settings(trading={"coins": list(coins)})
    return TickContext(
        settings=settings, mode="replay", dry_run=True, market=market or HistoryMarket(), strategy=strategy,
        broker=broker or PaperBroker(settings.paper), store=MemoryStore(), journal=MemoryJournal(),
    )


def _run(ctx, minutes=0):
    return asyncio.run(run_tick(ctx, START + timedelta(minutes=minutes)))


def _buy(coin="BTC"):
    return Decision(coin=coin, action=Action.BUY, confidence=0.9, size_pct=10, leverage=2, stop_loss=90_000, take_profit=120_000)


def test_a_timeline_open_hold_close():
    ctx = _ctx(ScriptedStrategy([_buy()], [], [Decision(coin="BTC", action=Action.CLOSE, confidence=0.9)]))
    opened = _run(ctx)
    assert opened.outcome is Outcome.OK and [f.coin for f in opened.fills] == ["BTC"]
    assert set(ctx.store.state.positions) == {"BTC"}
    held = _run(ctx, 3)
    assert held.fills == [] and held.tick == 2
    closed = _run(ctx, 6)
    assert closed.fills[0].reduce_only and ctx.store.state.positions == {}
    fees = sum(f.fee_usd for report in ctx.journal for f in report.fills)
    assert ctx.store.state.cash_usd == pytest.approx(10_000 + closed.fills[0].realized_pnl_usd - fees)
    assert [report.tick for report in ctx.journal] == [1, 2, 3]


def test_strategy_failure_means_hold_and_a_degraded_tick():
    ctx = _ctx(ScriptedStrategy(TimeoutError("llm too slow")))
    report = _run(ctx)
    assert report.outcome is Outcome.DEGRADED
    assert report.decisions == [] and report.fills == []
    assert report.message == "strategy failed, holding: TimeoutError: llm too slow"
    assert ctx.store.state.tick == 1 and ctx.store.state.consecutive_errors == 0


def test_execution_failure_is_recorded_and_the_book_is_unchanged():
    ctx = _ctx(ScriptedStrategy([_buy()]), broker=BrokenBroker())
    report = _run(ctx)
    assert report.outcome is Outcome.DEGRADED
    assert report.message == "execution failed: RuntimeError: exchange said no"
    assert ctx.store.state.positions == {} and ctx.store.state.cash_usd == 10_000


def test_no_market_data_fails_the_tick_and_counts_consecutive_failures():
    ctx = _ctx(ScriptedStrategy(), coins=("NOPE",))
    for minutes in (0, 3):
        report = _run(ctx, minutes)
        assert report.outcome is Outcome.FAILED and report.message == "no market data: every coin failed"
    assert ctx.store.state.consecutive_errors == 2
    assert "no history for NOPE" in report.errors["NOPE"]


def test_a_bug_in_a_stage_is_a_failed_tick_not_a_crash():
    class BuggyMarket(HistoryMarket):
        async def snapshot(self, coins, now):
            raise KeyError("oops")

    ctx = _ctx(ScriptedStrategy(), market=BuggyMarket())
    report = _run(ctx)
    assert report.outcome is Outcome.FAILED and report.message == "internal error: KeyError: 'oops'"
    assert ctx.store.state.consecutive_errors == 1 and len(ctx.journal) == 1


def test_a_user_error_is_raised_and_nothing_is_recorded():
    class MisconfiguredMarket(HistoryMarket):
        async def snapshot(self, coins, now):
            raise ConfigError("`exchange.id`: unknown ccxt exchange 'x'")

    ctx = _ctx(ScriptedStrategy(), market=MisconfiguredMarket())
    with pytest.raises(ConfigError):
        _run(ctx)
    assert ctx.store.saves == 0 and len(ctx.journal) == 0
