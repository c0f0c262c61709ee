"""Live trading: the real engine and the real ccxt against the fake Binance USD-M account.

Each test reads as a timeline of ticks. A kill is simulated at a named point of the
broker: the hook copies state.json as it is on disk at that moment and raises; the test
puts that copy back (everything the process had only in memory is lost, as with
``kill -9``) and runs the next tick. Assertions are on the fake's order log.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import LIVE_CONFIRMATION, Settings
from bot.models import Action, Decision, Outcome
from bot.ops.state import Journal, StateStore
from bot.tick.engine import TickContext, run_tick
from bot.venues.ccxt_broker import CcxtBroker, SimulatedCrash
from bot.venues.history import HistoryMarket
from tests.conftest import NOW, data_dir, run_bot
from tests.fakes.account import TAKER_FEE
from tests.fakes.exchange import FakeExchange

COINS = ["BTC", "ETH"]
TICK = timedelta(minutes=3)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture
def fake():
    with FakeExchange(data_dir(), now=NOW, coins=("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")) as server:
        yield server


def live_settings(fake: FakeExchange, *, allow_adding: bool = False, **live) -> Settings:
    return Settings(
        enable_trading=True,
        exchange={"api_url": fake.url, "timeout_ms": 2000, "retries": 1},
        trading={"coins": COINS},
        risk={"allow_adding": allow_adding},  # so the insisting strategy's repeated BUY is refused, unless a test adds
        live={"confirm": LIVE_CONFIRMATION, **live},
        exchange_api_key="test-key",
        exchange_secret="test-secret",
    )


class Scripted:
    """BUY BTC with a 2 % stop and a 4 % take-profit every tick, like a strategy that insists
    (``action`` can be changed between ticks). Its levels follow the exchange's price (a test
    may have moved it away from the recorded candles)."""

    name = "scripted"
    trace = None  # free: nothing to account

    def __init__(self, price) -> None:
        self.price = price
        self.action = Action.BUY

    async def decide(self, *, features, portfolio, prompt):
        price, sign = self.price(), (-1 if self.action is Action.SELL else 1)
        return [
            Decision(
                coin="BTC",
                action=self.action,
                confidence=0.9,
                size_pct=10,
                leverage=3,
                stop_loss=price * (1 - sign * 0.02),
                take_profit=price * (1 + sign * 0.04),
            )
        ]


class Bot:
    """One live bot on disk: run ticks, optionally killed at a named point."""

    def __init__(
        self, folder: Path, fake: FakeExchange, *, settings: Settings | None = None, market=None, **options
    ) -> None:
        self.fake = fake
        self.settings = settings or live_settings(fake, **options)
        self.market = market or HistoryMarket(data_dir())
        self.store = StateStore(folder / "state.json")
        self.journal = Journal(folder / "journal.jsonl")
        self.strategy = Scripted(lambda: fake.price("BTC"))

    def tick(self, now: datetime, *, kill_at: str | None = None):
        self.fake.now_ms = int(now.timestamp() * 1000)
        on_disk: dict[str, bytes] = {}

        def checkpoint(name: str) -> None:
            if name == kill_at:
                on_disk["state"] = self.store.path.read_bytes()
                on_disk["journal"] = self.journal.path.read_bytes() if self.journal.path.exists() else b""
                raise SimulatedCrash(name)

        broker = CcxtBroker(self.settings, save=self.store.save, checkpoint=checkpoint)
        ctx = TickContext(
            settings=self.settings,
            mode="live",
            dry_run=False,
            market=self.market,
            strategy=self.strategy,
            broker=broker,
            store=self.store,
            journal=self.journal,
        )

        async def main():
            try:
                return await run_tick(ctx, now)
            finally:
                await broker.aclose()

        try:
            return asyncio.run(main())
        except SimulatedCrash:
            self.store.path.write_bytes(on_disk["state"])  # the process died: only what was on disk survives
            self.journal.path.write_bytes(on_disk["journal"])
            self.store.backup.unlink(missing_ok=True)
            return None

    def state(self):
        return self.store.load()


def orders(fake: FakeExchange, client_id_part: str = "") -> list[tuple[str, str, str]]:
    return [(o.client_id, o.type, o.status) for o in fake.account.orders if client_id_part in o.client_id]


def posts(fake: FakeExchange, path: str) -> int:
    return sum(r.method == "POST" and r.path == path for r in fake.requests)


ENTRY = "bot-250603T1200-BTC-entry"
SL, TP = "bot-250603T1200-BTC-sl", "bot-250603T1200-BTC-tp"


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


def test_a_stop_loss_fill_cancels_the_orphan_take_profit_and_books_the_loss(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    entry_price = fake.price("BTC")
    bot.tick(NOW)
    fake.set_price("BTC", 102_000.0)  # below the stop at 98 %: the exchange fills it between ticks

    report = bot.tick(NOW + TICK)

    assert orders(fake, "250603T1200") == [
        (ENTRY, "MARKET", "FILLED"),
        (SL, "STOP_MARKET", "FINISHED"),
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
    ]
    [fill] = [f for f in report.fills if f.reduce_only]
    assert (fill.reason, fill.price, fill.amount) == ("stop_loss", 102_000.0, 0.028)
    assert fill.realized_pnl_usd == pytest.approx((102_000.0 - entry_price) * 0.028, abs=1e-6)
    assert fill.fee_usd == pytest.approx(102_000.0 * 0.028 * TAKER_FEE, abs=1e-9)
    kinds = [c.kind for c in report.corrections]
    assert "position_closed" in kinds and "orphan_cancelled" in kinds
    state = bot.state()
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
    # the stop-out reached the risk step: the strategy's new BUY waits out the cooldown
    assert [str(code) for code in report.verdicts[0].codes] == ["cooldown"]
    assert orders(fake, "250603T1203") == []


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


def test_killed_after_the_stop_was_saved_the_next_tick_places_it(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW, kill_at="stop_saved")
    assert orders(fake) == [(ENTRY, "MARKET", "FILLED")]
    state = bot.state()
    assert "BTC" in state.positions and [i.kind for i in state.pending_intents] == ["stop_loss"]

    report = bot.tick(NOW + TICK)

    assert orders(fake, "-sl") == [("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW")]
    assert posts(fake, "/fapi/v1/order") == 1
    assert bot.state().pending_intents == [] and report.outcome is Outcome.OK


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


def test_an_add_grows_the_position_and_replaces_its_stops_with_ones_for_the_whole_size(tmp_path, fake):
    bot = Bot(tmp_path, fake, allow_adding=True)
    first = fake.price("BTC")
    bot.tick(NOW)
    fake.set_price("BTC", 105_500.0)
    report = bot.tick(NOW + TICK)

    [add] = report.fills
    assert (add.client_order_id, add.price) == ("bot-250603T1203-BTC-add", 105_500.0)
    position = bot.state().positions["BTC"]
    assert position.amount == pytest.approx(0.028 + add.amount, abs=1e-12)
    assert position.entry_price == pytest.approx((0.028 * first + add.amount * 105_500.0) / position.amount, rel=1e-12)
    assert position.entry_tick_id == "250603T1203"  # a re-run of this tick opens nothing more
    assert orders(fake, "-sl") == [(SL, "STOP_MARKET", "CANCELED"), ("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW")]
    assert orders(fake, "-tp") == [
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
        ("bot-250603T1203-BTC-tp", "TAKE_PROFIT_MARKET", "NEW"),
    ]
    assert {o.quantity for o in fake.account.open_algo("BTC")} == {position.amount}
    assert bot.state().exchange.disagreements(bot.state().positions) == []


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


def test_a_stop_that_cannot_be_placed_closes_the_position_and_alerts(tmp_path, fake):
    bot = Bot(tmp_path, fake, stop_attempts=3)
    fake.inject("precision", path="/fapi/v1/algoOrder", method="POST")
    report = bot.tick(NOW)

    assert posts(fake, "/fapi/v1/algoOrder") == 3  # tried live.stop_attempts times
    assert orders(fake) == [(ENTRY, "MARKET", "FILLED"), ("bot-250603T1200-BTC-exit", "MARKET", "FILLED")]
    assert fake.account.positions["BTC"].amount == 0
    assert [f.reason for f in report.fills] == ["decision", "stop_failed"]
    assert report.outcome is Outcome.DEGRADED and "stop-loss could not be placed after 3 tries" in report.message
    state = bot.state()
    assert state.positions == {} and state.pending_intents == []


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


def test_a_missing_stop_is_placed_again(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    fake.account.orders[1].status = "CANCELED"  # the owner cancelled the stop in the app
    report = bot.tick(NOW + TICK)
    assert orders(fake, "-sl") == [(SL, "STOP_MARKET", "CANCELED"), ("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW")]
    assert [c.kind for c in report.corrections if c.kind == "stop_replaced"] == ["stop_replaced"]
    assert bot.state().positions["BTC"].stop_order_id == "bot-250603T1203-BTC-sl"


def test_a_network_error_on_the_entry_is_retried_once_after_checking_it_did_not_land(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    fake.inject("503", path="/fapi/v1/order", method="POST", times=1)
    report = bot.tick(NOW)
    assert posts(fake, "/fapi/v1/order") == 2
    assert [r.method for r in fake.requests if r.path == "/fapi/v1/order"] == ["POST", "GET", "POST"]
    assert orders(fake, "entry") == [(ENTRY, "MARKET", "FILLED")]
    assert report.outcome is Outcome.OK


# -- the CLI, as cron runs it ------------------------------------------------------------------


@pytest.fixture
def live_fake():
    with FakeExchange(data_dir(), now=datetime(2025, 6, 3, 12, 0, tzinfo=UTC), follow_wall_clock=True) as server:
        yield server


def _live_env(fake, **extra):
    return {
        "BOT_EXCHANGE__API_URL": fake.url,
        "BOT_ENABLE_TRADING": "true",
        "BOT_LIVE__CONFIRM": LIVE_CONFIRMATION,
        "EXCHANGE_API_KEY": "test-key",
        "EXCHANGE_SECRET": "test-secret",
        **extra,
    }


def test_cli_live_tick_says_live_first_and_status_shows_the_exchange(project, live_fake):
    result = run_bot("tick", cwd=project, env=_live_env(live_fake))
    assert result.returncode in (0, 4), result.stderr
    assert result.stdout.startswith("LIVE tick 1 · ")
    status = run_bot("status", cwd=project, env=_live_env(live_fake))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("mode LIVE")
    assert "state agrees with the exchange" in status.stdout
    data = json.loads(run_bot("status", "--json", cwd=project, env=_live_env(live_fake)).stdout)
    assert data["disagreements"] == [] and data["pending_orders"] == []
    assert data["exchange"]["cash_usd"] == pytest.approx(live_fake.account.wallet_usd)
    # dry-run always wins: no order is sent, and the live account is not touched by the paper broker
    before = len(live_fake.account.orders)
    dry = run_bot("tick", "--dry-run", cwd=project, env=_live_env(live_fake))
    assert dry.returncode == 2 and "holds the live account" in dry.stderr
    assert len(live_fake.account.orders) == before
    for path in (project / "var").rglob("*"):
        if path.is_file():
            assert "test-secret" not in path.read_text(errors="replace"), path


@pytest.mark.parametrize(
    "env", [{"EXCHANGE_SECRET": "wrong-secret"}, {"EXCHANGE_API_KEY": "wrong-key"}]
)  # -1022, -2015
def test_cli_wrong_keys_stop_with_one_line_and_exit_2(project, live_fake, env):
    result = run_bot("tick", cwd=project, env=_live_env(live_fake, **env))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: the exchange rejected the API keys (AuthenticationError): check EXCHANGE_API_KEY"
    )
    assert "wrong-" not in result.stderr + result.stdout
    assert live_fake.account.orders == []
    assert not (project / "var" / "journal.jsonl").exists()


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


def test_status_names_every_disagreement_between_state_and_exchange():
    from bot.exchange_models import ExchangeOrder, ExchangePosition, ExchangeView
    from bot.models import Position, Side

    def position(coin, amount, stop_id):
        return Position(
            coin=coin,
            symbol=f"{coin}/USDT:USDT",
            side=Side.LONG,
            amount=amount,
            entry_price=10,
            leverage=2,
            margin_usd=5,
            opened_at=NOW,
            stop_loss=9,
            stop_order_id=stop_id,
        )

    view = ExchangeView(
        as_of=NOW,
        cash_usd=100,
        equity_usd=100,
        positions=[
            ExchangePosition(coin="BTC", side=Side.LONG, amount=1, entry_price=10),
            ExchangePosition(coin="ETH", side=Side.LONG, amount=2, entry_price=10),
            ExchangePosition(coin="SOL", side=Side.SHORT, amount=3, entry_price=10),
        ],
        open_orders=[
            ExchangeOrder(
                client_order_id="bot-1-BTC-sl", coin="BTC", side="sell", kind="stop_loss", amount=1, trigger_price=9
            )
        ],
    )
    held = {
        "BTC": position("BTC", 1, "bot-1-BTC-sl"),
        "ETH": position("ETH", 1.5, "bot-1-ETH-sl"),
        "XRP": position("XRP", 4, None),
    }
    assert view.disagreements(held) == [
        "ETH: the bot holds long 1.5, the exchange long 2",
        "ETH: no open stop-loss order on the exchange",
        "XRP: the bot holds a long 4 the exchange does not show",
        "SOL: the exchange shows a short 3 the bot does not hold",
    ]
    assert view.disagreements({"BTC": held["BTC"]}) == [
        "ETH: the exchange shows a long 2 the bot does not hold",
        "SOL: the exchange shows a short 3 the bot does not hold",
    ]


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


def test_when_reconciliation_fails_nothing_is_sent(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    fake.inject("503", path="/fapi/v3/positionRisk")
    report = bot.tick(NOW)
    assert report.outcome is not Outcome.OK and "ExchangeNotAvailable" in report.message
    assert fake.account.orders == [] and posts(fake, "/fapi/v1/order") == 0
    assert bot.state().positions == {} and bot.state().pending_intents == []


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


# -- issue 25: state and journal tell the same story after any kill ------------------------------


def _journal_fills(bot: Bot) -> list[str]:
    lines = bot.journal.path.read_text().splitlines() if bot.journal.path.exists() else []
    return [fill["client_order_id"] for line in lines for fill in json.loads(line)["fills"]]


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


class _KilledAfterSave(BaseException):
    pass


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
