"""What differs between the venues the bot trades, in one table instead of ``if`` chains.

Each profile says, for one ccxt exchange id, what the rest of the code must not guess:
the settlement currency of its linear perpetuals, which ccxt credentials the two secrets
(EXCHANGE_API_KEY / EXCHANGE_SECRET) fill, the shape a client order id must have, whether
a market order must carry a reference price (a slippage cap), the funding interval when
the market does not say it, the ccxt options that keep the account as the owner set it,
and how its orders are named, answered and looked up. Checked against ccxt 4.5.90's
sources (``ccxt/async_support/{binanceusdm,hyperliquid,bybit}.py``).

An exchange without a profile gets Binance's rules (the generic ccxt behaviour).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ConfigError

# Hyperliquid ids are 0x + 32 hex digits: this marker + 26 digits of a hash of the bot's id,
# so the bot still recognises its own orders (and never cancels the owner's).
_HEX_MARKER = "b07b07"


@dataclass(frozen=True)
class VenueProfile:
    id: str
    settle: str  # the quote and margin currency of its linear perpetuals (`trading.quote`)
    credentials: tuple[str, str] = ("apiKey", "secret")  # ccxt fields EXCHANGE_API_KEY / EXCHANGE_SECRET fill
    credential_names: tuple[str, str] = ("API key", "secret")  # what the owner calls them
    hex_client_ids: bool = False  # client ids are 0x + 32 hex digits (else the bot's own, <= 36 chars)
    market_price: bool = False  # a market order needs a reference price; ccxt caps the fill at +-slippage from it
    funding_hours: float = 8.0  # when the market does not publish its own interval
    funding_interval_key: str | None = None  # the market's `info` field holding its interval in minutes
    options: dict[str, Any] = field(default_factory=dict)  # ccxt options for this venue
    config: dict[str, Any] = field(default_factory=dict)  # ccxt constructor settings for this venue
    trigger_orders_apart: bool = True  # open trigger orders are listed with `trigger: True` (Hyperliquid: in one list)
    leverage_sets_margin: bool = False  # the margin mode travels with set_leverage (Hyperliquid's updateLeverage)
    zero_balance_hint: str = ""  # why a first reading of 0 is a credentials mistake
    bundled_tiers: bool = (
        True  # without the exchange's own brackets, use Binance's bundled table (else: from max leverage)
    )
    builder_fee_pct: float = 0.0  # what ccxt's builder takes per fill when `exchange.builder_fee` is on
    id_param: str = "clientOrderId"  # the param ccxt's fetch_order / cancel_order read a client id from
    lookup_options: dict[str, Any] = field(default_factory=dict)  # extra params of every lookup by client id
    ack_only: bool = False  # an order's answer is an acknowledgement (ids only): its fill is read back
    balance_is_wallet: bool = (
        False  # ccxt's balance total excludes unrealized PnL (Bybit's walletBalance, not its equity)
    )
    one_way: bool = False  # refuse a hedge-mode account (positionIdx != 0) before sending anything
    # A lookup by client id reads the open-orders endpoint with the client id alone (Bybit: its
    # fetch_order always sends an `orderId`, and an empty one may win over `orderLinkId`)
    page_sizes: tuple[int, int] = (1500, 1000)  # rows per request: candles, funding rates (the venue's maxima)
    candle_window: int = 0  # the venue serves only its latest this many candles of a timeframe (0: all)
    lookup_in_open_orders: bool = False
    # execution types read beside ccxt's trades when a position closed outside the bot (Bybit: ccxt's
    # fetch_my_trades asks execType=Trade only; a liquidation's fills are BustTrade)
    more_fills: tuple[str, ...] = ()
    regular_orders: dict[str, Any] = field(default_factory=dict)  # params that list regular orders only

    def id_params(self, client_order_id: str, *, conditional: bool) -> dict[str, Any]:
        """Params that name an order by client id in a lookup or a cancel."""
        trigger = {"trigger": True} if conditional and self.trigger_orders_apart else {}
        return {self.id_param: client_order_id, **self.lookup_options, **trigger}

    def client_id(self, bot_id: str) -> str:
        """The id the venue accepts for the bot's deterministic ``bot-<tick>-<coin>-<leg>``,
        checked against the venue's documented shape before any order can carry it (an id the
        venue refuses would be an order rejected for the bot's own mistake)."""
        venue_id = bot_id
        if self.hex_client_ids:
            venue_id = "0x" + _HEX_MARKER + hashlib.sha256(bot_id.encode()).hexdigest()[: 32 - len(_HEX_MARKER)]
        if not valid_client_id(self, venue_id):
            raise ValueError(f"client order id {venue_id!r} is not one {self.id} accepts (a bug in the bot's ids)")
        return venue_id

    def funding_interval_h(self, market: dict[str, Any]) -> float:
        """Hours between funding settlements: the market's own when it publishes one."""
        if self.funding_interval_key:
            minutes = (market.get("info") or {}).get(self.funding_interval_key)
            try:
                if float(minutes) > 0:
                    return float(minutes) / 60.0
            except (TypeError, ValueError):
                pass
        return self.funding_hours

    def flat_tiers(self, max_leverage: float) -> list[tuple[float, float, float, float]]:
        """One bracket when the venue publishes no table: maintenance margin is half the initial
        margin at the market's maximum leverage (Hyperliquid's rule)."""
        return [(1e15, 1.0 / (2.0 * max_leverage), 0.0, max_leverage)] if max_leverage > 0 else []

    def check(self, *, quote: str) -> None:
        """Refuse settings this venue cannot trade with, naming the fix."""
        if quote != self.settle:
            raise ConfigError(
                f"`trading.quote` is {quote!r}, but {self.id} settles its perpetuals in {self.settle}: "
                f'set trading.quote = "{self.settle}"'
            )


def is_bot_order(client_order_id: str) -> bool:
    """An order the bot placed (on any venue), by the shape of its client id."""
    return client_order_id.startswith(("bot-", "0x" + _HEX_MARKER))


PROFILES = {
    "binanceusdm": VenueProfile(id="binanceusdm", settle="USDT"),
    # Hyperliquid (ccxt hyperliquid.py): requiredCredentials walletAddress + privateKey; market
    # orders take `price` and `slippage` (default 5 %); trigger orders carry `tpsl`; funding hourly;
    # `builderFee` True by default approves and attaches ccxt's builder; `refSet` skips setting a
    # referrer on the owner's account; only perpetuals are loaded (no spot or HIP-3 markets).
    "hyperliquid": VenueProfile(
        id="hyperliquid",
        settle="USDC",
        credentials=("walletAddress", "privateKey"),
        credential_names=("main wallet address", "API wallet private key"),
        hex_client_ids=True,
        market_price=True,
        funding_hours=1.0,
        trigger_orders_apart=False,
        bundled_tiers=False,
        leverage_sets_margin=True,
        zero_balance_hint=(
            "hyperliquid reads a balance of 0 for EXCHANGE_API_KEY: it must be the MAIN account's wallet address "
            "(the API wallet only signs; its own address holds nothing); "
            "EXCHANGE_SECRET is the API wallet's private key"
        ),
        builder_fee_pct=0.01,  # ccxt's options.feeRate '0.01%' (feeInt 10, tenths of a basis point)
        options={"fetchMarkets": {"types": ["swap"]}, "refSet": True, "defaultSlippage": 0.05},
        # ccxt meters Hyperliquid with a leaky bucket (one /info every 0.5 s); its published limit is
        # 1,200 weight per minute, which a rolling window counts exactly while sending a tick's requests together
        config={"rollingWindowSize": 60_000},
        # candleSnapshot: "Only the most recent 5000 candles are available"; fundingHistory pages of 500
        page_sizes=(5000, 500),
        candle_window=5000,
    ),
    # Bybit (ccxt bybit.py): USDT linear; instruments-info publishes `fundingInterval` in
    # minutes per symbol. A unified account's fetchOrder reads `orderLinkId` (not clientOrderId)
    # and wants `acknowledged` (it sees the last 500 orders); /v5/order/create answers only
    # {orderId, orderLinkId}; a stopLossPrice / takeProfitPrice alone is a reduce-only
    # conditional market order (orderFilter StopOrder lists those); positionIdx 0 is one-way mode.
    "bybit": VenueProfile(
        id="bybit",
        settle="USDT",
        funding_interval_key="fundingInterval",
        options={"defaultSettle": "USDT", "fetchMarkets": {"types": ["linear"]}},
        id_param="orderLinkId",
        lookup_options={"acknowledged": True},
        ack_only=True,
        balance_is_wallet=True,
        one_way=True,
        # /v5/order/realtime by orderLinkId answers the order in any status (Bybit v5 "Get Open &
        # Closed Orders"); unfiltered it lists conditional orders too: `orderFilter=Order` lists the rest
        lookup_in_open_orders=True,
        page_sizes=(1000, 200),  # Bybit v5 kline limit [1, 1000], funding/history limit [1, 200]
        regular_orders={"orderFilter": "Order"},
        more_fills=("BustTrade",),  # Bybit v5 enum execType; ccxt's fetchMyLiquidations asks it so
    ),
}


def profile_for(exchange_id: str) -> VenueProfile:
    return PROFILES.get(exchange_id) or VenueProfile(id=exchange_id, settle="USDT")


def builder_fee_pct(exchange_id: str, *, opted_in: bool) -> float:
    """The builder fee a paper fill pays on top of the taker fee: only where the owner opted in."""
    return profile_for(exchange_id).builder_fee_pct if opted_in else 0.0


_HEX_ID = re.compile(r"^0x[0-9a-f]{32}$")


def valid_client_id(profile: VenueProfile, client_order_id: str) -> bool:
    """The id's shape as the venue documents it: ``VenueProfile.client_id`` checks every id it
    makes with this, and the broker contract suite every id on a fake's order log."""
    if profile.hex_client_ids:
        return bool(_HEX_ID.match(client_order_id))
    return 1 <= len(client_order_id) <= 36 and bool(re.fullmatch(r"[A-Za-z0-9_\-.:]+", client_order_id))
