"""Parser fixtures: answers in the shapes Binance USD-M, Bybit and Hyperliquid use (our own values,
written in the shapes of ccxt's recorded answers: tests/fixtures/ccxt_recorded/), read by the real
ccxt 4.5.90 and then by the bot's answer checks and bookkeeping (ccxt_answers.py, the order desk's
booking). One test per endpoint the bot calls; every expected number is worked by hand from the JSON."""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt_async
import numpy as np
import pytest

from bot.config import Settings
from bot.exchange_models import IntentKind, OrderIntent
from bot.models import Position, Side
from bot.ops.state import BotState
from bot.venues.ccxt_answers import (
    checked_order,
    closing_trades,
    equity_of,
    fees_of,
    orders_from,
    positions_from,
    trades_from,
)
from bot.venues.market import _number, closed_candles
from bot.venues.orders import OrderDesk
from tests.conftest import NOW
from tests.venues.recordedkit import exchange, recorded

BYBIT, BINANCE, HL = "bybit", "binanceusdm", "hyperliquid"


def _answered(venue: str, key: str, call, **routes):
    ex = exchange(venue, routes or {"": recorded(venue, key)})
    return call(ex), ex.markets


# -- positions ------------------------------------------------------------------------------------
def test_bybit_positions_read_size_side_entry_and_the_position_margin_not_its_balance():
    rows, markets = _answered(BYBIT, "fetchPositions/Fetch linear position", lambda ex: ex.fetch_positions())
    [(coin, position)] = positions_from(rows, markets).items()
    # size "1.5", side "Buy", avgPrice "82.4", unrealisedPnl "2.55" = 1.5 x (84.1 - 82.4), liqPrice "" (none)
    assert (coin, position.side, position.amount, position.entry_price) == ("LTC", Side.LONG, 1.5, 82.4)
    assert (position.unrealized_pnl_usd, position.liquidation_price) == (2.55, None)
    # positionIM "24.78798" is the margin the position holds (positionValue 123.6 / 5x = 24.72, plus the
    # close fee Bybit reserves, 123.6 x 0.00055 = 0.06798); ccxt's collateral is positionBalance +
    # unrealisedPnl = 24.85596 + 2.55 = 27.40596
    assert position.margin_usd == 24.78798


def test_bybit_an_empty_position_row_is_flat():
    rows, markets = _answered(BYBIT, "fetchPosition/linear position", lambda ex: ex.fetch_positions(["LTC/USDT:USDT"]))
    assert positions_from(rows, markets) == {}  # size "0", side "": what Bybit lists for a symbol held by nobody


def test_binance_positions_read_the_position_margin_not_the_cross_wallet():
    rows, markets = _answered(
        BINANCE, "fetchPositions/Fetch linear positions with symbols", lambda ex: ex.fetch_positions()
    )
    [(coin, position)] = positions_from(rows, markets).items()
    # positionAmt "0.012" at entryPrice "61250.0"; unRealizedProfit "1.8" = 0.012 x (61400 - 61250)
    assert (coin, position.side, position.amount, position.entry_price) == ("BTC", Side.LONG, 0.012, 61250.0)
    assert (position.unrealized_pnl_usd, position.liquidation_price) == (1.8, 55873.412)
    # initialMargin "73.68" = notional 736.8 (0.012 x 61400) / 10x; a cross position's collateral is the wallet
    assert position.margin_usd == 73.68


@pytest.mark.parametrize(
    ("key", "coin", "side", "amount", "entry", "pnl", "margin", "liquidation"),
    [
        # szi "-0.8" at entryPx "152.35", positionValue "121.28" (0.8 x mark 151.6), unrealizedPnl "0.6" =
        # 0.8 x (152.35 - 151.6), marginUsed "6.064" (= 121.28 / 20x)
        ("fetchPositions/short position", "SOL", Side.SHORT, 0.8, 152.35, 0.6, 6.064, 7925.41370862),
        # isolated 5x: marginUsed "36.7704" = entry notional 6 x 31.482 / 5 = 37.7784 plus unrealizedPnl -1.008
        # (6 x (31.482 - 31.65)); ccxt's initialMargin = marginUsed - unrealizedPnl = 36.7704 + 1.008 = 37.7784
        ("fetchPositions/isolated short position", "HYPE", Side.SHORT, 6.0, 31.482, -1.008, 37.7784, 37.0871052734),
    ],
)
def test_hyperliquid_positions(key, coin, side, amount, entry, pnl, margin, liquidation):
    rows, markets = _answered(HL, key, lambda ex: ex.fetch_positions())
    held = positions_from(rows, markets)[coin]
    assert (held.side, held.amount, held.entry_price, held.unrealized_pnl_usd) == (side, amount, entry, pnl)
    assert (held.margin_usd, held.liquidation_price) == (margin, liquidation)


# -- balance --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("venue", "key", "quote", "equity"),
    [
        # Bybit's total is the USDT walletBalance; its equity 1862.94160388 = 1875.40210388 - 12.4605 (the
        # unrealised PnL the broker adds back: profiles.balance_is_wallet)
        (BYBIT, "fetchBalance/balance after availableToWithdraw update", "USDT", 1875.40210388),
        (BINANCE, "fetchBalance/Linear swap balance", "USDT", 412.5083),  # totalWalletBalance "412.50830000"
        (HL, "fetchBalance/swap balance", "USDC", 87.316405),  # accountValue of the perp clearinghouse
    ],
)
def test_balance_total_is_read_in_the_settlement_currency(venue, key, quote, equity):
    balance, _ = _answered(venue, key, lambda ex: ex.fetch_balance())
    assert equity_of(balance, quote) == equity


def test_hyperliquid_unified_account_balance_comes_from_the_spot_clearinghouse():
    ex = exchange(HL, {"": recorded(HL, "fetchBalance/fetchBalance spot with used")})
    asked: list = []

    def fetch(url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202 (ccxt's signature)
        asked.append(body)
        return (
            "unifiedAccount"
            if '"userAbstraction"' in str(body)
            else recorded(HL, "fetchBalance/fetchBalance spot with used")
        )

    ex.fetch = fetch
    assert equity_of(ex.fetch_balance(), "USDC") == 125.0  # total "125.0", hold "20.0"
    assert ['"spotClearinghouseState"' in str(body) for body in asked] == [False, True]


# -- orders ---------------------------------------------------------------------------------------
def test_bybit_create_answer_carries_ids_only_and_is_not_an_outcome():
    order, _ = _answered(
        BYBIT,
        "createOrder/spot stopLossPrice order",
        lambda ex: ex.create_order("LTC/USDT:USDT", "market", "sell", 0.2, None, {"reduceOnly": True}),
    )
    assert (order["id"], order["clientOrderId"], order["status"], order["filled"]) == (
        "2043117729301884416",
        "2043117729310273024",
        None,
        None,
    )
    with pytest.raises(ccxt_async.BadResponse, match="with id '2043117729301884416' and status None"):
        checked_order(order, "2043117729310273024")  # so the desk reads it back (profiles: ack_only)


def test_binance_new_answer_is_well_formed_but_still_working():
    [raw] = recorded(BINANCE, "createOrders/create swap orders")
    ex = exchange(BINANCE, {})
    order = checked_order(ex.parse_order(raw, ex.market("BTC/USDT:USDT")), "bot-250603T1200-BTC-tp")
    assert (order["status"], order["filled"], order["amount"]) == ("open", 0.0, 0.15)  # NEW, executedQty "0.000"


def test_binance_filled_market_order_says_its_fill_and_average():
    [raw] = recorded(BINANCE, "fetchOrders/fetch portfolio margin orders")
    ex = exchange(BINANCE, {})
    order = checked_order(ex.parse_order(raw, ex.market("BTC/USDT:USDT")), "bot-250603T1200-BTC-entry")
    # FILLED, executedQty "0.020", avgPrice "61234.50000", cumQuote "1224.69000" (= 0.02 x 61234.5); no
    # commission in the answer
    assert (order["status"], order["filled"], order["average"], order["cost"], order["fee"]) == (
        "closed",
        0.02,
        61234.5,
        1224.69,
        None,
    )


def test_open_orders_of_someone_else_are_read_with_their_exchange_id():
    rows, markets = _answered(
        BYBIT, "fetchOpenOrder/Fetch an open swap order by its ID and symbol", lambda ex: ex.fetch_open_orders()
    )
    [order] = orders_from(rows, markets)
    # orderLinkId "" (placed by hand): the order is named by its orderId; a limit buy of qty "0.002"
    assert (order.client_order_id, order.coin, order.side, order.kind, order.amount, order.reduce_only) == (
        "7c1e9a42-5b3d-4f0e-8a61-2d94c7b0e815",
        "BTC",
        "buy",
        "limit",
        0.002,
        False,
    )
    binance_row = recorded(BINANCE, "fetchOpenOrder/swap open order")  # the row openOrders lists
    rows, markets = _answered(BINANCE, "", lambda ex: ex.fetch_open_orders("LTC/USDT:USDT"), openOrders=[binance_row])
    [order] = orders_from(rows, markets)
    assert (order.client_order_id, order.coin, order.kind, order.amount) == (  # origQty "0.300"
        "bot-250603T1130-LTC-entry",
        "LTC",
        "limit",
        0.3,
    )


def test_hyperliquid_trigger_order_is_read_as_a_stop_at_its_trigger_price():
    rows, markets = _answered(HL, "fetchOpenOrders/trigger open order", lambda ex: ex.fetch_open_orders())
    [order] = orders_from(rows, markets)
    # orderType "Stop Limit", isTrigger, triggerPx "0.71", cloid null: ccxt's stopLossPrice is the trigger
    assert (order.client_order_id, order.coin, order.side, order.kind, order.trigger_price, order.amount) == (
        "9308112746",
        "ADA",
        "buy",
        "stop_loss",
        0.71,
        60.0,
    )


@pytest.mark.parametrize(
    ("key", "symbol", "status", "filled", "amount"),
    [
        ("fetchOrder/fetch order", "ETH/USDC:USDC", "closed", 0.3, 0.3),  # "filled", origSz "0.3", sz "0.0"
        ("fetchOrder/fetch postOnly order", "HYPE/USDC:USDC", "open", 0.0, 3.0),  # "open", sz "3.0" left
    ],
)
def test_hyperliquid_order_status_lookup(key, symbol, status, filled, amount):
    order, _ = _answered(HL, key, lambda ex: ex.fetch_order("1", symbol))
    order = checked_order(order, "any")  # cloid null: no client id to contradict
    assert (order["status"], order["filled"], order["amount"], order["average"]) == (status, filled, amount, None)


def test_hyperliquid_closed_ioc_order_is_filled_in_full():
    [order], _ = _answered(HL, "fetchClosedOrders/closedOrders swap", lambda ex: ex.fetch_closed_orders())
    # "filled", tif "Ioc", origSz "0.25", sz "0.0" -> 0.25 filled; limitPx "149.8" is the cap, not the fill
    assert (order["status"], order["filled"], order["price"], order["average"]) == ("closed", 0.25, 149.8, None)


# -- trades ---------------------------------------------------------------------------------------
def test_bybit_funding_rows_in_the_executions_are_not_fills():
    """ccxt 4.5.90 asks /v5/execution/list with execType=Trade, so Bybit sends no funding rows today; the
    recording (an older ccxt asked unfiltered) shows what arrives the moment the query is widened (to read
    a liquidation's BustTrade rows, say): a settlement at the mark price for the whole position."""
    trades, _ = _answered(BYBIT, "fetchMyTrades/Swap private trade", lambda ex: ex.fetch_my_trades("LTC/USDT:USDT"))
    trades = trades_from(trades)
    # execType "Funding": side "Buy", execQty "1.5" (the position), execPrice "83.6" (the mark), execFee
    # "0.01254" (feeRate 0.0001 x execValue 125.4 = 1.5 x 83.6)
    assert [(t["side"], t["amount"], t["price"]) for t in trades] == [("buy", 1.5, 83.6)]
    assert closing_trades(trades, Side.SHORT) == (0.0, 0.0, 0.0)  # no short was closed by a funding settlement
    assert closing_trades(trades, Side.LONG) == (0.0, 0.0, 0.0)


def test_bybit_trade_rows_close_a_short_at_their_price_and_fee():
    trades, _ = _answered(BYBIT, "fetchMyTrades/swap trades without symbol", lambda ex: ex.fetch_my_trades())
    # execType "Trade": Buy 0.3 at 81.95, execFee "0.01352175" (feeRate 0.00055 x execValue 24.585 = 0.3 x 81.95)
    assert closing_trades(trades_from(trades), Side.SHORT) == (0.3, 81.95, 0.01352175)


def test_binance_trade_fee_is_its_commission():
    trades, _ = _answered(BINANCE, "fetchMyTrades/Swap private trade", lambda ex: ex.fetch_my_trades("BTC/USDT:USDT"))
    # BUY qty "0.015" at "58420.40", commission "0.43815300" USDT (0.0005 x quoteQty 876.306 = 0.015 x 58420.4)
    assert closing_trades(trades_from(trades), Side.SHORT) == (0.015, 58420.4, 0.438153)


def test_hyperliquid_fees_include_the_builder_fee():
    trades, _ = _answered(HL, "fetchMyTrades/trades with builderFee", lambda ex: ex.fetch_my_trades("HYPE/USDC:USDC"))
    by_order = {t["order"]: t for t in trades_from(trades)}
    # the open: fee "0.020165" (0.00045 x 1.5 x 29.874 = 0.02016495) + builderFee "0.004481" = 0.024646;
    # the close: fee "0.011754" (0.00045 x 26.12) + builderFee "0.002612" (0.0001 x 26.12) = 0.014366
    assert fees_of([by_order["402118835671"]]) == pytest.approx(0.024646, abs=1e-12)
    assert fees_of([by_order["402117092254"]]) == pytest.approx(0.014366, abs=1e-12)
    # the two "Close Long" sells (one a liquidation, fee "0.037194" = 0.00045 x 3.4 x 24.31): 3.4 at 24.31
    # and 1.0 at 26.12
    amount, price, fee = closing_trades(list(by_order.values()), Side.LONG)
    assert (amount, fee) == (pytest.approx(4.4), pytest.approx(0.037194 + 0.014366, abs=1e-12))  # 0.05156
    assert price == pytest.approx((3.4 * 24.31 + 1.0 * 26.12) / 4.4)  # 108.774 / 4.4 = 24.72136363...


# -- booking a fill from a recorded answer ---------------------------------------------------------
def _desk(venue: str, quote: str, routes: dict, requests: list | None = None) -> OrderDesk:
    desk = OrderDesk(Settings(exchange={"id": venue, "retries": 0}, trading={"quote": quote}), save=lambda b: None)
    desk.exchange, desk.now = exchange(venue, routes, requests=requests, asynchronous=True), NOW
    return desk


def _book(**positions: Position) -> BotState:
    return BotState(
        initial_equity_usd=1000.0, cash_usd=1000.0, last_equity_usd=1000.0, peak_equity_usd=1000.0, positions=positions
    )


def _intent(kind: IntentKind, coin: str, quote: str, amount: float, price: float) -> OrderIntent:
    return OrderIntent(
        kind=kind,
        client_order_id=f"bot-250603T1200-{coin}-{kind}",
        coin=coin,
        symbol=f"{coin}/{quote}:{quote}",
        side=Side.LONG,
        amount=amount,
        reference_price=price,
        leverage=5,
        created_at=NOW,
    )


def test_bybit_filled_entry_is_booked_at_its_average_with_the_fee_the_answer_carries():
    [row] = [
        r
        for r in recorded(BYBIT, "fetchClosedOrders/Fetch swap closed orders by the symbol")["result"]["list"]
        if r["side"] == "Buy"
    ]
    desk = _desk(BYBIT, "USDT", {})  # no request may be needed: average and fee are in the answer
    order = desk.exchange.parse_order(row, desk.exchange.market("BTC/USDT:USDT"))
    book = _book()
    fill = asyncio.run(desk.record_entry(_intent(IntentKind.ENTRY, "BTC", "USDT", 0.002, 61_200.0), order, book))
    asyncio.run(desk.exchange.close())
    # avgPrice "61240.5", cumExecQty "0.002", cumFeeDetail USDT "0.06736455" (0.00055 x cumExecValue 122.481)
    assert (fill.amount, fill.price, fill.fee_usd) == (0.002, 61240.5, 0.06736455)
    assert book.cash_usd == 1000.0 - 0.06736455
    assert book.positions["BTC"].margin_usd == pytest.approx(0.002 * 61240.5 / 5)  # 24.4962
    assert book.pending_intents == []  # the fee was read: nothing owed


def test_hyperliquid_close_books_the_venues_own_pnl_and_the_fee_with_its_builder_share():
    status = recorded(HL, "createOrder/create order")["response"]["data"]["statuses"][0]
    desk = _desk(HL, "USDC", {"userFills": recorded(HL, "fetchMyTrades/trades with builderFee")})
    intent = _intent(IntentKind.CLOSE, "HYPE", "USDC", 1.0, 26.0)
    order = desk._completed(intent, desk.exchange.parse_order(status, desk.exchange.market("HYPE/USDC:USDC")))
    held = Position(
        coin="HYPE", symbol="HYPE/USDC:USDC", side=Side.LONG, amount=1.0, entry_price=30.0, leverage=5.0,
        margin_usd=6.0, opened_at=NOW,
    )  # fmt: skip
    book = _book(HYPE=held)
    fill = asyncio.run(desk.record_close(intent, order, book, reason="decision"))
    asyncio.run(desk.exchange.close())
    # filled totalSz "1.0" at avgPx "26.12"; its fill's closedPnl "-3.88" = (26.12 - 30.0) x 1.0
    assert (fill.amount, fill.price, fill.realized_pnl_usd) == (1.0, 26.12, pytest.approx(-3.88))
    assert fill.fee_usd == pytest.approx(0.014366, abs=1e-12)  # fee 0.011754 + builderFee 0.002612
    assert book.cash_usd == pytest.approx(1000.0 - 3.88 - 0.014366)  # 996.105634
    assert "HYPE" not in book.positions


# -- candles and funding --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("venue", "key", "symbol", "timeframe", "now_ms", "closes"),
    [
        # Bybit lists newest first (12:00, 11:00, 10:00 UTC on 2025-06-03); ccxt turns it oldest first. At
        # 12:30 UTC (1748953800000) the 12:00 candle is still open: the closes of 10:00 and 11:00
        (BYBIT, "fetchOHLCV/swap ohlcv with since and limit", "BTC/USDT:USDT", "1h", 1748953800000, [61188.4, 61420.3]),
        # Binance's three 1m candles from 12:00 UTC (1748952000000): at 12:02:30 the last one is open
        (BINANCE, "fetchOHLCV/swap ohlcv", "BTC/USDT:USDT", "1m", 1748952150000, [61032.5, 61066.9]),
        # Hyperliquid's two from 12:00 UTC, both closed at 12:02 (1748952120000)
        (HL, "fetchOHLCV/btc ohlcv", "BTC/USDC:USDC", "1m", 1748952120000, [61032.0, 61066.0]),
    ],
)
def test_candles_are_read_oldest_first_and_the_open_one_dropped(venue, key, symbol, timeframe, now_ms, closes):
    rows, _ = _answered(venue, key, lambda ex: ex.fetch_ohlcv(symbol, timeframe))
    candles = closed_candles(rows, timeframe, now_ms, len(closes))
    assert candles[:, 4].tolist() == closes and np.all(np.diff(candles[:, 0]) > 0)


def test_bybit_funding_rate_and_mark_price():
    funding, _ = _answered(
        BYBIT, "fetchFundingRate/fetchFundingRate", lambda ex: ex.fetch_funding_rate("BTC/USDT:USDT")
    )
    # fundingRate "0.000085" (the current period's), markPrice "61524.87"
    assert (_number(funding, "fundingRate"), _number(funding, "markPrice")) == (0.000085, 61524.87)


# -- a position closed outside the bot: its closing fills ---------------------------------------------
def test_bybit_liquidation_fills_are_read_beside_the_trades():
    """ccxt 4.5.90's bybit.fetch_my_trades asks /v5/execution/list with execType=Trade (measured above,
    and ccxt's recorded request/bybit.json "Swap fetchMyTrades"); a liquidation's fills are execType
    BustTrade (Bybit v5 enum execType; ccxt's fetchMyLiquidations asks execType=BustTrade, its recorded
    "Linear fetch my liquidations"). Read with the trades only, a liquidated Bybit position had no closing
    fill and was booked at the tick's price with no fee."""
    from bot.venues.holdings import Holdings

    trade = recorded(BYBIT, "fetchMyTrades/swap trades without symbol")  # a Buy of 0.3 LTC at 81.95
    bust = {**trade, "result": {**trade["result"], "list": [{**trade["result"]["list"][0], "execType": "BustTrade"}]}}
    none = {**trade, "result": {**trade["result"], "list": []}}
    requests: list = []
    desk = _desk(BYBIT, "USDT", {"execType=BustTrade": bust, "execType=Trade": none}, requests)
    trades = asyncio.run(Holdings(desk).trades_since("LTC/USDT:USDT", 1748951000000))  # before execTime
    asyncio.run(desk.exchange.close())
    assert closing_trades(trades, Side.SHORT) == (0.3, 81.95, 0.01352175)  # the short's liquidation, its fee
    assert sorted(url.split("execType=")[1].split("&")[0] for _, url, _ in requests) == ["BustTrade", "Trade"]
