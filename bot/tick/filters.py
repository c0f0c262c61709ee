"""Pure: what the account's own state lets through to the risk step before any limit is
checked. A pause, a trading window or a coin held but no longer configured refuses new
positions (exits always pass); a stop request turns every open position into a CLOSE, and
`bot close COIN` (``BotState.close_requested``) that one position."""

from __future__ import annotations

from bot.models import Action, Decision, Fill, FillReason, RiskCode, RiskVerdict, Verdict
from bot.ops.state import BotState


def refuse_openings(
    decisions: list[Decision], blocked: str, coins: list[str]
) -> tuple[list[Decision], list[RiskVerdict]]:
    """Paused or outside the windows, or a coin held but not in ``trading.coins``: BUY/SELL
    never reach the risk step; CLOSE and HOLD do."""
    opening = {Action.BUY, Action.SELL}

    def why(decision: Decision) -> str:
        if decision.action not in opening:
            return ""
        if blocked:
            return f"no new positions: {blocked}"
        return (
            ""
            if decision.coin in coins
            else f"{decision.coin} is not in `trading.coins`: "
            "its position is managed (exits, CLOSE), never opened or added to"
        )

    reasons = {id(d): why(d) for d in decisions}
    refused = [
        RiskVerdict(
            coin=d.coin, action=d.action, verdict=Verdict.REJECTED, codes=[RiskCode.BLOCKED], reason=reasons[id(d)]
        )
        for d in decisions
        if reasons[id(d)]
    ]
    return [d for d in decisions if not reasons[id(d)]], refused


def close_everything(decisions: list[Decision], state: BotState) -> list[Decision]:
    """Stop requested: a CLOSE for every open position replaces what the strategy said of it."""
    closes = [
        Decision(coin=coin, action=Action.CLOSE, confidence=1.0, reasoning=f"stop requested: {state.pause_reason}")
        for coin in state.positions
    ]
    return closes + [decision for decision in decisions if decision.coin not in state.positions]


def requested_closes(decisions: list[Decision], state: BotState) -> list[Decision]:
    """The owner's closes replace what the strategy said of those coins: every position after a
    stop, else each coin of a `bot close` request that is still held."""
    if state.stop_requested:
        return close_everything(decisions, state)
    requested = still_requested(state)
    closes = [
        Decision(
            coin=coin,
            action=Action.CLOSE,
            confidence=1.0,
            reasoning=f"closed by hand: {why}" if why else "closed by hand",
        )
        for coin, why in requested.items()
    ]
    return closes + [decision for decision in decisions if decision.coin not in requested]


def still_requested(state: BotState) -> dict[str, str]:
    """The `bot close` requests whose coin is still held: a refused or failed close is tried
    again next tick; a coin gone flat (closed, stopped out) drops its request."""
    return {coin: why for coin, why in state.close_requested.items() if coin in state.positions}


def manual_fills(fills: list[Fill], state: BotState) -> list[Fill]:
    """The closing fills of a `bot close` request are journaled (and notified) as ``manual``: in
    what the broker returned and in the copies it booked into the state (the live desk saves them
    there before the journal has them). A kill between that save and this tick's end leaves them
    ``decision``."""
    if not fills or not state.close_requested:
        return fills

    def relabel(fill: Fill) -> Fill:
        if fill.reduce_only and fill.coin in state.close_requested and fill.reason is FillReason.DECISION:
            return fill.model_copy(update={"reason": FillReason.MANUAL})
        return fill

    for booked in state.booked_fills:
        booked.fill = relabel(booked.fill)
    return [relabel(fill) for fill in fills]
