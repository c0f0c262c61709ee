"""`bot backtest --arena`: every candidate over the same history in one pass.

The backtest loop runs the account's ``run_tick`` as for any backtest, with the arena
plugged in: features are computed once for the whole history and shared by every
candidate's pass, Claude candidates go through the decision cache (one identity per
candidate: its model, effort, ...; a cached answer is billed what it cost when first
asked, so a re-run costs nothing yet scores, budgets and rotates exactly as the first run),
and the rotation rule runs at `arena.rotation.time`
as it would live, so the account's curve is what rotation would have done (with
rotation off it is the active candidate's decisions on the account).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.arena.arena import ActiveStrategy, Leaderboard, ReportList, memory_arena
from bot.backtest.loop import BacktestResult, run_backtest
from bot.backtest.runner import BacktestRequest, BacktestStrategy, backtest_strategy, prepare
from bot.config import Settings
from bot.errors import ConfigError
from bot.tick.protocols import Strategy


@dataclass
class ArenaResult:
    account: BacktestResult  # the account, following the active candidate (and the rotations)
    board: Leaderboard  # every candidate over the whole span
    curves: dict[str, np.ndarray]  # candidate -> equity after each tick


def arena_backtest(
    settings: Settings, request: BacktestRequest, *, notify: Callable[[str], None] = print
) -> ArenaResult:
    if not settings.arena.candidates:
        raise ConfigError(
            "--arena needs [arena] candidates in the config: add [[arena.candidates]] entries (README, Arena)"
        )
    prepared = prepare(settings, request)
    settings, market, start, end = prepared.settings, prepared.market, prepared.start, prepared.end
    built: list[BacktestStrategy] = []

    def make_strategy(own: Settings, instance: int = 1) -> Strategy:
        # a candidate's kind, as `bot backtest --strategy KIND` builds it (paid: cached, gated, billed on hits)
        built.append(
            backtest_strategy(
                own, own.strategy.name, prepared, request, notify=notify, bill_hits=True, instance=instance
            )
        )
        return built[-1].strategy

    arena = memory_arena(settings, make_strategy=make_strategy)
    gates = [chosen.gate for chosen in built if chosen.gate is not None]
    caches = [chosen.cached for chosen in built if chosen.cached is not None]

    def should_stop() -> str | None:
        return next((reason for gate in gates if (reason := gate.stop_reason())), None)

    result = asyncio.run(
        run_backtest(
            settings,
            market=market,
            strategy=ActiveStrategy(arena),
            start=start,
            end=end,
            decide_every=request.decide_every,
            should_stop=should_stop,
            arena=arena,
        )
    )
    result.strategy = "arena (rotation)" if settings.arena.rotation.enabled else f"arena ({settings.arena.initial})"
    result.cache = {"hits": sum(c.hits for c in caches), "misses": sum(c.misses for c in caches)} if caches else {}
    for chosen in built:
        chosen.close()
    board = arena.leaderboard(end, window_days=0)
    curves = {}
    for player in arena.players:
        assert isinstance(player.journal, ReportList)
        curves[player.name] = np.array(
            [report.account.equity_usd if report.account else np.nan for report in player.journal.reports]
        )
    return ArenaResult(account=result, board=board, curves=curves)


def plot_arena(path: Path, arena: ArenaResult) -> None:
    """Every candidate's equity, the account's and buy-and-hold's on one chart."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.pyplot as plt

    result = arena.account
    times = [datetime.fromtimestamp(int(ms) / 1000, tz=UTC) for ms in result.times_ms]
    figure, axis = plt.subplots(figsize=(11, 5.5))
    for entry in arena.board.standings:
        curve = arena.curves[entry.name]
        axis.plot(times[: len(curve)], curve, label=f"{entry.name} ({entry.return_pct:+.2f} %)", linewidth=1)
    axis.plot(times, result.equity_usd, label=f"account: {result.strategy}", color="black", linewidth=1.6)
    axis.plot(times, result.benchmark_usd, label="buy & hold", color="tab:gray", linestyle="--")
    axis.set_ylabel("equity (USDT)")
    axis.set_title(f"arena backtest · {', '.join(result.coins)} · {result.start:%Y-%m-%d} → {result.end:%Y-%m-%d}")
    axis.legend(loc="best")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
