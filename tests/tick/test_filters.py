"""bot/tick/filters.py: what the account's own state lets through to the risk step."""

from datetime import UTC, datetime

from bot.models import Action, Decision, Position, RiskCode, Side, Verdict
from bot.ops.state import BotState
from bot.tick.filters import close_everything, refuse_openings


def _d(coin: str, action: Action) -> Decision:
    return Decision(coin=coin, action=action, confidence=0.8, reasoning="r")


def test_a_block_refuses_every_opening_and_lets_exits_through():
    decisions = [_d("BTC", Action.BUY), _d("ETH", Action.CLOSE), _d("SOL", Action.SELL), _d("XRP", Action.HOLD)]
    kept, refused = refuse_openings(decisions, "paused by the owner", ["BTC", "ETH", "SOL", "XRP"])
    assert [(d.coin, d.action) for d in kept] == [("ETH", Action.CLOSE), ("XRP", Action.HOLD)]
    assert [(v.coin, v.verdict, v.codes, v.reason) for v in refused] == [
        ("BTC", Verdict.REJECTED, [RiskCode.BLOCKED], "no new positions: paused by the owner"),
        ("SOL", Verdict.REJECTED, [RiskCode.BLOCKED], "no new positions: paused by the owner"),
    ]


def test_a_coin_no_longer_configured_is_managed_never_opened():
    kept, refused = refuse_openings([_d("DOGE", Action.BUY), _d("BTC", Action.BUY)], "", ["BTC"])
    assert [d.coin for d in kept] == ["BTC"]
    assert refused[0].reason == (
        "DOGE is not in `trading.coins`: its position is managed (exits, CLOSE), never opened or added to"
    )


def test_a_stop_request_closes_every_open_position_and_keeps_the_rest():
    state = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    state.pause_reason = "stop from the CLI"
    state.positions["BTC"] = Position(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=0.01,
        entry_price=100_000,
        leverage=2,
        margin_usd=500.0,
        opened_at=datetime(2025, 6, 2, 1, 0, tzinfo=UTC),
    )
    out = close_everything([_d("BTC", Action.BUY), _d("ETH", Action.SELL)], state)
    assert [(d.coin, d.action, d.reasoning) for d in out] == [
        ("BTC", Action.CLOSE, "stop requested: stop from the CLI"),
        ("ETH", Action.SELL, "r"),
    ]
