"""Pure valuation of the account: equity, available margin, return and Sharpe.

Sharpe here is the annualised mean / standard deviation of per-tick equity returns.
Crypto trades every day of the year and cron ticks every 3 minutes, so one year is
365 x 480 = 175,200 ticks (not 252 trading days as in equity markets). Ticks that
cron missed make a few returns span longer than 3 minutes; that is ignored. Below a
day of returns (SHARPE_MIN_RETURNS) the ratio is noise (a dozen ticks gave -296), so it
is not given at all.
"""

from __future__ import annotations

import math

from bot.models import Account, Portfolio, Position, ReturnStats
from bot.ops.state import BotState

TICKS_PER_YEAR = 365 * 24 * 20
SHARPE_MIN_RETURNS = 24 * 20  # a day of 3-minute ticks


def account_of(cash_usd: float, positions: dict[str, Position], prices: dict[str, float]) -> Account:
    """Isolated margin: each position locks its margin; unrealized PnL is not spendable."""
    unrealized = sum(p.unrealized_pnl_usd(prices.get(coin, p.entry_price)) for coin, p in positions.items())
    margin = sum(p.margin_usd for p in positions.values())
    return Account(
        cash_usd=cash_usd,
        equity_usd=cash_usd + unrealized,
        margin_used_usd=margin,
        unrealized_pnl_usd=unrealized,
        available_usd=max(0.0, cash_usd - margin + min(0.0, unrealized)),
    )


def sharpe_ratio(stats: ReturnStats) -> float | None:
    if stats.count < SHARPE_MIN_RETURNS or stats.std == 0:
        return None
    return stats.mean / stats.std * math.sqrt(TICKS_PER_YEAR)


def portfolio_of(
    *,
    cash_usd: float,
    positions: dict[str, Position],
    prices: dict[str, float],
    initial_equity_usd: float,
    stats: ReturnStats,
) -> Portfolio:
    account = account_of(cash_usd, positions, prices)
    return Portfolio(
        account=account,
        positions=positions,
        prices=prices,
        initial_equity_usd=initial_equity_usd,
        return_pct=(account.equity_usd / initial_equity_usd - 1.0) * 100.0,
        sharpe=sharpe_ratio(stats),
    )


def record_equity(state: BotState, equity: float) -> None:
    """One tick's equity into the account's return statistics, peak and max drawdown (a
    backtest's skipped tick books through this too, so both paths keep the same figures)."""
    if state.last_equity_usd > 0:
        state.return_stats = state.return_stats.add(equity / state.last_equity_usd - 1.0)
    state.last_equity_usd = equity
    if equity > state.peak_equity_usd:
        state.peak_equity_usd = equity
    drawdown_pct = (1.0 - equity / state.peak_equity_usd) * 100.0 if state.peak_equity_usd > 0 else 0.0
    if drawdown_pct > state.max_drawdown_pct:
        state.max_drawdown_pct = drawdown_pct
