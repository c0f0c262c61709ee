"""The chat's texts (bot/chat/replies.py) from the status model: what an owner reads on a phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.chat import replies
from bot.config import Settings
from bot.ops.state import PausedBy, StateStore
from bot.tick.status import build_status
from tests.chat.chatkit import T0, account

NOW = T0 + timedelta(minutes=9)


def _report(tmp_path, **changes):
    state_file = account(tmp_path)
    state = StateStore(state_file).load()
    for name, value in changes.items():
        setattr(state, name, value)
    return build_status(state, settings=Settings(base_dir=tmp_path), state_file=state_file, now=NOW)


def test_status_of_a_running_account(tmp_path):
    assert replies.status_text(_report(tmp_path)) == (
        "bot replay: running\n"
        "last tick 3 at 2025-06-02 12:06 UTC, ok\n"
        "next tick 2025-06-02 12:09 UTC\n"
        "equity 10,058.54 USDT (+0.59%), uPnL +10.00, 1 position(s)\n"
        "LLM today 0.00 of 10.00 USD"  # llm.max_usd_per_day's default
    )


def test_status_says_paused_by_whom_stopping_and_backing_off_first(tmp_path):
    paused = _report(tmp_path, paused=True, paused_by=PausedBy.AUTO, pause_reason="5 failed ticks in a row")
    assert (
        replies.status_text(paused).splitlines()[0] == "bot replay: PAUSED by the bot itself: 5 failed ticks in a row"
    )


def test_status_when_stopping(tmp_path):
    stopping = _report(tmp_path, paused=True, stop_requested=True, pause_reason="stopped from Telegram")
    assert replies.status_text(stopping).splitlines()[0] == (
        "bot replay: STOPPING: every position closes at the next tick (stopped from Telegram)"
    )


def test_status_when_backing_off(tmp_path):
    backing = _report(tmp_path, consecutive_errors=2, backoff_until=NOW + timedelta(minutes=2))
    assert replies.status_text(backing).splitlines()[0] == (
        "bot replay: BACKING OFF until 2025-06-02 12:11 UTC after 2 failed tick(s)"
    )


def test_profit_without_closes_and_without_positions(tmp_path):
    report = _report(tmp_path, positions={})
    assert replies.positions_text(report) == "no open positions"
    opened = {"action": "open", "coin": "BTC", "realized_pnl_usd": 0.0}
    assert replies.profit_text(report, [])[-len("closed trades: none yet") :] == "closed trades: none yet"
    assert replies.profit_text(report, [opened]) == (
        "equity 10,058.54 USDT, +0.59% since the start (10,000.00)\n"
        "realized +50.00 · fees 1.46 · funding +0.00 · unrealized +0.00 USDT\n"
        "max drawdown 0.00% · Sharpe needs 480 more ticks\n"  # SHARPE_MIN_RETURNS, no return counted yet
        "closed trades: none in the last 1 fill(s)"
    )


def test_a_long_list_drops_the_oldest_lines_and_says_how_many():
    lines = [f"{n:04d} " + "x" * 95 for n in range(100)]  # 100 lines of 100 characters
    text = replies.cut(lines)
    assert len(text) <= replies.MAX_CHARS
    shown = text.splitlines()
    assert shown[0] == "(60 older not shown)" and shown[1].startswith("0060 ") and shown[-1].startswith("0099 ")
    assert replies.trades_text([]) == "no trades yet"
    assert replies.cut(["one", "two"]) == "one\ntwo"


def test_times_are_utc(tmp_path):
    assert replies._when(datetime(2025, 6, 2, 12, 6, tzinfo=UTC)) == "2025-06-02 12:06 UTC"
    assert replies._when(None) == "-"
