"""The backtest is the live tick replayed: no look-ahead, honest bookkeeping, every n-th decision."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.backtest.loop import (
    END_OF_BACKTEST,
    EveryNthTick,
    run_backtest,
    span_of,
    trades_from_fills,
)
from bot.backtest.report import build_report
from bot.config import Settings
from bot.models import Action, Decision, Fill, Position, Side
from bot.ops.state import BotState
from bot.strategies.rules import RulesStrategy
from bot.venues.history import SAMPLE_DIR, HistoryMarket, _read_csv

COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the sample's first tick with 500 closed candles


class Recording:
    """Wraps a strategy; keeps what it saw and said at each tick, the prompt included."""

    name = "recording"
    trace = None  # free: nothing to account

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seen: list[tuple[int, dict, str, list]] = []

    async def decide(self, *, features, portfolio, prompt):
        decisions = await self.inner.decide(features=features, portfolio=portfolio, prompt=prompt)
        as_of = max(f.as_of_ms for f in features.values())
        dumped = {coin: f.model_dump() for coin, f in features.items()}
        self.seen.append((as_of, dumped, prompt.user, [d.model_dump() for d in decisions]))
        return decisions


def _perturbed_copy(folder: Path, cut: datetime) -> Path:
    """The sample with every candle that had not closed by ``cut`` (and every later
    funding rate) changed: prices scaled by random factors, volumes doubled."""
    rng = np.random.default_rng(7)
    cut_ms = int(cut.timestamp() * 1000)
    steps = {"3m": 180_000, "4h": 14_400_000}
    for timeframe, step in steps.items():
        (folder / timeframe).mkdir(parents=True)
        for coin in COINS:
            candles = _read_csv(SAMPLE_DIR / timeframe, f"{coin}USDT-{timeframe}")
            later = candles[:, 0] + step > cut_ms
            candles[later, 1:5] *= rng.uniform(0.9, 1.1, size=(int(later.sum()), 1))
            candles[later, 5] *= 2
            _write(folder / timeframe / f"{coin}USDT-{timeframe}.csv", candles, "timestamp,open,high,low,close,volume")
    (folder / "funding_8h").mkdir()
    for coin in COINS:
        funding = _read_csv(SAMPLE_DIR / "funding_8h", f"{coin}USDT-funding-8h")
        funding[funding[:, 0] > cut_ms, 1] = 0.003
        _write(folder / "funding_8h" / f"{coin}USDT-funding-8h.csv", funding, "timestamp,funding_rate")
    return folder


def _write(path: Path, rows: np.ndarray, header: str) -> None:
    with open(path, "w") as handle:
        handle.write(header + "\n")
        for row in rows:
            handle.write(",".join([str(int(row[0]))] + [repr(float(value)) for value in row[1:]]) + "\n")


def _recorded_run(folder: Path | None, *, end: datetime) -> tuple[Recording, object]:
    settings = Settings(trading={"coins": COINS})
    strategy = Recording(RulesStrategy(settings.rules))
    result = asyncio.run(run_backtest(settings, market=HistoryMarket(folder), strategy=strategy, start=START, end=end))
    return strategy, result


class Counting:
    name = "counting"
    trace = None  # free: nothing to account

    def __init__(self) -> None:
        self.calls = 0

    async def decide(self, *, features, portfolio, prompt):
        self.calls += 1
        return []


def _fill(coin, side, amount, price, *, fee, pnl=0.0, reduce_only=False, reason="decision", minute=0):
    at = datetime(2025, 6, 2, 1, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return Fill(
        coin=coin,
        side=side,
        amount=amount,
        price=price,
        fee_usd=fee,
        realized_pnl_usd=pnl,
        reduce_only=reduce_only,
        reason=reason,
        client_order_id=f"id-{coin}-{minute}",
        at=at,
    )


class _BuyOnce:
    """BTC long at the first tick (2x, 10 %: 0.018 BTC at 105,379.1), then nothing."""

    name = "buy_once"
    trace = None  # free: nothing to account

    def __init__(self) -> None:
        self.done = False

    async def decide(self, *, features, portfolio, prompt):
        if self.done:
            return []
        self.done = True
        return [
            Decision(
                coin="BTC",
                action=Action.BUY,
                confidence=1.0,
                size_pct=10,
                leverage=2,
                stop_loss=100_000,
                take_profit=115_000,
            )
        ]


def _buy_once_backtest(market):
    settings = Settings(trading={"coins": ["BTC"]})
    end = datetime(2025, 6, 2, 8, 3, tzinfo=UTC)  # the 08:00 settlement included
    return asyncio.run(run_backtest(settings, market=market, strategy=_BuyOnce(), start=START, end=end))


def test_perturbing_every_candle_after_t_changes_no_decision_at_or_before_t(tmp_path):
    cut, end = START + timedelta(hours=10), START + timedelta(hours=16)
    original, original_result = _recorded_run(None, end=end)
    perturbed, perturbed_result = _recorded_run(_perturbed_copy(tmp_path / "data", cut), end=end)
    cut_ms = int(cut.timestamp() * 1000)
    before = [item for item in original.seen if item[0] + 180_000 <= cut_ms]
    assert len(before) == 201  # ticks 01:00 .. 11:00 every 3 minutes
    assert perturbed.seen[: len(before)] == before  # features, prompt and decisions, tick by tick
    assert any(item[3] for item in before), "the rules never acted before t: the test would prove nothing"

    def entries(result):
        return sorted((t.entry_at, t.coin, t.side, t.amount, t.entry_price) for t in result.trades if t.entry_at <= cut)

    assert entries(perturbed_result) == entries(original_result) != []
    # ... and the perturbation is visible right after t, so the comparison above could fail.
    assert perturbed.seen[len(before)][1] != original.seen[len(before)][1]
    np.testing.assert_array_equal(perturbed_result.equity_usd[:200], original_result.equity_usd[:200])


def test_decide_every_n_asks_the_strategy_on_the_first_tick_and_every_nth_after():
    inner = Counting()
    every = EveryNthTick(inner, 5)
    for _ in range(11):
        asyncio.run(every.decide(features={}, portfolio=None, prompt=None))
    assert inner.calls == 3  # ticks 1, 6 and 11


def test_a_backtest_starting_at_the_first_tick_ends_with_the_equity_its_trades_explain():
    settings = Settings(trading={"coins": COINS})
    market = HistoryMarket()
    start, end = span_of(market, COINS, start=None, end=START + timedelta(hours=24))
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=RulesStrategy(settings.rules), start=start, end=end)
    )
    assert len(result.times_ms) == 481 and result.outcomes == {"ok": 481}
    assert result.trades, "the rules should trade within a day of the sample"
    # Equity = initial + every trade's net PnL (open ones marked at the last price).
    assert result.equity_usd[-1] == pytest.approx(10_000 + sum(t.pnl_usd for t in result.trades), abs=1e-6)
    assert result.fees_usd == pytest.approx(sum(t.fees_usd for t in result.trades), abs=1e-9)
    # Buy-and-hold starts at the initial balance and follows the basket's mean price ratio.
    assert result.benchmark_usd[0] == 10_000


def test_span_refuses_a_start_before_the_history_can_show_500_candles():
    from bot.errors import ConfigError

    with pytest.raises(
        ConfigError,
        match="--from 2025-06-01T00:00: the history needs 500 closed candles first; the earliest start is "
        "2025-06-02T01:00",
    ):
        span_of(HistoryMarket(), COINS, start=datetime(2025, 6, 1, tzinfo=UTC), end=None)
    with pytest.raises(ConfigError, match="--to 2025-06-09T00:00: the history ends at 2025-06-05T00:00"):
        span_of(HistoryMarket(), COINS, start=None, end=datetime(2025, 6, 9, tzinfo=UTC))
    # a start past the data is named as such, not as an end before the start
    with pytest.raises(
        ConfigError, match="--from 2030-01-01T00:00: the history ends at 2025-06-05T00:00; pass an earlier --from"
    ):
        span_of(HistoryMarket(), COINS, start=datetime(2030, 1, 1, tzinfo=UTC), end=None)


def test_trades_pair_entries_with_exits_and_value_what_is_still_open_at_the_last_price():
    fills = [
        _fill("BTC", Side.LONG, 0.1, 100_000.0, fee=5.0, minute=0),
        _fill("ETH", Side.SHORT, 2.0, 2_500.0, fee=2.5, minute=3),
        # BTC long closed at 101,000: +100 before fees, exit fee 5.05 -> net 100 - 5 - 5.05 = 89.95
        _fill("BTC", Side.LONG, 0.1, 101_000.0, fee=5.05, pnl=100.0, reduce_only=True, reason="take_profit", minute=30),
    ]
    end = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)
    state = BotState.fresh(mode="backtest", initial_equity_usd=10_000)
    state.positions["ETH"] = Position(
        coin="ETH",
        symbol="ETH/USDT:USDT",
        side=Side.SHORT,
        amount=2.0,
        entry_price=2_500.0,
        leverage=1,
        margin_usd=5_000,
        opened_at=fills[1].at,
    )
    btc, eth = trades_from_fills(fills, funding=[], state=state, end=end, last_prices={"ETH": 2_450.0})
    assert (btc.exit_reason, btc.pnl_usd, btc.fees_usd, btc.hold_minutes) == (
        "take_profit",
        pytest.approx(89.95),
        pytest.approx(10.05),
        30.0,
    )
    # ETH short still open: (2,500 - 2,450) x 2 = +100, minus the entry fee only.
    assert (eth.exit_reason, eth.exit_at, eth.exit_price, eth.pnl_usd) == (
        END_OF_BACKTEST,
        end,
        2_450.0,
        pytest.approx(97.5),
    )


def test_adds_average_in_partial_closes_average_out_and_funding_between_entry_and_exit_counts():
    fills = [
        _fill("SOL", Side.LONG, 10.0, 150.0, fee=0.75, minute=0),
        _fill("SOL", Side.LONG, 10.0, 160.0, fee=0.80, minute=30),  # add: entry averages to 155
        _fill("SOL", Side.LONG, 5.0, 170.0, fee=0.425, pnl=75.0, reduce_only=True, minute=60),  # (170 - 155) x 5
        _fill(
            "SOL", Side.LONG, 15.0, 150.0, fee=1.125, pnl=-75.0, reduce_only=True, reason="stop_loss", minute=90
        ),  # (150 - 155) x 15
    ]
    at = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
    # received (+) or paid (-), the sign of every funding figure (issue 16 item 12): SOL paid 9.0, 1.5, 0.5
    funding = [
        ("SOL", at, -9.0),
        ("SOL", at + timedelta(minutes=45), -1.5),
        ("SOL", at + timedelta(minutes=90), -0.5),
        ("ETH", at + timedelta(minutes=45), -7.0),
    ]
    state = BotState.fresh(mode="backtest", initial_equity_usd=10_000)
    (sol,) = trades_from_fills(fills, funding=funding, state=state, end=at + timedelta(hours=3), last_prices={})
    assert (sol.amount, sol.entry_price, sol.exit_price, sol.exit_reason) == (
        20.0,
        155.0,
        155.0,
        "stop_loss",
    )  # exits: (5 x 170 + 15 x 150) / 20
    assert (
        sol.funding_received_usd == -2.0
    )  # paid after the entry up to the exit, SOL only (not the 9.0 settled before the entry)
    assert sol.fees_usd == pytest.approx(3.1) and sol.pnl_usd == pytest.approx(0.0 - 3.1 - 2.0)


def test_decisions_the_risk_step_rejects_do_not_stop_the_backtest():
    class Reckless:
        name = "reckless"
        trace = None  # free: nothing to account

        async def decide(self, *, features, portfolio, prompt):
            return [Decision(coin=coin, action=Action.CLOSE, confidence=1.0) for coin in features]

    settings = Settings(trading={"coins": ["BTC"]})
    result = asyncio.run(
        run_backtest(
            settings, market=HistoryMarket(), strategy=Reckless(), start=START, end=START + timedelta(minutes=30)
        )
    )
    assert result.outcomes == {"ok": 11} and result.trades == [] and result.equity_usd[-1] == 10_000


def test_gh16_12_funding_is_received_plus_paid_minus_in_every_output():
    result = _buy_once_backtest(HistoryMarket())
    # The long pays the 08:00 rate 0.005593 % on 0.018 BTC valued at 105,346.4 (the close just
    # before 08:00, the newest price the 08:00 tick has): 0.018 x 105,346.4 x 5.593e-05 = 0.106056 paid.
    [trade] = result.trades
    assert trade.funding_received_usd == pytest.approx(-0.106056, abs=1e-6)
    assert result.funding_received_usd == pytest.approx(-0.106056, abs=1e-6)
    assert build_report(result).funding_received_usd == pytest.approx(-0.106056, abs=1e-6)
    assert result.warnings == []


def test_gh16_7_a_backtest_without_funding_history_says_funding_was_not_charged(tmp_path):
    folder = tmp_path / "history"
    shutil.copytree(
        SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("funding_8h", "*DOGE*", "*XRP*", "*SOL*", "*BNB*", "*ETH*")
    )
    result = _buy_once_backtest(HistoryMarket(folder))
    assert result.funding_received_usd == 0.0  # before: the same 0.0, and not a word
    assert result.warnings == [
        "FUNDING UNKNOWN: 1 settlements of BTC had no funding rate and were not charged; add funding_8h/ to the data "
        "folder"
    ]
    assert result.outcomes == {"ok": 141, "degraded": 1}  # 142 ticks 01:00-08:03; the 08:00 one says so too


def test_gh36_1_a_settlement_past_the_end_of_the_funding_history_is_not_charged_and_said(tmp_path):
    """The funding files cut after 06-02 00:00: the 08:00 settlement's newest rate is the 00:00
    one (8 h old, a whole interval). Before: charged at it, every tick ok, no warning: the long
    received 0.018 BTC x 105,346.4 x 6.42e-06 = 0.012174 USD (the 00:00 rate, -0.000642 %) where
    it paid 0.106056 (the 08:00 rate, +0.005593 %, test_gh16_12). After: not charged, the 08:00
    tick degraded, the report warns and counts it."""
    folder = tmp_path / "history"
    shutil.copytree(SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("*DOGE*", "*XRP*", "*SOL*", "*BNB*", "*ETH*"))
    funding = _read_csv(SAMPLE_DIR / "funding_8h", "BTCUSDT-funding-8h")
    cut_ms = datetime(2025, 6, 2, tzinfo=UTC).timestamp() * 1000
    (folder / "funding_8h" / "BTCUSDT-funding-8h.csv.gz").unlink()
    _write(folder / "funding_8h" / "BTCUSDT-funding-8h.csv", funding[funding[:, 0] <= cut_ms], "timestamp,funding_rate")
    result = _buy_once_backtest(HistoryMarket(folder))
    assert result.funding_received_usd == 0.0 and result.trades[0].funding_received_usd == 0.0
    assert result.warnings == [
        "FUNDING STALE: 1 settlements of BTC had only an earlier settlement's rate (the funding history ends before "
        "them) and were not charged; download funding covering the span"
    ]
    assert result.outcomes == {"ok": 141, "degraded": 1}  # the 08:00 tick
    assert result.messages == [
        "2025-06-02 08:00 degraded: BTC: funding at 2025-06-02 08:00 UTC not charged: the newest BTC rate was settled "
        "at 2025-06-02 00:00 UTC, an earlier settlement's (the funding history ends there)"
    ]
    report = build_report(result)
    assert report.funding_coverage == {"charged": 0, "stale": 1, "unknown": 0}
    full = build_report(_buy_once_backtest(HistoryMarket()))
    assert full.funding_coverage == {"charged": 1, "stale": 0, "unknown": 0}


def test_gh36_2_the_report_counts_the_risk_steps_rejections_by_code():
    """BUY BTC every tick with a take-profit 1 % away and a stop 2 % away (reward:risk 0.5 <
    1.5): 11 ticks, 11 refusals, 0 trades. Before: the report said 0 trades and nothing else."""
    import io

    from rich.console import Console

    from bot.backtest.report import print_report

    class ShortSighted:
        name = "short-sighted"
        trace = None  # free: nothing to account

        async def decide(self, *, features, portfolio, prompt):
            price = features["BTC"].price
            return [
                Decision(
                    coin="BTC",
                    action=Action.BUY,
                    confidence=1.0,
                    size_pct=10,
                    stop_loss=price * 0.98,
                    take_profit=price * 1.01,
                )
            ]

    settings = Settings(trading={"coins": ["BTC"]})
    result = asyncio.run(
        run_backtest(
            settings, market=HistoryMarket(), strategy=ShortSighted(), start=START, end=START + timedelta(minutes=30)
        )
    )
    report = build_report(result)
    assert result.trades == [] and report.rejections == {"low_reward_risk": 11}
    console = Console(file=io.StringIO(), width=120)
    print_report(report, console=console)
    assert "risk rejections: low_reward_risk 11\n" in console.file.getvalue()
