"""The trade memory Claude reads: a full close becomes a trade with its net PnL and the entry's
reasoning, only trades closed before now, the last n within a token cap."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.models import Action, Fill, FillReason, Position, Side
from bot.ops.state import ClosedTrade
from bot.strategies.claude import ClaudeStrategy
from bot.tick.memory import HEADER, closed_trades, memory_text
from tests.fakes.anthropic import tool_call
from tests.strategies.claudekit import NOW

# -- the trade memory ---------------------------------------------------------------------------------

OPENED = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def _position(**changes):
    base = {
        "coin": "BTC",
        "symbol": "BTC/USDT:USDT",
        "side": Side.LONG,
        "amount": 0.1,
        "entry_price": 100_000.0,
        "leverage": 2,
        "margin_usd": 5_000.0,
        "opened_at": OPENED,
        "funding_usd": -1.5,
    }
    return Position(**{**base, **changes})


def _trade(hour: int) -> ClosedTrade:
    return ClosedTrade(
        coin="ETH",
        side=Side.SHORT,
        amount=1,
        entry_price=2500,
        exit_price=2450,
        opened_at=OPENED,
        closed_at=OPENED + timedelta(hours=hour),
        net_pnl_usd=47.5,
        exit_reason="decision",
        reasoning="r",
    )


def test_a_full_close_becomes_a_trade_with_its_net_pnl_and_entry_reasoning():
    exit_fill = Fill(
        coin="BTC",
        side=Side.LONG,
        amount=0.1,
        price=102_000.0,
        fee_usd=5.1,
        realized_pnl_usd=200.0,
        reduce_only=True,
        reason=FillReason.TAKE_PROFIT,
        client_order_id="x",
        at=OPENED + timedelta(hours=2, minutes=30),
    )
    [trade] = closed_trades(
        {"BTC": _position()}, {}, [exit_fill], reasons={"BTC": "breakout above the 4h range"}, fee_rate=0.0005
    )
    # 200 realized - 5.10 exit fee - 100,000 x 0.1 x 0.05 % = 5.00 entry fee - 1.50 funding paid = 188.40
    assert trade.net_pnl_usd == pytest.approx(188.4, abs=1e-9)
    assert (trade.exit_price, trade.exit_reason, trade.reasoning) == (
        102_000.0,
        "take_profit",
        "breakout above the 4h range",
    )
    partial = exit_fill.model_copy(update={"amount": 0.05})
    assert (
        closed_trades({"BTC": _position()}, {"BTC": _position(amount=0.05)}, [partial], reasons={}, fee_rate=0.0005)
        == []
    )
    text = memory_text([trade], now=OPENED + timedelta(hours=3), limit=10, max_tokens=600)
    assert text == (
        f"{HEADER}\nBTC long 06-03 09:00 -> 06-03 11:30 (2h30m) 100000 -> 102000 | net +188.40 USDT | exit take_profit "
        '| reasoning at entry: "breakout above the 4h range"'
    )
    usdc = memory_text([trade], now=OPENED + timedelta(hours=3), limit=10, max_tokens=600, quote="USDC")
    assert usdc == text.replace("+188.40 USDT", "+188.40 USDC")  # a USDC account (Hyperliquid) in its currency


def test_the_memory_shows_only_trades_closed_before_now_the_last_n_within_its_token_cap():
    trades = [_trade(hour) for hour in range(1, 6)]  # closed 10:00 .. 14:00
    at_noon = memory_text(trades, now=datetime(2025, 6, 3, 12, 0, tzinfo=UTC), limit=10, max_tokens=600)
    assert at_noon.count("\nETH short") == 2  # 10:00 and 11:00; 12:00 is not before noon
    assert memory_text(trades, now=datetime(2025, 6, 4, tzinfo=UTC), limit=3, max_tokens=600).count("\nETH short") == 3
    line = memory_text(trades[:1], now=datetime(2025, 6, 4, tzinfo=UTC), limit=1, max_tokens=600)
    two_lines_tokens = math.ceil((len(line) + 1 + len(line.split("\n")[1])) / 4)
    capped = memory_text(trades, now=datetime(2025, 6, 4, tzinfo=UTC), limit=10, max_tokens=two_lines_tokens)
    assert capped.count("\nETH short") == 2 and capped.endswith(
        '14:00 (5h00m) 2500 -> 2450 | net +47.50 USDT | exit decision | reasoning at entry: "r"'
    )
    assert memory_text(trades, now=datetime(2025, 6, 4, tzinfo=UTC), limit=0, max_tokens=600) == ""


def test_claude_sees_the_trade_it_closed_with_the_reasoning_it_gave(fake_anthropic):
    from bot.tick.engine import TickContext, run_tick
    from bot.venues.history import HistoryMarket
    from bot.venues.paper import PaperBroker
    from tests.fakes.memory import MemoryJournal, MemoryStore

    settings = Settings(
        trading={"coins": ["BTC", "ETH"]},
        llm={"model": "claude-sonnet-5-5", "base_url": fake_anthropic.url, "retries": 0},
    )
    ctx = TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=HistoryMarket(),
        strategy=ClaudeStrategy(settings.llm, api_key="sk-test"),
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
    )
    btc = HistoryMarket().snapshot_at(["BTC"], NOW).coins["BTC"].last_price
    buy = {
        "coin": "BTC",
        "action": "BUY",
        "confidence": 0.8,
        "size_pct": 10,
        "leverage": 2,
        "stop_loss": btc * 0.9,
        "take_profit": btc * 1.2,
        "reasoning": "momentum turning up",
    }
    close = {"coin": "BTC", "action": "CLOSE", "confidence": 0.9, "reasoning": "momentum gone"}
    fake_anthropic.script(
        tool_call({"decisions": [buy]}), tool_call({"decisions": [close]}), tool_call({"decisions": []})
    )
    for minutes in (0, 3, 6):
        report = asyncio.run(run_tick(ctx, NOW + timedelta(minutes=minutes)))
        assert report.outcome == "ok", report.message
    systems = [request.body["system"] for request in fake_anthropic.requests]
    assert systems[0] == systems[1] == systems[2]  # the system prompt never holds the memory: the same bytes
    contents = [request.body["messages"][0]["content"] for request in fake_anthropic.requests]
    assert isinstance(contents[0], str) and isinstance(contents[1], str)  # no closed trade yet
    memory_block, data_block = contents[2]  # the memory block from the third tick, first in the user message
    assert memory_block["cache_control"] == {"type": "ephemeral"} and data_block["text"].startswith("Time ")
    memory = memory_block["text"]
    [trade] = ctx.store.state.closed_trades
    assert memory == f"{HEADER}\n" + (
        f"BTC long 06-03 12:00 -> 06-03 12:03 (3m) {trade.entry_price:.6g} -> {trade.exit_price:.6g} | net "
        f"{trade.net_pnl_usd:+.2f} USDT "
        '| exit decision | reasoning at entry: "momentum turning up"'
    )
    assert ctx.store.state.entry_reasons == {} and report.decisions == []
    assert Action.CLOSE  # the close was Claude's decision, traded by the paper broker
