"""`bot backtest --compare`: the memory gap. The same span, model and settings run twice,
plain and blind (``bot.backtest.blind``), and set side by side.

What a model remembers of a span shows as a plain run that does better than the blind
one: the gap is the plain run's total return minus the blind run's, in percentage points.
Its 95 % interval is a moving-block bootstrap over ticks (Künsch 1989): the two runs'
per-tick log returns are resampled together, in circular blocks of ``round(sqrt(n))``
ticks (a trade's ticks stay together), ``RESAMPLES`` times from a seeded RNG, and the gap
recomputed each time; the interval is the 2.5th and 97.5th percentiles. A lower bound
above 0 is labelled "likely memory". Decision agreement is the share of (tick, coin)
pairs, over the ticks both runs were asked, where both took the same action (a coin left
out is HOLD); the books drift apart once the runs differ, so it is a floor, not a test.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from bot.backtest.loop import BacktestResult
from bot.backtest.report import build_report, tick_returns
from bot.models import Action, CoinFeatures, Decision, Portfolio, StrictModel
from bot.tick.protocols import PromptView, Strategy, WrappedStrategy

RESAMPLES = 2000
LIKELY_MEMORY = "likely memory"
Log = dict[int, dict[str, str]]  # tick time (ms) -> coin -> action


class DecisionLog(WrappedStrategy):
    """Keeps every action the run took, by tick and coin (outside any blind frame: real coins)."""

    def __init__(self, inner: Strategy, log: Log) -> None:
        super().__init__(inner)
        self.log = log

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        decisions = await super().decide(features=features, portfolio=portfolio, prompt=prompt)
        at = max((f.as_of_ms for f in features.values()), default=0)
        actions = {coin: Action.HOLD.value for coin in features}
        actions.update({d.coin: d.action.value for d in decisions if d.coin in actions})
        self.log[at] = actions
        return decisions


class RunSide(StrictModel):
    return_pct: float
    sharpe: float | None
    trades: int
    llm_cost_usd: float
    outcomes: dict[str, int]  # tick outcome -> count


class Comparison(StrictModel):
    """What `--compare` prints; `--json` is this model."""

    strategy: str
    coins: list[str]
    ticks: int
    plain: RunSide
    blind: RunSide
    agreement_pct: float | None  # None: no tick where both runs were asked
    decisions_compared: int  # (tick, coin) pairs
    gap_pct: float  # plain minus blind total return, percentage points
    gap_low_pct: float
    gap_high_pct: float
    verdict: str
    method: str = (
        f"gap = plain - blind total return; 95 % interval from a circular block bootstrap over ticks "
        f"(block = round(sqrt(ticks)), {RESAMPLES} resamples, seeded)"
    )
    warnings: list[str] = []


def agreement(plain: Log, blind: Log) -> tuple[float | None, int]:
    """% of (tick, coin) pairs with the same action, over the ticks both runs were asked."""
    pairs = [(plain[at][coin], blind[at].get(coin)) for at in plain.keys() & blind.keys() for coin in plain[at]]
    if not pairs:
        return None, 0
    return 100.0 * sum(a == b for a, b in pairs) / len(pairs), len(pairs)


def gap_interval(
    plain_equity: np.ndarray, blind_equity: np.ndarray, *, initial_usd: float, seed: int, resamples: int = RESAMPLES
) -> tuple[float, float, float]:
    """The gap (plain minus blind total return, in points) and its bootstrap 95 % interval."""
    plain = np.log1p(tick_returns(np.concatenate([[initial_usd], plain_equity])))
    blind = np.log1p(tick_returns(np.concatenate([[initial_usd], blind_equity])))
    gap = 100.0 * (math.expm1(float(plain.sum())) - math.expm1(float(blind.sum())))
    n = len(plain)
    if n == 0:
        return gap, gap, gap
    block = max(1, round(math.sqrt(n)))
    blocks, rest = divmod(n, block)

    def sums(series: np.ndarray, length: int) -> np.ndarray:
        """The sum of ``length`` ticks from each start, wrapping round the end."""
        cumulative = np.concatenate([[0.0], np.cumsum(np.concatenate([series, series]))])
        return cumulative[np.arange(n) + length] - cumulative[np.arange(n)]

    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(resamples, blocks + (1 if rest else 0)))
    totals = []
    for series in (plain, blind):
        total = sums(series, block)[starts[:, :blocks]].sum(axis=1)
        if rest:
            total += sums(series, rest)[starts[:, blocks]]
        totals.append(np.expm1(total))
    gaps = 100.0 * (totals[0] - totals[1])
    low, high = np.percentile(gaps, [2.5, 97.5])
    return gap, float(low), float(high)


def verdict(low: float, high: float) -> str:
    if low > 0:
        return f"{LIKELY_MEMORY}: the plain run beat the blind one beyond the interval"
    if high < 0:
        return "the blind run did better: no sign of memory"
    return "no significant gap"


def compare(plain: BacktestResult, blind: BacktestResult, *, plain_log: Log, blind_log: Log, seed: int) -> Comparison:
    plain_report, blind_report = build_report(plain), build_report(blind)

    def side(report) -> RunSide:
        return RunSide(
            return_pct=report.strategy_metrics.total_return_pct,
            sharpe=report.strategy_metrics.sharpe,
            trades=report.trade_metrics.trades,
            llm_cost_usd=report.llm_cost_usd,
            outcomes=report.outcomes,
        )

    agreed, pairs = agreement(plain_log, blind_log)
    gap, low, high = gap_interval(plain.equity_usd, blind.equity_usd, initial_usd=plain.initial_usd, seed=seed)
    return Comparison(
        strategy=plain.strategy,
        coins=plain.coins,
        ticks=len(plain.times_ms),
        plain=side(plain_report),
        blind=side(blind_report),
        agreement_pct=agreed,
        decisions_compared=pairs,
        gap_pct=gap,
        gap_low_pct=low,
        gap_high_pct=high,
        verdict=verdict(low, high),
        warnings=[*plain.warnings, *[w for w in blind.warnings if w not in plain.warnings]],
    )


def compare_command(settings, request, *, progress: bool, notify: Callable[[str], None]) -> Comparison:
    """Both runs through `bot backtest`'s own code (each priced and gated before its first paid call)."""
    from bot.backtest.runner import backtest_command, per_call_cost, prepare
    from bot.strategies.kinds import resolve

    prepared = prepare(settings, request)
    priced = ""
    if resolve(prepared.settings, request.strategy, option="--strategy").paid:
        per_call = per_call_cost(prepared.settings, prepared.market, start=prepared.start)
        calls = 2 * prepared.calls
        priced = f": {calls:,} uncached calls at most, up to {calls * per_call:.2f} USD together"
    notify(
        f"--compare: a plain and a blind run of the same span{priced} "
        "(each run's estimate follows; --max-cost applies to each run)"
    )
    logs: tuple[Log, Log] = ({}, {})
    results = [
        backtest_command(
            settings,
            request.model_copy(update={"blind": blind}),
            progress=progress,
            notify=notify,
            wrap=lambda inner, log=log: DecisionLog(inner, log),
        )
        for blind, log in zip((False, True), logs, strict=True)
    ]
    return compare(results[0], results[1], plain_log=logs[0], blind_log=logs[1], seed=settings.backtest.blind_seed)


def print_comparison(comparison: Comparison, *, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    from bot.backtest.report import _fmt

    console = console or Console(highlight=False)
    for warning in comparison.warnings:
        console.print(f"[bold red]WARNING:[/] {warning}")
    c = comparison
    console.print(f"memory gap · {c.strategy} · {', '.join(c.coins)} · {c.ticks:,} ticks")
    table = Table("metric", "plain", "blind", title="plain vs blind")
    table.add_row("total return", _fmt(c.plain.return_pct, "+.2f", " %"), _fmt(c.blind.return_pct, "+.2f", " %"))
    table.add_row("Sharpe", _fmt(c.plain.sharpe), _fmt(c.blind.sharpe))
    table.add_row("trades", str(c.plain.trades), str(c.blind.trades))
    table.add_row("LLM cost (USD)", _fmt(c.plain.llm_cost_usd, ",.4f"), _fmt(c.blind.llm_cost_usd, ",.4f"))
    console.print(table)
    agreed = "-" if c.agreement_pct is None else f"{c.agreement_pct:.1f} % of {c.decisions_compared:,} (tick, coin)"
    console.print(f"decision agreement: {agreed}")
    console.print(
        f"gap (plain - blind): {c.gap_pct:+.2f} points, 95 % interval [{c.gap_low_pct:+.2f}, {c.gap_high_pct:+.2f}]"
        f" · {c.verdict}"
    )
    console.print(f"method: {c.method}")
    for name, run in (("plain", c.plain), ("blind", c.blind)):
        if set(run.outcomes) - {"ok"}:
            console.print(f"{name} ticks: " + " · ".join(f"{k} {n}" for k, n in sorted(run.outcomes.items())))
