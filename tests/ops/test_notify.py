"""Notifications: a failing endpoint never fails a tick, each event claimed once, exit fills
as warnings, live alerts and deprecated models."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Action, Outcome, TickReport
from bot.ops.notify import Event, EventKind, Notifier, claim, tick_events
from bot.ops.state import BotState
from tests.conftest import NOW
from tests.fakes.memory import ScriptedStrategy
from tests.fakes.notify import NotifyEndpoint
from tests.ops.opskit import T0, _at, _ctx, _decision


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


def test_a_deprecated_model_is_notified_once_a_day():
    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    state.llm.model, state.llm.lifecycle, state.llm.retires_at = (
        "claude-opus-4-5",
        "deprecated",
        datetime(2027, 1, 22, tzinfo=UTC),
    )

    def events(at):
        report = TickReport(
            tick_id="t",
            tick=1,
            mode="paper",
            dry_run=True,
            as_of=at,
            strategy="claude",
            outcome="ok",
            usage={"calls": 1},
        )
        return [
            event for event in claim(tick_events(report, [], state), state) if event.kind is EventKind.MODEL_DEPRECATED
        ]

    [first] = events(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert first.body.startswith("Anthropic retires claude-opus-4-5 on 2027-01-22")
    assert events(datetime(2026, 12, 1, 21, 0, tzinfo=UTC)) == []  # the same UTC day
    assert len(events(datetime(2026, 12, 2, 0, 3, tzinfo=UTC))) == 1


def test_live_alerts_are_notified_and_quiet_corrections_are_not():
    from bot.models import Correction, TickReport
    from bot.ops.notify import tick_events
    from bot.ops.state import BotState

    report = TickReport(
        tick_id="250603T1200",
        tick=1,
        mode="live",
        dry_run=False,
        as_of=NOW,
        strategy="rules",
        outcome=Outcome.DEGRADED,
        corrections=[
            Correction(kind="balance", message="cash 1.00 -> 2.00 USDT as on the exchange"),
            Correction(
                kind="stop_failed",
                coin="BTC",
                message="stop-loss could not be placed: position closed at market",
                alert=True,
            ),
            Correction(kind="rejected", coin="ETH", message="entry rejected: InsufficientFunds", alert=True),
        ],
    )
    events = tick_events(report, [], BotState.fresh(mode="live", initial_equity_usd=100.0))
    assert [(e.kind, e.level, e.title, e.body) for e in events] == [
        (
            "live_alert",
            "failure",
            "bot live: BTC stop failed",
            "stop-loss could not be placed: position closed at market",
        ),
        ("live_alert", "warning", "bot live: ETH rejected", "entry rejected: InsufficientFunds"),
    ]
    assert len({e.key for e in events}) == 2
