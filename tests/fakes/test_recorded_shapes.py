"""The fakes answer in the shapes the venues really use: every field a fake sends is one the venue's
answer has (tests/fixtures/ccxt_recorded/: our own values in the shapes of ccxt's recorded answers),
with the same JSON kind (text, number, bool, object, list). So a fake cannot drift into a field name or a type the venue
never sends while the bot's tests keep passing against it.

The recordings store some integers as text ("positionIdx": "0", "time": "1748951890264"), where the
venues send JSON numbers (Bybit v5 and Binance document them as integers): a fake's integer matches a
recorded numeric text. A null matches anything (the recorded row had no value there)."""

from __future__ import annotations

import pytest

from tests.conftest import NOW, data_dir
from tests.fakes.account import ALGO
from tests.fakes.bybit import FakeBybit
from tests.fakes.exchange import FakeExchange
from tests.fakes.hyperliquid import FakeHyperliquid
from tests.venues.recordedkit import WALLET, recorded


def _kind(value: object) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    try:
        float(str(value))
    except ValueError:
        return "text"
    return "numeric text"


def _mismatches(fake: dict, *recorded_rows: dict) -> list[str]:
    """What in ``fake`` no recorded row has: a field name, or a kind of value for that field."""
    kinds: dict[str, set[str]] = {}
    for row in recorded_rows:
        for key, value in row.items():
            kinds.setdefault(key, set()).add(_kind(value))
    wrong = []
    for key, value in fake.items():
        if key not in kinds:
            wrong.append(f"{key}: not in the recorded answer")
            continue
        mine, theirs = _kind(value), kinds[key]
        integer_as_text = isinstance(value, int) and not isinstance(value, bool) and "numeric text" in theirs
        if mine not in theirs and "NoneType" not in {mine, *theirs} and not integer_as_text:
            wrong.append(f"{key}: {mine} {value!r}, recorded {sorted(theirs)}")
    return wrong


@pytest.fixture(scope="module")
def venues():
    """Each fake's account after a market buy, a market sell and a resting stop (nothing served)."""
    fakes = {
        "binanceusdm": FakeExchange(data_dir(), now=NOW),
        "bybit": FakeBybit(data_dir(), now=NOW),
        "hyperliquid": FakeHyperliquid(data_dir(), now=NOW),
    }
    for fake in fakes.values():
        account = fake.account
        account.open_by_hand("BTC", "BUY", 0.02)
        account.close_by_hand("BTC")
        account.open_by_hand("BTC", "BUY", 0.02)
        client_id = "0x" + "ab" * 16 if fake is fakes["hyperliquid"] else "bot-1-BTC-sl"
        params = {"type": "STOP_MARKET", "side": "SELL", "quantity": "0.02", "reduceOnly": "true"}
        account.create_algo_order("BTC", {**params, "triggerPrice": "90000", "clientAlgoId": client_id})
    return fakes


def test_binance_fake_answers_in_the_recorded_usdm_shapes(venues):
    account = venues["binanceusdm"].account
    orders = [recorded("binanceusdm", "createOrders/create swap orders")[0]]
    orders.append(recorded("binanceusdm", "fetchOpenOrder/swap open order"))
    assert _mismatches(account.orders[0].as_binance(), *orders) == []
    [position] = account.position_risk(None)
    assert _mismatches(position, recorded("binanceusdm", "fetchPositions/Fetch linear positions with symbols")[0]) == []
    [trade, *_] = account.user_trades("BTC", {})
    assert _mismatches(trade, recorded("binanceusdm", "fetchMyTrades/Swap private trade")[0]) == []
    balance, answer = account.account(), recorded("binanceusdm", "fetchBalance/Linear swap balance")
    assert _mismatches({k: v for k, v in balance.items() if k != "assets"}, answer) == []
    assert _mismatches(balance["assets"][0], answer["assets"][0]) == []


def test_bybit_fake_answers_in_the_recorded_v5_shapes(venues):
    fake = venues["bybit"]
    closed = recorded("bybit", "fetchClosedOrders/Fetch swap closed orders by the symbol")["result"]["list"]
    opened = recorded("bybit", "fetchOpenOrder/Fetch an open swap order by its ID and symbol")["result"]["list"]
    for order in fake.account.orders:  # filled market orders and a resting conditional one
        wrong = _mismatches(fake.bybit_order(order), *closed, *opened)
        if order.kind == ALGO:  # ccxt records no linear conditional order: its triggerPrice is set ("90000")
            wrong = [w for w in wrong if not w.startswith("triggerPrice: numeric text")]
        assert wrong == [], order.type
    [position] = fake.positions(None)
    assert _mismatches(position, *recorded("bybit", "fetchPositions/Fetch linear position")["result"]["list"]) == []
    empty = fake.positions("ETH")[0]  # one-way mode lists a flat row for a symbol asked for
    assert _mismatches(empty, *recorded("bybit", "fetchPosition/linear position")["result"]["list"]) == []
    trade_row = recorded("bybit", "fetchMyTrades/swap trades without symbol")["result"]["list"][0]
    assert [w for row in fake.executions({}) for w in _mismatches(row, trade_row)] == []
    wallet = recorded("bybit", "fetchBalance/balance after availableToWithdraw update")
    [account] = fake.wallet()["list"]
    assert _mismatches({k: v for k, v in account.items() if k != "coin"}, wallet["result"]["list"][0]) == []
    assert _mismatches(account["coin"][0], wallet["result"]["list"][0]["coin"][0]) == []
    created = recorded("bybit", "createOrder/spot stopLossPrice order")["result"]
    body = {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.02", "orderLinkId": "bot-2-BTC-entry"}
    assert set(fake.create(body)) == set(created)  # ids only: the fill is read back


def test_hyperliquid_fake_answers_in_the_recorded_shapes(venues):
    fake = venues["hyperliquid"]
    trigger = recorded("hyperliquid", "fetchOpenOrders/trigger open order")[0]
    status = recorded("hyperliquid", "fetchOrder/fetch order")
    for order in fake.account.orders:
        assert _mismatches(fake.hl_order(order), trigger, status["order"]["order"]) == [], order.type
    [stop] = fake.account.open_algo("BTC")
    answer = fake.order_status(WALLET, stop.client_id)
    assert set(answer) == set(status) and set(answer["order"]) == set(status["order"])
    assert fake.hl_order(stop)["triggerCondition"] == "Price below 90000"  # fixture: "Price above 0.71"
    fills = recorded("hyperliquid", "fetchMyTrades/trades with builderFee")
    fills += recorded("hyperliquid", "fetchMyTrades/user trades")
    assert [w for row in fake.fills(WALLET) for w in _mismatches(row, *fills)] == []
    assert [row["dir"] for row in fake.fills(WALLET)] == ["Open Long", "Close Long", "Open Long"]
    state = recorded("hyperliquid", "fetchPositions/short position")
    mine = fake.clearinghouse(WALLET)
    assert _mismatches({k: v for k, v in mine.items() if k != "assetPositions"}, state) == []
    [held] = mine["assetPositions"]
    assert _mismatches(held["position"], state["assetPositions"][0]["position"]) == []
