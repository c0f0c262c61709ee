"""run_tick's error policy, driven tick by tick with a scripted strategy on replayed history;
every held position settled and valued at a real price, inside the coin list or not (issue 16)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Action, Decision, FillReason, Outcome, Position, RiskCode, Side, Verdict
from bot.ops.state import BotState
from bot.tick.engine import TickContext, run_tick
from bot.venues.history import SAMPLE_DIR, HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.memory import MemoryJournal, MemoryStore, ScriptedStrategy
from tests.tick.tickkit import doge_long

START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


class BrokenBroker:
    def __init__(self) -> None:
        self.corrections = []

    async def settle(self, *, book, snapshot, now):
        return []

    async def execute(self, plans, *, book, prices, now):
        raise RuntimeError("exchange said no")


def _ctx(strategy, *, market=None, broker=None, coins=("BTC", "ETH")):
    settings = Settings(trading={"coins": list(coins)})
    return TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=market or HistoryMarket(),
        strategy=strategy,
        broker=broker or PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
    )


def _run(ctx, minutes=0):
    return asyncio.run(run_tick(ctx, START + timedelta(minutes=minutes)))


def _buy(coin="BTC"):
    return Decision(
        coin=coin, action=Action.BUY, confidence=0.9, size_pct=10, leverage=2, stop_loss=100_000, take_profit=115_000
    )  # BTC ~105,200: reward:risk 1.9


PAUSE = 8 * 60 + 3  # tick 1 at 12:00, then cron stops until 20:03: the 16:00 settlement is missed
SIXTEEN = datetime(2025, 6, 3, 16, tzinfo=UTC)


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
    from structlog.testing import capture_logs

    ctx = _ctx(ScriptedStrategy([_buy()]), broker=BrokenBroker())
    with capture_logs() as logged:
        report = _run(ctx)
    failed = [event for event in logged if event["event"] == "execution_failed"]
    assert [(e["stage"], e["strategy"], e["error"], e["log_level"]) for e in failed] == [
        ("execute", report.strategy, "RuntimeError: exchange said no", "error")
    ]
    assert report.outcome is Outcome.DEGRADED
    assert report.message == "execution failed: RuntimeError: exchange said no"
    assert ctx.store.state.positions == {} and ctx.store.state.cash_usd == 10_000


def test_no_market_data_fails_the_tick_and_counts_consecutive_failures():
    ctx = _ctx(ScriptedStrategy(), coins=("NOPE",))
    for minutes in (0, 3):
        report = _run(ctx, minutes)
        assert report.outcome is Outcome.FAILED and report.message == "no market data: every coin failed"
    assert ctx.store.state.consecutive_errors == 2
    assert report.errors["NOPE"].startswith("unknown coin 'NOPE' in ")


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


def test_a_tick_after_hours_of_pause_books_the_missed_funding_before_the_strategy_decides():
    # BTC stays between 104,969 and 106,775 from 12:00 to 20:03: neither exit triggers
    buy = Decision(
        coin="BTC", action=Action.BUY, confidence=0.9, size_pct=10, leverage=2, stop_loss=100_000, take_profit=115_000
    )
    seen = []

    class Recording(ScriptedStrategy):
        async def decide(self, *, features, portfolio, prompt):
            seen.append(dict(portfolio.account))
            return await super().decide(features=features, portfolio=portfolio, prompt=prompt)

    ctx = _ctx(Recording([buy], []))
    opened = _run(ctx)
    position = ctx.store.state.positions["BTC"]
    assert position.settled_until == START and position.liquidation_price is not None
    later = _run(ctx, PAUSE)
    assert later.outcome is Outcome.OK and later.fills == []
    rate = HistoryMarket().snapshot_at(["BTC"], START + timedelta(minutes=PAUSE)).coins["BTC"].funding_rate
    [payment] = later.funding
    assert payment.at == SIXTEEN and payment.rate == rate and rate > 0
    assert payment.price == 106_556.1  # the open of the 16:00 candle
    assert payment.amount_usd == pytest.approx(-rate * position.amount * 106_556.1)  # a long pays a positive rate
    state = ctx.store.state
    assert state.positions["BTC"].settled_until == START + timedelta(minutes=PAUSE)
    assert state.cash_usd == pytest.approx(10_000 - opened.fills[0].fee_usd + payment.amount_usd)
    assert seen[1]["cash_usd"] == pytest.approx(state.cash_usd)  # the strategy saw the account after funding
    assert ctx.journal[-1].funding == [payment] and state.funding_usd == pytest.approx(payment.amount_usd)


def test_a_tick_after_hours_of_pause_books_a_take_profit_hit_while_cron_was_stopped():
    # the first 3m high at or above 106,500 is the 14:51 candle's: taken there, before 16:00's funding.
    # The stop at 104,800 is never touched (the low until then is 104,969.4) and keeps the reward:risk
    # from 105,240.1 above 1.5 net of costs: (1,259.9 - 147.3) / (440.1 + 147.3) = 1.89.
    buy = Decision(
        coin="BTC", action=Action.BUY, confidence=0.9, size_pct=10, leverage=2, stop_loss=104_800, take_profit=106_500
    )
    ctx = _ctx(ScriptedStrategy([buy], []))
    opened = _run(ctx)
    later = _run(ctx, PAUSE)
    [fill] = later.fills
    assert fill.reason == "take_profit" and fill.at == datetime(2025, 6, 3, 14, 54, tzinfo=UTC)
    assert fill.price == pytest.approx(106_500 * 0.9998)
    entry = opened.fills[0]
    assert fill.realized_pnl_usd == pytest.approx((106_500 * 0.9998 - entry.price) * entry.amount)
    assert later.funding == [] and ctx.store.state.positions == {}
    assert ctx.store.state.cash_usd == pytest.approx(10_000 - entry.fee_usd + fill.realized_pnl_usd - fill.fee_usd)
    assert ctx.store.state.risk.entries == [START]


def test_gh16_1_a_position_outside_the_coin_list_is_still_stopped_out():
    # DOGE (not configured) long 10,000 at 0.19498, stop 0.19303; the 3m candle opening at
    # 2025-06-03 20:30 opens at 0.19387 and trades down through the stop.
    since = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    ctx = _held_ctx(ScriptedStrategy([]), positions={"DOGE": doge_long(stop=0.19303, since=since)})
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
    ctx = _held_ctx(ScriptedStrategy([buy], [close]), positions={"DOGE": doge_long(stop=0.15, since=since)})
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
