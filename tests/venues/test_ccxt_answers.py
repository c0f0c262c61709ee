"""The edge where ccxt's answers are checked: what ccxt makes of a truncated or half-empty
body must raise BadResponse (retried as transient), never read as "nothing there"."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from bot.venues.ccxt_answers import checked_order, equity_of, orders_from, positions_from, trades_from
from bot.venues.exchange import is_transient

MARKETS = {"BTC/USDT:USDT": {"base": "BTC", "contractSize": 1}}
ROW = {"symbol": "BTC/USDT:USDT", "contracts": 0.028, "side": "long", "entryPrice": 105_000.0, "unrealizedPnl": 1.5}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ('[{"symbol": "BTCUSDT", "positionAm', "positions is str, not a list of objects"),  # ccxt hands the raw text on
        ([{**ROW, "contracts": None}], "BTC position size is None, not a number"),
        ([{**ROW, "side": None}], "BTC position of 0.028 has side None"),
        ([{**ROW, "entryPrice": None}], "BTC entry price is None, not a number"),
    ],
)
def test_a_positions_answer_without_what_the_book_needs_is_malformed(answer, why):
    with pytest.raises(ccxt.BadResponse, match=f"^malformed answer: {why}$"):
        positions_from(answer, MARKETS)


def test_well_formed_positions_read_as_they_are_and_an_empty_list_is_believed():
    [(coin, position)] = positions_from([ROW, {"symbol": "ETH/USDT:USDT", "contracts": 2}], MARKETS).items()
    assert (coin, position.side, position.amount, position.entry_price, position.unrealized_pnl_usd) == (
        "BTC",
        "long",
        0.028,
        105_000.0,
        1.5,
    )
    assert (
        positions_from([], MARKETS) == {} and positions_from([{**ROW, "contracts": 0.0, "side": None}], MARKETS) == {}
    )


@pytest.mark.parametrize(
    ("order", "why"),
    [
        ({"id": None, "status": None, "filled": None}, "order bot-1 with id None and status None"),
        ({"id": "7", "status": "open", "clientOrderId": "bot-2"}, "asked for order bot-1, got bot-2"),
        ({"id": "7", "status": "closed", "filled": "x"}, "order bot-1 filled amount is 'x', not a number"),
        ('{"orderId": 7', "order bot-1 is str"),
    ],
)
def test_an_order_answer_without_id_status_or_its_own_client_id_is_malformed(order, why):
    with pytest.raises(ccxt.BadResponse, match=f"^malformed answer: {why}$"):
        checked_order(order, "bot-1")


def test_balance_open_orders_and_trades_are_checked_too():
    assert equity_of({"USDT": {"total": 9_998.5}}, "USDT") == 9_998.5
    with pytest.raises(ccxt.BadResponse, match="^malformed answer: the balance holds no USDT total$"):
        equity_of({"info": {}}, "USDT")
    with pytest.raises(ccxt.BadResponse, match="^malformed answer: open orders is str, not a list of objects$"):
        orders_from("[{", MARKETS)  # was AttributeError: 'str' object has no attribute 'keys'
    with pytest.raises(ccxt.BadResponse, match="^malformed answer: trade 5 price is None, not a number$"):
        trades_from([{"id": 5, "side": "sell", "amount": 0.028, "price": None}])
    owners = {"symbol": "BTC/USDT:USDT", "id": "9", "side": "sell", "amount": None, "triggerPrice": 100_000.0}
    assert (
        orders_from([owners], MARKETS)[0].amount == 0.0
    )  # the owner's closePosition stop carries no size: not the bot's to refuse


def test_a_malformed_answer_is_retried_like_a_timeout_but_a_ban_is_not():
    assert is_transient(ccxt.BadResponse("malformed answer: x")) and is_transient(ccxt.RequestTimeout("t"))
    assert not is_transient(ccxt.DDoSProtection("429")) and not is_transient(ccxt.InvalidOrder("-1111"))
