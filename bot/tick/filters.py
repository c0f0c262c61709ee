"""Pure: what the account's own state lets through to the risk step before any limit is
checked. A pause, a trading window or a coin held but no longer configured refuses new
positions (exits always pass); a stop request turns every open position into a CLOSE."""

from __future__ import annotations

from bot.models import Action, Decision, RiskCode, RiskVerdict, Verdict
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
