"""Risk step: a pure function from decisions to order plans, each with a verdict and reasons.

Every decision other than HOLD gets a verdict (approved / resized / rejected) with
stable ``RiskCode`` values and a sentence with the numbers. The limits are
``RiskSettings`` (config.toml ``[risk]``); what they mean, in the order they are checked:

- CLOSE needs an open position and is always approved: exits are never blocked.
- An entry (BUY / SELL) needs ``min_confidence``; none while the daily loss limit or
  the max drawdown holds; none on a coin within ``stop_loss_cooldown_min`` of its last
  stop-loss or liquidation; at most ``max_entries_per_hour`` / ``max_entries_per_day``
  entries (adds included) in any rolling hour / 24 hours; a new coin only below
  ``max_open_positions``.
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
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import RiskSettings, StopPolicy
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
from bot.tick.margin import bracket_for, liquidation_price, max_notional_at
from bot.tick.precision import floor_to_step, round_to_step
from bot.tick.risk_memory import daily_loss_hit, remember

__all__ = ["client_order_id", "remember", "review"]

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)  # the window of ``max_entries_per_day``


def client_order_id(tick_id: str, coin: str, leg: str) -> str:
    """Deterministic per tick, coin and leg, so a retried tick maps to the same order."""
    return f"bot-{tick_id}-{coin}-{leg}"[:36]  # Binance caps client ids at 36 characters


@dataclass
class _Running:
    """The account as the plans approved so far this tick leave it."""

    cash_usd: float
    margin_usd: float
    unrealized_usd: float
    exposure_usd: float
    positions: set[str]
    entries_hour: int
    entries_day: int

    @property
    def available_usd(self) -> float:
        """As ``portfolio.account_of`` values it: unrealized losses are not spendable."""
        return max(0.0, self.cash_usd - self.margin_usd + min(0.0, self.unrealized_usd))


@dataclass
class _Inputs:
    portfolio: Portfolio
    markets: dict[str, MarketInfo]
    settings: RiskSettings
    memory: RiskMemory
    peak_equity_usd: float
    atr_usd: dict[str, float]
    now: datetime
    tick_id: str
    fee_rate: float
    slippage: float


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
    inputs = _Inputs(
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
    running = _Running(
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
                verdicts.append(
                    _reject(decision, RiskCode.DUPLICATE, "a second decision for the same coin in one tick")
                )
            continue
        seen.add(decision.coin)
        if decision.action is not Action.HOLD:
            verdicts += _review_one(decision, inputs=inputs, running=running)
    return verdicts


def _entries_since(memory: RiskMemory, moment: datetime) -> int:
    """Entries after ``moment``; ``remember`` keeps them in time order."""
    return len(memory.entries) - bisect.bisect_right(memory.entries, moment)


def _reject(decision: Decision, code: RiskCode, reason: str) -> RiskVerdict:
    return RiskVerdict(
        coin=decision.coin, action=decision.action, verdict=Verdict.REJECTED, codes=[code], reason=reason
    )


def _close(
    decision: Decision,
    position: Position,
    *,
    info: MarketInfo,
    price: float,
    inputs: _Inputs,
    running: _Running,
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
    exit_price = _fill_price(price, buying=position.side is Side.SHORT, inputs=inputs)  # closing a long sells
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


def _review_one(decision: Decision, *, inputs: _Inputs, running: _Running) -> list[RiskVerdict]:
    info = inputs.markets.get(decision.coin)
    price = inputs.portfolio.prices.get(decision.coin)
    if info is None or price is None or price <= 0:
        return [_reject(decision, RiskCode.NO_MARKET_DATA, "no market data for this coin this tick")]
    position = inputs.portfolio.positions.get(decision.coin)
    if decision.action is Action.CLOSE:
        if position is None:
            return [_reject(decision, RiskCode.NO_POSITION, "CLOSE without an open position")]
        return [_close(decision, position, info=info, price=price, inputs=inputs, running=running, code=RiskCode.CLOSE)]

    if position is not None and position.entry_tick_id == inputs.tick_id:
        # A re-run of the tick (killed, or run twice in its minute): its entry is already filled, and
        # Binance would take the same client id again once that order is no longer open.
        why = f"{decision.coin} already got its opening order in this tick ({inputs.tick_id}): a re-run of a tick opens nothing more"
        return [_reject(decision, RiskCode.DUPLICATE, why)]
    settings = inputs.settings
    side = Side.LONG if decision.action is Action.BUY else Side.SHORT
    if decision.confidence < settings.min_confidence:
        return [
            _reject(
                decision,
                RiskCode.LOW_CONFIDENCE,
                f"confidence {decision.confidence:.2f} below the minimum {settings.min_confidence:.2f}",
            )
        ]
    verdicts = []
    if position is not None and position.side is not side:
        if not settings.allow_flipping:
            return [
                _reject(
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
            _reject(
                decision,
                RiskCode.ADDING_DISABLED,
                f"a {position.side} is already open and adding is disabled (`risk.allow_adding`)",
            )
        ]
    verdicts.append(
        _entry(decision, side=side, position=position, info=info, price=price, inputs=inputs, running=running)
    )
    return verdicts


def _halt(decision: Decision, *, inputs: _Inputs, running: _Running, adding: bool) -> RiskVerdict | None:
    """The account-level limits that block every entry, whatever its size."""
    settings, memory, now = inputs.settings, inputs.memory, inputs.now
    equity = inputs.portfolio.account.equity_usd
    if memory.halted_day == now.date() or (
        memory.day == now.date() and daily_loss_hit(memory, equity_usd=equity, settings=settings)
    ):
        start = memory.day_start_equity_usd or 0.0
        return _reject(
            decision,
            RiskCode.DAILY_LOSS_LIMIT,
            f"daily loss limit: equity {equity:.2f} USD fell {settings.daily_loss_limit_pct:g}% below the day's start {start:.2f}; no entries until 00:00 UTC",
        )
    peak = max(inputs.peak_equity_usd, equity)
    if peak > 0 and equity <= peak * (1.0 - settings.max_drawdown_pct / 100.0):
        return _reject(
            decision,
            RiskCode.MAX_DRAWDOWN,
            f"max drawdown: equity {equity:.2f} USD is {(1 - equity / peak) * 100:.1f}% below its peak {peak:.2f} (limit {settings.max_drawdown_pct:g}%); exits only",
        )
    stopped_at = memory.stop_losses.get(decision.coin)
    cooldown = timedelta(minutes=settings.stop_loss_cooldown_min)
    if stopped_at is not None and now - stopped_at < cooldown:
        until = stopped_at + cooldown
        return _reject(
            decision,
            RiskCode.COOLDOWN,
            f"stopped out at {stopped_at:%H:%M} UTC; no entry on {decision.coin} before {until:%H:%M} UTC",
        )
    if running.entries_hour >= settings.max_entries_per_hour:
        return _reject(
            decision,
            RiskCode.TOO_MANY_ENTRIES,
            f"{running.entries_hour} entries in the last hour, the limit is {settings.max_entries_per_hour}",
        )
    if running.entries_day >= settings.max_entries_per_day:
        return _reject(
            decision,
            RiskCode.TOO_MANY_ENTRIES,
            f"{running.entries_day} entries in the last 24 hours, the limit is {settings.max_entries_per_day}",
        )
    if not adding and len(running.positions) >= settings.max_open_positions:
        return _reject(
            decision,
            RiskCode.MAX_POSITIONS,
            f"{len(running.positions)} positions open, the limit is {settings.max_open_positions}",
        )
    return None


def derived_stop(*, side: Side, price: float, atr_usd: float, settings: RiskSettings) -> float:
    """The stop-loss the bot's rules give a position that has none: ``stop_atr`` 4h ATR14s on its loss side."""
    return price - (1.0 if side is Side.LONG else -1.0) * settings.stop_atr * atr_usd


def _exits(
    decision: Decision,
    *,
    side: Side,
    info: MarketInfo,
    price: float,
    inputs: _Inputs,
    notes: list[str],
    codes: list[RiskCode],
) -> tuple[float, float | None] | RiskVerdict:
    """The rounded stop-loss and take-profit, or the rejection they earn."""
    settings = inputs.settings
    direction = 1.0 if side is Side.LONG else -1.0
    stop = decision.stop_loss
    if stop is None:
        atr = inputs.atr_usd.get(decision.coin, 0.0)
        if settings.missing_stop_loss is StopPolicy.REJECT:
            return _reject(
                decision, RiskCode.MISSING_STOP_LOSS, "no stop-loss given and `risk.missing_stop_loss` is reject"
            )
        if not atr > 0:
            return _reject(decision, RiskCode.MISSING_STOP_LOSS, "no stop-loss given and no ATR to derive one from")
        stop = derived_stop(side=side, price=price, atr_usd=atr, settings=settings)
        codes.append(RiskCode.STOP_DERIVED)
        notes.append(f"stop-loss derived at {settings.stop_atr:g} x ATR {atr:.6g}")
    stop = round_to_step(stop, info.price_step)
    if not direction * (price - stop) > 0:
        return _reject(
            decision,
            RiskCode.INVALID_STOP_LOSS,
            f"stop-loss {stop:.6g} is not on the loss side of the price {price:.6g} for a {side}",
        )
    take = round_to_step(decision.take_profit, info.price_step) if decision.take_profit else None
    if take is not None:
        if not direction * (take - price) > 0:
            return _reject(
                decision,
                RiskCode.INVALID_TAKE_PROFIT,
                f"take-profit {take:.6g} is not on the profit side of the price {price:.6g} for a {side}",
            )
        ratio = _net_reward_risk(price, stop=stop, take=take, long=side is Side.LONG, inputs=inputs)
        if ratio < settings.min_reward_risk:
            costs = inputs.fee_rate or inputs.slippage
            net = (
                f" (net of the round trip's fees and slippage; gross {abs(take - price) / abs(price - stop):.2f})"
                if costs
                else ""
            )
            return _reject(
                decision,
                RiskCode.LOW_REWARD_RISK,
                f"reward:risk {ratio:.2f} below the minimum {settings.min_reward_risk:g}{net}",
            )
    return stop, take


def _entry(
    decision: Decision,
    *,
    side: Side,
    position: Position | None,
    info: MarketInfo,
    price: float,
    inputs: _Inputs,
    running: _Running,
) -> RiskVerdict:
    settings = inputs.settings
    halted = _halt(decision, inputs=inputs, running=running, adding=position is not None)
    if halted:
        return halted
    notes: list[str] = []
    codes: list[RiskCode] = [RiskCode.ADD if position else RiskCode.ENTRY]

    if position is not None:
        leverage = position.leverage
        if leverage > min(settings.max_leverage, info.max_leverage):
            return _reject(
                decision,
                RiskCode.MAX_LEVERAGE,
                f"the open position's leverage {leverage:g}x is above the limit; adds are refused",
            )
    else:
        # whole leverage, never above a limit: the float tolerance is the model's (2.9999999999 asks for 3), not the
        # limits'
        leverage = float(max(1, math.floor(min(decision.leverage + 1e-9, settings.max_leverage, info.max_leverage))))
        if leverage < decision.leverage:
            codes.append(RiskCode.LEVERAGE_CAPPED)
            notes.append(f"leverage {decision.leverage:g}x cut to {leverage:g}x")

    exits = _exits(decision, side=side, info=info, price=price, inputs=inputs, notes=notes, codes=codes)
    if isinstance(exits, RiskVerdict):
        return exits
    stop, take = exits

    equity = inputs.portfolio.account.equity_usd
    held_margin = position.margin_usd if position else 0.0
    wanted = running.available_usd * decision.size_pct / 100.0
    cap = equity * settings.max_position_margin_pct / 100.0 - held_margin
    # Per unit of margin the fill locks (1 + s) (slipped), pays L (1 + s) f in fee and starts L s
    # under water (the slippage is an unrealized loss at the tick's price): all from what is free.
    slip, fee = inputs.slippage, inputs.fee_rate
    spendable = running.available_usd / ((1.0 + slip) * (1.0 + leverage * fee) + leverage * slip)
    margin = min(wanted, cap, spendable)
    if decision.size_pct <= 0:
        return _reject(decision, RiskCode.NO_MARGIN, "size_pct is 0")
    if margin <= 0:
        return _reject(
            decision,
            RiskCode.NO_MARGIN,
            f"no margin left (available {running.available_usd:.2f} USD, position cap {max(cap, 0):.2f} USD)",
        )
    if margin < wanted:
        codes.append(RiskCode.MARGIN_CAPPED)
        why = (
            f"max {settings.max_position_margin_pct:g}% of equity per position"
            if margin == cap
            else "the entry's fee and slippage kept in cash"
        )
        notes.append(f"margin {wanted:.2f} cut to {margin:.2f} USD ({why})")
    notional = margin * leverage
    room = settings.max_exposure * equity - running.exposure_usd
    if room <= 0:
        return _reject(
            decision,
            RiskCode.MAX_EXPOSURE,
            f"total notional {running.exposure_usd:.2f} USD already at {settings.max_exposure:g} x equity",
        )
    if notional > room:
        codes.append(RiskCode.EXPOSURE_CAPPED)
        notes.append(
            f"notional {notional:.2f} cut to {room:.2f} USD (max {settings.max_exposure:g} x equity in all positions)"
        )
        notional = room
    held_notional = position.amount * position.entry_price if position else 0.0
    allowed = max_notional_at(info, leverage) - held_notional
    if notional > allowed:
        if allowed <= 0:
            return _reject(
                decision,
                RiskCode.MAX_LEVERAGE,
                f"the exchange allows no more notional at {leverage:g}x on {decision.coin} (leverage brackets)",
            )
        codes.append(RiskCode.LEVERAGE_CAPPED)
        notes.append(
            f"notional {notional:.2f} cut to {allowed:.2f} USD (the exchange's leverage brackets allow at most that at {leverage:g}x)"
        )
        notional = allowed
    amount = floor_to_step(notional / price, info.amount_step)
    notional = amount * price
    if amount <= 0 or amount < info.min_amount:
        return _reject(
            decision,
            RiskCode.BELOW_MIN_ORDER,
            f"order size {amount:g} {decision.coin} below the market minimum {info.min_amount:g}",
        )
    if notional < info.min_notional_usd:
        return _reject(
            decision,
            RiskCode.BELOW_MIN_ORDER,
            f"order notional {notional:.2f} USD below the market minimum {info.min_notional_usd:g} USD",
        )

    margin = notional / leverage
    total_amount = amount + (position.amount if position else 0.0)
    entry_price = (notional + held_notional) / total_amount
    bracket = bracket_for(info, notional + held_notional)
    liquidation = liquidation_price(
        side=side,
        amount=total_amount,
        entry_price=entry_price,
        margin_usd=margin + held_margin,
        maintenance_margin_rate=bracket.maintenance_margin_rate,
        maintenance_amount_usd=bracket.maintenance_amount_usd,
    )
    if liquidation is not None:
        direction = 1.0 if side is Side.LONG else -1.0
        distance = direction * (price - liquidation)
        if distance <= 0 or direction * (price - stop) > distance * (1.0 - settings.liquidation_buffer_pct / 100.0):
            return _reject(
                decision,
                RiskCode.STOP_BEYOND_LIQUIDATION,
                f"stop-loss {stop:.6g} is too close to or beyond the liquidation price {liquidation:.6g} at {leverage:g}x "
                f"(keep {settings.liquidation_buffer_pct:g}% of the distance); use a tighter stop or less leverage",
            )

    fill_price = _fill_price(price, buying=side is Side.LONG, inputs=inputs)
    running.margin_usd += amount * fill_price / leverage
    running.cash_usd -= amount * fill_price * fee
    running.unrealized_usd -= amount * abs(fill_price - price)
    running.exposure_usd += notional
    running.positions.add(decision.coin)
    running.entries_hour += 1
    running.entries_day += 1
    plan = OrderPlan(
        coin=decision.coin,
        symbol=info.symbol,
        side=side,
        amount=amount,
        reference_price=price,
        leverage=leverage,
        stop_loss=stop,
        take_profit=take,
        invalidation=decision.invalidation,
        maintenance_margin_rate=bracket.maintenance_margin_rate,
        maintenance_amount_usd=bracket.maintenance_amount_usd,
        client_order_id=client_order_id(inputs.tick_id, decision.coin, "add" if position else "entry"),
    )
    verdict = Verdict.RESIZED if len(codes) > 1 else Verdict.APPROVED
    summary = f"{'add: ' if position else ''}margin {margin:.2f} USD x {leverage:g} = {notional:.2f} USD notional"
    reason = "; ".join([*notes, summary]) if notes else summary
    return RiskVerdict(
        coin=decision.coin, action=decision.action, verdict=verdict, codes=codes, reason=reason, plan=plan
    )


def _fill_price(price: float, *, buying: bool, inputs: _Inputs) -> float:
    """Where a market order fills: ``slippage`` against it, as the paper broker fills."""
    return price * (1.0 + inputs.slippage) if buying else price * (1.0 - inputs.slippage)


def _net_reward_risk(price: float, *, stop: float, take: float, long: bool, inputs: _Inputs) -> float:
    """What the take-profit earns over what the stop-loss loses, per unit, as the fills would
    book them: entry and exit slipped against the order, the taker fee on both."""
    entry = _fill_price(price, buying=long, inputs=inputs)
    direction = 1.0 if long else -1.0

    def net(exit_level: float) -> float:
        exit_price = _fill_price(exit_level, buying=not long, inputs=inputs)
        return direction * (exit_price - entry) - inputs.fee_rate * (entry + exit_price)

    return net(take) / -net(stop)
