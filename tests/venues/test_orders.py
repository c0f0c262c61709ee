"""The live broker's order desk (write-ahead send, lookup): killed before or after sending, the
next tick sends nothing twice; rejections and network errors, with the real ccxt against
the fake Binance USD-M account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.models import Outcome
from tests.conftest import NOW
from tests.venues.livekit import ENTRY, TICK, Bot, orders, posts


def test_killed_between_sent_and_recorded_the_next_tick_adopts_the_fill_and_never_sends_it_again(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    assert bot.tick(NOW, kill_at="entry_sent") is None
    assert orders(fake) == [(ENTRY, "MARKET", "FILLED")]  # filled on the exchange, unprotected, unknown to state
    assert [i.client_order_id for i in bot.state().pending_intents] == [ENTRY]

    report = bot.tick(NOW + TICK)

    assert posts(fake, "/fapi/v1/order") == 1  # the entry was never sent twice
    assert orders(fake) == [
        (ENTRY, "MARKET", "FILLED"),
        ("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW"),
        ("bot-250603T1203-BTC-tp", "TAKE_PROFIT_MARKET", "NEW"),
    ]
    assert [c.kind for c in report.corrections][:1] == ["adopted_fill"]
    assert [f.client_order_id for f in report.fills] == [ENTRY]
    assert report.verdicts[0].verdict == "rejected"  # the insisting strategy: a position is already open
    state = bot.state()
    assert state.pending_intents == [] and state.positions["BTC"].stop_order_id == "bot-250603T1203-BTC-sl"


@pytest.mark.parametrize("rerun_after", [timedelta(seconds=20), timedelta(seconds=59)])
def test_killed_before_sent_the_entry_is_sent_once_when_the_same_tick_runs_again(tmp_path, fake, rerun_after):
    bot = Bot(tmp_path, fake)
    assert bot.tick(NOW, kill_at="entry_saved") is None
    assert orders(fake) == []
    assert [i.client_order_id for i in bot.state().pending_intents] == [ENTRY]

    report = bot.tick(NOW + rerun_after)  # the same tick id: this entry is still this tick's decision

    assert posts(fake, "/fapi/v1/order") == 1
    assert [o for o in orders(fake) if o[1] == "MARKET"] == [(ENTRY, "MARKET", "FILLED")]
    assert [c.kind for c in report.corrections][:1] == ["sent_pending"]
    assert bot.state().positions["BTC"].stop_order_id is not None and bot.state().pending_intents == []


@pytest.mark.parametrize(("rerun_after", "tick_id"), [(timedelta(seconds=60), "250603T1201"), (TICK, "250603T1203")])
def test_killed_before_sent_a_later_tick_drops_the_intent_and_the_strategy_decides_afresh(
    tmp_path, fake, rerun_after, tick_id
):
    """Issue 25: the rule is the tick id, not an age in seconds equal to the cron cadence, so
    start-up jitter cannot decide whether a three-minute-old entry is sent at its old price."""
    bot = Bot(tmp_path, fake)
    bot.tick(NOW, kill_at="entry_saved")
    report = bot.tick(NOW + rerun_after)
    assert [(c.kind, c.message) for c in report.corrections][:1] == [
        ("dropped_intent", f"entry {ENTRY} dropped: never reached the exchange, and a later tick decides afresh")
    ]
    assert [o for o in orders(fake) if o[1] == "MARKET"] == [(f"bot-{tick_id}-BTC-entry", "MARKET", "FILLED")]


def test_a_rejected_entry_is_not_retried_and_says_why(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    fake.inject("insufficient_margin", path="/fapi/v1/order", method="POST")
    report = bot.tick(NOW)
    assert posts(fake, "/fapi/v1/order") == 1
    assert orders(fake) == []
    assert report.outcome is Outcome.DEGRADED
    [correction] = report.corrections
    assert correction.kind == "rejected" and correction.alert
    assert (
        correction.message
        == f'entry {ENTRY} rejected: InsufficientFunds: binanceusdm {{"code": -2019, "msg": "Margin is insufficient."}}'
    )
    state = bot.state()
    assert state.positions == {} and state.pending_intents == [] and state.cash_usd == 10_000


def test_a_network_error_on_the_entry_is_retried_once_after_checking_it_did_not_land(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    fake.inject("503", path="/fapi/v1/order", method="POST", times=1)
    report = bot.tick(NOW)
    assert posts(fake, "/fapi/v1/order") == 2
    assert [r.method for r in fake.requests if r.path == "/fapi/v1/order"] == ["POST", "GET", "POST"]
    assert orders(fake, "entry") == [(ENTRY, "MARKET", "FILLED")]
    assert report.outcome is Outcome.OK


def test_an_unexpected_exchange_error_degrades_the_tick_and_the_next_run_settles_the_order(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    fake.inject("500", path="/fapi/v1/order", method="POST")  # OperationFailed: retried, then given up
    report = bot.tick(NOW)
    assert posts(fake, "/fapi/v1/order") == 2  # exchange.retries = 1
    assert report.outcome is Outcome.DEGRADED and [c.kind for c in report.corrections] == ["error"]
    assert [i.client_order_id for i in bot.state().pending_intents] == [ENTRY]  # its fate is unknown: kept

    fake.clear_faults()
    bot.tick(NOW + timedelta(seconds=30))
    assert [o for o in orders(fake) if o[1] == "MARKET"] == [(ENTRY, "MARKET", "FILLED")]
    assert bot.state().pending_intents == []


@pytest.mark.parametrize("point", ["entry_saved", "entry_sent", "stop_saved", "stop_sent"])
def test_killed_at_any_point_of_an_entry_the_next_tick_ends_with_one_protected_position(tmp_path, fake, point):
    bot = Bot(tmp_path, fake)
    assert bot.tick(NOW, kill_at=point) is None
    report = bot.tick(NOW + TICK)

    entries = [o for o in fake.account.orders if o.type == "MARKET"]
    # never sent: dropped by the later tick, whose own decision (the same BUY) opens under its own id
    entry = "bot-250603T1203-BTC-entry" if point == "entry_saved" else ENTRY
    assert [(o.client_id, o.status) for o in entries] == [(entry, "FILLED")]
    open_stops = sorted((o.type, o.quantity) for o in fake.account.open_algo("BTC"))
    assert open_stops == [("STOP_MARKET", 0.028), ("TAKE_PROFIT_MARKET", 0.028)]
    state = bot.state()
    assert state.pending_intents == [] and state.positions["BTC"].amount == 0.028
    assert {state.positions["BTC"].stop_order_id, state.positions["BTC"].take_profit_order_id} == {
        o.client_id for o in fake.account.open_algo("BTC")
    }
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
    assert state.exchange.disagreements(state.positions) == [] and report.outcome is Outcome.OK


def test_a_fee_unread_when_the_trades_fail_is_booked_at_the_next_settle_with_a_line_each_time(tmp_path, fake):
    """The entry's trades answer 500 twice (the read and its one retry): the fill is booked and
    protected from the order's answer at fee 0, the fee owed (a FEE intent, a journal line); the
    next tick reads it from the trades and books it: 0.028 x 105,289.9 x 0.05 % = 1.4740586."""
    import json

    from tests.fakes.account import TAKER_FEE

    bot = Bot(tmp_path, fake)
    fake.inject("500", path="/fapi/v1/userTrades", times=2)
    first = bot.tick(NOW)
    [fill] = first.fills
    assert (fill.client_order_id, fill.amount, fill.price, fill.fee_usd) == (ENTRY, 0.028, 105_289.9, 0.0)
    owed = f"fee of {ENTRY} unread: booked when it can be"
    assert [(c.kind, c.message) for c in first.corrections if c.coin == "BTC"] == [("balance", owed)]
    state = bot.state()
    assert [(i.kind, i.client_order_id) for i in state.pending_intents] == [("fee", ENTRY)]
    assert state.positions["BTC"].stop_order_id == "bot-250603T1200-BTC-sl" and state.fees_paid_usd == 0.0
    fee = 0.028 * 105_289.9 * TAKER_FEE
    assert fee == pytest.approx(1.4740586, abs=1e-9)
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd + fee, abs=1e-6)  # the exchange charged it

    second = bot.tick(NOW + TICK)
    read = f"fee {fee:.6g} of {ENTRY} read: booked"
    assert ("balance", read) in [(c.kind, c.message) for c in second.corrections]
    state = bot.state()
    assert state.pending_intents == [] and state.fees_paid_usd == pytest.approx(fee, abs=1e-9)
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
    assert bot.tick(NOW + 2 * TICK).corrections == []  # booked once
    journal = [json.loads(line) for line in bot.journal.path.read_text().splitlines()]
    said = [c["message"] for record in journal for c in record.get("corrections", [])]
    assert said.count(owed) == 1 and said.count(read) == 1
