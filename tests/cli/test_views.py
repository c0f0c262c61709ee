"""`bot tick`'s summary as a reader sees it: the price each decision saw, its reasoning,
unrealized PnL per position, repeated rejections said once, colour only on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from bot.cli import views
from bot.models import Action, Decision, Outcome, Position, RiskCode, RiskVerdict, Side, TickReport, Verdict

AT = datetime(2025, 6, 2, 1, 3, tzinfo=UTC)
REJECTED = "confidence 0.40 is below risk.min_confidence 0.60"


def _report() -> TickReport:
    sell = Decision(
        coin="ETH",
        action=Action.SELL,
        confidence=0.4,
        stop_loss=2600.0,
        take_profit=2400.0,
        reasoning="4h down,\n  3m   flat",
    )
    position = Position(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.SHORT,
        amount=0.028,
        entry_price=105_358.0,
        leverage=3.0,
        margin_usd=983.0,
        opened_at=AT,
        stop_loss=106_939.0,
        take_profit=102_258.0,
    )
    return TickReport(
        tick_id="250602T0103",
        tick=2,
        mode="replay",
        dry_run=True,
        as_of=AT,
        strategy="rules",
        outcome=Outcome.OK,
        coins_loaded=["BTC", "ETH"],
        prices={"BTC": 105_420.0, "ETH": 2533.2},
        decisions=[sell],
        verdicts=[
            RiskVerdict(
                coin="ETH",
                action=Action.SELL,
                verdict=Verdict.REJECTED,
                codes=[RiskCode.LOW_CONFIDENCE],
                reason=REJECTED,
            )
        ],
        positions=[position],
    )


def _printed(monkeypatch, previous=None, *, terminal=False) -> str:
    buffer = io.StringIO()
    monkeypatch.setattr(
        views, "console", Console(file=buffer, force_terminal=terminal, width=200, highlight=False, markup=False)
    )
    views.print_tick(_report(), previous=previous)
    return buffer.getvalue()


def test_each_decision_shows_its_price_and_one_line_of_reasoning_and_each_position_its_upnl(monkeypatch):
    lines = _printed(monkeypatch).splitlines()
    assert lines[1:6] == [
        "coins 2/2 loaded: BTC ETH",
        "  BTC   HOLD  @ 105420",
        "  ETH   SELL  @ 2533.2 conf 0.40 SL 2600 TP 2400",
        "        why: 4h down, 3m flat",
        f"        -> rejected (low_confidence): {REJECTED}",
    ]
    # short 0.028 BTC from 105,358 marked at 105,420: (105358 - 105420) x 0.028 = -1.736
    assert lines[6] == "  short BTC 0.028 @ 105358 · mark 105420 · uPnL -1.74 USDT · SL 106939 TP 102258"


def test_a_usdc_account_is_shown_in_usdc(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(views, "console", Console(file=buffer, width=200, highlight=False, markup=False))
    views.print_tick(_report(), quote="USDC")
    lines = buffer.getvalue().splitlines()
    assert lines[6] == "  short BTC 0.028 @ 105358 · mark 105420 · uPnL -1.74 USDC · SL 106939 TP 102258"
    assert "USDT" not in buffer.getvalue()


def test_a_rejection_the_last_tick_also_had_says_so(monkeypatch):
    previous = {
        "tick_id": "250602T0100",
        "verdicts": [{"coin": "ETH", "action": "SELL", "verdict": "rejected", "reason": REJECTED}],
    }
    assert "        -> rejected (same as last tick)" in _printed(monkeypatch, previous).splitlines()
    other = {"verdicts": [{"coin": "ETH", "action": "SELL", "verdict": "rejected", "reason": "another reason"}]}
    assert f"        -> rejected (low_confidence): {REJECTED}" in _printed(monkeypatch, other).splitlines()


def test_colour_only_on_a_terminal(monkeypatch):
    assert "\x1b[" not in _printed(monkeypatch)  # cron's log, a pipe
    assert "\x1b[" in _printed(monkeypatch, terminal=True)


def test_status_shows_what_the_risk_step_did_with_the_last_decision(monkeypatch, tmp_path):
    from bot.config import Settings
    from bot.ops.state import BotState
    from bot.tick.status import build_status

    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    state.last_decisions = [
        Decision(coin="BTC", action=Action.SELL, confidence=0.8, reasoning="4h down"),
        Decision(coin="ETH", action=Action.HOLD, confidence=0.5, reasoning="flat"),
    ]
    state.last_verdicts = [
        RiskVerdict(
            coin="BTC",
            action=Action.SELL,
            verdict=Verdict.REJECTED,
            codes=[RiskCode.TOO_MANY_ENTRIES],
            reason="3 entries in the last hour",
        )
    ]
    status = build_status(state, settings=Settings(), state_file=tmp_path / "state.json", now=AT)
    buffer = io.StringIO()
    monkeypatch.setattr(views, "console", Console(file=buffer, width=200, highlight=False, markup=False))
    views.print_status(status)
    lines = [line for line in buffer.getvalue().splitlines() if line.startswith("last decision")]
    assert lines == [
        "last decision BTC SELL (0.80) · rejected: too_many_entries: 4h down",
        "last decision ETH HOLD (0.50): flat",
    ]
