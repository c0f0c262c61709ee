"""The blind frame (bot/backtest/blind.py): prompts with no coin, date or real price; decisions
mapped back exactly to the price step; the rules blind give the plain run to the cent."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.backtest.blind import BlindStrategy, blind_frame
from bot.backtest.loop import run_backtest
from bot.config import Settings
from bot.models import Action, Decision
from bot.strategies.rules import RulesStrategy
from bot.tick.precision import round_to_step
from bot.venues.history import HistoryMarket
from tests.backtest.test_loop import COINS, START

NAMES = ("bitcoin", "ethereum", "solana", "binance", "dogecoin", "ripple")
DATES = (
    r"\b20\d\d-\d\d-\d\d\b",  # the user prompt's calendar date
    r"\b\d\d-\d\d \d\d:\d\d\b",  # the trade memory's month-day
    r"\b(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b",
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b",
)


class Scripted:
    """Opens a long on the first coin it is shown at calls 1 and 6 (stop 3 % below, take-profit
    5 % above), closes it at call 4: the account and the trade memory have something to show."""

    name = "scripted"
    trace = None

    def __init__(self) -> None:
        self.calls = 0
        self.prompts: list[str] = []

    async def decide(self, *, features, portfolio, prompt):
        self.calls += 1
        self.prompts.append("\n".join((prompt.system, prompt.memory, prompt.user)))
        first = next(iter(features.values()))
        if self.calls in (1, 6):
            return [
                Decision(
                    coin=first.coin,
                    action=Action.BUY,
                    confidence=0.9,
                    size_pct=20,
                    leverage=2,
                    stop_loss=first.price * 0.97,
                    take_profit=first.price * 1.05,
                    invalidation="trend breaks",
                    reasoning="setup",
                )
            ]
        if self.calls == 4:
            return [Decision(coin=first.coin, action=Action.CLOSE, confidence=0.9, reasoning="done")]
        return []


def _frame(market: HistoryMarket, coins: list[str] = COINS, seed: int = 1):
    return blind_frame(coins, seed=seed, start=START, price_steps={c: market.info(c).price_step for c in coins})


def _real_ranges(market: HistoryMarket, end: datetime) -> dict[str, tuple[float, float]]:
    """Per coin, the lowest and highest price of the candles a prompt of the span can show (the 500 before too)."""
    end_ms, ranges = int(end.timestamp() * 1000), {}
    for coin in COINS:
        shown = np.concatenate([c[c[:, 0] <= end_ms][-600:, 1:5].ravel() for c in market.candles(coin).values()])
        ranges[coin] = float(shown.min()), float(shown.max())
    return ranges


_LEVELS = (  # every price-level field of a prompt: the coin blocks, the account's positions, the trade memory
    r"^price (\S+) \| ema20 (\S+) \| ema50 (\S+)",
    r"^3m (?:price|ema20): (.*)$",
    r"^4h: ema20 (\S+) vs ema50 (\S+)",
    r"^\w+ (?:long|short) \S+ @ (\S+) .*\| mark (\S+) .*SL (\S+) TP (\S+)",
    r"^\w+ (?:long|short) .*\) (\S+) -> (\S+) \| net",
)


def _levels(text: str) -> list[tuple[str, float]]:
    """(the coin or label the line is about, a price it shows)."""
    found, about = [], ""
    for line in text.splitlines():
        if header := re.match(r"^== (\w+) ==$", line):
            about = header.group(1)
        for pattern in _LEVELS:
            if hit := re.match(pattern, line):
                owner = about if not pattern.startswith("^\\w") else line.split()[0]
                values = [v for group in hit.groups() for v in group.split(", ") if v not in ("n/a", "")]
                found += [(owner, float(v)) for v in values]
    return found


def _leaks(text: str, ranges: dict[str, tuple[float, float]], coin_of: dict[str, str]) -> list[str]:
    """Coin names, calendar dates, and prices inside the range the coin traded in (the span and the history before)."""
    found = [coin for coin in COINS if re.search(rf"\b{coin}\b", text)]
    found += [name for name in NAMES if name in text.lower()]
    found += [hit.group(0) for pattern in DATES for hit in [re.search(pattern, text)] if hit]
    for owner, value in _levels(text):
        low, high = ranges[coin_of.get(owner, owner)]
        if low <= value <= high:
            found.append(f"{owner} {value:g}")
    return found


def test_blind_prompts_show_no_coin_name_ticker_date_or_real_price():
    market, end = HistoryMarket(), START + timedelta(minutes=27)  # 10 ticks
    settings = Settings(trading={"coins": COINS}, llm={"instructions": "Prefer BTC and ETH in a calm market."})
    ranges, frame = _real_ranges(market, end), _frame(market)
    plain, blind = Scripted(), Scripted()
    asyncio.run(run_backtest(settings, market=market, strategy=plain, start=START, end=end))
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=BlindStrategy(blind, frame=frame), start=START, end=end)
    )
    assert blind.calls == plain.calls == 10
    # the check can fail: every plain prompt names coins, the date and real prices
    assert all(len(_leaks(text, ranges, {})) >= 6 * 25 for text in plain.prompts)  # 25 price levels a coin
    assert all(len(_levels(text)) >= 6 * 25 for text in blind.prompts)  # the blind prompts have them too ...
    for text in blind.prompts:
        assert _leaks(text, ranges, frame.coins) == []  # ... but none near a real one
    last = blind.prompts[-1]
    assert "Time +0d00:27, tick 10." in last and "COIN1 long" in last  # the second long, open
    assert re.search(r"^COIN1 long \+0d00:00 -> \+0d00:09 \(9m\)", last, flags=re.MULTILINE)  # the memory, relative
    assert "Prefer COIN2 and COIN4 in a calm market." in last  # the owner's tickers, as labels
    assert "on the exchange." in last and "This is a blind test" in last
    # the book is real: the blind run traded XRP (COIN1 of seed 1) at real prices
    assert {trade.coin for trade in result.trades} == {"XRP"}
    assert 2.0 < result.trades[0].entry_price < 2.4


def test_decisions_map_back_exactly_to_the_price_step():
    market = HistoryMarket()
    frame = _frame(market, ["BTC"])
    frame.factors["BTC"] = 20.0  # by hand: 2,100,002 / 20 = 105,000.1 and 2,200,001 / 20 = 110,000.05
    (label,) = frame.labels.values()
    back = frame.real_decisions(
        [
            Decision(coin=label, action=Action.BUY, confidence=0.9, size_pct=10, stop_loss=2_100_002.0,
                     take_profit=2_200_001.0),
            Decision(coin="BTC", action=Action.BUY, confidence=0.9, size_pct=10),  # a guessed ticker: dropped
        ]
    )  # fmt: skip
    assert [(d.coin, d.stop_loss, d.take_profit) for d in back] == [("BTC", 105_000.1, 110_000.1)]  # 0.05 rounds up
    # any price on the grid, scaled by the seeded factors and mapped back, is itself again
    seeded = _frame(market)
    rng = np.random.default_rng(3)
    for coin in COINS:
        step, k = seeded.price_steps[coin], seeded.factors[coin]
        for n in rng.integers(1, 10**7, size=200):
            price = round_to_step(int(n) * step, step)
            (decision,) = seeded.real_decisions(
                [Decision(coin=seeded.labels[coin], action=Action.SELL, confidence=1, stop_loss=price * k)]
            )
            assert decision.stop_loss == price


def test_features_scale_prices_keep_rsi_and_index_open_interest():
    market = HistoryMarket()
    frame = _frame(market, ["BTC"])
    frame.factors["BTC"] = 20.0
    snapshot = market.snapshot_at(["BTC"], START)
    from bot.tick.indicators import compute_features

    real = compute_features(snapshot)["BTC"]
    first = frame.features(real.model_copy(update={"open_interest": 1000.0}))  # the sample has no OI: by hand
    later = frame.features(real.model_copy(update={"open_interest": 1100.0}))
    assert first.coin == "COIN1" and first.price == real.price * 20 and first.h4.atr14 == real.h4.atr14 * 20
    assert first.series["price"] == [v * 20 for v in real.series["price"]] and first.rsi14 == real.rsi14
    assert first.h4.volume == real.h4.volume / 20 and first.funding_rate == real.funding_rate
    assert frame.features(real).open_interest is None  # none given, none shown
    assert first.open_interest == 100.0 and round(later.open_interest, 9) == 110.0
    assert first.as_of_ms == -180_000  # the last closed candle opened 3 minutes before the run's start


def test_a_rules_backtest_blind_equals_plain_to_the_cent():
    market, end = HistoryMarket(), datetime(2025, 6, 3, tzinfo=UTC)  # 461 ticks, six coins
    settings = Settings(trading={"coins": COINS})
    plain = asyncio.run(
        run_backtest(settings, market=market, strategy=RulesStrategy(settings.rules), start=START, end=end)
    )
    blind = asyncio.run(
        run_backtest(
            settings,
            market=market,
            strategy=BlindStrategy(RulesStrategy(settings.rules), frame=_frame(market)),
            start=START,
            end=end,
        )
    )
    assert len(plain.trades) == 20  # the check has trades to compare
    assert np.array_equal(np.round(plain.equity_usd, 2), np.round(blind.equity_usd, 2))
    assert [(t.coin, t.side, t.amount, t.entry_price, t.exit_price, t.exit_reason) for t in blind.trades] == [
        (t.coin, t.side, t.amount, t.entry_price, t.exit_price, t.exit_reason) for t in plain.trades
    ]
    assert round(blind.fees_usd, 2) == round(plain.fees_usd, 2) and blind.outcomes == plain.outcomes


def test_an_arena_candidate_and_a_sweep_cell_can_each_be_blind(tmp_path):
    from bot.arena.arena import candidate_settings
    from bot.backtest.runner import BacktestRequest, backtest_strategy, prepare
    from bot.config.arena import Candidate
    from bot.config.file import with_overrides

    base = Settings(trading={"coins": ["BTC", "ETH"]}, paths={"var_dir": str(tmp_path)})
    blind = candidate_settings(base, Candidate(name="b", strategy="rules", blind=True))
    plain = candidate_settings(base, Candidate(name="p", strategy="rules"))
    cell = with_overrides(base, {"backtest.blind": True}, where="a sweep axis")  # as `"backtest.blind" = [...]`
    assert (blind.backtest.blind, plain.backtest.blind, cell.backtest.blind) == (True, False, True)
    request = BacktestRequest(end=START)
    built = [backtest_strategy(s, "rules", prepare(s, request), request, notify=print).strategy for s in (blind, plain)]
    assert [type(strategy).__name__ for strategy in built] == ["BlindStrategy", "RulesStrategy"]


def test_a_blind_arena_candidate_of_the_rules_scores_as_its_plain_twin(tmp_path):
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest

    candidates = [{"name": "plain", "strategy": "rules"}, {"name": "blind", "strategy": "rules", "blind": True}]
    settings = Settings(
        trading={"coins": ["BTC", "ETH", "SOL"]}, paths={"var_dir": str(tmp_path)}, arena={"candidates": candidates}
    )
    result = arena_backtest(settings, BacktestRequest(end=datetime(2025, 6, 2, 12, tzinfo=UTC)), notify=print)
    # every figure the same; only who it is and how it compares with the incumbent (itself, for "plain") differ
    by_name = {s.name: s.model_dump(exclude={"name", "candidate", "verdict"}) for s in result.board.standings}
    plain, blind = by_name["plain"], by_name["blind"]
    assert plain["trades"] == 8 and plain == blind  # 221 ticks, the same book
