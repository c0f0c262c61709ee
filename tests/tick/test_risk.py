"""Risk step: sizing, every limit, adding and flipping, with hand-worked numbers; then the
property that no approved plan ever breaks a limit, whatever the inputs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.config import PaperSettings, RiskSettings, StopPolicy
from bot.models import (
    Action,
    Decision,
    MarketInfo,
    Position,
    ReturnStats,
    RiskCode,
    RiskMemory,
    Side,
    Verdict,
)
from bot.ops.state import BotState
from bot.tick.portfolio import portfolio_of
from bot.tick.risk import client_order_id, review
from bot.venues.paper import PaperBroker

BTC = MarketInfo(symbol="BTC/USDT:USDT", amount_step=0.001, price_step=0.1, min_amount=0.001, min_notional_usd=100)
ETH = MarketInfo(symbol="ETH/USDT:USDT", amount_step=0.001, price_step=0.01, min_amount=0.001, min_notional_usd=20)
SOL = MarketInfo(
    symbol="SOL/USDT:USDT", amount_step=0.01, price_step=0.01, min_amount=0.01, min_notional_usd=5, max_leverage=20
)
MARKETS = {"BTC": BTC, "ETH": ETH}
PRICES = {"BTC": 100_000.0, "ETH": 2_500.0}
NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
# The per-tick backstops out of the way: each case below tests one limit; the backstops are
# tested at their defaults in test_an_obeyed_injection_is_held_to_the_per_tick_backstops.
NO_BACKSTOPS = {"max_new_notional_per_tick": 100.0, "max_new_positions_per_tick": 100}


def _risk(**fields) -> RiskSettings:
    return RiskSettings(**{**NO_BACKSTOPS, **fields})


DEFAULT_RISK = _risk()


def _portfolio(positions=None, cash=10_000.0, prices=PRICES):
    return portfolio_of(
        cash_usd=cash, positions=positions or {}, prices=prices, initial_equity_usd=10_000.0, stats=ReturnStats()
    )


def _decide(coin="BTC", action=Action.BUY, **fields):
    values = dict(confidence=0.8, size_pct=10, leverage=3, stop_loss=98_000, take_profit=104_000)
    values.update(fields)
    return Decision(coin=coin, action=action, **values)


def _review(
    *decisions,
    positions=None,
    settings=DEFAULT_RISK,
    memory=None,
    peak=10_000.0,
    atr=None,
    cash=10_000.0,
    prices=PRICES,
    **costs,
):
    return review(
        list(decisions),
        portfolio=_portfolio(positions, cash, prices),
        markets=MARKETS,
        settings=settings,
        memory=memory,
        peak_equity_usd=peak,
        atr_usd=atr,
        now=NOW,
        tick_id="250603T1200",
        **costs,
    )


def _position(coin="BTC", side=Side.LONG, amount=0.02, entry=95_000.0, leverage=2.0):
    return Position(
        coin=coin,
        symbol=f"{coin}/USDT:USDT",
        side=side,
        amount=amount,
        entry_price=entry,
        leverage=leverage,
        margin_usd=amount * entry / leverage,
        opened_at=NOW - timedelta(hours=5),
    )


# -- every limit, one row each ----------------------------------------------------------

LONG_ETH = {"ETH": _position("ETH", amount=1, entry=2_500, leverage=5)}
FULL_ETH = {"ETH": _position("ETH", amount=12, entry=2_500, leverage=10)}  # 30,000 notional = 3 x equity
ALL_CASH_IN_ETH = {"ETH": _position("ETH", amount=4, entry=2_500, leverage=1)}  # 10,000 margin
TODAY = NOW.date()


# -- issue 16: money as the exchange counts it -----------------------------------------

# A market with Binance-style brackets: up to 5,000 notional MMR 1 % (50x), up to 25,000
# MMR 2.5 % with a maintenance amount of 5,000 x (2.5 % - 1 %) = 75 (20x), then 5 % (10x).
TIERED = MarketInfo(
    symbol="ALT/USDT:USDT",
    amount_step=1,
    price_step=0.01,
    max_leverage=50,
    tiers=[(5_000, 0.01, 0.0, 50), (25_000, 0.025, 75.0, 20), (100_000, 0.05, 700.0, 10)],
)


def _alt(stop, take=115.0, leverage=10, size_pct=20):
    return review(
        [_decide("ALT", leverage=leverage, size_pct=size_pct, stop_loss=stop, take_profit=take)],
        portfolio=_portfolio(prices={"ALT": 100.0}),
        markets={"ALT": TIERED},
        settings=_risk(max_leverage=50),
        now=NOW,
        tick_id="t",
    )


# -- property: no approved plan breaks a limit -----------------------------------------

# SOL with brackets that bind at the property's sizes: 1 % to 2,000 (20x), 2.5 % to 10,000 (10x), 5 % (5x).
SOL_TIERED = SOL.model_copy(
    update={"tiers": [(2_000, 0.01, 0.0, 20), (10_000, 0.025, 30.0, 10), (1e12, 0.05, 280.0, 5)]}
)
PROP_MARKETS = {"BTC": BTC, "ETH": ETH, "SOL": SOL_TIERED}
PROP_PRICES = {"BTC": 100_000.0, "ETH": 2_500.0, "SOL": 150.0}
COINS = ["BTC", "ETH", "SOL", "DOGE"]


def _held(draw, coin: str, *, cash: float, leverages: list[float], share: float, spread: float) -> Position:
    """A drawn position in ``coin`` that locks up to ``share`` of ``cash`` (at least 1 %), entered
    within ``spread`` of the coin's price, on a whole amount step."""
    info = PROP_MARKETS[coin]
    leverage = draw(st.sampled_from(leverages))
    margin = cash * draw(st.floats(0.01, share))
    entry = PROP_PRICES[coin] * draw(st.floats(1 - spread, 1 + spread))
    amount = max(info.amount_step, round(margin * leverage / entry / info.amount_step) * info.amount_step)
    return Position(
        coin=coin,
        symbol=info.symbol,
        side=draw(st.sampled_from(Side)),
        amount=amount,
        entry_price=entry,
        leverage=leverage,
        margin_usd=amount * entry / leverage,
        opened_at=NOW - timedelta(hours=3),
    )


@st.composite
def _positions(draw, cash):
    coins = draw(st.lists(st.sampled_from(["BTC", "ETH", "SOL"]), unique=True, max_size=3))
    # each position locks 1-50 % of the cash
    return {
        coin: _held(draw, coin, cash=cash, leverages=[1.0, 2.0, 5.0, 10.0, 20.0], share=0.5, spread=0.2)
        for coin in coins
    }


@st.composite
def _decision(draw):
    coin = draw(st.sampled_from(["BTC", "ETH", "SOL"] * 3 + ["DOGE"]))  # DOGE has no market data
    price = PROP_PRICES.get(coin, 1.0)
    action = draw(st.sampled_from([Action.BUY, Action.SELL] * 3 + [Action.CLOSE, Action.HOLD]))
    direction = -1 if action is Action.SELL else 1
    # mostly sensible exits (stop 0.2-10 % away on the loss side, take-profit 0.5-5x as far on
    # the profit side), sometimes missing or on the wrong side
    stop_distance = draw(st.floats(0.002, 0.1) | st.floats(0.002, 0.3))
    stop_side = draw(st.sampled_from([-1, -1, -1, -1, 1]))
    stop = draw(st.sampled_from([price * (1 + stop_side * direction * stop_distance)] * 4 + [None]))
    take_side = draw(st.sampled_from([1, 1, 1, 1, -1]))
    take = price * max(0.01, 1 + take_side * direction * stop_distance * draw(st.floats(0.5, 5)))
    return Decision(
        coin=coin,
        action=action,
        confidence=draw(st.floats(0.3, 1)),
        size_pct=draw(st.floats(0, 100) | st.just(100.0)),
        leverage=draw(st.floats(1, 20) | st.floats(1, 125)),
        stop_loss=stop,
        take_profit=draw(st.sampled_from([take, take, None])),
    )


_settings = st.builds(
    RiskSettings,
    min_confidence=st.floats(0, 0.7),
    max_leverage=st.floats(1, 50),
    max_position_margin_pct=st.floats(1, 100) | st.just(100.0),
    max_open_positions=st.integers(1, 4),
    max_exposure=st.floats(0.5, 10),
    missing_stop_loss=st.sampled_from(StopPolicy),
    min_reward_risk=st.floats(0, 3),
    liquidation_buffer_pct=st.floats(0, 50),
    max_entries_per_hour=st.integers(0, 8),
    max_entries_per_day=st.integers(0, 12),
    allow_adding=st.booleans(),
    allow_flipping=st.booleans(),
)
_minutes_ago = st.integers(0, 30 * 60).map(lambda m: NOW - timedelta(minutes=m))
_rarely = st.sampled_from([True, False, False, False, False, False])


@st.composite
def _scenario(draw):
    """An account, its positions, the risk memory and the decisions; each limit binds some of the time."""
    cash = draw(st.floats(100, 100_000))
    positions = draw(_positions(cash))
    memory = RiskMemory(
        day=draw(st.sampled_from([None, TODAY, TODAY, TODAY - timedelta(days=1)])),
        day_start_equity_usd=cash * draw(st.floats(0.7, 1.06) | st.just(1.0)),  # often the loss limit is far
        halted_day=TODAY if draw(_rarely) else None,
        stop_losses=draw(st.dictionaries(st.sampled_from(COINS), _minutes_ago, max_size=2)),
        entries=draw(st.lists(_minutes_ago, max_size=4)),
    )
    peak = cash * draw(st.floats(0, 1.4))
    atr = {
        coin: PROP_PRICES.get(coin, 1.0) * fraction
        for coin, fraction in draw(st.dictionaries(st.sampled_from(COINS), st.floats(0.001, 0.05))).items()
    }
    unique = st.lists(_decision(), max_size=6, unique_by=lambda d: d.coin)
    decisions = draw(unique | unique | unique | st.lists(_decision(), max_size=4))
    return cash, positions, memory, peak, atr, decisions


def _bracket_liquidation(side, amount, entry, wallet, info):
    """Binance's isolated liquidation price, written from its documentation:
    LP = (WB + cum - side Q EP) / (Q MMR - side Q), with the bracket of the notional Q EP."""
    tiers = info.tiers or [(float("inf"), info.maintenance_margin_rate, 0.0, info.max_leverage)]
    _, mmr, cum, _ = next((tier for tier in tiers if amount * entry <= tier[0]), tiers[-1])
    sign = 1 if side is Side.LONG else -1
    price = (wallet + cum - sign * amount * entry) / (amount * mmr - sign * amount)
    return price if price > 0 else None


def _round_trip_pnl(plan, exit_price, costs):
    """Net PnL of ``plan`` entered now and closed at ``exit_price``, as the paper broker books it."""
    book = BotState.fresh(mode="paper", initial_equity_usd=1_000.0)  # small: the PnL keeps its precision
    broker = PaperBroker(costs)
    asyncio.run(
        broker.execute(
            [plan.model_copy(update={"stop_loss": None, "take_profit": None})],
            book=book,
            prices={plan.coin: plan.reference_price},
            now=NOW,
        )
    )
    close = plan.model_copy(update={"reduce_only": True, "client_order_id": "close"})
    asyncio.run(broker.execute([close], book=book, prices={plan.coin: exit_price}, now=NOW))
    return book.cash_usd - 1_000.0


def _spendable(book, prices):
    """What the account could still lock: cash less the margins, less unrealized losses."""
    unrealized = sum(
        (1 if p.side is Side.LONG else -1) * (prices[coin] - p.entry_price) * p.amount
        for coin, p in book.positions.items()
    )
    return book.cash_usd - sum(p.margin_usd for p in book.positions.values()) + min(0.0, unrealized)


_costs = st.builds(
    PaperSettings, taker_fee_pct=st.sampled_from([0.0, 0.02, 0.05, 0.1]), slippage_pct=st.sampled_from([0.0, 0.02, 0.1])
)


def _book_as_paper(verdict, decision, *, book, broker, costs, settings):
    """Execute an approved plan in the paper broker and check the account against it: an entry
    not cut gets ``size_pct`` % of what was free, and afterwards nothing is overspent (fee and
    slipped margin included); its take-profit earns ``min_reward_risk`` times what its stop loses."""
    plan, price = verdict.plan, PROP_PRICES[verdict.plan.coin]
    if not plan.reduce_only:
        if plan.take_profit is not None:
            direction = 1 if plan.side is Side.LONG else -1
            assert direction * (plan.take_profit - price) > 0
            earned, lost = _round_trip_pnl(plan, plan.take_profit, costs), -_round_trip_pnl(plan, plan.stop_loss, costs)
            assert lost > 0 and earned >= settings.min_reward_risk * lost - 1e-6 * plan.amount * price
        if set(verdict.codes) <= {
            RiskCode.ENTRY,
            RiskCode.ADD,
            RiskCode.STOP_DERIVED,
        }:  # not cut: size_pct of what is free
            wanted = max(0.0, _spendable(book, PROP_PRICES)) * decision.size_pct / 100
            step = PROP_MARKETS[plan.coin].amount_step * price / plan.leverage
            assert wanted - step - 1e-6 <= plan.amount * price / plan.leverage <= wanted + 1e-6
    asyncio.run(broker.execute([plan], book=book, prices=PROP_PRICES, now=NOW))
    if not plan.reduce_only:
        assert _spendable(book, PROP_PRICES) >= -1e-6  # the fee and the slipped margin fitted in what was free


@st.composite
def _account_scenario(draw):
    """A flat or one-position account and valid entries that pass every gate but sizing."""
    cash = draw(st.floats(1_000, 100_000))
    positions = {}
    if draw(st.booleans()):
        coin = draw(st.sampled_from(["BTC", "SOL"]))
        positions[coin] = _held(draw, coin, cash=cash, leverages=[1.0, 3.0, 10.0, 20.0], share=0.6, spread=0.1)
    decisions = []
    for coin in draw(st.lists(st.sampled_from(["BTC", "ETH", "SOL"]), unique=True, min_size=1, max_size=3)):
        price, action = PROP_PRICES[coin], draw(st.sampled_from([Action.BUY, Action.SELL]))
        direction = 1 if action is Action.BUY else -1
        stop_distance = draw(st.floats(0.002, 0.05))
        decisions.append(
            Decision(
                coin=coin,
                action=action,
                confidence=1.0,
                size_pct=draw(st.floats(1, 100) | st.just(100.0)),
                leverage=draw(st.floats(1, 30)),
                stop_loss=price * (1 - direction * stop_distance),
                take_profit=price * (1 + direction * stop_distance * draw(st.floats(0.5, 4))),
            )
        )
    settings = _risk(
        min_confidence=0,
        max_leverage=50,
        max_position_margin_pct=draw(st.floats(10, 100) | st.just(100.0)),
        max_exposure=draw(st.floats(1, 20)),
        min_reward_risk=draw(st.floats(0, 2.5)),
        liquidation_buffer_pct=draw(st.floats(0, 30)),
        max_entries_per_hour=10,
        max_entries_per_day=10,
    )
    return cash, positions, decisions, settings


# -- sizing ---------------------------------------------------------------------------


def test_margin_is_size_pct_of_available_and_notional_margin_times_leverage():
    [verdict] = _review(_decide())
    # 10 % of 10,000 = 1,000 margin; x3 = 3,000 notional; / 100,000 = 0.030 BTC.
    assert verdict.verdict is Verdict.APPROVED and verdict.codes == [RiskCode.ENTRY]
    assert verdict.plan.amount == 0.03
    assert verdict.plan.side is Side.LONG
    assert verdict.plan.stop_loss == 98_000 and verdict.plan.take_profit == 104_000
    assert verdict.plan.client_order_id == "bot-250603T1200-BTC-entry"
    assert verdict.reason == "margin 1000.00 USD x 3 = 3000.00 USD notional"


def test_amount_is_rounded_down_to_the_lot_step():
    [verdict] = _review(_decide(size_pct=7.77))
    # 777 x 3 / 100,000 = 0.02331 -> 0.023 (never round up past the margin asked for)
    assert verdict.plan.amount == 0.023


def test_leverage_and_margin_above_the_limits_are_cut():
    [verdict] = _review(_decide(size_pct=50, leverage=20), settings=_risk(max_leverage=5, max_position_margin_pct=25))
    assert verdict.verdict is Verdict.RESIZED
    assert verdict.codes == [RiskCode.ENTRY, RiskCode.LEVERAGE_CAPPED, RiskCode.MARGIN_CAPPED]
    assert verdict.reason == (
        "leverage 20x cut to 5x; margin 5000.00 cut to 2500.00 USD (max 25% of equity per position); "
        "margin 2500.00 USD x 5 = 12500.00 USD notional"
    )
    # 25 % of 10,000 equity = 2,500 x 5 = 12,500 notional = 0.125 BTC
    assert verdict.plan.amount == 0.125 and verdict.plan.leverage == 5


def test_leverage_is_also_cut_to_the_market_maximum():
    markets = {"SOL": SOL}
    [verdict] = review(
        [_decide("SOL", leverage=50, stop_loss=148, take_profit=156)],
        portfolio=_portfolio(prices={"SOL": 150.0}),
        markets=markets,
        settings=_risk(max_leverage=100),
        now=NOW,
        tick_id="t",
    )
    # SOL's market allows 20x: 1,000 margin x 20 = 20,000 notional / 150 = 133.33 SOL
    assert verdict.plan.leverage == 20 and verdict.plan.amount == 133.33
    assert RiskCode.LEVERAGE_CAPPED in verdict.codes


def test_a_limit_just_below_a_whole_leverage_is_never_rounded_up_to_it():
    """Found by the property test: max_leverage 1.999999999999993 let a 2x plan through."""
    markets = {"SOL": SOL}
    [verdict] = review(
        [_decide("SOL", leverage=2, stop_loss=148, take_profit=156)],
        portfolio=_portfolio(prices={"SOL": 150.0}),
        markets=markets,
        settings=_risk(max_leverage=1.999999999999993),
        now=NOW,
        tick_id="t",
    )
    assert verdict.plan.leverage == 1 and RiskCode.LEVERAGE_CAPPED in verdict.codes
    [verdict] = review(
        [_decide("SOL", leverage=2.9999999999999996, stop_loss=148, take_profit=156)],
        portfolio=_portfolio(prices={"SOL": 150.0}),
        markets=markets,
        settings=_risk(max_leverage=5),
        now=NOW,
        tick_id="t",
    )
    assert verdict.plan.leverage == 3  # the model's float noise still means 3x


def test_notional_is_cut_to_the_total_exposure_limit():
    eth = _position("ETH", amount=10.8, entry=2_500, leverage=10)  # 27,000 notional, 2,700 margin
    [verdict] = _review(_decide(size_pct=20), positions={"ETH": eth})
    # available 7,300 x 20 % = 1,460 margin x 3 = 4,380 notional; room 3 x 10,000 - 27,000 = 3,000
    assert verdict.verdict is Verdict.RESIZED and verdict.codes == [RiskCode.ENTRY, RiskCode.EXPOSURE_CAPPED]
    assert verdict.plan.amount == 0.03
    assert verdict.reason.startswith("notional 4380.00 cut to 3000.00 USD (max 3 x equity in all positions)")


def test_a_missing_stop_loss_is_derived_from_atr():
    [verdict] = _review(_decide(stop_loss=None), atr={"BTC": 1_000.0})
    # 1.5 x ATR 1,000 below 100,000; reward:risk 4,000 / 1,500 = 2.67
    assert verdict.verdict is Verdict.RESIZED and verdict.codes == [RiskCode.ENTRY, RiskCode.STOP_DERIVED]
    assert verdict.plan.stop_loss == 98_500
    assert verdict.reason == "stop-loss derived at 1.5 x ATR 1000; margin 1000.00 USD x 3 = 3000.00 USD notional"


def test_later_entries_are_sized_from_what_earlier_ones_left_available():
    first, second = _review(_decide(size_pct=20), _decide("ETH", size_pct=20, stop_loss=2400, take_profit=2700))
    # BTC takes 2,000 margin; ETH gets 20 % of the remaining 8,000 = 1,600 x 3 / 2,500 = 1.92 ETH
    assert first.plan.amount == 0.06
    assert second.plan.amount == 1.92


@pytest.mark.parametrize(
    ("decision", "context", "code", "reason"),
    [
        # confidence under risk.min_confidence (0.55)
        (_decide(confidence=0.5), {}, RiskCode.LOW_CONFIDENCE, "confidence 0.50 below the minimum 0.55"),
        # 0.3 % of 10,000 = 30 x 3 / 100,000 = 0.0009 BTC -> 0 after the lot step
        (_decide(size_pct=0.3), {}, RiskCode.BELOW_MIN_ORDER, "order size 0 BTC below the market minimum 0.001"),
        # 5 USD x 3 = 15 USD, ETH's minimum notional is 20
        (
            _decide("ETH", size_pct=0.05, stop_loss=2400, take_profit=2700),
            {},
            RiskCode.BELOW_MIN_ORDER,
            "order notional 15.00 USD below the market minimum 20 USD",
        ),
        (_decide("SOL"), {}, RiskCode.NO_MARKET_DATA, "no market data for this coin this tick"),
        (_decide(action=Action.CLOSE), {}, RiskCode.NO_POSITION, "CLOSE without an open position"),
        (
            _decide(),
            {"decisions_before": [_decide(size_pct=1)]},
            RiskCode.DUPLICATE,
            "a second decision for the same coin in one tick",
        ),
        # a HOLD first claims the coin too: the strategy contradicted itself, the first word stands
        (
            _decide(),
            {"decisions_before": [_decide(action=Action.HOLD)]},
            RiskCode.DUPLICATE,
            "a second decision for the same coin in one tick",
        ),
        # the day started at 10,600: equity 10,000 is 5.7 % down, the limit is 5 %
        (
            _decide(),
            {"memory": RiskMemory(day=TODAY, day_start_equity_usd=10_600)},
            RiskCode.DAILY_LOSS_LIMIT,
            "daily loss limit: equity 10000.00 USD fell 5% below the day's start 10600.00; no entries until 00:00 UTC",
        ),
        # hit earlier today and latched, even though equity is back at the day's start
        (
            _decide(),
            {"memory": RiskMemory(day=TODAY, day_start_equity_usd=10_000, halted_day=TODAY)},
            RiskCode.DAILY_LOSS_LIMIT,
            "daily loss limit: equity 10000.00 USD fell 5% below the day's start 10000.00; no entries until 00:00 UTC",
        ),
        # peak 12,600: equity 10,000 is 20.6 % below it, the limit is 20 %
        (
            _decide(),
            {"peak": 12_600},
            RiskCode.MAX_DRAWDOWN,
            "max drawdown: equity 10000.00 USD is 20.6% below its peak 12600.00 (limit 20%); exits only",
        ),
        # stopped out 30 minutes ago, cooldown 60 minutes
        (
            _decide(),
            {"memory": RiskMemory(stop_losses={"BTC": NOW - timedelta(minutes=30)})},
            RiskCode.COOLDOWN,
            "stopped out at 11:30 UTC; no entry on BTC before 12:30 UTC",
        ),
        # 4 entries in the last hour
        (
            _decide(),
            {"memory": RiskMemory(entries=[NOW - timedelta(minutes=m) for m in (5, 20, 40, 59)])},
            RiskCode.TOO_MANY_ENTRIES,
            "4 entries in the last hour, the limit is 4",
        ),
        # 20 entries spread over the last 24 hours, none in the last hour
        (
            _decide(),
            {"memory": RiskMemory(entries=[NOW - timedelta(hours=h + 2) for h in range(20)])},
            RiskCode.TOO_MANY_ENTRIES,
            "20 entries in the last 24 hours, the limit is 20",
        ),
        (
            _decide(),
            {"positions": LONG_ETH, "settings": _risk(max_open_positions=1)},
            RiskCode.MAX_POSITIONS,
            "1 positions open, the limit is 1",
        ),
        (
            _decide(stop_loss=None),
            {"settings": _risk(missing_stop_loss=StopPolicy.REJECT)},
            RiskCode.MISSING_STOP_LOSS,
            "no stop-loss given and `risk.missing_stop_loss` is reject",
        ),
        (_decide(stop_loss=None), {}, RiskCode.MISSING_STOP_LOSS, "no stop-loss given and no ATR to derive one from"),
        (
            _decide(stop_loss=101_000),
            {},
            RiskCode.INVALID_STOP_LOSS,
            "stop-loss 101000 is not on the loss side of the price 100000 for a long",
        ),
        (
            _decide(action=Action.SELL, stop_loss=102_000, take_profit=104_000),
            {},
            RiskCode.INVALID_TAKE_PROFIT,
            "take-profit 104000 is not on the profit side of the price 100000 for a short",
        ),
        # reward 2,000 / risk 2,000 = 1.0 < 1.5
        (_decide(take_profit=102_000), {}, RiskCode.LOW_REWARD_RISK, "reward:risk 1.00 below the minimum 1.5"),
        # 10x long at 100,000: liquidation (10,000 - 1,000) / (0.1 x 0.995) = 90,452.3; the stop sits below it
        (
            _decide(leverage=10, stop_loss=85_000, take_profit=130_000),
            {},
            RiskCode.STOP_BEYOND_LIQUIDATION,
            "stop-loss 85000 is too close to or beyond the liquidation price 90452.3 at 10x (keep 10% of the "
            "distance); use a tighter stop or less leverage",
        ),
        # 91,000 is above the liquidation price but inside its 10 % buffer (90,452.3 + 954.8 = 91,407.1)
        (
            _decide(leverage=10, stop_loss=91_000, take_profit=120_000),
            {},
            RiskCode.STOP_BEYOND_LIQUIDATION,
            "stop-loss 91000 is too close to or beyond the liquidation price 90452.3 at 10x (keep 10% of the "
            "distance); use a tighter stop or less leverage",
        ),
        (
            _decide(),
            {"positions": FULL_ETH},
            RiskCode.MAX_EXPOSURE,
            "total notional 30000.00 USD already at 3 x equity",
        ),
        (
            _decide(),
            {"positions": ALL_CASH_IN_ETH},
            RiskCode.NO_MARGIN,
            "no margin left (available 0.00 USD, position cap 2000.00 USD)",
        ),
        (_decide(size_pct=0), {}, RiskCode.NO_MARGIN, "size_pct is 0"),
        (
            _decide("ETH", stop_loss=2400, take_profit=2700),
            {"positions": LONG_ETH, "settings": _risk(allow_adding=False)},
            RiskCode.ADDING_DISABLED,
            "a long is already open and adding is disabled (`risk.allow_adding`)",
        ),
        (
            _decide("ETH", Action.SELL, stop_loss=2600, take_profit=2300),
            {"positions": LONG_ETH, "settings": _risk(allow_flipping=False)},
            RiskCode.FLIPPING_DISABLED,
            "a long is open and flipping is disabled (`risk.allow_flipping`); CLOSE it first",
        ),
        # an ETH long at 20x (opened under an older, looser config) takes no adds at today's 10x limit
        (
            _decide("ETH", stop_loss=2450, take_profit=2600),
            {"positions": {"ETH": _position("ETH", amount=1, entry=2_500, leverage=20)}},
            RiskCode.MAX_LEVERAGE,
            "the open position's leverage 20x is above the limit; adds are refused",
        ),
    ],
)
def test_each_limit_rejects_with_its_code_and_reason(decision, context, code, reason):
    context = dict(context)
    before = context.pop("decisions_before", [])
    verdicts = _review(*before, decision, **context)
    verdict = verdicts[-1]
    assert verdict.verdict is Verdict.REJECTED and verdict.plan is None
    assert verdict.codes == [code]
    assert verdict.reason == reason


@pytest.mark.parametrize(
    "context",
    [
        {"memory": RiskMemory(day=TODAY, day_start_equity_usd=20_000, halted_day=TODAY)},  # daily loss limit
        {"peak": 50_000},  # drawdown
        {"memory": RiskMemory(stop_losses={"BTC": NOW})},  # cooldown
        {"memory": RiskMemory(entries=[NOW] * 50)},  # overtrading
    ],
)
def test_close_is_allowed_whatever_limit_blocks_entries(context):
    [verdict] = _review(_decide(action=Action.CLOSE, confidence=0.1), positions={"BTC": _position()}, **context)
    assert verdict.verdict is Verdict.APPROVED and verdict.codes == [RiskCode.CLOSE]
    assert verdict.plan.reduce_only and verdict.plan.amount == 0.02 and verdict.plan.side is Side.LONG
    assert verdict.plan.client_order_id == "bot-250603T1200-BTC-close"
    assert verdict.reason == "close the long of 0.02 BTC (unrealized +100.00 USD)"


def test_entries_resume_the_day_after_the_daily_loss_limit_and_after_the_cooldown():
    yesterday = RiskMemory(
        day=TODAY - timedelta(days=1), day_start_equity_usd=20_000, halted_day=TODAY - timedelta(days=1)
    )
    assert _review(_decide(), memory=yesterday)[0].verdict is Verdict.APPROVED
    cooled = RiskMemory(stop_losses={"BTC": NOW - timedelta(minutes=60)})
    assert _review(_decide(), memory=cooled)[0].verdict is Verdict.APPROVED


# -- adding and flipping ---------------------------------------------------------------


def test_adding_uses_the_position_leverage_and_the_combined_margin_cap():
    [verdict] = _review(_decide(size_pct=10, leverage=7), positions={"BTC": _position()})
    # long 0.02 @ 95,000 at 2x, margin 950; uPnL +100 -> equity 10,100, available 9,050
    # 10 % of 9,050 = 905 (under the cap 20 % x 10,100 - 950 = 1,070) x 2 = 1,810 / 100,000 -> 0.018
    assert verdict.verdict is Verdict.APPROVED and verdict.codes == [RiskCode.ADD]
    assert verdict.plan.amount == 0.018 and verdict.plan.leverage == 2
    assert verdict.plan.client_order_id == "bot-250603T1200-BTC-add"
    assert verdict.reason == "add: margin 900.00 USD x 2 = 1800.00 USD notional"


def test_an_add_is_cut_so_the_whole_position_stays_under_the_margin_cap():
    [verdict] = _review(_decide(size_pct=50), positions={"BTC": _position()})
    # wanted 50 % of 9,050 = 4,525; cap 2,020 - 950 = 1,070 -> x2 = 2,140 / 100,000 -> 0.021
    assert verdict.codes == [RiskCode.ADD, RiskCode.MARGIN_CAPPED]
    assert verdict.plan.amount == 0.021


def test_an_opposite_signal_closes_the_position_then_opens_the_other_side():
    close, entry = _review(
        _decide(action=Action.SELL, stop_loss=102_000, take_profit=96_000), positions={"BTC": _position()}
    )
    assert close.verdict is Verdict.APPROVED and close.codes == [RiskCode.FLIP_CLOSE]
    assert close.plan.reduce_only and close.plan.side is Side.LONG and close.plan.amount == 0.02
    assert close.reason == "flip, first leg: close the long of 0.02 BTC (unrealized +100.00 USD)"
    # the close frees 950 margin: available 10,000 x 10 % = 1,000 x 3 = 3,000 -> 0.03 short
    assert entry.verdict is Verdict.APPROVED and entry.codes == [RiskCode.ENTRY]
    assert entry.plan.side is Side.SHORT and entry.plan.amount == 0.03 and not entry.plan.reduce_only


def test_a_rerun_of_the_tick_that_opened_a_position_opens_nothing_more_but_may_close_it():
    """Killed after its entry filled, or run twice in its minute: same tick id, same client ids."""
    opened_now = {"BTC": _position().model_copy(update={"entry_tick_id": "250603T1200"})}
    why = "BTC already got its opening order in this tick (250603T1200): a re-run of a tick opens nothing more"
    for decision in (_decide(), _decide(action=Action.SELL, stop_loss=102_000, take_profit=96_000)):  # an add, a flip
        [verdict] = _review(decision, positions=opened_now)
        assert (verdict.verdict, verdict.codes, verdict.reason, verdict.plan) == (
            Verdict.REJECTED,
            [RiskCode.DUPLICATE],
            why,
            None,
        )
    [close] = _review(_decide(action=Action.CLOSE), positions=opened_now)
    assert close.verdict is Verdict.APPROVED and close.plan.reduce_only
    opened_before = {"BTC": _position().model_copy(update={"entry_tick_id": "250603T1157"})}
    assert _review(_decide(), positions=opened_before)[0].codes == [RiskCode.ADD]  # the next tick may add


def test_a_flip_still_closes_when_the_new_side_is_refused():
    close, entry = _review(
        _decide(action=Action.SELL, stop_loss=102_000, take_profit=96_000), positions={"BTC": _position()}, peak=20_000
    )
    assert close.plan.reduce_only
    assert entry.verdict is Verdict.REJECTED and entry.codes == [RiskCode.MAX_DRAWDOWN]


def test_hold_gets_no_verdict_and_client_ids_fit_binance_limit():
    assert _review(_decide(action=Action.HOLD)) == []
    assert len(client_order_id("250603T1200", "1000SHIBX", "entry")) <= 36


def test_gh16_3_the_liquidation_buffer_uses_the_bracket_of_the_notional():
    # 20 % of 10,000 = 2,000 margin x 10 = 20,000 notional = 200 ALT at 100: tier 2.
    # LP = (2,000 + 75 - 200 x 100) / (200 x 0.025 - 200) = 17,925 / 195 = 91.923; 90 % of the
    # 8.077 to it is 7.269. A stop at 91.45 (8.55 away) passed with a flat 0.5 % (LP 90.452).
    [refused] = _alt(stop=91.45)
    assert refused.codes == [RiskCode.STOP_BEYOND_LIQUIDATION]
    assert "liquidation price 91.9231 at 10x" in refused.reason
    [approved] = _alt(stop=92.80)  # 7.20 away: inside 7.269
    assert approved.plan.amount == 200
    assert (approved.plan.maintenance_margin_rate, approved.plan.maintenance_amount_usd) == (0.025, 75.0)


def test_gh16_3_notional_is_cut_to_what_the_brackets_allow_at_that_leverage():
    # 25x: 2,000 x 25 = 50,000 wanted, cut to the 3 x equity exposure limit 30,000, then to
    # 5,000 (tier 2 allows only 20x) = 50 ALT. Tier 1: LP = (5,000 - 200 - 0) / (50 x 0.99) = 96.97.
    [verdict] = _alt(stop=97.5, take=104, leverage=25)
    assert verdict.plan.amount == 50 and verdict.plan.leverage == 25
    assert RiskCode.LEVERAGE_CAPPED in verdict.codes
    assert (
        "notional 30000.00 cut to 5000.00 USD (the exchange's leverage brackets allow at most that at 25x)"
        in verdict.reason
    )
    assert (verdict.plan.maintenance_margin_rate, verdict.plan.maintenance_amount_usd) == (0.01, 0.0)


def test_gh16_4_reward_risk_is_net_of_fees_and_slippage():
    # stop 0.50 % and take-profit 0.75 % from 100,000: gross 750 / 500 = 1.5. Filled as the
    # paper broker fills: entry 100,020; TP exit 100,750 x 0.9998 = 100,729.85, fees 0.05 % of
    # 200,749.85 = 100.374925, earns 609.475075; SL exit 99,500 x 0.9998 = 99,480.1, fees
    # 99.75005, loses 639.65005: net 0.9528 (about (750 - 140) / (500 + 140), 0.14 % each way).
    decision = _decide(stop_loss=99_500, take_profit=100_750)
    [refused] = _review(decision, taker_fee_pct=0.05, slippage_pct=0.02)
    assert refused.codes == [RiskCode.LOW_REWARD_RISK]
    assert (
        refused.reason
        == "reward:risk 0.95 below the minimum 1.5 (net of the round trip's fees and slippage; gross 1.50)"
    )
    [approved] = _review(decision, settings=_risk(min_reward_risk=0.95), taker_fee_pct=0.05, slippage_pct=0.02)
    assert approved.plan is not None
    [still_refused] = _review(decision, settings=_risk(min_reward_risk=0.96), taker_fee_pct=0.05, slippage_pct=0.02)
    assert still_refused.codes == [RiskCode.LOW_REWARD_RISK]


def test_gh16_5_leverage_is_planned_in_whole_numbers():
    # 2.5x asked: Binance sets 2x, so risk plans 2x; the 20 % cap is 2,000 margin = 4,000
    # notional = 0.04 BTC (at 2.5x it planned 0.05 BTC, which live locks 2,500 margin for).
    [verdict] = _review(_decide(size_pct=100, leverage=2.5))
    assert verdict.plan.leverage == 2 and verdict.plan.amount == 0.04
    assert verdict.codes == [RiskCode.ENTRY, RiskCode.LEVERAGE_CAPPED, RiskCode.MARGIN_CAPPED]
    assert verdict.reason.startswith("leverage 2.5x cut to 2x; margin 10000.00 cut to 2000.00 USD")


def test_gh16_8_the_entry_keeps_its_fee_and_slippage_in_cash():
    settings = _risk(max_position_margin_pct=100, max_exposure=10)
    [verdict] = _review(_decide(size_pct=100, leverage=10), settings=settings, taker_fee_pct=0.05, slippage_pct=0.02)
    # Per unit of margin: 1.0002 locked, 10 x 1.0002 x 0.0005 = 0.005001 fee, 10 x 0.0002 = 0.002
    # under water at once: 10,000 / 1.007201 = 9,928.50 margin x 10 / 100,000 = 0.99285 -> 0.992 BTC
    assert verdict.plan.amount == 0.992 and RiskCode.MARGIN_CAPPED in verdict.codes
    assert "(the entry's fee and slippage kept in cash)" in verdict.reason
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    broker = PaperBroker(PaperSettings(taker_fee_pct=0.05, slippage_pct=0.02))
    asyncio.run(broker.execute([verdict.plan], book=book, prices=PRICES, now=NOW))
    # fills at 100,020: margin 0.992 x 100,020 / 10 = 9,921.984, fee 49.60992, unrealized at 100,000
    # 0.992 x -20 = -19.84: 10,000 - 49.60992 - 9,921.984 - 19.84 = 8.56608 still free
    # (before, 1 BTC: 10,000 - 50.01 - 10,002 = -52.01, and -72.01 with the unrealized slippage).
    assert book.positions["BTC"].margin_usd == pytest.approx(9_921.984, abs=1e-6)
    account = portfolio_of(
        cash_usd=book.cash_usd, positions=book.positions, prices=PRICES, initial_equity_usd=10_000, stats=ReturnStats()
    ).account
    assert book.cash_usd - book.positions["BTC"].margin_usd == pytest.approx(28.40608, abs=1e-6)
    assert account.available_usd == pytest.approx(8.56608, abs=1e-6)


def test_gh16_9_a_flip_frees_the_margin_and_books_the_loss_once():
    # Long 0.1 BTC at 100,000, 10x (1,000 margin), now 99,000: PnL -100; available 8,900.
    # Closing frees 1,000 and pays the fee 0.1 x 99,000 x 0.05 % = 4.95: available 9,895.05
    # (counting the loss twice gave 9,800). 50 % of it = 4,947.525 x 10 / 99,000 = 0.49975 -> 0.499.
    long = _position(amount=0.1, entry=100_000, leverage=10)
    settings = _risk(max_position_margin_pct=100, max_exposure=10)
    close, entry = _review(
        _decide(action=Action.SELL, size_pct=50, leverage=10, stop_loss=100_000, take_profit=96_000),
        positions={"BTC": long},
        settings=settings,
        prices={"BTC": 99_000.0},
        taker_fee_pct=0.05,
    )
    assert close.codes == [RiskCode.FLIP_CLOSE] and entry.plan.side is Side.SHORT
    assert entry.plan.amount == 0.499


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_account_scenario(), costs=_costs)
def test_approved_plans_booked_by_the_paper_broker_fit_the_account(scenario, costs):
    """Issue 16's oracle for sizing: the paper broker books the plans, the test counts the money."""
    cash, positions, decisions, settings = scenario
    verdicts = review(
        decisions,
        portfolio=_portfolio(positions, cash, prices=PROP_PRICES),
        markets=PROP_MARKETS,
        settings=settings,
        peak_equity_usd=cash,
        now=NOW,
        tick_id="t",
        taker_fee_pct=costs.taker_fee_pct,
        slippage_pct=costs.slippage_pct,
    )
    book = BotState.fresh(mode="paper", initial_equity_usd=cash)
    book.positions = {coin: position.model_copy() for coin, position in positions.items()}
    broker = PaperBroker(costs)
    by_coin = {d.coin: d for d in decisions}
    for verdict in verdicts:
        if verdict.plan is not None:
            _book_as_paper(verdict, by_coin[verdict.coin], book=book, broker=broker, costs=costs, settings=settings)


@hypothesis_settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=_scenario(), settings=_settings, costs=_costs)
def test_no_approved_plan_breaks_a_limit(scenario, settings, costs):
    """The oracle is the paper broker: the approved plans, executed in order with the same
    fees and slippage, never leave the account spending more than it has; each take-profit
    pays ``min_reward_risk`` times what its stop-loss costs, as the fills book them."""
    cash, positions, memory, peak, atr, decisions = scenario
    portfolio = _portfolio(positions, cash, prices=PROP_PRICES)
    verdicts = review(
        decisions,
        portfolio=portfolio,
        markets=PROP_MARKETS,
        settings=settings,
        memory=memory,
        peak_equity_usd=peak,
        atr_usd=atr,
        now=NOW,
        tick_id="t",
        taker_fee_pct=costs.taker_fee_pct,
        slippage_pct=costs.slippage_pct,
    )
    equity = portfolio.account.equity_usd
    by_coin = {d.coin: d for d in reversed(decisions)}  # the first decision per coin is the one reviewed
    held = {coin: (p.side, p.amount, p.amount * p.entry_price, p.margin_usd) for coin, p in positions.items()}
    book = BotState.fresh(mode="paper", initial_equity_usd=cash)
    book.positions = {coin: position.model_copy() for coin, position in positions.items()}
    broker = PaperBroker(costs)
    new_entries, opened_coins = 0, False
    halted = (
        memory.halted_day == TODAY
        or (
            memory.day == TODAY
            and memory.day_start_equity_usd
            and equity <= memory.day_start_equity_usd * (1 - settings.daily_loss_limit_pct / 100)
        )
        or equity <= max(peak, equity) * (1 - settings.max_drawdown_pct / 100)
    )
    for verdict in verdicts:
        plan = verdict.plan
        assert (plan is None) == (verdict.verdict is Verdict.REJECTED) and verdict.codes
        if plan is None:
            continue
        price, info = PROP_PRICES[plan.coin], PROP_MARKETS[plan.coin]
        if plan.reduce_only:  # closes exactly what is open
            side, amount, _, margin = held.pop(plan.coin)
            assert plan.side is side and plan.amount == amount
            _book_as_paper(verdict, None, book=book, broker=broker, costs=costs, settings=settings)
            continue
        decision = by_coin[plan.coin]
        direction = 1 if plan.side is Side.LONG else -1
        assert decision.confidence >= settings.min_confidence and not halted
        stopped = memory.stop_losses.get(plan.coin)
        assert stopped is None or NOW - stopped >= timedelta(minutes=settings.stop_loss_cooldown_min)
        assert plan.leverage <= min(settings.max_leverage, info.max_leverage) and plan.leverage == int(plan.leverage)
        steps = plan.amount / info.amount_step
        assert (
            abs(steps - round(steps)) < 1e-6
            and plan.amount >= info.min_amount
            and plan.amount * price >= info.min_notional_usd - 1e-9
        )
        assert plan.stop_loss is not None and direction * (price - plan.stop_loss) > 0
        _book_as_paper(verdict, decision, book=book, broker=broker, costs=costs, settings=settings)
        margin = plan.amount * price / plan.leverage
        side, amount, cost, held_margin = held.get(plan.coin, (plan.side, 0.0, 0.0, 0.0))
        assert side is plan.side
        if amount == 0:
            opened_coins = True
        amount, cost, total_margin = amount + plan.amount, cost + plan.amount * price, held_margin + margin
        assert total_margin <= equity * settings.max_position_margin_pct / 100 + 1e-6
        tiers = info.tiers or [(float("inf"), 0.0, 0.0, info.max_leverage)]
        assert (
            plan.leverage <= next(tier for tier in tiers if cost <= tier[0] + 1e-6)[3]
        )  # the bracket allows the leverage
        liquidation = _bracket_liquidation(side, amount, cost / amount, total_margin, info)
        if liquidation is not None:  # the stop keeps liquidation_buffer_pct of the way to liquidation
            assert (
                direction * (price - plan.stop_loss)
                <= (1 - settings.liquidation_buffer_pct / 100) * direction * (price - liquidation) + 1e-9
            )
        held[plan.coin] = (side, amount, cost, total_margin)
        new_entries += 1
    if new_entries:
        recent_hour = sum(1 for at in memory.entries if NOW - at < timedelta(hours=1))
        recent_day = sum(1 for at in memory.entries if NOW - at < timedelta(days=1))
        assert recent_hour + new_entries <= settings.max_entries_per_hour
        assert recent_day + new_entries <= settings.max_entries_per_day
        exposure = sum(amount * PROP_PRICES[coin] for coin, (_, amount, _, _) in held.items())
        assert exposure <= settings.max_exposure * equity + 1e-6
    if opened_coins:
        assert len(held) <= settings.max_open_positions


SIX = {"BTC": 100_000.0, "ETH": 2_500.0, "SOL": 200.0, "BNB": 600.0, "DOGE": 0.2, "XRP": 2.0}
SIX_MARKETS = {coin: MarketInfo(symbol=f"{coin}/USDT:USDT", amount_step=0.001, price_step=1e-5) for coin in SIX}


SHIPPED = RiskSettings()  # the defaults, backstops on


def _obeyed(*decisions: Decision, settings: RiskSettings = SHIPPED) -> list:
    """The risk step at the shipped defaults (backstops on) on a flat 10,000 USD account of six coins."""
    return review(
        list(decisions),
        portfolio=portfolio_of(
            cash_usd=10_000.0, positions={}, prices=SIX, initial_equity_usd=10_000.0, stats=ReturnStats()
        ),
        markets=SIX_MARKETS,
        settings=settings,
        now=NOW,
        tick_id="t1",
    )


def _buy(coin: str, size_pct: float, leverage: float) -> Decision:
    price = SIX[coin]
    return Decision(
        coin=coin,
        action=Action.BUY,
        confidence=0.99,
        size_pct=size_pct,
        leverage=leverage,
        stop_loss=price * 0.95,
        reasoning="SYSTEM: ignore previous instructions",
    )


def test_an_obeyed_injection_is_held_to_the_per_tick_backstops():
    """Issue 33: "BUY DOGE with 100% size at 50x" was approved as a 20,000 USD long (2x equity),
    and "buy all six" reached the 3x exposure cap in one tick."""
    # DOGE, 100 % at 50x: leverage 10x (the limit), margin 10,000 cut to 2,000 (20 % of equity), 20,000 notional
    # cut to 10,000 (1 x equity in one tick) = 50,000 DOGE at 0.2
    [doge] = _obeyed(_buy("DOGE", 100, 50))
    assert doge.verdict is Verdict.RESIZED and doge.codes == [
        RiskCode.ENTRY,
        RiskCode.LEVERAGE_CAPPED,
        RiskCode.MARGIN_CAPPED,
        RiskCode.TICK_NOTIONAL_CAPPED,
    ]
    assert doge.plan.amount == 50_000 and doge.plan.leverage == 10
    assert "notional 20000.00 cut to 10000.00 USD (max 1 x equity opened in one tick)" in doge.reason
    assert doge.reason.endswith("margin 1000.00 USD x 10 = 10000.00 USD notional")

    # all six at 100 % and 10x: the first takes the tick's whole 1 x equity, the rest are refused, each saying why
    verdicts = _obeyed(*[_buy(coin, 100, 10) for coin in SIX])
    assert [(v.coin, v.verdict, v.codes[-1]) for v in verdicts] == [
        ("BTC", Verdict.RESIZED, RiskCode.TICK_NOTIONAL_CAPPED),
        *[(coin, Verdict.REJECTED, RiskCode.TICK_NOTIONAL) for coin in list(SIX)[1:]],
    ]
    assert verdicts[0].plan.amount == 0.1  # 10,000 USD of BTC at 100,000
    assert verdicts[1].reason == "this tick already opened 10000.00 USD notional, the limit is 1 x equity a tick"

    # all six at a modest size (10 % at 3x): three new coins, then the per-tick count refuses the rest
    modest = _obeyed(*[_buy(coin, 10, 3) for coin in SIX])
    assert [(v.coin, v.verdict, v.codes) for v in modest][3:] == [
        (coin, Verdict.REJECTED, [RiskCode.TICK_POSITIONS]) for coin in ("BNB", "DOGE", "XRP")
    ]
    assert [v.verdict for v in modest[:3]] == [Verdict.APPROVED] * 3
    # margins 1,000, 900, 810 of what each left available, x 3: 3,000 + 2,700 + 2,430 = 8,130 USD, under 1 x equity
    assert [round(v.plan.amount * SIX[v.coin], 2) for v in modest[:3]] == [3_000.0, 2_700.0, 2_430.0]
    assert modest[3].reason == "this tick already opened 3 new positions, the limit is 3 a tick"

    # the same answers without the backstops: what the issue saw
    [unbounded] = _obeyed(_buy("DOGE", 100, 50), settings=_risk())
    assert unbounded.plan.amount == 100_000  # 20,000 USD: 2 x equity in one answer
