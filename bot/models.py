"""The contracts between the stages of a tick (see DESIGN.md).

Candles travel as numpy arrays (rows of ``timestamp_ms, open, high, low, close,
volume``), never one model per candle. What the bot builds every tick from checked parts
(the snapshot, the features) are plain slotted classes; everything that crosses an edge
or reaches the journal is a pydantic model, validated and serialisable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.features import CoinFeatures, Context4h  # noqa: F401  (contracts of the tick, defined beside)

if TYPE_CHECKING:
    import numpy as np


class Action(StrEnum):
    BUY = "BUY"  # open or add to a long
    SELL = "SELL"  # open or add to a short
    CLOSE = "CLOSE"  # close the open position
    HOLD = "HOLD"


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"


class Outcome(StrEnum):
    OK = "ok"  # every coin loaded, decisions taken
    DEGRADED = "degraded"  # something was skipped (a coin, the LLM) but the tick went on
    FAILED = "failed"  # no market data or a broken stage: nothing traded
    SKIPPED = "skipped"  # deliberately not run (paused, backing off)


class Verdict(StrEnum):
    APPROVED = "approved"
    RESIZED = "resized"
    REJECTED = "rejected"


class RiskCode(StrEnum):
    """Why the risk step approved, cut or refused a decision: stable strings for logs and the journal."""

    # approvals
    ENTRY = "entry"  # a new position, within every limit
    ADD = "add"  # adds to an open position on the same side
    CLOSE = "close"  # closes an open position (always allowed)
    FLIP_CLOSE = "flip_close"  # first leg of a flip: closes the opposite position
    # resizes (the plan is smaller or safer than asked)
    LEVERAGE_CAPPED = "leverage_capped"
    MARGIN_CAPPED = "margin_capped"
    EXPOSURE_CAPPED = "exposure_capped"
    TICK_NOTIONAL_CAPPED = "tick_notional_capped"  # cut to what one tick may still open (`max_new_notional_per_tick`)
    STOP_DERIVED = "stop_derived"
    # rejections
    NO_MARKET_DATA = "no_market_data"
    NO_POSITION = "no_position"
    BLOCKED = "blocked"  # paused or outside the trading windows (bot.ops): no openings at all
    # a second decision for the same coin in one tick, or an opening on a re-run of the tick that opened it
    DUPLICATE = "duplicate"
    LOW_CONFIDENCE = "low_confidence"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    MAX_DRAWDOWN = "max_drawdown"
    COOLDOWN = "cooldown"
    TOO_MANY_ENTRIES = "too_many_entries"
    MAX_POSITIONS = "max_positions"
    TICK_NOTIONAL = "tick_notional"  # this tick already opened `risk.max_new_notional_per_tick` x equity
    TICK_POSITIONS = "tick_positions"  # this tick already opened `risk.max_new_positions_per_tick` new positions
    MAX_LEVERAGE = "max_leverage"  # an add to a position opened at more than today's limit
    ADDING_DISABLED = "adding_disabled"
    FLIPPING_DISABLED = "flipping_disabled"
    MISSING_STOP_LOSS = "missing_stop_loss"
    INVALID_STOP_LOSS = "invalid_stop_loss"
    INVALID_TAKE_PROFIT = "invalid_take_profit"
    LOW_REWARD_RISK = "low_reward_risk"
    STOP_BEYOND_LIQUIDATION = "stop_beyond_liquidation"
    MAX_EXPOSURE = "max_exposure"
    NO_MARGIN = "no_margin"
    BELOW_MIN_ORDER = "below_min_order"


class FillReason(StrEnum):
    """Why an order filled."""

    DECISION = "decision"  # the strategy's decision, approved by risk
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    LIQUIDATION = "liquidation"
    RECONCILE = "reconcile"  # live: found on the exchange, booked to match it (closed by hand, liquidated ...)
    STOP_FAILED = "stop_failed"  # live: no stop-loss could be placed after the entry, so it was closed at market
    MANUAL = "manual"  # the owner's `bot close COIN` (or the API's / dashboard's Close), through the decision path


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class MarketInfo(StrictModel):
    """Trading rules of one linear swap market, as the exchange publishes them."""

    symbol: str  # ccxt unified symbol, e.g. BTC/USDT:USDT
    amount_step: float  # order size increment in base units
    price_step: float
    min_amount: float = 0.0
    min_notional_usd: float = 0.0
    max_leverage: float = 125.0
    maintenance_margin_rate: float = 0.005  # fraction of notional, when ``tiers`` is empty
    funding_interval_h: float = Field(8.0, gt=0)  # hours between funding settlements (Hyperliquid 1, Bybit per symbol)
    # Leverage brackets, ascending: (notional cap USD, MMR, maintenance amount USD, max leverage).
    tiers: list[tuple[float, float, float, float]] = Field(default_factory=list)


@dataclass(slots=True)
class CoinMarket:
    """One coin's closed candles (float64 arrays of shape (n, 6), checked where they are
    read: ccxt answers, CSV files) and derivatives data at ``Snapshot.as_of``."""

    coin: str
    info: MarketInfo
    candles_3m: np.ndarray
    candles_4h: np.ndarray
    last_price: float
    open_interest: float | None = None  # contracts (base units); None when unknown
    funding_rate: float | None = (
        None  # last settled 8h rate (the exchange's estimate only without history), 0.0001 = 0.01 %
    )
    # The settlements recorded over the candles' span, (settlement time ms, rate) oldest first,
    # from the last one before the oldest candle: the paper broker charges each settlement its
    # own rate and can tell a stale one. Empty (live): ``funding_rate`` serves, its age unknown.
    funding_rates: tuple[tuple[int, float], ...] = ()


@dataclass(slots=True)
class Snapshot:
    """The market a tick sees; a plain dataclass, built every tick from checked parts."""

    as_of: datetime
    coins: dict[str, CoinMarket] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # coin -> why it is missing


class Decision(StrictModel):
    """One coin's decision. The field descriptions are also the LLM tool's schema."""

    coin: str = Field(description="base coin name as in the data, e.g. BTC")
    action: Action = Field(
        description="BUY opens a long, SELL opens a short, CLOSE closes the open position, HOLD does nothing"
    )
    confidence: float = Field(ge=0.0, le=1.0, description="0..1")
    size_pct: float = Field(default=0.0, ge=0.0, le=100.0, description="% of available balance used as margin")
    leverage: float = Field(default=1.0, ge=1.0, le=125.0, description="x")
    stop_loss: float | None = Field(
        default=None,
        gt=0.0,
        allow_inf_nan=False,
        description="price, for BUY/SELL: below the price for a long, above for a short; left out: as the rules say",
    )
    take_profit: float | None = Field(
        default=None,
        gt=0.0,
        allow_inf_nan=False,
        description="price, optional: above the price for a long, below for a short",
    )
    invalidation: str = Field(default="", description="the condition that voids this trade's thesis")
    reasoning: str = Field(default="", description="one short sentence")


class OrderTerms(StrictModel):
    """What an entry carries from the risk step's plan, through the live broker's write-ahead
    intent, to the position it opens or adds to: its exit plan and the leverage bracket risk
    priced it with. The one list of those fields: ``OrderPlan``, ``OrderIntent`` and
    ``Position`` inherit it, and ``order_terms`` carries it from one to the next, so a field
    added here travels the whole way."""

    stop_loss: float | None = None
    take_profit: float | None = None
    invalidation: str = ""
    maintenance_margin_rate: float = 0.005  # the bracket's, so the broker prices liquidation as risk did
    maintenance_amount_usd: float = 0.0  # the bracket's ``cum``

    def order_terms(self) -> dict[str, Any]:
        """The terms alone, as keywords for the next model along."""
        return {name: getattr(self, name) for name in OrderTerms.model_fields}


class OrderPlan(OrderTerms):
    """An order the risk step approved; sized and rounded to the market's precision."""

    coin: str
    symbol: str
    side: Side  # the position side this order opens, or closes when reduce_only
    amount: float
    reference_price: float
    leverage: float
    reduce_only: bool = False
    client_order_id: str


class RiskVerdict(StrictModel):
    coin: str
    action: Action
    verdict: Verdict
    codes: list[RiskCode] = Field(default_factory=list)  # the approval, or every cut, or the one rejection
    reason: str = ""  # the same in words, with the numbers
    plan: OrderPlan | None = None


class Position(OrderTerms):
    coin: str
    symbol: str
    side: Side
    amount: float
    entry_price: float
    leverage: float
    margin_usd: float
    opened_at: datetime
    # The tick that last opened or added to it: its re-run (same client ids) must not open more (a filled id can be
    # reused).
    entry_tick_id: str = ""
    stop_order_id: str | None = None  # live: client id of the open stop-loss order protecting it
    take_profit_order_id: str | None = None  # live: client id of the open take-profit order
    liquidation_price: float | None = None  # isolated margin: where the whole margin is gone
    settled_until: datetime | None = None  # paper: candles and funding up to here are booked
    funding_usd: float = 0.0  # net funding received (+) or paid (-) while open

    def notional_usd(self, price: float) -> float:
        return self.amount * price

    def unrealized_pnl_usd(self, price: float) -> float:
        direction = 1.0 if self.side is Side.LONG else -1.0
        return direction * (price - self.entry_price) * self.amount


class Fill(StrictModel):
    coin: str
    side: Side
    amount: float
    price: float
    fee_usd: float
    realized_pnl_usd: float = 0.0  # before fees; 0 for an opening fill
    reduce_only: bool = False
    reason: FillReason = FillReason.DECISION
    client_order_id: str
    at: datetime


class CorrectionKind(StrEnum):
    ADOPTED_FILL = "adopted_fill"  # a pending order had filled before a crash: recorded now
    SENT_PENDING = "sent_pending"  # a pending entry had never reached the exchange: sent now
    DROPPED_INTENT = "dropped_intent"  # a pending order not on the exchange and too old (or not needed): dropped
    POSITION_CLOSED = "position_closed"  # closed on the exchange: stop-loss, take-profit, by hand, liquidation
    POSITION_ADOPTED = "position_adopted"  # open on the exchange but unknown to the bot
    POSITION_RESIZED = "position_resized"  # the exchange's size differs: adopted
    ORPHAN_CANCELLED = "orphan_cancelled"  # a stop / take-profit left without its position: cancelled
    STOP_REPLACED = "stop_replaced"  # a position's stop-loss or take-profit was missing: placed again
    STOP_FAILED = "stop_failed"  # no stop-loss could be placed: the position was closed
    UNPROTECTED = "unprotected"  # no stop-loss and the close failed too: act by hand
    REJECTED = "rejected"  # the exchange refused an order (margin, size, precision): not retried
    ERROR = "error"  # an unexpected exchange error: the order's fate is settled next tick
    BALANCE = "balance"  # cash adopted from the exchange (fees, funding, PnL)
    FUNDING_UNKNOWN = "funding_unknown"  # paper: a settlement passed with no known rate, so nothing was charged
    FUNDING_STALE = "funding_stale"  # paper: the newest rate is an earlier settlement's, so nothing was charged


class Correction(StrictModel):
    """Something the live broker found or did that the plan did not say: journaled, logged."""

    kind: CorrectionKind
    coin: str = ""
    message: str
    alert: bool = False  # the owner should know: the tick counts as degraded


class FundingPayment(StrictModel):
    """One 8-hour funding settlement on one position: longs pay shorts when the rate is positive."""

    coin: str
    side: Side
    at: datetime
    rate: float
    price: float  # the price the position's notional was valued at
    amount_usd: float  # received (+) or paid (-)


class RiskMemory(StrictModel):
    """What the risk step remembers between ticks (kept in state.json)."""

    day: date | None = None  # the UTC day ``day_start_equity_usd`` belongs to
    day_start_equity_usd: float | None = None  # equity at the first tick of that day
    halted_day: date | None = None  # the daily loss limit was hit on this UTC day
    stop_losses: dict[str, datetime] = Field(default_factory=dict)  # coin -> last stop-loss or liquidation
    entries: list[datetime] = Field(default_factory=list)  # new entries and adds of the last 24 hours, oldest first

    @field_validator("entries")
    @classmethod
    def _oldest_first(cls, entries: list[datetime]) -> list[datetime]:
        return sorted(entries)  # the risk step counts recent entries by bisection


class Account(StrictModel):
    cash_usd: float  # wallet balance: deposits + realized PnL - fees
    equity_usd: float  # cash + unrealized PnL
    margin_used_usd: float
    unrealized_pnl_usd: float
    available_usd: float  # what new positions can use as margin


class ReturnStats(StrictModel):
    """Welford running mean / variance of per-tick returns, for Sharpe without history."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> ReturnStats:
        count = self.count + 1
        delta = value - self.mean
        mean = self.mean + delta / count
        return ReturnStats(count=count, mean=mean, m2=self.m2 + delta * (value - mean))

    @property
    def std(self) -> float:
        return (self.m2 / (self.count - 1)) ** 0.5 if self.count > 1 else 0.0


@dataclass(slots=True)
class Portfolio:
    """The account as the strategy and the prompt see it: built by the bot every tick from
    the validated state (a plain dataclass, like the snapshot)."""

    account: Account
    positions: dict[str, Position]
    prices: dict[str, float]
    initial_equity_usd: float
    return_pct: float
    sharpe: float | None


class Usage(StrictModel):
    """LLM tokens and their cost: ``input_tokens`` without the cached ones, ``output_tokens``
    with the thinking ones (as billed)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    cache_saved_usd: float = 0.0  # what the same prompt tokens would have cost uncached, minus what they cost

    def plus(self, other: Usage) -> Usage:
        return Usage(**{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields})


class TickReport(StrictModel):
    """Everything one tick did: the journal record and what ``bot tick`` prints."""

    tick_id: str
    tick: int
    mode: str  # paper | replay | live
    dry_run: bool
    as_of: datetime
    strategy: str
    outcome: Outcome
    coins_loaded: list[str] = Field(default_factory=list)
    # coin -> the price the book was valued at: the last price the tick saw (a held coin that
    # failed to load: its last known one); a tick that failed before valuing: what it saw
    prices: dict[str, float] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)  # coin -> why it was skipped
    sources_skipped: dict[str, str] = Field(
        default_factory=dict
    )  # intel source (or the intel stage) -> why the tick went without it
    decisions: list[Decision] = Field(default_factory=list)
    verdicts: list[RiskVerdict] = Field(default_factory=list)
    fills: list[Fill] = Field(default_factory=list)
    funding: list[FundingPayment] = Field(default_factory=list)
    account: Account | None = None
    positions: list[Position] = Field(default_factory=list)
    return_pct: float | None = None
    sharpe: float | None = None
    invalid: dict[str, str] = Field(default_factory=dict)  # coin -> why its decision was refused (it held)
    prompt_chars: int = 0
    model: str = ""  # the LLM that answered this tick's usage (`bot models` measures each model from it)
    usage: Usage = Field(default_factory=Usage)
    duration_ms: dict[str, float] = Field(default_factory=dict)
    corrections: list[Correction] = Field(default_factory=list)  # live: what reconciliation changed, alerts
    message: str = ""  # why the tick failed or degraded beyond skipped coins
    paused: bool = False  # the bot was paused: only open positions were managed
    new_positions_blocked: str = ""  # why opening decisions were refused (paused, outside the trading windows)
    journal_note: str = ""  # a torn last journal line set aside before this record (said once)
