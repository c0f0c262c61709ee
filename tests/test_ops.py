"""Running unattended: backoff, self-pause, pause/resume and trading windows, tick by tick
over simulated time (``now`` handed to run_tick), notifications captured on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import OpsSettings, Settings, TradingWindow
from bot.errors import MarketDataError
from bot.models import Action, Decision, Outcome, Verdict
from bot.ops import backoff as ops
from bot.ops.notify import Event, EventKind, Notifier, claim
from bot.ops.state import BotState, PausedBy
from bot.tick.engine import TickContext, run_tick
from bot.venues.history import HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.memory import MemoryJournal, MemoryStore, ScriptedStrategy
from tests.fakes.notify import NotifyEndpoint

T0 = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)  # a Tuesday


class FlakyMarket(HistoryMarket):
    """Recorded history that goes down on demand, counting the calls it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    async def snapshot(self, coins, now):
        self.calls += 1
        if self.down:
            raise MarketDataError("cannot load markets: ExchangeNotAvailable 503")
        return await super().snapshot(coins, now)


def _decision(coin, action):
    return Decision(coin=coin, action=action, confidence=0.9, size_pct=10, leverage=2, stop_loss=None, take_profit=None)


def _ctx(strategy, *, notifier=None, **ops_settings):
    settings = Settings(trading={"coins": ["BTC", "ETH"]}, ops=ops_settings)
    return TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=FlakyMarket(),
        strategy=strategy,
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
        notifier=notifier,
    )


def _at(ctx, minutes):
    return asyncio.run(run_tick(ctx, T0 + timedelta(minutes=minutes)))


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (1, 60), (2, 120), (3, 240), (4, 480), (5, 960), (6, 1920), (7, 3600), (40, 3600)],
)
def test_backoff_doubles_per_failure_and_is_capped_at_an_hour(failures, seconds):
    assert ops.backoff_seconds(failures, OpsSettings()) == seconds


@pytest.mark.parametrize(
    ("text", "weekdays", "hours"),
    [
        ("mon-fri 08-20", {0, 1, 2, 3, 4}, (8, 20)),
        ("sat 10:00-14:00", {5}, (10, 14)),
        ("fri-mon 00-24", {4, 5, 6, 0}, (0, 24)),
    ],
)
def test_trading_windows_parse(text, weekdays, hours):
    window = TradingWindow.parse(text)
    assert window.weekdays == weekdays and (window.start_hour, window.end_hour) == hours


@pytest.mark.parametrize("text", ["weekdays 8-20", "mon-fri 20-08", "mon-fri 08-25", "mon 8"])
def test_a_bad_trading_window_is_a_config_error_naming_it(text):
    with pytest.raises(ValueError, match="mon-fri 08-20|0 <= from < to <= 24"):
        OpsSettings(trading_windows=[text])


def test_opening_block_paused_and_outside_windows():
    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    weekdays = OpsSettings(trading_windows=["mon-fri 08-20"])
    assert ops.opening_block(state, T0, weekdays) is None  # Tuesday 12:00
    assert ops.opening_block(state, T0.replace(hour=20), weekdays) == "outside the trading windows (mon-fri 08-20 UTC)"
    assert ops.opening_block(state, T0 + timedelta(days=4), weekdays) is not None  # Saturday
    ops.pause(state, by=PausedBy.USER, reason="holiday", now=T0)
    assert ops.opening_block(state, T0, OpsSettings()) == "paused by user: holiday"


def test_failures_back_off_pause_the_bot_and_resume_over_simulated_time():
    """The issue's sequence: 5 failures with a doubling backoff (runs inside it are skipped
    without touching the market), the emergency pause, a paused tick that closes but does
    not open, then `resume` and trading again."""
    with NotifyEndpoint() as endpoint:
        strategy = ScriptedStrategy(
            [_decision("BTC", Action.BUY)],  # -3 min: open BTC
            [_decision("ETH", Action.BUY), _decision("BTC", Action.CLOSE)],  # +39: paused
            [_decision("ETH", Action.BUY)],  # +45: resumed
        )
        ctx = _ctx(strategy, notifier=Notifier([endpoint.url]))
        market, store = ctx.market, ctx.store
        assert _at(ctx, -3).fills[0].coin == "BTC"
        market.down = True

        timeline = [  # minute, expected outcome, consecutive errors after, backoff until (minutes after T0)
            (0, Outcome.FAILED, 1, 1),
            (3, Outcome.FAILED, 2, 5),
            (6, Outcome.FAILED, 3, 10),
            (9, Outcome.SKIPPED, 3, 10),
            (12, Outcome.FAILED, 4, 20),
            (15, Outcome.SKIPPED, 4, 20),
            (18, Outcome.SKIPPED, 4, 20),
            (21, Outcome.FAILED, 5, 37),
            (24, Outcome.SKIPPED, 5, 37),
            (36, Outcome.SKIPPED, 5, 37),
        ]
        for minute, outcome, errors, until in timeline:
            calls = market.calls
            report = _at(ctx, minute)
            assert report.outcome is outcome, minute
            assert store.state.consecutive_errors == errors, minute
            assert store.state.backoff_until == T0 + timedelta(minutes=until), minute
            assert market.calls == calls + (outcome is Outcome.FAILED), minute  # a skipped run never asks the market
            assert store.state.paused is (minute >= 21), minute
        assert report.message.startswith("backing off after 5 failed tick(s) in a row until 2025-06-03 12:37:00 UTC")
        assert store.state.last_skipped_at == T0 + timedelta(minutes=36)
        assert store.state.paused_by is PausedBy.AUTO and store.state.paused_at == T0 + timedelta(minutes=21)
        assert (
            store.state.pause_reason
            == "5 failed ticks in a row, last: no market data: cannot load markets: ExchangeNotAvailable 503"
        )
        assert [r.outcome for r in ctx.journal].count(Outcome.SKIPPED) == 0  # skipped runs are not journaled
        assert store.state.positions.keys() == {"BTC"}

        market.down = False
        paused = _at(ctx, 39)
        assert paused.outcome is Outcome.OK and paused.paused
        assert paused.new_positions_blocked.startswith("paused by the bot itself: 5 failed ticks in a row")
        eth = next(v for v in paused.verdicts if v.coin == "ETH")
        assert eth.verdict is Verdict.REJECTED and eth.reason.startswith(
            "no new positions: paused by the bot itself: 5 failed ticks"
        )
        assert [(f.coin, f.reduce_only) for f in paused.fills] == [("BTC", True)]  # the protective close still ran
        assert store.state.positions == {} and store.state.consecutive_errors == 0 and store.state.backoff_until is None
        assert store.state.paused  # success does not lift an emergency pause: only the owner does

        ops.resume(store.state)
        resumed = _at(ctx, 45)
        assert not resumed.paused and resumed.new_positions_blocked == ""
        assert [(f.coin, f.reduce_only) for f in resumed.fills] == [("ETH", False)]

        kinds = [body["title"].split(": ", 1)[1] for body in endpoint.messages()]
        assert kinds == [
            "trade opened BTC",
            *["tick failed"] * 5,
            "EMERGENCY PAUSE",
            "trade closed BTC",
            "trade opened ETH",
        ]
        failed = endpoint.messages()[1]
        assert failed["type"] == "failure"
        assert failed["message"] == (
            "tick 250603T1200 failed (1 in a row): no market data: cannot load markets: ExchangeNotAvailable 503; "
            "next attempt after 12:01:00 UTC"
        )
        assert "run `bot resume` once fixed" in endpoint.messages()[6]["message"]


def test_outside_the_trading_windows_a_tick_only_manages_open_positions():
    strategy = ScriptedStrategy(
        [_decision("BTC", Action.BUY)], [_decision("ETH", Action.SELL), _decision("BTC", Action.CLOSE)]
    )
    ctx = _ctx(strategy, trading_windows=["mon-fri 08-13"])
    assert _at(ctx, 0).fills[0].coin == "BTC"  # Tuesday 12:00: inside
    late = _at(ctx, 60)  # 13:00: outside
    assert late.new_positions_blocked == "outside the trading windows (mon-fri 08-13 UTC)" and not late.paused
    assert [(v.coin, v.verdict) for v in late.verdicts] == [("ETH", Verdict.REJECTED), ("BTC", Verdict.APPROVED)]
    assert [(f.coin, f.reduce_only) for f in late.fills] == [("BTC", True)]


def test_a_failing_notification_endpoint_never_fails_the_tick():
    with NotifyEndpoint(status=500) as endpoint:
        ctx = _ctx(
            ScriptedStrategy([_decision("BTC", Action.BUY)]),
            notifier=Notifier([endpoint.url, "json://127.0.0.1:9/closed"], timeout_seconds=1),
        )
        report = _at(ctx, 0)
    assert report.outcome is Outcome.OK and len(report.fills) == 1
    assert ctx.store.state.notified == ["250603T1200:bot-250603T1200-BTC-entry"]  # claimed: a retry will not resend


def test_an_event_is_claimed_once():
    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    event = Event(key="k1", kind=EventKind.TICK_FAILED, title="t", body="b")
    assert claim([event, event], state) == [event]
    assert claim([event], state) == []
    assert state.notified == ["k1"]


def test_a_retried_tick_does_not_notify_twice():
    with NotifyEndpoint() as endpoint:
        strategy = ScriptedStrategy([_decision("BTC", Action.BUY)], [_decision("BTC", Action.BUY)])
        ctx = _ctx(strategy, notifier=Notifier([endpoint.url]))
        _at(ctx, 0)
        ctx.store.state.positions.clear()  # as if the first run's book never saved, the same tick again
        again = _at(ctx, 0)
        assert again.fills[0].client_order_id == "bot-250603T1200-BTC-entry"
    assert len(endpoint.received) == 1


def test_exit_fills_notify_as_warnings_and_small_trades_can_be_muted():
    from bot.models import Fill, Side, TickReport
    from bot.ops.notify import Level, tick_events

    def fill(reason, amount, reduce_only):
        return Fill(
            coin="BTC",
            side=Side.LONG,
            amount=amount,
            price=100_000.0,
            fee_usd=0.5,
            realized_pnl_usd=-42.0,
            reduce_only=reduce_only,
            reason=reason,
            client_order_id=f"bot-250603T1200-BTC-{reason}",
            at=T0,
        )

    report = TickReport(
        tick_id="250603T1200",
        tick=7,
        mode="paper",
        dry_run=True,
        as_of=T0,
        strategy="rules",
        outcome=Outcome.OK,
        fills=[fill("stop_loss", 0.01, True), fill("decision", 0.0001, False), fill("decision", 0.01, False)],
    )
    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    events = tick_events(report, [], state, min_trade_usd=50.0)
    assert [(e.kind, e.level) for e in events] == [
        (EventKind.STOP_LOSS, Level.WARNING),
        (EventKind.TRADE_OPENED, Level.INFO),
    ]
    assert events[0].title == "bot paper: BTC stop-loss hit"
    assert events[0].body == "stop-loss hit: closed long BTC 0.01 @ 100000 (fee 0.50 USDT), PnL -42.00 USDT"
    assert events[1].key == "250603T1200:bot-250603T1200-BTC-decision"  # the 10 USD opening was muted


def test_max_drawdown_is_the_largest_fall_from_a_peak():
    from bot.tick.stages import _record_equity

    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    for equity in (1100.0, 990.0, 1050.0, 1200.0, 1140.0):
        _record_equity(state, equity)
    assert state.peak_equity_usd == 1200.0
    assert state.max_drawdown_pct == pytest.approx(10.0, abs=1e-12)  # 1100 -> 990; 1200 -> 1140 is only 5 %
