"""The live broker: the real engine and the real ccxt against the fake Binance USD-M account;
entries, flips, reconciliation (closed by hand, opened outside the bot) and the journal."""

from __future__ import annotations

import json

import pytest

from bot.models import Action, Outcome
from bot.venues.history import HistoryMarket
from tests.conftest import NOW, data_dir
from tests.fakes.account import TAKER_FEE
from tests.venues.livekit import ENTRY, SL, TICK, TP, Bot, orders, posts

# -- issue 25: state and journal tell the same story after any kill ------------------------------


def _journal_fills(bot: Bot) -> list[str]:
    lines = bot.journal.path.read_text().splitlines() if bot.journal.path.exists() else []
    return [fill["client_order_id"] for line in lines for fill in json.loads(line)["fills"]]


class _KilledAfterSave(BaseException):
    pass


def test_entry_is_a_market_order_then_reduce_only_stop_and_take_profit(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    price = fake.price("BTC")
    report = bot.tick(NOW)

    assert report.outcome is Outcome.OK, report.message
    assert orders(fake) == [(ENTRY, "MARKET", "FILLED"), (SL, "STOP_MARKET", "NEW"), (TP, "TAKE_PROFIT_MARKET", "NEW")]
    entry, stop, take = fake.account.orders
    # sizing: 10 % of 10,000 USDT x 3 = 3,000 USDT notional at the snapshot price, floored to 0.001 BTC
    assert entry.quantity == 0.028 and entry.side == "BUY" and not entry.reduce_only
    assert (stop.side, stop.quantity, stop.reduce_only, stop.trigger_price) == (
        "SELL",
        0.028,
        True,
        round(price * 0.98, 1),
    )
    assert (take.side, take.quantity, take.reduce_only, take.trigger_price) == (
        "SELL",
        0.028,
        True,
        round(price * 1.04, 1),
    )
    assert fake.account.margin_type["BTC"] == "ISOLATED" and fake.account.leverage["BTC"] == 3

    [fill] = report.fills
    fee = 0.028 * price * TAKER_FEE
    assert fill.price == pytest.approx(price, abs=1e-6) and fill.fee_usd == pytest.approx(fee, abs=1e-9)
    assert fill.client_order_id == ENTRY and fill.reason == "decision"
    state = bot.state()
    assert state.pending_intents == []
    position = state.positions["BTC"]
    assert (position.stop_order_id, position.take_profit_order_id, position.amount) == (SL, TP, 0.028)
    assert state.cash_usd == pytest.approx(10_000 - fee, abs=1e-6)
    assert state.exchange.disagreements(state.positions) == []
    assert state.mode == "live" and report.mode == "live"


def test_killed_after_a_close_was_sent_the_next_tick_books_it_and_sends_nothing(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    bot.strategy.action = Action.CLOSE
    fake.set_price("BTC", 106_000.0)
    assert bot.tick(NOW + TICK, kill_at="close_sent") is None
    assert (
        fake.account.positions["BTC"].amount == 0 and len(fake.account.open_algo("BTC")) == 2
    )  # closed; stops not yet cancelled

    report = bot.tick(NOW + 2 * TICK)

    closes = [(o.client_id, o.status) for o in fake.account.orders if o.client_id.endswith("-close")]
    assert closes == [("bot-250603T1203-BTC-close", "FILLED")]  # sent once
    [fill] = report.fills
    assert (fill.reason, fill.price, fill.client_order_id) == ("decision", 106_000.0, "bot-250603T1203-BTC-close")
    assert orders(fake, "250603T1200-BTC-")[1:] == [
        (SL, "STOP_MARKET", "CANCELED"),
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
    ]
    assert bot.state().positions == {} and bot.state().pending_intents == []
    assert bot.state().cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)


def test_a_flip_closes_the_long_then_opens_a_protected_short(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    bot.strategy.action = Action.SELL
    report = bot.tick(NOW + TICK)

    assert [(f.reduce_only, f.side) for f in report.fills] == [(True, "long"), (False, "short")]
    later = [
        (o.client_id.removeprefix("bot-250603T1203-BTC-"), o.side, o.type, o.status)
        for o in fake.account.orders
        if "T1203" in o.client_id
    ]
    assert [row for row in later if row[2] == "MARKET"] == [
        (report.fills[0].client_order_id.removeprefix("bot-250603T1203-BTC-"), "SELL", "MARKET", "FILLED"),
        ("entry", "SELL", "MARKET", "FILLED"),
    ]
    assert sorted(row for row in later if row[2] != "MARKET") == [
        ("sl", "BUY", "STOP_MARKET", "NEW"),
        ("tp", "BUY", "TAKE_PROFIT_MARKET", "NEW"),
    ]
    assert orders(fake, "250603T1200-BTC-")[1:] == [
        (SL, "STOP_MARKET", "CANCELED"),
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
    ]
    assert fake.account.positions["BTC"].amount < 0 and bot.state().positions["BTC"].side == "short"
    assert bot.state().exchange.disagreements(bot.state().positions) == []


def test_gh16_6_a_flip_whose_close_is_rejected_sends_no_entry(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    long = bot.state().positions["BTC"]
    bot.strategy.action = Action.SELL
    fake.inject("insufficient_margin", path="/fapi/v1/order", method="POST", times=1)  # the close leg
    report = bot.tick(NOW + TICK)
    assert report.fills == [] and report.outcome is Outcome.DEGRADED
    # one market order this tick, the refused close: the short entry never went out
    assert [row for row in orders(fake, "250603T1203-BTC-") if row[1] == "MARKET"] == []
    assert posts(fake, "/fapi/v1/order") == 2  # tick 1's entry, tick 2's refused close
    assert fake.account.positions["BTC"].amount == pytest.approx(long.amount)  # still the long, on both sides
    state = bot.state()
    assert state.positions["BTC"].side == "long" and state.positions["BTC"].amount == long.amount
    assert [c.kind for c in report.corrections] == ["rejected", "error"]
    assert (
        report.corrections[1].message
        == "bot-250603T1203-BTC-entry not sent: the long it was to replace is still open (its close did not fill)"
    )
    assert state.exchange.disagreements(state.positions) == []


def test_a_position_closed_by_hand_is_booked_and_its_stops_cancelled(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    fake.set_price("BTC", 106_000.0)
    fake.account.close_by_hand("BTC")

    report = bot.tick(NOW + TICK)

    assert orders(fake, "250603T1200") == [
        (ENTRY, "MARKET", "FILLED"),
        (SL, "STOP_MARKET", "CANCELED"),
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
    ]
    [closed] = [f for f in report.fills if f.reduce_only]
    assert (closed.reason, closed.price) == ("reconcile", 106_000.0)
    alert = [c for c in report.corrections if c.kind == "position_closed"][0]
    assert alert.alert and "closed outside the bot" in alert.message
    assert report.outcome is Outcome.DEGRADED


def test_bot_close_sends_a_reduce_only_market_order_at_the_next_tick_and_journals_it_manual(tmp_path, fake):
    """`bot close BTC` on a live account (request_close over the same var/ folder): the next tick's
    CLOSE takes the broker's normal close path, a reduce-only MARKET order, then cancels the stops."""
    from bot.ops.control import request_close
    from tests.venues.livekit import live_settings

    base = live_settings(fake)
    settings = base.model_copy(update={"paths": base.paths.model_copy(update={"var_dir": tmp_path})})  # var/ = tmp
    bot = Bot(tmp_path, fake, settings=settings)
    bot.tick(NOW)  # the scripted strategy buys 0.028 BTC
    state = request_close(settings, replay=False, coin="btc", reason="news", now=NOW + TICK)
    assert state.close_requested == {"BTC": "news"} and bot.state().close_requested == {"BTC": "news"}
    assert orders(fake, "-close") == []  # recorded only: nothing sent before the tick
    fake.set_price("BTC", 106_000.0)

    report = bot.tick(NOW + TICK)  # the strategy says BUY again: the request replaces it

    [close] = [o for o in fake.account.orders if o.client_id.endswith("-close")]
    assert (close.client_id, close.type, close.side, close.quantity, close.reduce_only, close.status) == (
        "bot-250603T1203-BTC-close",
        "MARKET",
        "SELL",
        0.028,
        True,
        "FILLED",
    )
    assert orders(fake, "250603T1200-BTC-")[1:] == [
        (SL, "STOP_MARKET", "CANCELED"),
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
    ]
    [fill] = report.fills
    assert (fill.reason, fill.reduce_only, fill.amount, fill.price) == ("manual", True, 0.028, 106_000.0)
    assert [(d.coin, d.action, d.reasoning) for d in report.decisions] == [("BTC", "CLOSE", "closed by hand: news")]
    after = bot.state()
    assert after.positions == {} and after.close_requested == {} and after.closed_trades[-1].exit_reason == "manual"
    [line] = bot.journal.path.read_text().splitlines()[-1:]
    assert [f["reason"] for f in json.loads(line)["fills"]] == ["manual"]


def test_when_reconciliation_fails_nothing_is_sent(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    fake.inject("503", path="/fapi/v3/positionRisk")
    report = bot.tick(NOW)
    assert report.outcome is not Outcome.OK and "ExchangeNotAvailable" in report.message
    assert fake.account.orders == [] and posts(fake, "/fapi/v1/order") == 0
    assert bot.state().positions == {} and bot.state().pending_intents == []


def test_a_fill_saved_to_state_by_a_killed_tick_reaches_the_journal_and_the_risk_memory_once(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    assert (
        bot.tick(NOW, kill_at="stop_saved") is None
    )  # the entry is booked in state.json, the tick's journal line never written
    assert _journal_fills(bot) == [] and bot.state().risk.entries == []

    report = bot.tick(NOW + TICK)

    assert [f.client_order_id for f in report.fills] == [ENTRY]
    assert "1 fill(s) booked by a run killed before its journal line: recorded now" in report.message
    assert bot.state().risk.entries == [NOW]  # max_entries_per_hour sees the killed tick's entry
    bot.tick(NOW + 2 * TICK)
    assert _journal_fills(bot) == [ENTRY] and bot.state().risk.entries == [NOW]  # once, not again
    assert bot.state().booked_fills == []


def test_killed_between_the_state_save_and_the_journal_line_the_next_tick_writes_the_fill_once(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    append = bot.journal.append

    def killed(report):
        bot.journal.append = append
        raise _KilledAfterSave

    bot.journal.append = killed
    with pytest.raises(_KilledAfterSave):
        bot.tick(NOW)
    assert _journal_fills(bot) == [] and bot.state().risk.entries == [NOW]  # counted in the state that was saved

    report = bot.tick(NOW + TICK)

    assert [f.client_order_id for f in report.fills] == [ENTRY]
    assert bot.state().risk.entries == [NOW]  # not counted twice
    bot.tick(NOW + 2 * TICK)
    assert _journal_fills(bot) == [ENTRY]


def test_a_position_opened_outside_the_bot_is_adopted_and_protected_by_the_rules_atr_stop(tmp_path, fake):
    """Issue 25: adopted positions are not left for a human; the stop is the one the risk step
    derives for an entry without one: risk.stop_atr (1.5) 4h ATR14s below the tick's price."""
    import pandas as pd
    from ta.volatility import AverageTrueRange

    fake.account.open_by_hand("ETH", "BUY", 0.5)
    bot = Bot(tmp_path, fake)
    report = bot.tick(NOW)

    market = HistoryMarket(data_dir()).snapshot_at(["ETH"], NOW).coins["ETH"]  # what the tick saw
    high, low, close = (pd.Series(market.candles_4h[:, i]) for i in (2, 3, 4))
    atr = (
        AverageTrueRange(high=high, low=low, close=close, window=14).average_true_range().iloc[-1]
    )  # ta itself, the oracle
    stop = market.last_price - 1.5 * atr
    [adopted] = [c for c in report.corrections if c.kind == "position_adopted"]
    assert adopted.alert and adopted.message.startswith(
        "a long 0.5 opened outside the bot: adopted with a stop-loss at "
    )
    [order] = [o for o in fake.account.open_algo("ETH")]
    assert (order.type, order.side, order.quantity, order.reduce_only) == ("STOP_MARKET", "SELL", 0.5, True)
    assert order.trigger_price == pytest.approx(stop, abs=0.01)  # ETH's tick size
    held = bot.state().positions["ETH"]
    assert (held.stop_loss, held.stop_order_id) == (order.trigger_price, order.client_id)

    bot.tick(NOW + TICK)  # protected: the next tick sends nothing for it
    assert [o.client_id for o in fake.account.orders if o.symbol == "ETHUSDT" and o.client_id.startswith("bot-")] == [
        order.client_id
    ]
    assert order.status == "NEW"
