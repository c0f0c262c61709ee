"""The fake exchange's private endpoints, checked through the REAL ccxt client.

These pin the Binance USD-M facts the live broker relies on (ccxt 4.5.90): where
conditional orders live and how to see them, Binance's client-id rule, what positions
carry, and which ccxt class each order rejection raises.
"""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt
import pytest

from bot.venues.exchange import point_exchange_at
from tests.conftest import NOW, data_dir
from tests.fakes.account import TAKER_FEE
from tests.fakes.exchange import FakeExchange

BTC = "BTC/USDT:USDT"


@pytest.fixture
def fake():
    with FakeExchange(data_dir(), now=NOW) as server:
        yield server


def run(fake: FakeExchange, body, *, key: str = "test-key", secret: str = "test-secret"):
    async def main():
        exchange = ccxt.binanceusdm(
            {"apiKey": key, "secret": secret, "options": {"defaultType": "swap", "fetchCurrencies": False}}
        )
        point_exchange_at(exchange, fake.url)
        exchange.timeout_on_exit = 0
        try:
            await exchange.load_markets()
            return await body(exchange)
        finally:
            await exchange.close()

    return asyncio.run(main())


def test_a_market_order_fills_at_the_price_and_pays_the_taker_fee(fake):
    price = fake.price("BTC")

    async def body(ex):
        order = await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "c-1"})
        return order, await ex.fetch_balance(), await ex.fetch_positions(), await ex.fetch_my_trades(BTC)

    order, balance, [position], [trade] = run(fake, body)
    assert (order["status"], order["filled"], order["average"], order["clientOrderId"]) == (
        "closed",
        0.01,
        price,
        "c-1",
    )
    assert order["fee"] is None  # the order answer has no fee: it comes from the trades
    assert trade["fee"]["cost"] == pytest.approx(0.01 * price * TAKER_FEE, abs=1e-12) and trade["order"] == order["id"]
    assert balance["USDT"]["total"] == pytest.approx(10_000 - 0.01 * price * TAKER_FEE, abs=1e-9)
    assert (position["side"], position["contracts"], position["leverage"]) == (
        "long",
        0.01,
        None,
    )  # v3 positionRisk: no leverage


def test_stops_live_on_the_algo_api_and_are_seen_only_with_the_trigger_flag(fake):
    price = fake.price("BTC")

    async def body(ex):
        await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "e"})
        stop = await ex.create_order(
            BTC,
            "market",
            "sell",
            0.01,
            None,
            {"stopLossPrice": round(price * 0.98, 1), "reduceOnly": True, "clientOrderId": "s"},
        )
        regular, trigger = (
            await ex.fetch_open_orders(BTC),
            await ex.fetch_open_orders(BTC, None, None, {"trigger": True}),
        )
        found = await ex.fetch_order(None, BTC, {"clientOrderId": "s", "trigger": True})
        try:
            await ex.fetch_order(None, BTC, {"clientOrderId": "s"})
        except ccxt.OrderNotFound:
            missing_without_flag = True
        return stop, regular, trigger, found, missing_without_flag

    stop, regular, trigger, found, missing_without_flag = run(fake, body)
    assert stop["type"] == "market" and stop["info"]["orderType"] == "STOP_MARKET" and stop["reduceOnly"] is True
    assert regular == [] and [o["clientOrderId"] for o in trigger] == ["s"]
    assert found["status"] == "open" and found["triggerPrice"] == round(price * 0.98, 1)
    assert missing_without_flag
    assert [(r.method, r.path) for r in fake.requests if r.method == "POST"][-1] == ("POST", "/fapi/v1/algoOrder")


def test_client_ids_are_unique_among_open_orders_only(fake):
    price = fake.price("BTC")

    async def body(ex):
        await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "same"})
        await ex.create_order(
            BTC, "market", "buy", 0.01, None, {"clientOrderId": "same"}
        )  # filled ids can be reused: fills twice
        await ex.create_order(
            BTC,
            "market",
            "sell",
            0.01,
            None,
            {"stopLossPrice": round(price * 0.9, 1), "reduceOnly": True, "clientOrderId": "s"},
        )
        with pytest.raises(
            ccxt.InvalidOrder, match="-4116"
        ):  # an OPEN id is refused (needs the linear error table merge)
            await ex.create_order(
                BTC,
                "market",
                "sell",
                0.01,
                None,
                {"stopLossPrice": round(price * 0.9, 1), "reduceOnly": True, "clientOrderId": "s"},
            )
        return await ex.fetch_positions()

    [position] = run(fake, body)
    assert position["contracts"] == 0.02


def test_a_stop_triggers_when_the_price_crosses_and_fills_reduce_only(fake):
    price = fake.price("BTC")

    async def place(ex):
        await ex.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "e"})
        await ex.create_order(
            BTC, "market", "sell", 0.01, None, {"stopLossPrice": 100_000.0, "reduceOnly": True, "clientOrderId": "s"}
        )

    run(fake, place)
    fake.set_price("BTC", 99_000.0)

    async def after(ex):
        return await ex.fetch_order(None, BTC, {"clientOrderId": "s", "trigger": True}), await ex.fetch_positions()

    stop, positions = run(fake, after)
    assert stop["status"] == "closed" and positions == []
    assert fake.account.wallet_usd == pytest.approx(
        10_000 + (99_000 - price) * 0.01 - (price + 99_000) * 0.01 * TAKER_FEE, abs=1e-9
    )


@pytest.mark.parametrize(
    ("fault", "params", "error"),
    [
        ("insufficient_margin", {}, ccxt.InsufficientFunds),
        ("min_notional", {}, ccxt.InvalidOrder),
        ("precision", {}, ccxt.BadRequest),
        ("would_trigger", {"stopLossPrice": 1.0, "reduceOnly": True}, ccxt.OrderImmediatelyFillable),
        ("invalid_key", {}, ccxt.AuthenticationError),
    ],
)
def test_order_rejections_raise_these_ccxt_classes(fake, fault, params, error):
    fake.inject(fault, method="POST")

    async def body(ex):
        await ex.create_order(BTC, "market", "buy", 0.01, None, params)

    with pytest.raises(error):
        run(fake, body)
    assert fake.account.orders == []


def test_the_fill_model_rejects_like_binance(fake):
    async def body(ex):
        errors = []
        for amount, params in ((0.0001, {}), (10.0, {}), (0.01, {"reduceOnly": True})):
            try:
                await ex.create_order(BTC, "market", "buy", amount, None, params)
            except ccxt.BaseError as exc:
                errors.append(type(exc))
        await ex.create_order(BTC, "market", "buy", 0.01, None)
        errors.append(
            type(
                await _raises(
                    ex.create_order(BTC, "market", "sell", 0.01, None, {"stopLossPrice": 10**6, "reduceOnly": True})
                )
            )
        )
        return errors

    # 0.0001 BTC is below the 100 USDT minimum notional; 10 BTC needs more margin than 10,000 USDT;
    # reduce-only with no position; a sell stop above the price would trigger at once
    assert run(fake, body) == [
        ccxt.InvalidOrder,
        ccxt.InsufficientFunds,
        ccxt.InvalidOrder,
        ccxt.OrderImmediatelyFillable,
    ]


async def _raises(awaitable):
    try:
        await awaitable
    except ccxt.BaseError as exc:
        return exc
    raise AssertionError("no error")


def test_margin_type_twice_raises_margin_mode_already_set_and_leverage_is_kept(fake):
    async def body(ex):
        await ex.set_margin_mode("isolated", BTC)
        with pytest.raises(ccxt.MarginModeAlreadySet):
            await ex.set_margin_mode("isolated", BTC)
        return await ex.set_leverage(3, BTC)

    assert run(fake, body)["leverage"] == 3
    assert fake.account.margin_type["BTC"] == "ISOLATED" and fake.account.leverage["BTC"] == 3


@pytest.mark.parametrize(("key", "secret"), [("test-key", "wrong"), ("wrong", "test-secret")])
def test_wrong_keys_raise_authentication_error(fake, key, secret):
    with pytest.raises(ccxt.AuthenticationError):
        run(fake, lambda ex: ex.fetch_balance(), key=key, secret=secret)
