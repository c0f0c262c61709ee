"""Running unattended: backoff, self-pause and resume, the opening block and trading windows,
tick by tick over simulated time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import OpsSettings
from bot.models import Action, Outcome, Verdict
from bot.ops import backoff as ops
from bot.ops.notify import Notifier
from bot.ops.state import BotState, PausedBy
from tests.fakes.memory import ScriptedStrategy
from tests.fakes.notify import NotifyEndpoint
from tests.ops.opskit import T0, _at, _ctx, _decision


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (1, 60), (2, 120), (3, 240), (4, 480), (5, 960), (6, 1920), (7, 3600), (40, 3600)],
)
def test_backoff_doubles_per_failure_and_is_capped_at_an_hour(failures, seconds):
    assert ops.backoff_seconds(failures, OpsSettings()) == seconds


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
