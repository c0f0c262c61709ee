"""Risk step: a pure function from decisions to order plans, each with a verdict and reasons.

Every decision other than HOLD gets a verdict (approved / resized / rejected) with
stable ``RiskCode`` values and a sentence with the numbers. The limits are
``RiskSettings`` (config.toml ``[risk]``); what they mean, in the order they are checked:

- CLOSE needs an open position and is always approved: exits are never blocked.
- An entry (BUY / SELL) needs ``min_confidence``; none while the daily loss limit or
  the max drawdown holds; none on a coin within ``stop_loss_cooldown_min`` of its last
  stop-loss or liquidation; at most ``max_entries_per_hour`` / ``max_entries_per_day``
  entries (adds included) in any rolling hour / 24 hours; a new coin only below
  ``max_open_positions`` and below ``max_new_positions_per_tick`` coins opened this tick.
- Backstops that do not depend on the model behaving: the notional opened in one tick
  (entries and adds) stays within ``max_new_notional_per_tick`` x equity (cut, then
  rejected), so one obeyed injection or mistaken answer cannot put the account at its
  exposure cap in one tick.
- Adding: BUY on a long (SELL on a short) is an entry into the same position, at the
  position's leverage; its stop-loss and take-profit replace the position's, and every
  limit applies to the combined position.
- Flipping: SELL on a long (BUY on a short) gives two verdicts: the close of the open
  position (always approved) and a new entry on the other side, checked like any entry
  with the closed position's margin, exposure and slot already freed.
- A stop-loss is required: without one, one is placed ``stop_atr`` 4h ATR14s away
  (``missing_stop_loss = "derive"``) or the entry is rejected (``"reject"``). It must lie
  on the loss side of the price and keep ``liquidation_buffer_pct`` of the distance to
  the liquidation price (from the market's leverage bracket for the position's
  notional); a take-profit must lie on the profit side and pay at least
  ``min_reward_risk`` times the stop distance, both distances net of the round trip's
  cost (taker fee and slippage on entry and exit, the costs the prompt states).
- Sizing: leverage cut to ``max_leverage`` and the market's maximum, then down to a
  whole number (what Binance sets, so paper and live lock the same margin); margin =
  ``size_pct`` % of the available balance, cut to keep the position's margin within
  ``max_position_margin_pct`` % of equity and to leave the entry's fee and slippage in
  cash; notional cut so the total notional of all positions stays within
  ``max_exposure`` x equity and within what the brackets allow at that leverage; amount
  rounded DOWN to the lot step, rejected under the market's minimum amount or notional.
- The account a later decision sees is the one the plans before it leave, costs
  included: a close frees its margin and books its PnL and fee into cash.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from bot.config import RiskSettings
from bot.models import (
    Action,
    Decision,
    MarketInfo,
    OrderPlan,
    Portfolio,
    Position,
    RiskCode,
    RiskMemory,
    RiskVerdict,
    Side,
    Verdict,
)
from bot.tick.risk_entry import (
    RiskInputs,
    Running,
    client_order_id,
    derived_stop,
    fill_price,
    reject,
    review_entry,
)
from bot.tick.risk_memory import daily_loss_hit, remember

__all__ = ["client_order_id", "derived_stop", "remember", "review"]

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)  # the window of ``max_entries_per_day``


def review(
    decisions: list[Decision],
    *,
    portfolio: Portfolio,
    markets: dict[str, MarketInfo],
    settings: RiskSettings,
    memory: RiskMemory | None = None,
    peak_equity_usd: float = 0.0,
    atr_usd: dict[str, float] | None = None,
    now: datetime,
    tick_id: str,
    taker_fee_pct: float = 0.0,
    slippage_pct: float = 0.0,
) -> list[RiskVerdict]:
    """Verdicts for every decision that is not HOLD, in the order given (a flip gives two).

    ``atr_usd`` is each coin's 4h ATR14, used to derive missing stop-losses;
    ``taker_fee_pct`` and ``slippage_pct`` are what each fill costs (``[paper]``).
    """
    memory = memory or RiskMemory()
    inputs = RiskInputs(
        portfolio,
        markets,
        settings,
        memory,
        peak_equity_usd,
        atr_usd or {},
        now,
        tick_id,
        taker_fee_pct / 100.0,
        slippage_pct / 100.0,
    )
    prices = portfolio.prices
    account = portfolio.account
    running = Running(
        cash_usd=account.cash_usd,
        margin_usd=account.margin_used_usd,
        unrealized_usd=account.unrealized_pnl_usd,
        exposure_usd=sum(p.notional_usd(prices.get(coin, p.entry_price)) for coin, p in portfolio.positions.items()),
        positions=set(portfolio.positions),
        entries_hour=_entries_since(memory, now - _HOUR),
        entries_day=_entries_since(memory, now - _DAY),
    )
    verdicts: list[RiskVerdict] = []
    seen: set[str] = set()
    for decision in decisions:
        if decision.coin in seen:  # the first decision for a coin stands, a HOLD included
            if decision.action is not Action.HOLD:
                verdicts.append(reject(decision, RiskCode.DUPLICATE, "a second decision for the same coin in one tick"))
            continue
        seen.add(decision.coin)
        if decision.action is not Action.HOLD:
            verdicts += _review_one(decision, inputs=inputs, running=running)
    return verdicts


def _entries_since(memory: RiskMemory, moment: datetime) -> int:
    """Entries after ``moment``; ``remember`` keeps them in time order."""
    return len(memory.entries) - bisect.bisect_right(memory.entries, moment)


def _close(
    decision: Decision,
    position: Position,
    *,
    info: MarketInfo,
    price: float,
    inputs: RiskInputs,
    running: Running,
    code: RiskCode,
) -> RiskVerdict:
    plan = OrderPlan(
        coin=decision.coin,
        symbol=info.symbol,
        side=position.side,
        amount=position.amount,
        reference_price=price,
        leverage=position.leverage,
        reduce_only=True,
        maintenance_margin_rate=position.maintenance_margin_rate,
        maintenance_amount_usd=position.maintenance_amount_usd,
        client_order_id=client_order_id(inputs.tick_id, decision.coin, "close"),
    )
    pnl = position.unrealized_pnl_usd(price)
    exit_price = fill_price(price, buying=position.side is Side.SHORT, inputs=inputs)  # closing a long sells
    running.cash_usd += position.unrealized_pnl_usd(exit_price) - position.amount * exit_price * inputs.fee_rate
    running.margin_usd -= position.margin_usd
    running.unrealized_usd -= pnl
    running.exposure_usd -= position.notional_usd(price)
    running.positions.discard(decision.coin)
    reason = f"close the {position.side} of {position.amount:g} {decision.coin} (unrealized {pnl:+.2f} USD)"
    if code is RiskCode.FLIP_CLOSE:
        reason = f"flip, first leg: {reason}"
    return RiskVerdict(
        coin=decision.coin, action=decision.action, verdict=Verdict.APPROVED, codes=[code], reason=reason, plan=plan
    )


def _review_one(decision: Decision, *, inputs: RiskInputs, running: Running) -> list[RiskVerdict]:
    info = inputs.markets.get(decision.coin)
    price = inputs.portfolio.prices.get(decision.coin)
    if info is None or price is None or price <= 0:
        return [reject(decision, RiskCode.NO_MARKET_DATA, "no market data for this coin this tick")]
    position = inputs.portfolio.positions.get(decision.coin)
    if decision.action is Action.CLOSE:
        if position is None:
            return [reject(decision, RiskCode.NO_POSITION, "CLOSE without an open position")]
        return [_close(decision, position, info=info, price=price, inputs=inputs, running=running, code=RiskCode.CLOSE)]

    if position is not None and position.entry_tick_id == inputs.tick_id:
        # A re-run of the tick (killed, or run twice in its minute): its entry is already filled, and
        # Binance would take the same client id again once that order is no longer open.
        why = (
            f"{decision.coin} already got its opening order in this tick ({inputs.tick_id}): a re-run of a tick opens "
            f"nothing more"
        )
        return [reject(decision, RiskCode.DUPLICATE, why)]
    settings = inputs.settings
    side = Side.LONG if decision.action is Action.BUY else Side.SHORT
    if decision.confidence < settings.min_confidence:
        return [
            reject(
                decision,
                RiskCode.LOW_CONFIDENCE,
                f"confidence {decision.confidence:.2f} below the minimum {settings.min_confidence:.2f}",
            )
        ]
    verdicts = []
    if position is not None and position.side is not side:
        if not settings.allow_flipping:
            return [
                reject(
                    decision,
                    RiskCode.FLIPPING_DISABLED,
                    f"a {position.side} is open and flipping is disabled (`risk.allow_flipping`); CLOSE it first",
                )
            ]
        verdicts.append(
            _close(decision, position, info=info, price=price, inputs=inputs, running=running, code=RiskCode.FLIP_CLOSE)
        )
        position = None
    elif position is not None and not settings.allow_adding:
        return [
            reject(
                decision,
                RiskCode.ADDING_DISABLED,
                f"a {position.side} is already open and adding is disabled (`risk.allow_adding`)",
            )
        ]
    halted = _halt(decision, inputs=inputs, running=running, adding=position is not None)
    verdicts.append(
        halted
        or review_entry(decision, side=side, position=position, info=info, price=price, inputs=inputs, running=running)
    )
    return verdicts


def _halt(decision: Decision, *, inputs: RiskInputs, running: Running, adding: bool) -> RiskVerdict | None:
    """The account-level limits that block every entry, whatever its size."""
    settings, memory, now = inputs.settings, inputs.memory, inputs.now
    equity = inputs.portfolio.account.equity_usd
    if memory.halted_day == now.date() or (
        memory.day == now.date() and daily_loss_hit(memory, equity_usd=equity, settings=settings)
    ):
        start = memory.day_start_equity_usd or 0.0
        return reject(
            decision,
            RiskCode.DAILY_LOSS_LIMIT,
            f"daily loss limit: equity {equity:.2f} USD fell {settings.daily_loss_limit_pct:g}% below the day's start "
            f"{start:.2f}; no entries until 00:00 UTC",
        )
    peak = max(inputs.peak_equity_usd, equity)
    if peak > 0 and equity <= peak * (1.0 - settings.max_drawdown_pct / 100.0):
        return reject(
            decision,
            RiskCode.MAX_DRAWDOWN,
            f"max drawdown: equity {equity:.2f} USD is {(1 - equity / peak) * 100:.1f}% below its peak {peak:.2f} "
            f"(limit {settings.max_drawdown_pct:g}%); exits only",
        )
    stopped_at = memory.stop_losses.get(decision.coin)
    cooldown = timedelta(minutes=settings.stop_loss_cooldown_min)
    if stopped_at is not None and now - stopped_at < cooldown:
        until = stopped_at + cooldown
        return reject(
            decision,
            RiskCode.COOLDOWN,
            f"stopped out at {stopped_at:%H:%M} UTC; no entry on {decision.coin} before {until:%H:%M} UTC",
        )
    if running.entries_hour >= settings.max_entries_per_hour:
        return reject(
            decision,
            RiskCode.TOO_MANY_ENTRIES,
            f"{running.entries_hour} entries in the last hour, the limit is {settings.max_entries_per_hour}",
        )
    if running.entries_day >= settings.max_entries_per_day:
        return reject(
            decision,
            RiskCode.TOO_MANY_ENTRIES,
            f"{running.entries_day} entries in the last 24 hours, the limit is {settings.max_entries_per_day}",
        )
    if not adding and len(running.positions) >= settings.max_open_positions:
        return reject(
            decision,
            RiskCode.MAX_POSITIONS,
            f"{len(running.positions)} positions open, the limit is {settings.max_open_positions}",
        )
    if not adding and running.new_positions >= settings.max_new_positions_per_tick:
        return reject(
            decision,
            RiskCode.TICK_POSITIONS,
            f"this tick already opened {running.new_positions} new positions, the limit is "
            f"{settings.max_new_positions_per_tick} a tick",
        )
    return None
