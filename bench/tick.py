"""Whole-process figures of a cron tick against the fake exchange, next to their floors.

Each figure is a cold process timed from spawn to exit (``os.wait4`` also gives its peak
RSS). The floors are timed in the same run, interleaved, because absolute times on shared
machines are noisy:

- import floor: ``python -c "import ccxt.async_support, pandas, ta"``, and the same with the
  garbage collector off, as the bot runs its commands (see ``bot.cli.main``), so the
  gain from that is shown apart from the rest;
- ``bot tick --dry-run`` (rules strategy) in a folder whose markets and candle caches are
  warm, as on every cron run but the first (the markets then every hour); the fake exchange runs in its own process
  with ``--latency-ms`` per request (default 0: the issue's figure);
- the same tick decided by Claude: the fake Messages API in its own process (answers at
  once, HOLD for every coin), next to the floor with ``anthropic`` added to the imports;
- ``bot status`` and ``bot --help``, and which heavy modules they import;
- what each heavy library costs on its own (``import`` of it alone: seconds, peak RSS,
  modules), so the Claude tick's RSS can be read as the sum of its parts;
- the prompt's size for 6 coins.

    .venv/bin/python bench/tick.py [--runs 5] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data_phase import start_fake_exchange  # noqa: E402

HEAVY = ("ccxt", "anthropic", "pandas", "numpy", "ta")


def _run(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 4):  # 4: degraded is still a tick
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def start_fake_anthropic() -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.anthropic", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    return server, server.stdout.readline().split()[3]


def _row(name: str, values: list[float], unit: str = "s") -> str:
    fmt = "{:.3f} s" if unit == "s" else "{:.0f} MB"
    return (
        f"| {name} | {fmt.format(min(values))} | {fmt.format(statistics.median(values))} | {fmt.format(max(values))} |"
    )


# Each heavy library imported alone (the GC off, as the bot runs): what it adds to a tick.
LIBRARIES = {
    "python -c pass": "pass",
    "ccxt (the sync package: every exchange)": "import ccxt",
    "ccxt.async_support (which imports ccxt first)": "import ccxt.async_support",
    "ccxt as the bot loads it (bot.venues.ccxt_lean: binanceusdm only)": (
        "from bot.venues.ccxt_lean import lean_ccxt; lean_ccxt('binanceusdm')"
    ),
    "pandas, ta": "import pandas, ta",
    "anthropic": "import anthropic",
    "the tick's floor (ccxt.async_support, pandas, ta, anthropic)": "import ccxt.async_support, pandas, ta, anthropic",
}


def library_costs(runs: int, *, cwd: Path, env: dict[str, str]) -> list[str]:
    """Rows: seconds (min / median / max), peak RSS and modules of each import alone."""
    rows = []
    for name, code in LIBRARIES.items():
        probe = f"import gc, sys; gc.disable(); {code}; print(len(sys.modules), file=sys.stderr)"
        timed = [_run([sys.executable, "-c", probe], cwd=cwd, env=env) for _ in range(runs)]
        modules = subprocess.run(
            [sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True
        ).stderr.split()[-1]
        seconds = [t for t, _ in timed]
        rss = statistics.median(r for _, r in timed)
        rows.append(
            f"| {name} | {min(seconds):.3f} / {statistics.median(seconds):.3f} / {max(seconds):.3f} s | {rss:.0f} MB "
            f"| {int(modules):,} |"
        )
    return rows


def prompt_size() -> tuple[int, int]:
    from bot.config import Settings
    from bot.models import ReturnStats
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of
    from bot.tick.prompt import build_prompt
    from bot.venues.history import HistoryMarket

    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    settings = Settings()
    snapshot = HistoryMarket().snapshot_at(settings.trading.coins, now)
    prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    portfolio = portfolio_of(
        cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    prompt = build_prompt(settings, compute_features(snapshot), portfolio, now=now, tick=1)
    return prompt.chars, prompt.estimated_tokens


def heavy_imports(*args: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Heavy top-level packages a `bot ARGS` process has imported when it exits."""
    code = (
        "import sys, runpy; sys.argv = ['bot', *sys.argv[1:]]\n"
        "try: runpy.run_module('bot', run_name='__main__')\n"
        "except SystemExit: pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    server, url = start_fake_exchange(args.latency_ms)
    llm_server, llm_url = start_fake_anthropic()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    env["BOT_EXCHANGE__API_URL"] = url
    env["BOT_STRATEGY__NAME"] = "rules"
    claude_env = {**env, "BOT_STRATEGY__NAME": "claude", "ANTHROPIC_API_KEY": "sk-bench", "BOT_LLM__BASE_URL": llm_url}
    python = sys.executable
    names = ("floor", "floor_nogc", "tick", "rss", "floor_llm", "claude", "claude_rss", "status", "help")
    figures: dict[str, list[float]] = {name: [] for name in names}
    try:
        with tempfile.TemporaryDirectory() as folder:
            cwd = Path(folder)
            (cwd / "config.toml").write_text("")
            _run([python, "-m", "bot", "tick", "--dry-run"], cwd=cwd, env=env)  # warms the caches
            for _ in range(args.runs):
                figures["floor"].append(
                    _run([python, "-c", "import ccxt.async_support, pandas, ta"], cwd=cwd, env=env)[0]
                )
                nogc = "import gc; gc.disable(); import ccxt.async_support, pandas, ta"
                figures["floor_nogc"].append(_run([python, "-c", nogc], cwd=cwd, env=env)[0])
                seconds, rss = _run([python, "-m", "bot", "tick", "--dry-run"], cwd=cwd, env=env)
                figures["tick"].append(seconds)
                figures["rss"].append(rss)
                floor_llm = "import ccxt.async_support, pandas, ta, anthropic"
                figures["floor_llm"].append(_run([python, "-c", floor_llm], cwd=cwd, env=env)[0])
                seconds, rss = _run([python, "-m", "bot", "tick", "--dry-run"], cwd=cwd, env=claude_env)
                figures["claude"].append(seconds)
                figures["claude_rss"].append(rss)
                figures["status"].append(_run([python, "-m", "bot", "status"], cwd=cwd, env=env)[0])
                figures["help"].append(_run([python, "-m", "bot", "--help"], cwd=cwd, env=env)[0])
            imports = {command: heavy_imports(command, cwd=cwd, env=env) for command in ("status", "--help")}
            libraries = library_costs(args.runs, cwd=cwd, env=env)
    finally:
        for process in (server, llm_server):
            process.terminate()
            process.wait()
    chars, tokens = prompt_size()
    median = {name: statistics.median(values) for name, values in figures.items()}
    print(
        f"whole processes, fake exchange with {args.latency_ms:g} ms per request, {args.runs} runs, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print("| figure | min | median | max |\n|---|---|---|---|")
    print(_row("import floor (ccxt.async_support, pandas, ta)", figures["floor"]))
    print(_row("import floor, garbage collector off", figures["floor_nogc"]))
    print(_row("`bot tick --dry-run` (rules, markets and candle caches warm)", figures["tick"]))
    print(_row("peak RSS of the tick (goal <= 200 MB)", figures["rss"], unit="MB"))
    print(_row("import floor with anthropic", figures["floor_llm"]))
    print(_row("`bot tick --dry-run` decided by Claude (fake Messages API)", figures["claude"]))
    print(_row("peak RSS of the Claude tick", figures["claude_rss"], unit="MB"))
    print(_row("`bot status` (goal <= 0.3 s)", figures["status"]))
    print(_row("`bot --help` (goal <= 0.3 s)", figures["help"]))
    print(
        f"tick minus floor, medians: {median['tick'] - median['floor']:.3f} s (goal <= 0.4 s); "
        f"minus the GC-off floor: {median['tick'] - median['floor_nogc']:.3f} s"
    )
    print(
        f"Claude tick minus the floor with anthropic, medians: {median['claude'] - median['floor_llm']:.3f} s (goal "
        f"<= 0.5 s)"
    )
    for command, modules in imports.items():
        print(f"heavy modules imported by `bot {command}`: {modules}")
    print("\n| imported alone, GC off | seconds min / median / max | peak RSS | modules |\n|---|---|---|---|")
    print("\n".join(libraries))
    print(f"prompt for 6 coins: {chars:,} characters, ~{tokens:,} tokens (estimated at 4 characters per token)")


if __name__ == "__main__":
    main()
