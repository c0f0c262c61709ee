"""The API's contract: every response and request body as a pydantic model (the OpenAPI
document is generated from these). ``/status`` answers ``bot.tick.status.StatusReport``,
the same model as `bot status --json`; the rest are defined here."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.clock import TICK
from bot.models import Decision, Outcome, RiskVerdict, Usage

_CADENCE_SECONDS = int(TICK.total_seconds())  # cron's */3


class Health(BaseModel):
    """Public (no token): an uptime check's answer and nothing more."""

    ok: bool  # 200 when true, 503 when false
    status: str  # ok | paused | stale | failed | no ticks yet | state unreadable
    mode: str | None = None
    last_tick_at: datetime | None = None  # the tick's own clock (simulated in replay)
    last_tick_age_seconds: float | None = None  # wall seconds since the last tick was recorded
    cadence_seconds: int = _CADENCE_SECONDS
    stale_after_seconds: int = 2 * _CADENCE_SECONDS  # one missed cron run is tolerated, two are not
    last_outcome: Outcome | None = None
    consecutive_errors: int = 0
    paused: bool = False
    tick_running: bool = False  # a tick holds the lock now
    message: str = ""  # why not ok, in words an outsider learns nothing from (no error text, no path)


class TickRow(BaseModel):
    tick_id: str | None
    tick: int | None
    as_of: str | None
    outcome: str | None
    coins_loaded: int
    decisions: int  # decisions other than HOLD
    fills: int
    equity_usd: float | None
    return_pct: float | None
    duration_ms: float | None
    message: str


class JournalPage(BaseModel):
    ticks: list[TickRow]  # oldest first
    next_before: int | None  # pass as `before` for the page of older ticks; None at the first tick


class TradeRow(BaseModel):
    at: str | None
    tick_id: str | None
    coin: str | None
    side: str | None
    action: str  # open | close
    amount: float | None
    price: float | None
    fee_usd: float | None
    realized_pnl_usd: float
    reason: str
    client_order_id: str | None


class DecisionRecord(BaseModel):
    tick_id: str
    tick: int
    as_of: datetime
    strategy: str
    outcome: Outcome
    decisions: list[Decision]  # with the model's reasoning
    verdicts: list[RiskVerdict]  # the risk step's answer to each


class Metrics(BaseModel):
    equity_usd: float
    initial_equity_usd: float
    return_pct: float
    sharpe: float | None
    drawdown_pct: float  # below the peak now
    max_drawdown_pct: float
    realized_pnl_usd: float
    unrealized_pnl_usd: float
    fees_paid_usd: float
    funding_usd: float
    open_positions: int
    exposure_usd: float  # notional of the open positions at the last prices
    ticks_by_outcome: dict[str, int]  # from the journal
    llm_usage_total: Usage  # every tick in the journal
    llm_spend_by_day: dict[str, Usage]  # the last 31 UTC days, from state
    llm_spend_today_usd: float
    llm_budget_usd: float


class EquityPoint(BaseModel):
    as_of: datetime
    tick: int
    equity_usd: float
    drawdown_pct: float  # below the running peak, %
    buy_hold_usd: float | None = None  # the equal-weight basket bought at the first priced tick


class EquityCurve(BaseModel):
    points: list[EquityPoint]  # oldest first, at most `max_points` (evenly thinned, the last kept)
    total_ticks: int
    initial_equity_usd: float
    max_drawdown_pct: float
    buy_hold_coins: list[str]  # the basket's coins; empty when the journal has no prices


class ControlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=200, description="shown in status and notifications")


class CloseRequest(BaseModel):
    """`POST /api/v1/control/close`: the API's `bot close COIN --reason TEXT`."""

    model_config = ConfigDict(extra="forbid")

    coin: str = Field(min_length=1, max_length=20, description="the coin whose open position closes, e.g. BTC")
    reason: str = Field("", max_length=200, description="shown in status, the journal and notifications")


class ControlResult(BaseModel):
    action: str  # pause | resume | stop | start | close
    paused: bool
    stop_requested: bool
    close_requested: dict[str, str] = Field(default_factory=dict)  # coin -> reason, closed at the next tick
    message: str


class ClosedTradeRow(BaseModel):
    """One round trip, entry to exit (``bot.backtest.loop.Trade``): PnL net of both fees and funding."""

    coin: str
    side: str  # long | short
    amount: float
    entry_at: datetime
    entry_price: float
    exit_at: datetime
    exit_price: float
    exit_reason: str  # decision | stop_loss | take_profit | liquidation | manual | reconcile | stop_failed
    fees_usd: float  # entry and exit fees
    funding_received_usd: float  # received (+) or paid (-) while open
    pnl_usd: float  # net


class ClosedTradesPage(BaseModel):
    trades: list[ClosedTradeRow]  # newest exit first
    total: int  # closed trades in the whole journal
    offset: int
    next_offset: int | None  # pass as `offset` for the next (older) page; None on the last one


class CoinProfit(BaseModel):
    coin: str
    trades: int
    wins: int
    net_pnl_usd: float
    fees_usd: float


class DayProfit(BaseModel):
    day: str  # UTC, YYYY-MM-DD, of the exits
    trades: int
    net_pnl_usd: float
    fees_usd: float


class Profit(BaseModel):
    """The closed trades of the whole journal summed: FreqUI's profit view."""

    trades: int
    wins: int
    win_rate_pct: float | None
    net_pnl_usd: float
    fees_usd: float
    funding_usd: float
    by_coin: list[CoinProfit]  # best first
    by_day: list[DayProfit]  # newest first, the last 30 days with a closed trade
