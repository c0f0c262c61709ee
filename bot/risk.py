"""Risk step: a pure function from decisions to order plans, each with a verdict and reason.

Sizing: margin = ``size_pct`` of the available balance, notional = margin x leverage,
amount = notional / price rounded DOWN to the market's lot step. Leverage above
``risk.max_leverage`` and size above ``risk.max_size_pct`` are cut (verdict "resized");
orders under the market's minimum size or notional are rejected. One position per coin:
BUY/SELL while a position is open is rejected (adding and flipping are not enabled), and
CLOSE needs an open position.
"""

from __future__ import annotations

from bot.config import RiskSettings
from bot.models import Action, Decision, MarketInfo, OrderPlan, Portfolio, RiskVerdict, Side, Verdict
from bot.precision import floor_to_step, round_to_step


def client_order_id(tick_id: str, coin: str, leg: str) -> str:
    """Deterministic per tick, coin and leg, so a retried tick maps to the same order."""
    return f"bot-{tick_id}-{coin}-{leg}"[:36]  # Binance caps client ids at 36 characters


def review(
    decisions: list[Decision],
    *,
    portfolio: Portfolio,
    markets: dict[str, MarketInfo],
    settings: RiskSettings,
    tick_id: str,
) -> list[RiskVerdict]:
    """A verdict for every decision that is not HOLD, in the order given."""
    available = portfolio.account.available_usd
    verdicts = []
    for decision in decisions:
        if decision.action is Action.HOLD:
            continue
        verdict = _review_one(decision, portfolio=portfolio, markets=markets, settings=settings, tick_id=tick_id, available=available)
        if verdict.plan and not verdict.plan.reduce_only:
            available -= verdict.plan.amount * verdict.plan.reference_price / verdict.plan.leverage
        verdicts.append(verdict)
    return verdicts


def _review_one(
    decision: Decision,
    *,
    portfolio: Portfolio,
    markets: dict[str, MarketInfo],
    settings: RiskSettings,
    tick_id: str,
    available: float,
) -> RiskVerdict:
    def reject(reason: str) -> RiskVerdict:
        return RiskVerdict(coin=decision.coin, action=decision.action, verdict=Verdict.REJECTED, reason=reason)

    info = markets.get(decision.coin)
    price = portfolio.prices.get(decision.coin)
    if info is None or price is None:
        return reject("no market data for this coin this tick")
    position = portfolio.positions.get(decision.coin)

    if decision.action is Action.CLOSE:
        if position is None:
            return reject("CLOSE without an open position")
        plan = OrderPlan(
            coin=decision.coin,
            symbol=info.symbol,
            side=position.side,
            amount=position.amount,
            reference_price=price,
            leverage=position.leverage,
            reduce_only=True,
            client_order_id=client_order_id(tick_id, decision.coin, "close"),
        )
        return RiskVerdict(coin=decision.coin, action=decision.action, verdict=Verdict.APPROVED, reason="close position", plan=plan)

    if decision.confidence < settings.min_confidence:
        return reject(f"confidence {decision.confidence:.2f} below the minimum {settings.min_confidence:.2f}")
    if position is not None:
        return reject(f"a {position.side} position is already open (adding and flipping are not enabled)")

    side = Side.LONG if decision.action is Action.BUY else Side.SHORT
    notes = []
    leverage = min(decision.leverage, settings.max_leverage, info.max_leverage)
    if leverage < decision.leverage:
        notes.append(f"leverage {decision.leverage:g}x cut to {leverage:g}x")
    size_pct = min(decision.size_pct, settings.max_size_pct)
    if size_pct < decision.size_pct:
        notes.append(f"size {decision.size_pct:g}% cut to {size_pct:g}%")
    if size_pct <= 0:
        return reject("size_pct is 0")

    margin = available * size_pct / 100.0
    amount = floor_to_step(margin * leverage / price, info.amount_step)
    notional = amount * price
    if amount <= 0 or amount < info.min_amount:
        return reject(f"order size {amount:g} {decision.coin} below the market minimum {info.min_amount:g}")
    if notional < info.min_notional_usd:
        return reject(f"order notional {notional:.2f} USD below the market minimum {info.min_notional_usd:g} USD")

    plan = OrderPlan(
        coin=decision.coin,
        symbol=info.symbol,
        side=side,
        amount=amount,
        reference_price=price,
        leverage=leverage,
        stop_loss=round_to_step(decision.stop_loss, info.price_step) if decision.stop_loss else None,
        take_profit=round_to_step(decision.take_profit, info.price_step) if decision.take_profit else None,
        invalidation=decision.invalidation,
        client_order_id=client_order_id(tick_id, decision.coin, "entry"),
    )
    verdict = Verdict.RESIZED if notes else Verdict.APPROVED
    reason = "; ".join(notes) or f"margin {margin:.2f} USD x {leverage:g} = {notional:.2f} USD notional"
    return RiskVerdict(coin=decision.coin, action=decision.action, verdict=verdict, reason=reason, plan=plan)
