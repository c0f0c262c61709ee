"""Fault matrix, exchange side: each fault a real deployment meets, injected into the fake
exchange, and the exact outcome of a `bot tick --dry-run` process run the way cron runs it:
exit code, tick outcome, the message or per-coin error, one journal record, the state file
still loadable with nothing lost, and never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import data_dir, run_bot
from tests.fakes.account import TAKER_FEE

ALL = ("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")


@dataclass
class Fault:
    kind: str | None = None  # a fault the fake exchange injects
    path: str | None = None
    symbol: str | None = None
    times: int | None = None
    lag: timedelta = timedelta(0)  # the exchange's data clock behind ours (a stale feed, or our clock ahead)
    delisted: tuple[str, ...] = ()  # coins missing from exchangeInfo
    env: dict[str, str] = field(default_factory=dict)
    refused: bool = False  # nothing listens at the exchange's address


@dataclass
class Expect:
    exit_code: int
    outcome: str
    loaded: tuple[str, ...]
    message: str = ""  # in the tick's message
    errors: dict[str, str] = field(default_factory=dict)  # coin -> a part of why it was skipped


SCENARIOS = {
    "429 on every candle request": (
        Fault("429", path="/fapi/v1/klines"),
        Expect(3, "failed", (), "every coin failed", {coin: "DDoSProtection" for coin in ALL}),
    ),
    "418 IP ban on exchangeInfo": (
        Fault("418", path="/fapi/v1/exchangeInfo"),
        Expect(3, "failed", (), "cannot load markets (DDoSProtection"),
    ),
    "500 with Binance's -1001 body for one coin": (
        Fault("500", symbol="ETHUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "ETH"), errors={"ETH": "OperationFailed"}),
    ),
    "502 everywhere": (Fault("502"), Expect(3, "failed", (), "cannot load markets (ExchangeNotAvailable")),
    "one 503 on open interest, retried": (
        Fault("503", path="/fapi/v1/openInterest", symbol="BTCUSDT", times=1),
        Expect(0, "ok", ALL),
    ),
    "a hanging funding request times out": (
        Fault("timeout", path="/fapi/v1/premiumIndex", symbol="SOLUSDT", env={"BOT_EXCHANGE__TIMEOUT_MS": "1500"}),
        Expect(4, "degraded", tuple(c for c in ALL if c != "SOL"), errors={"SOL": "RequestTimeout"}),
    ),
    "connection refused": (Fault(refused=True), Expect(3, "failed", (), "cannot load markets (")),
    "a body that is not JSON (3m or 4h, whichever answers first), asked again, still not JSON": (
        Fault("malformed", path="/fapi/v1/klines", symbol="XRPUSDT"),
        Expect(
            4,
            "degraded",
            tuple(c for c in ALL if c != "XRP"),
            errors={
                "XRP": "BadResponse: binanceusdm GET /fapi/v1/klines: malformed answer (13 bytes that are not JSON)"
            },
        ),
    ),
    "one truncated candle answer, asked again": (
        Fault("truncated", path="/fapi/v1/klines", symbol="ETHUSDT", times=1),
        Expect(0, "ok", ALL),
    ),
    "a funding answer with its fields missing": (
        Fault("empty_object", path="/fapi/v1/premiumIndex", symbol="BNBUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "BNB"), errors={"BNB": "malformed answer: no fundingRate"}),
    ),
    "candle rows of nulls (3m or 4h, whichever answers first)": (
        Fault("null_rows", path="/fapi/v1/klines", symbol="DOGEUSDT"),
        Expect(
            4,
            "degraded",
            tuple(c for c in ALL if c != "DOGE"),
            errors={"DOGE": "candles hold missing or non-positive values"},
        ),
    ),
    "an invalid symbol answer": (
        Fault("invalid_symbol", path="/fapi/v1/openInterest", symbol="BTCUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "BTC"), errors={"BTC": "BadSymbol"}),
    ),
    "a delisted coin": (
        Fault(delisted=("DOGE",)),
        Expect(
            4, "degraded", tuple(c for c in ALL if c != "DOGE"), errors={"DOGE": "unknown coin 'DOGE' on binanceusdm"}
        ),
    ),
    "stale candles: the feed (or our clock) 30 minutes off": (
        Fault(lag=timedelta(minutes=30)),
        Expect(3, "failed", (), "every coin failed", {coin: "3m candles are stale" for coin in ALL}),
    ),
    "our clock 30 minutes behind the exchange's": (
        Fault(lag=-timedelta(minutes=30)),
        Expect(
            3,
            "failed",
            (),
            "every coin failed",
            {coin: "min ahead of the local clock: set the system clock" for coin in ALL},
        ),
    ),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_exchange_fault(project, name):
    from tests.fakes.exchange import FakeExchange

    fault, expect = SCENARIOS[name]
    coins = tuple(coin for coin in ALL if coin not in fault.delisted)
    with FakeExchange(
        data_dir(), now=datetime(2025, 6, 3, 12, 0, tzinfo=UTC), coins=coins, follow_wall_clock=True, hang_seconds=4.0
    ) as fake:
        if fault.lag:  # the feed serves candles only up to `lag` ago
            data_now, lag_ms = fake._data_now, int(fault.lag.total_seconds() * 1000)
            fake._data_now = lambda: data_now() - lag_ms
        if fault.kind:
            fake.inject(fault.kind, path=fault.path, symbol=fault.symbol, times=fault.times)
        url = f"http://127.0.0.1:{_free_port()}" if fault.refused else fake.url
        result = run_bot("tick", "--dry-run", cwd=project, env={"BOT_EXCHANGE__API_URL": url, **fault.env})

    assert result.returncode == expect.exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"outcome {expect.outcome}" in result.stdout
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["outcome"] == expect.outcome
    assert tuple(record["coins_loaded"]) == expect.loaded
    assert expect.message in record["message"]
    assert set(record["errors"]) == set(expect.errors)
    for coin, why in expect.errors.items():
        assert why in record["errors"][coin], record["errors"][coin]
        assert f"skipped {coin}: " in result.stdout
        if fault.lag < timedelta(
            0
        ):  # our clock behind: 30 min, or 33 when the tick's clock and the fake's answer straddle a 3-minute boundary
            assert re.search(r"^3m candles run (30|33) min ahead", record["errors"][coin]), record["errors"][coin]
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["tick"] == 1
    if expect.outcome == "failed":
        assert record["fills"] == [] and state["cash_usd"] == 10_000 and state["positions"] == {}
        assert state["consecutive_errors"] == 1
    else:
        assert state["consecutive_errors"] == 0
        fees = sum(fill["fee_usd"] for fill in record["fills"])
        assert state["cash_usd"] == pytest.approx(10_000 - fees)  # every fee booked, nothing else moved


# -- Claude's answer, as a replayed CLI tick (offline, deterministic) ---------------------------

REPLAY_FIRST = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the first replay tick on the bundled sample


def _claude_tick(project, fake_anthropic, decisions: list[dict]):
    from tests.fakes.anthropic import tool_call

    fake_anthropic.script(tool_call({"decisions": decisions}))
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "BOT_LLM__RETRIES": "0",
        "BOT_LLM__TIMEOUT_S": "2",
    }
    result = run_bot("tick", "--dry-run", "--replay", cwd=project, env=env)
    assert "Traceback" not in result.stdout + result.stderr
    var = project / "var" / "replay"
    [record] = [json.loads(line) for line in (var / "journal.jsonl").read_text().splitlines()]
    return result, record, json.loads((var / "state.json").read_text())


def _btc_buy(**change) -> dict:
    from bot.venues.history import HistoryMarket
    from tests.fakes.anthropic import btc_buy

    price = HistoryMarket().snapshot_at(["BTC"], REPLAY_FIRST).coins["BTC"].last_price
    return btc_buy(price, leverage=2, **change)


CLAUDE_SCENARIOS = {
    "size_pct out of range": (
        _btc_buy(size_pct=250),
        "BTC",
        "`size_pct`: Input should be less than or equal to 100 (got 250)",
    ),
    "a stop-loss above the price of a long": (
        _btc_buy(stop_loss=10_000_000),
        "BTC",
        "stop_loss 1e+07 is not below the price 105379 for a long",
    ),
    "a coin the tick does not trade": (
        {**_btc_buy(), "coin": "PEPE"},
        "PEPE",
        "unknown coin 'PEPE' (this tick: BTC, ETH, SOL, BNB, DOGE, XRP)",
    ),
}


@pytest.mark.parametrize("name", list(CLAUDE_SCENARIOS))
def test_a_refused_claude_decision_holds_that_coin_and_trades_nothing(project, fake_anthropic, name):
    decision, coin, why = CLAUDE_SCENARIOS[name]
    result, record, state = _claude_tick(project, fake_anthropic, [decision])
    assert result.returncode == 0, result.stdout + result.stderr  # the answer as a whole was usable: the tick is ok
    assert record["outcome"] == "ok" and record["fills"] == []
    assert record["invalid"] == {coin: why}
    assert state["positions"] == {} and state["cash_usd"] == 10_000 and state["tick"] == 1


# -- live orders through the fake exchange's private endpoints, as cron runs `bot tick` ----------


@dataclass
class OrderFault:
    kind: str | None = None  # a rejection the fake exchange answers with
    path: str = "/fapi/v1/order"
    times: int | None = None
    fill_fraction: float = 1.0  # below 1: the market entry fills only partly (EXPIRED)
    order_type: str | None = None  # only orders of this type fail


@dataclass
class OrderExpect:
    exit_code: int
    outcome: str
    orders: list[tuple[str, str, str]]  # (leg, type, status) on the exchange, in order
    fills: list[str]  # reasons
    correction: tuple[str, str] | None = None  # kind, start of its message (the client id left out)
    held: float = 0.0  # share of the decided amount the bot and the exchange hold after the tick


FILLED_AND_PROTECTED = [
    ("entry", "MARKET", "FILLED"),
    ("sl", "STOP_MARKET", "NEW"),
    ("tp", "TAKE_PROFIT_MARKET", "NEW"),
]
ORDER_SCENARIOS = {
    "entry rejected: insufficient margin": (
        OrderFault("insufficient_margin"),
        OrderExpect(
            4,
            "degraded",
            [],
            [],
            ("rejected", 'InsufficientFunds: binanceusdm {"code": -2019, "msg": "Margin is insufficient."}'),
        ),
    ),
    "entry rejected: below the minimum notional": (
        OrderFault("min_notional"),
        OrderExpect(4, "degraded", [], [], ("rejected", 'InvalidOrder: binanceusdm {"code": -4164')),
    ),
    "entry rejected: precision": (
        OrderFault("precision"),
        OrderExpect(4, "degraded", [], [], ("rejected", 'BadRequest: binanceusdm {"code": -1111')),
    ),
    "entry partly filled": (
        OrderFault(fill_fraction=0.5),
        OrderExpect(0, "ok", [("entry", "MARKET", "EXPIRED"), *FILLED_AND_PROTECTED[1:]], ["decision"], held=0.5),
    ),
    "stop-loss cannot be placed after the entry filled": (
        OrderFault("precision", path="/fapi/v1/algoOrder"),
        OrderExpect(
            4,
            "degraded",
            [("entry", "MARKET", "FILLED"), ("exit", "MARKET", "FILLED")],
            ["decision", "stop_failed"],
            ("stop_failed", "stop-loss could not be placed after 3 tries"),
        ),
    ),
    "one 503 on the entry: looked up, then sent once": (
        OrderFault("503", times=1),
        OrderExpect(0, "ok", FILLED_AND_PROTECTED, ["decision"], held=1.0),
    ),
    "take-profit cannot be placed after the entry filled, the stop-loss can": (
        OrderFault("502", path="/fapi/v1/algoOrder", order_type="TAKE_PROFIT_MARKET"),
        OrderExpect(
            4,
            "degraded",
            FILLED_AND_PROTECTED[:2],
            ["decision"],
            ("error", "take-profit could not be placed (ExchangeNotAvailable: "),
            held=1.0,
        ),
    ),
}


def _live_env(live_fake, fake_anthropic) -> dict[str, str]:
    from bot.config import LIVE_CONFIRMATION

    return {
        "BOT_EXCHANGE__API_URL": live_fake.url,
        "BOT_ENABLE_TRADING": "true",
        "BOT_LIVE__CONFIRM": LIVE_CONFIRMATION,
        "EXCHANGE_API_KEY": "test-key",
        "EXCHANGE_SECRET": "test-secret",
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
        "BOT_LLM__RETRIES": "0",
        "BOT_TRADING__COINS": '["BTC"]',
    }


@pytest.mark.parametrize("name", list(ORDER_SCENARIOS))
def test_live_order_fault(project, live_fake, fake_anthropic, name):
    from tests.fakes.anthropic import btc_buy, tool_call

    fault, expect = ORDER_SCENARIOS[name]
    price = live_fake.price("BTC")
    decision = btc_buy(price)
    fake_anthropic.script(tool_call({"decisions": [decision]}))
    live_fake.account.fill_fraction = fault.fill_fraction
    if fault.kind:
        live_fake.inject(fault.kind, path=fault.path, method="POST", times=fault.times, order_type=fault.order_type)
    result = run_bot("tick", cwd=project, env=_live_env(live_fake, fake_anthropic))

    assert result.returncode == expect.exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    orders = [(o.client_id.rsplit("-", 1)[1], o.type, o.status) for o in live_fake.account.orders]
    assert orders == expect.orders
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["outcome"] == expect.outcome and [f["reason"] for f in record["fills"]] == expect.fills
    alerts = [(c["kind"], c["message"]) for c in record["corrections"] if c["alert"]]
    if expect.correction:
        [(kind, message)] = alerts
        assert kind == expect.correction[0] and expect.correction[1] in message, message
    else:
        assert alerts == []
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["pending_intents"] == []
    decided = int(10_000 * 0.10 * 3 / price * 1000) / 1000
    held = round(int(decided * expect.held * 1000) / 1000, 3)
    exchange = live_fake.account.positions.get("BTC")
    assert (exchange.amount if exchange else 0.0) == pytest.approx(held, abs=1e-9)
    assert (state["positions"]["BTC"]["amount"] if held else 0.0) == pytest.approx(held, abs=1e-9)
    if held:
        assert {o.quantity for o in live_fake.account.open_algo("BTC")} == {
            held
        }  # the stops cover what filled, no more
    assert state["cash_usd"] == pytest.approx(live_fake.account.wallet_usd, abs=1e-6)


def test_a_take_profit_the_price_already_passed_leaves_the_stop_loss_protecting_and_is_placed_the_next_tick(
    project, live_fake, fake_anthropic
):
    """The price runs 5 % up between the snapshot and the fill: the entry and its stop-loss go
    through, the take-profit at +4 % would trigger at once (-2021). The position is kept under
    its stop-loss with an alert; the next tick's reconciliation places the take-profit."""
    from tests.fakes.anthropic import btc_buy, tool_call

    price = live_fake.price("BTC")
    decision = btc_buy(price)
    stop, take = decision["stop_loss"], decision["take_profit"]
    fake_anthropic.script(tool_call({"decisions": [decision]}))
    live_fake.set_price("BTC", price * 1.05)  # what orders fill and trigger at; the candles still say `price`
    env = _live_env(live_fake, fake_anthropic)
    result = run_bot("tick", cwd=project, env=env)

    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    why = (
        'take-profit could not be placed (OrderImmediatelyFillable: binanceusdm {"code": -2021, "msg": "Order would '
        'immediately trigger."}); the stop-loss still protects it'
    )
    assert f"BTC: {why}" in result.stdout
    orders = [(o.client_id.rsplit("-", 1)[1], o.type, o.status, o.quantity) for o in live_fake.account.orders]
    amount = int(10_000 * 0.10 * 3 / price * 1000) / 1000  # sized at the snapshot's price
    assert orders == [("entry", "MARKET", "FILLED", amount), ("sl", "STOP_MARKET", "NEW", amount)]
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert (record["outcome"], record["message"]) == ("degraded", f"BTC: {why}")
    assert [(c["kind"], c["coin"], c["message"]) for c in record["corrections"] if c["alert"]] == [
        ("error", "BTC", why)
    ]
    assert [(f["reason"], f["amount"]) for f in record["fills"]] == [("decision", amount)]
    state = json.loads((project / "var" / "state.json").read_text())
    position = state["positions"]["BTC"]
    assert state["pending_intents"] == []
    assert (position["amount"], position["stop_loss"], position["take_profit"]) == (
        amount,
        stop,
        take,
    )  # the plan is kept
    assert (
        position["stop_order_id"] == live_fake.account.orders[1].client_id and position["take_profit_order_id"] is None
    )
    assert position["entry_price"] == pytest.approx(price * 1.05, abs=1e-6)

    live_fake.set_price("BTC", price)  # back under the take-profit; the next tick holds (the fake's default answer)
    again = run_bot("tick", cwd=project, env=env)

    assert again.returncode == 0, again.stdout + again.stderr
    later = [
        (o.client_id.rsplit("-", 1)[1], o.type, o.status, o.quantity, o.trigger_price)
        for o in live_fake.account.orders[2:]
    ]
    assert later == [
        ("tp", "TAKE_PROFIT_MARKET", "NEW", amount, take)
    ]  # the take-profit, for the whole size; nothing else sent
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["positions"]["BTC"]["take_profit_order_id"] == live_fake.account.orders[2].client_id
    assert state["positions"]["BTC"]["stop_order_id"] == live_fake.account.orders[1].client_id
    assert state["positions"]["BTC"]["amount"] == amount == live_fake.account.positions["BTC"].amount
    assert state["cash_usd"] == pytest.approx(live_fake.account.wallet_usd, abs=1e-6)


# -- malformed answers to the live broker (issue 25): a truncated 200 is never an empty truth ----


@dataclass
class Garbled:
    faults: list[tuple[str, str, str, int | None]]  # (kind, method, path, times): answers cut short or emptied
    during_entry: bool  # in the tick that opens the position (else in a holding tick after it)
    exit_code: int
    message: str = ""  # the start of the faulty tick's message ("" for ok)


_CUT = "could not reconcile with the exchange: BadResponse: binanceusdm GET {path}: malformed answer ("
GARBLED = {
    "positions truncated on every try: nothing booked closed, no stop cancelled": (
        Garbled(
            [("truncated", "GET", "/fapi/v3/positionRisk", None)], False, 3, _CUT.format(path="/fapi/v3/positionRisk")
        )
    ),
    "positions truncated once: asked again within the tick": (
        Garbled([("truncated", "GET", "/fapi/v3/positionRisk", 1)], False, 0)
    ),
    "balance truncated on every try: no cash -3.14, no loss latch": (
        Garbled([("truncated", "GET", "/fapi/v3/account", None)], False, 3, _CUT.format(path="/fapi/v3/account"))
    ),
    "balance without the quote currency on every try": (
        Garbled(
            [("empty_object", "GET", "/fapi/v3/account", None)],
            False,
            3,
            "could not reconcile with the exchange: BadResponse: malformed answer: the balance holds no USDT total",
        )
    ),
    "open trigger orders truncated on every try: no AttributeError": (
        Garbled(
            [("truncated", "GET", "/fapi/v1/openAlgoOrders", None)],
            False,
            3,
            _CUT.format(path="/fapi/v1/openAlgoOrders"),
        )
    ),
    "entry filled, its answer truncated, the lookup truncated once": (
        Garbled([("truncated", "POST", "/fapi/v1/order", 1), ("truncated", "GET", "/fapi/v1/order", 1)], True, 0)
    ),
    "entry filled, its answer truncated, every lookup {}: settled the next tick": (
        Garbled(
            [("truncated", "POST", "/fapi/v1/order", 1), ("empty_object", "GET", "/fapi/v1/order", None)],
            True,
            4,
            "BTC: bot-",
        )
    ),
    "stop-loss placed, its answer truncated, the lookup {} once": (
        Garbled(
            [("truncated", "POST", "/fapi/v1/algoOrder", 1), ("empty_object", "GET", "/fapi/v1/algoOrder", 1)], True, 0
        )
    ),
}


@pytest.mark.parametrize("name", list(GARBLED))
def test_a_malformed_exchange_answer_is_never_an_empty_truth(project, live_fake, fake_anthropic, name):
    """The faulty tick fails or settles nothing it cannot see; after the next clean tick the
    exchange holds one entry and its stop-loss and take-profit for the whole size, and the
    state's cash, equity and risk figures are the exchange's."""
    from tests.fakes.anthropic import btc_buy, tool_call

    case = GARBLED[name]
    price = live_fake.price("BTC")
    live_fake.set_price("BTC", price)  # held still: a new 3m candle between two reads would move the unrealized PnL
    decision = btc_buy(price)
    fake_anthropic.script(tool_call({"decisions": [decision]}))  # then the fake answers HOLD
    env = {
        **_live_env(live_fake, fake_anthropic),
        "BOT_OPS__RECOVERY_BACKOFF_SECONDS": "0",
    }  # the clean tick runs at once
    if not case.during_entry:
        assert run_bot("tick", cwd=project, env=env).returncode == 0
    for kind, method, path, times in case.faults:
        live_fake.inject(kind, path=path, method=method, times=times)
    faulty = run_bot("tick", cwd=project, env=env)
    live_fake.clear_faults()
    clean = run_bot("tick", cwd=project, env=env)

    assert faulty.returncode == case.exit_code, faulty.stdout + faulty.stderr
    assert "Traceback" not in faulty.stdout + faulty.stderr + clean.stdout + clean.stderr
    records = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert records[-2]["message"].startswith(case.message), records[-2]["message"]
    assert clean.returncode == 0, clean.stdout + clean.stderr
    orders = [(o.client_id.rsplit("-", 1)[1], o.type, o.status) for o in live_fake.account.orders]
    assert orders == FILLED_AND_PROTECTED  # one entry, one stop-loss, one take-profit: nothing cancelled, nothing twice
    state = json.loads((project / "var" / "state.json").read_text())
    amount = int(10_000 * 0.10 * 3 / price * 1000) / 1000
    position = state["positions"]["BTC"]
    assert position["amount"] == amount == live_fake.account.positions["BTC"].amount
    [stop] = [o for o in live_fake.account.open_algo("BTC") if o.type == "STOP_MARKET"]
    assert (position["stop_order_id"], position["stop_loss"], stop.quantity) == (
        stop.client_id,
        round(price * 0.98),
        amount,
    )
    assert state["pending_intents"] == []
    fee = amount * price * TAKER_FEE
    assert state["cash_usd"] == pytest.approx(10_000 - fee, abs=1e-6) == live_fake.account.wallet_usd
    assert state["exchange"]["equity_usd"] == pytest.approx(10_000 - fee, abs=1e-6)  # the fake's price has not moved
    # the bot values its position at the candles' price, which a new 3m candle may move: the fee (0.0148 %) plus at
    # most a few hundredths; a zeroed balance made it 100 % and latched the daily loss limit
    assert state["max_drawdown_pct"] < 0.1 and state["risk"]["halted_day"] is None
    fills = [fill["client_order_id"] for record in records for fill in record["fills"]]
    assert [cid.rsplit("-", 1)[1] for cid in fills] == ["entry"]  # the journal holds the one fill the exchange made


# -- the state file: unwritable or unreadable, as a replayed CLI tick ---------------------------


def _disk_full() -> None:
    """In the tick's process: writes past 3,000 bytes fail with EFBIG, as a full disk fails with ENOSPC."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (3_000, resource.RLIM_INFINITY))


def _tick_with(project, preexec=None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
    )


@pytest.mark.parametrize("fault", ["disk full", "read-only var/"])
def test_a_state_that_cannot_be_written_stops_with_exit_5_and_the_previous_state_intact(project, fault):
    var = project / "var" / "replay"
    assert _tick_with(project).returncode == 0
    before = {name: (var / name).read_bytes() for name in ("state.json", "journal.jsonl")}
    blocker = var / ".state.json.tmp"
    if fault == "read-only var/":
        blocker.mkdir()  # the temporary file cannot be created, as in a read-only folder (root ignores chmod)
    result = _tick_with(project, _disk_full if fault == "disk full" else None)

    why = "File too large" if fault == "disk full" else "Is a directory"
    assert result.returncode == 5 and result.stdout == ""
    assert result.stderr == (
        f"error: {var / 'state.json'}: cannot write the new state ({why}); the previous state is intact: "
        f"free disk space or make {var} writable, then run again\n"
    )
    assert {
        name: (var / name).read_bytes() for name in before
    } == before  # nothing half-written, no journal line for a lost tick
    if blocker.is_dir():
        blocker.rmdir()
    again = _tick_with(project)  # space freed: the tick that could not be saved runs again
    assert again.returncode == 0, again.stderr
    assert json.loads((var / "state.json").read_text())["tick"] == 2
    assert [json.loads(line)["tick"] for line in (var / "journal.jsonl").read_text().splitlines()] == [1, 2]


@pytest.mark.parametrize("content", ['{"version": 2, "tick": 3, "cash_', "", "\x00" * 64])
def test_a_truncated_or_corrupt_state_stops_with_exit_5_and_is_kept(project, content):
    var = project / "var" / "replay"
    assert _tick_with(project).returncode == 0 and _tick_with(project).returncode == 0
    (var / "state.json").write_text(content)
    result = _tick_with(project)
    assert result.returncode == 5 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert (
        line.startswith(f"error: {var / 'state.json'} is corrupt or truncated")
        and f"cp {var / 'state.json.bak'}" in line
    )
    assert (var / "state.json").read_text() == content
    assert len((var / "journal.jsonl").read_text().splitlines()) == 2  # no tick ran on a state it could not read
