"""bot/tick/filters.py: what the account's own state lets through to the risk step."""

from datetime import UTC, datetime

from bot.models import Action, Decision, Fill, FillReason, Position, RiskCode, Side, Verdict
from bot.ops.state import BookedFill, BotState
from bot.tick.filters import close_everything, manual_fills, refuse_openings, requested_closes, still_requested


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


def _held(*coins: str) -> BotState:
    state = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    for coin in coins:
        state.positions[coin] = Position(
            coin=coin,
            symbol=f"{coin}/USDT:USDT",
            side=Side.SHORT,
            amount=1.0,
            entry_price=100.0,
            leverage=2,
            margin_usd=50.0,
            opened_at=datetime(2025, 6, 2, 1, 0, tzinfo=UTC),
        )
    return state


def _fill(coin: str, *, close: bool, reason: FillReason = FillReason.DECISION) -> Fill:
    at = datetime(2025, 6, 2, 1, 3, tzinfo=UTC)
    return Fill(coin=coin, side=Side.SHORT, amount=1.0, price=101.0, fee_usd=0.05, reduce_only=close, reason=reason,
                client_order_id=f"bot-250602T0103-{coin}-{'close' if close else 'entry'}", at=at)  # fmt: skip


def test_a_close_request_replaces_what_the_strategy_said_of_that_coin_only_while_it_is_held():
    state = _held("BTC", "XRP")
    state.close_requested = {"XRP": "news", "DOGE": ""}  # DOGE went flat (stopped out) since it was asked
    out = requested_closes([_d("XRP", Action.SELL), _d("BTC", Action.HOLD), _d("DOGE", Action.SELL)], state)
    assert [(d.coin, d.action, d.reasoning) for d in out] == [
        ("XRP", Action.CLOSE, "closed by hand: news"),
        ("BTC", Action.HOLD, "r"),
        ("DOGE", Action.SELL, "r"),  # not held: the request is not a decision (the pause filter rules on SELL)
    ]
    assert still_requested(state) == {"XRP": "news"}
    state.close_requested = {"BTC": ""}
    assert [(d.coin, d.reasoning) for d in requested_closes([], state)] == [("BTC", "closed by hand")]
    state.stop_requested, state.pause_reason = True, "stop"  # a stop closes everything: it wins
    assert [d.coin for d in requested_closes([], state)] == ["BTC", "XRP"]


def test_the_requested_closes_fills_say_manual_in_the_report_and_in_the_state_copy():
    state = _held("BTC", "XRP")
    state.close_requested = {"XRP": "news"}
    fills = [_fill("XRP", close=True), _fill("BTC", close=True), _fill("XRP", close=True, reason=FillReason.STOP_LOSS)]
    state.booked_fills = [BookedFill(fill=fills[0])]  # the live desk saved it before returning it
    out = manual_fills(fills, state)
    assert [(f.coin, f.reason) for f in out] == [
        ("XRP", FillReason.MANUAL),
        ("BTC", FillReason.DECISION),  # not asked for: the strategy's close
        ("XRP", FillReason.STOP_LOSS),  # the exchange's trigger came first: said as it was
    ]
    assert state.booked_fills[0].fill == out[0]  # the journal gets the same fill once, not two
    assert manual_fills(fills, _held("XRP")) == fills  # no request: untouched
