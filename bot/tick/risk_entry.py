"""The entry half of the risk step: exits, sizing and the account a plan leaves behind.

``bot.tick.risk.review`` decides which decisions are entries and which account-level limits
block them; this module sizes an entry that may go ahead (leverage, margin, exposure,
brackets, lot step), places or checks its stop-loss and take-profit net of the round trip's
cost, and keeps ``Running``, the account as the plans approved so far this tick leave it.
The rules are listed in ``bot.tick.risk``'s docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from bot.config import RiskSettings, StopPolicy
from bot.models import (
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


def client_order_id(tick_id: str, coin: str, leg: str) -> str:
    """Deterministic per tick, coin and leg, so a retried tick maps to the same order."""
    return f"bot-{tick_id}-{coin}-{leg}"[:36]  # Binance caps client ids at 36 characters


@dataclass
class Running:
    """The account as the plans approved so far this tick leave it."""

    cash_usd: float
    margin_usd: float
    unrealized_usd: float
    exposure_usd: float
    positions: set[str]
    entries_hour: int
    entries_day: int
    new_notional_usd: float = 0.0  # opened this tick (entries and adds)
    new_positions: int = 0  # coins opened this tick

    @property
    def available_usd(self) -> float:
        """As ``portfolio.account_of`` values it: unrealized losses are not spendable."""
        return max(0.0, self.cash_usd - self.margin_usd + min(0.0, self.unrealized_usd))


@dataclass
class RiskInputs:
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


def reject(decision: Decision, code: RiskCode, reason: str) -> RiskVerdict:
    return RiskVerdict(
        coin=decision.coin, action=decision.action, verdict=Verdict.REJECTED, codes=[code], reason=reason
    )


def derived_stop(*, side: Side, price: float, atr_usd: float, settings: RiskSettings) -> float:
    """The stop-loss the bot's rules give a position that has none: ``stop_atr`` 4h ATR14s on its loss side."""
    return price - (1.0 if side is Side.LONG else -1.0) * settings.stop_atr * atr_usd


def _exits(
    decision: Decision,
    *,
    side: Side,
    info: MarketInfo,
    price: float,
    inputs: RiskInputs,
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
            return reject(
                decision, RiskCode.MISSING_STOP_LOSS, "no stop-loss given and `risk.missing_stop_loss` is reject"
            )
        if not atr > 0:
            return reject(decision, RiskCode.MISSING_STOP_LOSS, "no stop-loss given and no ATR to derive one from")
        stop = derived_stop(side=side, price=price, atr_usd=atr, settings=settings)
        codes.append(RiskCode.STOP_DERIVED)
        notes.append(f"stop-loss derived at {settings.stop_atr:g} x ATR {atr:.6g}")
    asked_stop, stop = stop, round_to_step(stop, info.price_step)
    if not direction * (price - stop) > 0:
        return reject(
            decision,
            RiskCode.INVALID_STOP_LOSS,
            f"stop-loss {stop:.6g} is not on the loss side of the price {price:.6g} for a {side}",
        )
    take = round_to_step(decision.take_profit, info.price_step) if decision.take_profit else None
    if take is not None:
        if not direction * (take - price) > 0:
            return reject(
                decision,
                RiskCode.INVALID_TAKE_PROFIT,
                f"take-profit {take:.6g} is not on the profit side of the price {price:.6g} for a {side}",
            )
        long, minimum = side is Side.LONG, settings.min_reward_risk
        ratio = _net_reward_risk(price, stop=stop, take=take, long=long, inputs=inputs)
        asked = _net_reward_risk(price, stop=asked_stop, take=decision.take_profit, long=long, inputs=inputs)
        if ratio < minimum <= asked + 1e-9:
            # the price step's rounding alone fails it (each rounding moves half a step at most; the
            # asked ratio to the last float bits, as ``take_profit_for`` computes it): the take-profit
            # goes out by whole steps rather than refuse a plan that asked enough
            for _ in range(2 + math.ceil(minimum)):
                take = round_to_step(take + direction * info.price_step, info.price_step)
                ratio = _net_reward_risk(price, stop=stop, take=take, long=long, inputs=inputs)
                if ratio >= minimum:
                    notes.append(f"take-profit rounded out to {take:,.12g} to keep reward:risk {minimum:g} net")
                    break
        if ratio < minimum:
            costs = inputs.fee_rate or inputs.slippage
            net = (
                f" (net of the round trip's fees and slippage; gross {abs(take - price) / abs(price - stop):.2f})"
                if costs
                else ""
            )
            return reject(
                decision,
                RiskCode.LOW_REWARD_RISK,
                f"reward:risk {ratio:.2f} below the minimum {settings.min_reward_risk:g}{net}",
            )
    return stop, take


def review_entry(
    decision: Decision,
    *,
    side: Side,
    position: Position | None,
    info: MarketInfo,
    price: float,
    inputs: RiskInputs,
    running: Running,
) -> RiskVerdict:
    """An entry the account-level limits let through (``bot.tick.risk`` checked them), sized and checked."""
    settings = inputs.settings
    notes: list[str] = []
    codes: list[RiskCode] = [RiskCode.ADD if position else RiskCode.ENTRY]

    if position is not None:
        leverage = position.leverage
        if leverage > min(settings.max_leverage, info.max_leverage):
            return reject(
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
        return reject(decision, RiskCode.NO_MARGIN, "size_pct is 0")
    if margin <= 0:
        return reject(
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
        return reject(
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
    tick_room = settings.max_new_notional_per_tick * equity - running.new_notional_usd
    if tick_room <= 0:
        return reject(
            decision,
            RiskCode.TICK_NOTIONAL,
            f"this tick already opened {running.new_notional_usd:.2f} USD notional, the limit is "
            f"{settings.max_new_notional_per_tick:g} x equity a tick",
        )
    if notional > tick_room:
        codes.append(RiskCode.TICK_NOTIONAL_CAPPED)
        notes.append(
            f"notional {notional:.2f} cut to {tick_room:.2f} USD (max {settings.max_new_notional_per_tick:g} x "
            "equity opened in one tick)"
        )
        notional = tick_room
    held_notional = position.amount * position.entry_price if position else 0.0
    allowed = max_notional_at(info, leverage) - held_notional
    if notional > allowed:
        if allowed <= 0:
            return reject(
                decision,
                RiskCode.MAX_LEVERAGE,
                f"the exchange allows no more notional at {leverage:g}x on {decision.coin} (leverage brackets)",
            )
        codes.append(RiskCode.LEVERAGE_CAPPED)
        notes.append(
            f"notional {notional:.2f} cut to {allowed:.2f} USD (the exchange's leverage brackets allow at most that "
            f"at {leverage:g}x)"
        )
        notional = allowed
    amount = floor_to_step(notional / price, info.amount_step)
    notional = amount * price
    if amount <= 0 or amount < info.min_amount:
        return reject(
            decision,
            RiskCode.BELOW_MIN_ORDER,
            f"order size {amount:g} {decision.coin} below the market minimum {info.min_amount:g}",
        )
    if notional < info.min_notional_usd:
        return reject(
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
            return reject(
                decision,
                RiskCode.STOP_BEYOND_LIQUIDATION,
                f"stop-loss {stop:.6g} is too close to or beyond the liquidation price {liquidation:.6g} at "
                f"{leverage:g}x "
                f"(keep {settings.liquidation_buffer_pct:g}% of the distance); use a tighter stop or less leverage",
            )

    filled_at = fill_price(price, buying=side is Side.LONG, inputs=inputs)
    running.margin_usd += amount * filled_at / leverage
    running.cash_usd -= amount * filled_at * fee
    running.unrealized_usd -= amount * abs(filled_at - price)
    running.exposure_usd += notional
    running.positions.add(decision.coin)
    running.new_notional_usd += notional
    running.new_positions += 0 if position else 1
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


def fill_price(price: float, *, buying: bool, inputs: RiskInputs) -> float:
    """Where a market order fills: ``slippage`` against it, as the paper broker fills."""
    return price * (1.0 + inputs.slippage) if buying else price * (1.0 - inputs.slippage)


def _net_line(price: float, *, long: bool, fee_rate: float, slippage: float) -> tuple[float, float]:
    """``(a, b)`` with ``a x L - b`` what one unit entered at ``price`` nets when it exits at the
    level L, as the fills would book it: entry and exit slipped against the order (as
    ``fill_price``), the taker fee on both. Linear in L, so the check and its inverse share it."""
    direction = 1.0 if long else -1.0
    entry = price * (1.0 + direction * slippage)
    return (1.0 - direction * slippage) * (direction - fee_rate), entry * (direction + fee_rate)


def _net_reward_risk(price: float, *, stop: float, take: float, long: bool, inputs: RiskInputs) -> float:
    """What the take-profit earns over what the stop-loss loses, per unit, net of both fills."""
    a, b = _net_line(price, long=long, fee_rate=inputs.fee_rate, slippage=inputs.slippage)
    return (a * take - b) / (b - a * stop)


def take_profit_for(
    price: float, *, stop: float, reward_risk: float, long: bool, taker_fee_pct: float, slippage_pct: float
) -> float:
    """The take-profit that earns ``reward_risk`` times what ``stop`` loses, both net of the
    round trip's fees and slippage: the inverse of the ``min_reward_risk`` check, with the
    costs ``review`` is given (``[paper]``), so a strategy asking for the minimum passes it."""
    a, b = _net_line(price, long=long, fee_rate=taker_fee_pct / 100.0, slippage=slippage_pct / 100.0)
    return b * (1.0 + reward_risk) / a - reward_risk * stop
