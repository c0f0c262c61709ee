"""Venue profiles (bot/venues/profiles.py): client ids and funding intervals per venue; and the
live broker's crash points and order faults on each venue besides Binance."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.config import LIVE_CONFIRMATION, Settings
from bot.errors import ConfigError
from bot.models import Action, Decision, Outcome
from bot.venues.history import HistoryMarket
from bot.venues.profiles import is_bot_order, profile_for
from tests.conftest import NOW, data_dir
from tests.fakes.account import TAKER_FEE
from tests.fakes.bybit import FakeBybit
from tests.fakes.hyperliquid import AGENT, WALLET, FakeHyperliquid
from tests.venues.livekit import TICK, Bot

PRICE = 105_289.9  # BTC's last 3m close at NOW in the test market
AMOUNT = 0.028


class VenueHistory(HistoryMarket):
    """The recorded candles under the venue's symbol and rules (what its markets say)."""

    def __init__(self, venue: Venue) -> None:
        super().__init__(data_dir())
        self.venue = venue

    def info(self, coin):
        return (
            super()
            .info(coin)
            .model_copy(update={"symbol": f"{coin}/{self.venue.quote}:{self.venue.quote}", **self.venue.rules})
        )


@dataclass(frozen=True)
class Venue:
    id: str
    quote: str
    key: str
    secret: str
    rules: dict
    server: type = FakeHyperliquid
    orders_path: str = "/exchange"  # where the fake's order faults are injected

    def fake(self):
        return self.server(data_dir(), now=NOW, coins=("BTC", "ETH"))

    def cid(self, tick: str, leg: str) -> str:
        return profile_for(self.id).client_id(f"bot-{tick}-BTC-{leg}")

    def settings(self, fake, **live) -> Settings:
        return Settings(
            enable_trading=True,
            exchange={"id": self.id, "api_url": fake.url, "timeout_ms": 2000, "retries": 1},
            trading={"coins": ["BTC", "ETH"], "quote": self.quote},
            risk={"allow_adding": False},
            live={"confirm": LIVE_CONFIRMATION, **live},
            exchange_api_key=self.key,
            exchange_secret=self.secret,
        )


VENUES = {
    "hyperliquid": Venue(
        "hyperliquid", "USDC", WALLET, "0x" + "42" * 32, {"min_notional_usd": 10.0, "funding_interval_h": 1.0}
    ),
    "bybit": Venue("bybit", "USDT", "test-key", "test-secret", {}, FakeBybit, "/v5/order/create"),
}


@pytest.fixture(params=list(VENUES))
def venue(request):
    return VENUES[request.param]


@pytest.fixture
def fake(venue):
    with venue.fake() as server:
        yield server


def _bot(tmp_path, venue, fake, **options):
    return Bot(tmp_path, fake, settings=venue.settings(fake, **options), market=VenueHistory(venue))


def _orders(fake):
    return [(o.client_id, o.type, o.status) for o in fake.account.orders]


def _call(request) -> str:
    """Hyperliquid's info / action type; Bybit's path (an order's kind, a lookup's filter)."""
    if request.path.startswith("/v5/"):
        params = request.params
        words = [
            params.get("type") or params.get("orderFilter"),
            "by id" if "orderLinkId" in params and "type" not in params else None,
        ]
        if request.path == "/v5/position/list":
            words = [params.get("symbol")]
        return " ".join([request.path.removeprefix("/v5/"), *(w for w in words if w)])
    return request.params["type"]


# What ccxt asks in that first live tick (market data comes from the recorded candles here; a
# paper tick's calls are in test_venue_data.py): markets, reconciliation, leverage, the entry,
# its fee from the fills, the stop-loss and take-profit, and the account read back.
LIVE_TICK_CALLS = {
    "hyperliquid": Counter(
        {
            "spotMeta": 1,
            "metaAndAssetCtxs": 1,  # load_markets: currencies, perpetuals
            "userAbstraction": 1,  # the account type, asked once (ccxt caches the bare-string answer)
            "clearinghouseState": 4,
            "frontendOpenOrders": 4,  # balance / positions, open orders (BTC, ETH) twice
            "updateLeverage": 1,
            "order": 1,
            "order/sl": 1,
            "order/tp": 1,
            "userFills": 1,
            # each protection id looked up before it is used (a killed run of this tick may have sent it)
            "orderStatus": 2,
        }
    ),
    "bybit": Counter(
        {
            "asset/coin/query-info": 1,
            "market/instruments-info": 2,  # load_markets: currencies (asked when keys are set), perpetuals, pre-listed
            "user/query-api": 1,
            "account/info": 1,  # is the account unified (once per process)
            "account/wallet-balance": 2,
            "position/list": 2,  # the account before and after
            "order/realtime Order": 4,  # regular orders only: unfiltered, Bybit lists conditional ones too
            "order/realtime StopOrder": 4,  # open regular and conditional orders (BTC, ETH), before and after
            "position/list BTCUSDT": 1,
            "position/list ETHUSDT": 1,  # one-way mode checked before the bot's first order on each symbol
            "account/set-margin-mode": 1,
            "position/set-leverage": 1,
            "order/create order": 1,
            "order/create order/sl": 1,
            "order/create order/tp": 1,
            "order/realtime by id": 1,  # the entry read back (its answer is ids only): its fee in cumFeeDetail
            "order/realtime StopOrder by id": 4,  # each protection id looked up before it is sent, and read back after
        }
    ),
}


@dataclass(frozen=True)
class Row:
    kind: str | None
    order_type: str = (
        "order"  # the fake's action type: the entry or a close ("order"), or a trigger ("order/sl", "order/tp")
    )
    times: int | None = None
    fill_fraction: float = 1.0


ORDER_ROWS = {
    # fault -> (orders on the exchange by leg, fills, first correction kind and its message's end)
    "entry rejected: insufficient margin": (
        Row("insufficient_margin"),
        [],
        [],
        (
            "rejected",
            {"hyperliquid": "Insufficient margin to place order. asset=0", "bybit": "ab not enough for new order"},
        ),
    ),
    "entry rejected: below the minimum": (
        Row("min_notional"),
        [],
        [],
        (
            "rejected",
            {
                "hyperliquid": "Order must have minimum value of $10. asset=0",
                "bybit": "Order does not meet minimum order value",
            },
        ),
    ),
    "entry partly filled": (
        Row(None, fill_fraction=0.5),
        [("entry", "EXPIRED"), ("sl", "NEW"), ("tp", "NEW")],
        ["decision"],
        None,
    ),
    "one 503 on the entry: looked up, then sent once": (
        Row("503", times=1),
        [("entry", "FILLED"), ("sl", "NEW"), ("tp", "NEW")],
        ["decision"],
        None,
    ),
    "stop-loss cannot be placed: closed at market": (
        Row("precision", order_type="order/sl"),
        [("entry", "FILLED"), ("exit", "FILLED")],
        ["decision", "stop_failed"],
        ("stop_failed", "position closed at market"),
    ),
    "take-profit cannot be placed: the stop-loss protects": (
        Row("502", order_type="order/tp"),
        [("entry", "FILLED"), ("sl", "NEW")],
        ["decision"],
        ("error", "the stop-loss still protects it"),
    ),
}


def test_one_live_tick_places_a_protected_entry_at_the_fill_price(tmp_path, venue, fake):
    bot = _bot(tmp_path, venue, fake)
    report = bot.tick(NOW)
    assert report.outcome is Outcome.OK, report.message
    entry, sl, tp = (venue.cid("250603T1200", leg) for leg in ("entry", "sl", "tp"))
    assert _orders(fake) == [(entry, "MARKET", "FILLED"), (sl, "STOP_MARKET", "NEW"), (tp, "TAKE_PROFIT_MARKET", "NEW")]
    [fill] = report.fills
    assert (fill.price, fill.amount, fill.client_order_id) == (PRICE, AMOUNT, entry)
    assert fill.fee_usd == pytest.approx(AMOUNT * PRICE * TAKER_FEE, abs=1e-9)
    stop, take = fake.account.orders[1:]
    assert (stop.side, stop.quantity, stop.reduce_only) == ("SELL", AMOUNT, True) and (take.side, take.reduce_only) == (
        "SELL",
        True,
    )
    state = bot.state()
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6) and state.pending_intents == []
    assert Counter(_call(r) for r in fake.requests) == LIVE_TICK_CALLS[venue.id]


@pytest.mark.parametrize("venue", ["hyperliquid"], indirect=True)
def test_hyperliquid_market_orders_carry_a_slippage_cap_and_no_builder_fee(tmp_path, venue, fake):
    bot = _bot(tmp_path, venue, fake)
    bot.tick(NOW)
    [entry] = [a["orders"][0] for a in fake.last_actions if a["type"] == "order" and "limit" in a["orders"][0]["t"]]
    # ccxt: the reference price (the close of the candle that closed at 12:00, 105,240.1) x (1 + 5 %
    # default slippage) = 110,502.105, to BTC's whole-dollar price step (5 significant digits)
    assert (entry["p"], entry["t"], entry["s"]) == ("110502", {"limit": {"tif": "Ioc"}}, "0.028")
    assert fake.account.leverage["BTC"] == 3 and fake.account.margin_type["BTC"] == "isolated"


BUILDER = "0x6530512A6c89C7cfCEbC3BA7fcD9aDa5f30827a6"  # ccxt hyperliquid.py's options.builder default


@pytest.mark.parametrize("venue", ["hyperliquid"], indirect=True)
def test_hyperliquid_no_builder_approval_is_sent_and_no_order_carries_a_builder(tmp_path, venue, fake):
    """ApproveBuilderFee is the main wallet's to sign, never an API wallet's (Hyperliquid docs,
    "Builder codes"); ccxt sends it before each order while unapproved. With the builder fee off
    (the default) nothing is approved and no order carries the builder (Hyperliquid refuses an
    unapproved one even at 0 %): entry, stop and take-profit, then the close, over two ticks."""
    bot = _bot(tmp_path, venue, fake)
    assert bot.tick(NOW).outcome is Outcome.OK
    bot.strategy.action = Action.CLOSE
    assert bot.tick(NOW + TICK).outcome is Outcome.OK
    assert [a["type"] for a in fake.last_actions].count("approveBuilderFee") == 0 and fake.builder_fees == []
    assert len(fake.order_builders) == 4 and set(fake.order_builders) == {None}
    assert [o.status for o in fake.account.orders] == ["FILLED", "CANCELED", "CANCELED", "FILLED"]


@pytest.mark.parametrize("venue", ["hyperliquid"], indirect=True)
def test_hyperliquid_an_opted_in_builder_fee_rides_on_every_order_without_an_approval_sent(tmp_path, venue, fake):
    """`exchange.builder_fee = true`: the owner approved ccxt's builder from the main wallet
    (README); the bot sends no approval and each order carries the builder at f = 10 (0.01 %)."""
    fake.builder_fees.append((BUILDER, "0.01%"))
    bot = Bot(
        tmp_path,
        fake,
        settings=venue.settings(fake).model_copy(
            update={"exchange": venue.settings(fake).exchange.model_copy(update={"builder_fee": True})}
        ),
        market=VenueHistory(venue),
    )
    assert bot.tick(NOW).outcome is Outcome.OK
    assert [a["type"] for a in fake.last_actions].count("approveBuilderFee") == 0
    assert fake.order_builders == [{"b": BUILDER.lower(), "f": 10}] * 3


@pytest.mark.parametrize("venue", ["hyperliquid"], indirect=True)
def test_a_hyperliquid_unified_account_trades_on_its_spot_usdc(tmp_path, venue, fake):
    """userAbstraction answers the bare JSON string "unifiedAccount": accepted, asked once, and
    ccxt reads the USDC from spotClearinghouseState (the perp clearinghouse shows 0 there)."""
    fake.abstraction = "unifiedAccount"
    bot = _bot(tmp_path, venue, fake)
    report = bot.tick(NOW)
    assert report.outcome is Outcome.OK, report.message
    assert [o.status for o in fake.account.orders] == ["FILLED", "NEW", "NEW"]
    assert bot.state().cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
    assert bot.state().initial_equity_usd == pytest.approx(10_000.0, abs=1e-9)
    calls = Counter(_call(r) for r in fake.requests)
    assert (calls["userAbstraction"], calls["spotClearinghouseState"]) == (1, 2)


@pytest.mark.parametrize("venue", ["hyperliquid"], indirect=True)
def test_a_hyperliquid_trigger_answered_waiting_for_trigger_is_read_back_and_protects(tmp_path, venue, fake):
    fake.trigger_answer = "waitingForTrigger"
    bot = _bot(tmp_path, venue, fake)
    report = bot.tick(NOW)
    assert report.outcome is Outcome.OK, report.message
    position = bot.state().positions["BTC"]
    assert {position.stop_order_id, position.take_profit_order_id} == {o.client_id for o in fake.account.open_algo()}
    assert [o.client_id for o in fake.account.orders].count(position.stop_order_id) == 1  # read back, not resent


@pytest.mark.parametrize("point", ["entry_saved", "entry_sent", "stop_saved", "stop_sent"])
def test_killed_at_any_point_of_an_entry_the_next_tick_ends_with_one_protected_position(tmp_path, venue, fake, point):
    bot = _bot(tmp_path, venue, fake)
    assert bot.tick(NOW, kill_at=point) is None
    report = bot.tick(NOW + TICK)

    # never sent: dropped by the later tick, whose own decision opens under its own id
    entry = venue.cid("250603T1203" if point == "entry_saved" else "250603T1200", "entry")
    assert [(o.client_id, o.status) for o in fake.account.orders if o.type == "MARKET"] == [(entry, "FILLED")]
    assert sorted((o.type, o.quantity) for o in fake.account.open_algo("BTC")) == [
        ("STOP_MARKET", AMOUNT),
        ("TAKE_PROFIT_MARKET", AMOUNT),
    ]
    state = bot.state()
    position = state.positions["BTC"]
    assert state.pending_intents == [] and position.amount == AMOUNT
    # the fill's price (12:03's for an entry sent then), never the slippage cap the order was sent with
    assert position.entry_price == pytest.approx(105_184.4 if point == "entry_saved" else PRICE, abs=1e-6)
    assert {position.stop_order_id, position.take_profit_order_id} == {
        o.client_id for o in fake.account.open_algo("BTC")
    }
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
    assert state.exchange.disagreements(state.positions) == [] and report.outcome is Outcome.OK


def test_killed_after_a_close_was_sent_the_next_tick_books_it_and_sends_nothing(tmp_path, venue, fake):
    bot = _bot(tmp_path, venue, fake)
    bot.tick(NOW)
    bot.strategy.action = Action.CLOSE
    fake.set_price("BTC", 106_000.0)
    assert bot.tick(NOW + TICK, kill_at="close_sent") is None
    assert fake.account.positions["BTC"].amount == 0 and len(fake.account.open_algo("BTC")) == 2

    report = bot.tick(NOW + 2 * TICK)

    close = venue.cid("250603T1203", "close")
    assert [o.status for o in fake.account.orders if o.client_id == close] == ["FILLED"]  # sent once
    [fill] = report.fills
    assert (fill.reason, fill.price, fill.client_order_id) == ("decision", 106_000.0, close)
    assert fill.realized_pnl_usd == pytest.approx((106_000.0 - PRICE) * AMOUNT, abs=1e-6)
    assert [o.status for o in fake.account.orders[1:3]] == ["CANCELED", "CANCELED"]  # the old stop and take-profit
    assert bot.state().positions == {} and bot.state().cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)


def test_a_stop_loss_fill_cancels_the_orphan_take_profit_and_books_the_loss(tmp_path, venue, fake):
    bot = _bot(tmp_path, venue, fake)
    bot.tick(NOW)
    fake.set_price("BTC", 102_000.0)  # below the stop at 98 %: the exchange fills it between ticks
    report = bot.tick(NOW + TICK)
    assert [o.status for o in fake.account.orders[:3]] == ["FILLED", "FINISHED", "CANCELED"]
    [fill] = [f for f in report.fills if f.reduce_only]
    assert (fill.reason, fill.price, fill.amount) == ("stop_loss", 102_000.0, AMOUNT)
    assert bot.state().cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)


@pytest.mark.parametrize("name", list(ORDER_ROWS))
def test_the_order_rows_of_the_fault_matrix(tmp_path, venue, fake, name):
    row, legs, reasons, correction = ORDER_ROWS[name]
    fake.account.fill_fraction = row.fill_fraction
    if row.kind:
        fake.inject(row.kind, path=venue.orders_path, order_type=row.order_type, times=row.times)
    bot = _bot(tmp_path, venue, fake)
    report = bot.tick(NOW)
    names = {venue.cid("250603T1200", leg): leg for leg in ("entry", "sl", "tp", "exit")}
    assert [(names.get(o.client_id, o.client_id), o.status) for o in fake.account.orders] == legs
    assert [f.reason for f in report.fills] == reasons
    if correction:
        kinds = [(c.kind, c.message) for c in report.corrections if c.alert]
        text = correction[1][venue.id] if isinstance(correction[1], dict) else correction[1]
        assert kinds[0][0] == correction[0] and text in kinds[0][1], kinds
    state = bot.state()
    held = fake.account.positions.get("BTC")
    assert (state.positions["BTC"].amount if "BTC" in state.positions else 0.0) == (abs(held.amount) if held else 0.0)
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6) and state.pending_intents == []


def test_hyperliquid_an_api_wallets_own_address_is_refused_in_one_line(tmp_path):
    venue = VENUES["hyperliquid"]
    with venue.fake() as fake:
        bot = Bot(
            tmp_path,
            fake,
            settings=venue.settings(fake).model_copy(
                update={"exchange_api_key": Settings(exchange_api_key=AGENT).exchange_api_key}
            ),
            market=VenueHistory(venue),
        )
        with pytest.raises(ConfigError) as error:
            bot.tick(NOW)
    assert "must be the MAIN account's wallet address" in str(error.value) and "\n" not in str(error.value)
    assert fake.account.orders == []


def test_a_later_tick_does_not_resend_after_a_timeout(tmp_path, venue, fake):
    """A rerun inside the same tick after the entry's answer was lost: looked up by its id, found filled."""
    bot = _bot(tmp_path, venue, fake)
    fake.inject("truncated", path=venue.orders_path, order_type="order", times=1)
    report = bot.tick(NOW)
    assert [o.status for o in fake.account.orders if o.type == "MARKET"] == ["FILLED"]
    assert report.fills[0].price == pytest.approx(PRICE, abs=1e-6) and bot.state().positions["BTC"].amount == AMOUNT
    assert bot.tick(NOW + timedelta(seconds=30)).fills == []


def test_bybit_a_hedge_mode_account_is_refused_before_the_first_order(tmp_path):
    """No position yet: the symbol's two empty rows (positionIdx 1 and 2) show the mode."""
    venue = VENUES["bybit"]
    with venue.fake() as fake:
        fake.hedged = True
        bot = _bot(tmp_path, venue, fake)
        with pytest.raises(ConfigError) as error:
            bot.tick(NOW)
    assert "the bybit account is in hedge mode (positionIdx 1 / 2)" in str(error.value) and "\n" not in str(error.value)
    assert fake.account.orders == [] and [r.path for r in fake.requests if r.method == "POST"] == []


@pytest.mark.parametrize("venue", ["bybit"], indirect=True)
def test_bybit_order_link_ids_are_the_bots_own_and_fit_36_characters(tmp_path, venue, fake):
    _bot(tmp_path, venue, fake).tick(NOW)
    sent = [r.params["orderLinkId"] for r in fake.requests if r.path == "/v5/order/create"]
    assert sent == ["bot-250603T1200-BTC-entry", "bot-250603T1200-BTC-sl", "bot-250603T1200-BTC-tp"]
    assert max(len(s) for s in sent) <= 36


def test_hyperliquid_client_ids_are_0x_and_32_hex_digits_derived_from_the_intent():
    hl = profile_for("hyperliquid")
    entry, stop = hl.client_id("bot-20250603T1200-BTC-entry"), hl.client_id("bot-20250603T1200-BTC-sl")
    assert re.fullmatch(r"0x[0-9a-f]{32}", entry) and re.fullmatch(r"0x[0-9a-f]{32}", stop)
    assert entry == hl.client_id("bot-20250603T1200-BTC-entry")  # a re-run tick asks for the same order
    assert entry != stop and is_bot_order(entry) and is_bot_order(stop)
    assert not is_bot_order("0x" + "1" * 32) and not is_bot_order("my-own-order")  # the owner's are left alone


def test_binance_and_bybit_keep_the_bots_own_ids():
    for venue in ("binanceusdm", "bybit"):
        assert profile_for(venue).client_id("bot-20250603T1200-BTC-entry") == "bot-20250603T1200-BTC-entry"


@pytest.mark.parametrize(
    ("venue", "market", "hours"),
    [
        ("hyperliquid", {"info": {}}, 1.0),
        ("bybit", {"info": {"fundingInterval": "240"}}, 4.0),  # minutes, per symbol
        ("bybit", {"info": {"fundingInterval": "480"}}, 8.0),
        ("bybit", {"info": {}}, 8.0),  # not published: Bybit's usual 8 h
        ("binanceusdm", {"info": {"fundingInterval": "60"}}, 8.0),  # Binance's exchangeInfo has no such field
    ],
)
def test_the_funding_interval_comes_from_the_market(venue, market, hours):
    assert profile_for(venue).funding_interval_h(market) == hours


class BothCoins:
    """BUY BTC and ETH (2 % stop, 4 % take-profit) every tick: two entries in one tick."""

    name = "both coins"
    trace = None

    def __init__(self, fake) -> None:
        self.fake = fake

    async def decide(self, *, features, portfolio, prompt):
        return [
            Decision(
                coin=coin,
                action=Action.BUY,
                confidence=0.9,
                size_pct=10,
                leverage=3,
                stop_loss=self.fake.price(coin) * 0.98,
                take_profit=self.fake.price(coin) * 1.04,
            )
            for coin in ("BTC", "ETH")
        ]


def test_bybit_a_refused_margin_mode_sends_no_entry_says_why_in_one_line_and_is_asked_again_next_tick(tmp_path):
    """Bybit v5 "Set Margin Mode": on a unified account the mode is the account's; a switch it
    cannot make answers retCode 3400045 with its reasons (the docs' own example here) and the
    account keeps its mode. No entry is sent in a mode the owner did not choose, the account is
    asked once a tick (not once a coin), and the next tick asks again."""
    venue = VENUES["bybit"]
    with venue.fake() as fake:
        fake.margin_mode_reasons = (("3400000", "Equity needs to be equal to or greater than 1000 USDC"),)
        bot = _bot(tmp_path, venue, fake)
        bot.strategy = BothCoins(fake)
        report = bot.tick(NOW)
        asked = [r for r in fake.requests if r.path == "/v5/account/set-margin-mode"]
        assert len(asked) == 1 and fake.account.orders == []
        why = (
            "bybit refused to set the account's margin mode to isolated (retCode 3400045): Equity needs to be "
            "equal to or greater than 1000 USDC (3400000); switch it on the exchange or set live.margin_mode to "
            "the account's"
        )
        assert [(c.coin, c.message) for c in report.corrections if c.alert] == [
            ("BTC", f"bot-250603T1200-BTC-entry not sent: {why}"),
            ("ETH", f"bot-250603T1200-ETH-entry not sent: {why}"),
        ]
        state = bot.state()
        assert state.positions == {} and state.pending_intents == [] and state.leverage_set == {}
        assert state.cash_usd == pytest.approx(10_000.0, abs=1e-9)

        fake.margin_mode_reasons = ()  # the owner fixed it
        report = bot.tick(NOW + TICK)
        assert report.outcome is Outcome.OK, report.message
        # asked before each coin's first entry (1 + BTC, ETH)
        assert sum(r.path == "/v5/account/set-margin-mode" for r in fake.requests) == 3
        assert sorted(bot.state().positions) == ["BTC", "ETH"]
        assert {fake.account.margin_type[c] for c in ("BTC", "ETH")} == {"ISOLATED"}
