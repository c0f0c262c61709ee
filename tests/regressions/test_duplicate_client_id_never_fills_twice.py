"""A client order id the bot already sent is never sent again (issue 22): an exchange accepts an
id again once its order is no longer open, so a reused stop or take-profit id could fill twice."""

from __future__ import annotations

from datetime import timedelta

from bot.models import Action, CorrectionKind, Outcome
from tests.conftest import NOW
from tests.fakes.account import EntryAnswer
from tests.venues.livekit import ENTRY, SL, TICK, Bot, orders


def test_a_take_profit_placed_again_then_replaced_by_a_flip_never_reuses_its_client_id(tmp_path, fake):
    # Found by the 200-kill soak: reconciliation re-placed the missing take-profit as `tp`,
    # the flip in the same tick cancelled it and placed the short's take-profit as `tp` again.
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    fake.account.orders[2].status = "CANCELED"  # the take-profit is gone (cancelled in the app)
    bot.strategy.action = Action.SELL
    report = bot.tick(NOW + TICK)

    assert [(f.reduce_only, f.side) for f in report.fills] == [(True, "long"), (False, "short")]
    assert orders(fake, "T1203-BTC-tp") == [
        (
            "bot-250603T1203-BTC-tp",
            "TAKE_PROFIT_MARKET",
            "CANCELED",
        ),  # the long's, re-placed, then cancelled by the flip
        ("bot-250603T1203-BTC-tp2", "TAKE_PROFIT_MARKET", "NEW"),  # the short's
    ]
    ids = [o.client_id for o in fake.account.orders]
    assert len(ids) == len(set(ids)), ids
    assert bot.state().positions["BTC"].take_profit_order_id == "bot-250603T1203-BTC-tp2"
    assert bot.state().exchange.disagreements(bot.state().positions) == []


def test_gh22_a_same_minute_rerun_that_flips_never_reuses_a_stop_id_the_killed_run_sent(tmp_path, fake):
    """Found by the crash soak (seed 7): the killed 12:03 run re-placed the stop as
    bot-250603T1203-BTC-sl; its re-run in the same minute flipped the position, cancelled that
    stop and, knowing nothing of the ids the killed process sent, placed the short's stop under
    the same id. Binance accepts it (the first is no longer open): two orders, one id."""
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)  # long, protected by the 12:00 stop and take-profit
    [stop] = [o for o in fake.account.open_algo("BTC") if o.type == "STOP_MARKET"]
    stop.status = "CANCELED"  # gone by hand: 12:03 places it again
    assert bot.tick(NOW + TICK, kill_at="stop_sent") is None
    bot.strategy.action = Action.SELL  # the re-run in the same minute flips
    report = bot.tick(NOW + TICK + timedelta(seconds=20))

    ids = [o.client_id for o in fake.account.orders]
    assert len(ids) == len(set(ids)), ids
    assert [(o.client_id, o.status) for o in fake.account.orders if o.type == "STOP_MARKET"] == [
        (SL, "CANCELED"),
        ("bot-250603T1203-BTC-sl", "CANCELED"),
        ("bot-250603T1203-BTC-sl2", "NEW"),
    ]
    assert bot.state().positions["BTC"].stop_order_id == "bot-250603T1203-BTC-sl2" and report.outcome is Outcome.OK


def test_gh32_a_same_minute_rerun_never_sends_again_an_entry_id_that_ended_unfilled(tmp_path, fake):
    """Found by the Binance soak with asynchronous answers (issue 32, 100 kills, seed 2011):
    bot-250603T1403-BTC-entry sent twice. The entry was answered NEW and had filled nothing
    after its read-backs, so its rest was cancelled and the intent dropped; no position holds
    this tick's entry, so the re-run of the tick in its minute opened again under the same id,
    which Binance accepts once its order is no longer open: two entries for one decision."""
    bot = Bot(tmp_path, fake)
    fake.account.entry_answers[:] = [EntryAnswer(now=0.0, later=6)]  # NEW: fills 6 private requests later
    bot.tick(NOW)
    assert orders(fake, "-entry") == [(ENTRY, "MARKET", "CANCELED")]  # 3 read-backs, then its rest cancelled
    assert "BTC" not in bot.state().positions

    report = bot.tick(NOW + timedelta(seconds=20))  # the same tick id, the strategy buys again

    assert orders(fake, "-entry") == [(ENTRY, "MARKET", "CANCELED")]  # not sent a second time
    assert fake.account.positions.get("BTC") is None or fake.account.positions["BTC"].amount == 0
    assert bot.state().positions == {} and report.fills == []
    assert any(
        c.kind is CorrectionKind.DROPPED_INTENT
        and c.message
        == f"entry {ENTRY} not sent: an earlier run of this tick sent it (ended canceled, 0 filled); "
        "a re-run of a tick opens nothing more"
        for c in report.corrections
    ), report.corrections
