"""Issue 16, items 1 and 2: every held position is settled and valued at a real price,
whether its coin left `trading.coins` or failed to load this tick."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.models import Action, Decision, FillReason, Outcome, Position, RiskCode, Side, Verdict
from bot.ops.state import BotState
from bot.tick.engine import TickContext, run_tick
from bot.venues.history import SAMPLE_DIR, HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.memory import MemoryJournal, MemoryStore, ScriptedStrategy


def _held_ctx(strategy, *, positions, coins=("BTC", "ETH"), market=None, last_prices=None):
    settings = Settings(trading={"coins": list(coins)})
    store = MemoryStore()
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    state.positions = positions
    state.last_prices = last_prices or {}
    store.state = state
    return TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=market or HistoryMarket(),
        strategy=strategy,
        broker=PaperBroker(settings.paper),
        store=store,
        journal=MemoryJournal(),
    )


def _doge(*, stop: float, since: datetime) -> Position:
    return Position(
        coin="DOGE",
        symbol="DOGE/USDT:USDT",
        side=Side.LONG,
        amount=10_000,
        entry_price=0.19498,
        leverage=2,
        margin_usd=974.9,
        opened_at=since,
        settled_until=since,
        stop_loss=stop,
    )


def test_gh16_1_a_position_outside_the_coin_list_is_still_stopped_out():
    # DOGE (not configured) long 10,000 at 0.19498, stop 0.19303; the 3m candle opening at
    # 2025-06-03 20:30 opens at 0.19387 and trades down through the stop.
    since = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    ctx = _held_ctx(ScriptedStrategy([]), positions={"DOGE": _doge(stop=0.19303, since=since)})
    report = asyncio.run(run_tick(ctx, datetime(2025, 6, 3, 21, 0, tzinfo=UTC)))
    [fill] = report.fills
    # A stop fills at the trigger with 0.02 % slippage against it: 0.19303 x 0.9998 = 0.192991394,
    # stamped with the candle's close; PnL (0.192991394 - 0.19498) x 10,000 = -19.88606,
    # fee 0.05 % of 1,929.91394 = 0.96495697.
    assert fill.reason is FillReason.STOP_LOSS and fill.at == datetime(2025, 6, 3, 20, 33, tzinfo=UTC)
    assert fill.price == pytest.approx(0.192991394, abs=1e-12)
    assert fill.realized_pnl_usd == pytest.approx(-19.88606, abs=1e-8)
    assert fill.fee_usd == pytest.approx(0.96495697, abs=1e-8)
    assert ctx.store.state.positions == {}
    assert ctx.store.state.cash_usd == pytest.approx(10_000 - 19.88606 - 0.96495697, abs=1e-8)
    assert "DOGE" in report.coins_loaded


def test_gh16_1_a_held_coin_outside_the_list_takes_a_close_but_no_entry():
    since = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    buy = Decision(
        coin="DOGE", action=Action.BUY, confidence=0.9, size_pct=10, leverage=2, stop_loss=0.18, take_profit=0.25
    )
    close = Decision(coin="DOGE", action=Action.CLOSE, confidence=0.9)
    ctx = _held_ctx(ScriptedStrategy([buy], [close]), positions={"DOGE": _doge(stop=0.15, since=since)})
    first = asyncio.run(run_tick(ctx, datetime(2025, 6, 3, 21, 0, tzinfo=UTC)))
    [refused] = first.verdicts
    assert refused.verdict is Verdict.REJECTED and refused.codes == [RiskCode.BLOCKED]
    assert "DOGE is not in `trading.coins`" in refused.reason
    assert first.fills == [] and ctx.store.state.positions["DOGE"].amount == 10_000
    # The mark is the close of the candle 20:57-21:00, 0.19435: unrealized (0.19435 - 0.19498) x 10,000 = -6.30.
    assert first.account.unrealized_pnl_usd == pytest.approx(-6.30, abs=1e-9)
    second = asyncio.run(run_tick(ctx, datetime(2025, 6, 3, 21, 3, tzinfo=UTC)))
    [approved] = second.verdicts
    assert approved.codes == [RiskCode.CLOSE]
    [fill] = second.fills
    assert fill.reduce_only and ctx.store.state.positions == {}


def test_gh16_2_a_coin_that_failed_to_load_is_valued_at_its_last_price(tmp_path):
    # A data folder with ETH only: BTC fails to load this tick.
    for folder, name in (("3m", "ETHUSDT-3m"), ("4h", "ETHUSDT-4h"), ("funding_8h", "ETHUSDT-funding-8h")):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLE_DIR / folder / f"{name}.csv.gz", tmp_path / folder)
    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    btc = Position(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=0.1,
        entry_price=100_000,
        leverage=5,
        margin_usd=2_000,
        opened_at=now - timedelta(hours=1),
        settled_until=now - timedelta(hours=1),
    )
    ctx = _held_ctx(
        ScriptedStrategy([]), positions={"BTC": btc}, market=HistoryMarket(tmp_path), last_prices={"BTC": 95_000.0}
    )
    report = asyncio.run(run_tick(ctx, now))
    assert "BTC" in report.errors and report.outcome is Outcome.DEGRADED
    # Valued at 95,000, not its entry: 0.1 x (95,000 - 100,000) = -500 unrealized.
    assert report.account.unrealized_pnl_usd == pytest.approx(-500.0, abs=1e-9)
    assert report.account.equity_usd == pytest.approx(9_500.0, abs=1e-9)
    assert "BTC valued at its last known price 95000 (stale" in report.message
    assert ctx.store.state.last_prices["BTC"] == 95_000.0


def test_gh16_1_status_says_a_held_coin_outside_the_list_is_managed_only(tmp_path):
    from bot.tick.status import build_status

    since = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    state.positions = {"DOGE": _doge(stop=0.15, since=since)}
    state.last_prices = {"DOGE": 0.19435}
    status = build_status(
        state, settings=Settings(trading={"coins": ["BTC"]}), state_file=tmp_path / "state.json", now=since
    )
    [doge] = status.positions
    assert doge.managed_only and doge.unrealized_pnl_usd == pytest.approx(-6.30, abs=1e-9)
    status = build_status(
        state, settings=Settings(trading={"coins": ["DOGE"]}), state_file=tmp_path / "state.json", now=since
    )
    assert not status.positions[0].managed_only
