"""The data phase of a tick: 6 coins x (3m candles, 4h candles, open interest, funding).

The fake exchange runs in its own process and answers every request after
``--latency-ms`` (default 100 ms). Measured in one run, in one process (imports done
before timing):

- concurrent: ``CcxtMarket.snapshot`` as a tick calls it, markets and candles from a warm
  disk cache (only the candles opened since the last run are fetched);
- concurrent, cold: the same with no cache (exchangeInfo and 502 rows per klines request);
- sequential: the same 24 requests awaited one after another, the way a loop of
  ``await exchange.fetch_...`` calls (the seed orchestrator) makes them.

    .venv/bin/python bench/data_phase.py [--runs 5] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]


def start_fake_exchange(latency_ms: float) -> tuple[subprocess.Popen, str]:
    """The fake Binance USD-M in its own process, as a real exchange would be; returns (process, url)."""
    data = ROOT.parent / "shared" / "data"
    data = data if (data / "3m").is_dir() else ROOT / "bot" / "data" / "sample"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.exchange",
            "--data-dir",
            str(data),
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return server, server.stdout.readline().split()[3]


async def _sequential(market, coins: list[str]) -> int:
    """The same requests, one at a time; returns how many were made."""
    exchange = market.exchange()
    try:
        await exchange.load_markets()
        for coin in coins:
            symbol = f"{coin}/USDT:USDT"
            await exchange.fetch_ohlcv(symbol, "3m", limit=502)
            await exchange.fetch_ohlcv(symbol, "4h", limit=502)
            await exchange.fetch_open_interest(symbol)
            await exchange.fetch_funding_rate(symbol)
    finally:
        await exchange.close()
    return 1 + 4 * len(coins)


def _timed(coroutine_factory) -> float:
    started = time.perf_counter()
    asyncio.run(coroutine_factory())
    return time.perf_counter() - started


def _row(name: str, values: list[float]) -> str:
    return f"| {name} | {min(values):.3f} s | {statistics.median(values):.3f} s |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()

    import structlog

    from bot.config import Settings
    from bot.venues.market import CcxtMarket

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings only

    server, url = start_fake_exchange(args.latency_ms)
    try:
        settings = Settings(exchange={"api_url": url})
        with tempfile.TemporaryDirectory() as cache:
            warm = CcxtMarket(settings, cache_dir=Path(cache))
            snapshot = asyncio.run(warm.snapshot(COINS, datetime.now(UTC)))  # imports, and fills the markets cache
            assert not snapshot.errors, snapshot.errors
            cached, cold, sequential = [], [], []
            for _ in range(args.runs):
                market = CcxtMarket(settings, cache_dir=Path(cache))
                cached.append(_timed(lambda market=market: market.snapshot(COINS, datetime.now(UTC))))
                requests_cached = market.request_count
                market = CcxtMarket(settings)
                cold.append(_timed(lambda market=market: market.snapshot(COINS, datetime.now(UTC))))
                requests_cold = market.request_count
                sequential.append(_timed(lambda: _sequential(CcxtMarket(settings), COINS)))
    finally:
        server.terminate()
        server.wait()
    print(
        f"data phase, 6 coins, fake exchange with {args.latency_ms:g} ms per request, {args.runs} runs, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print("| figure | min | median |\n|---|---|---|")
    print(_row(f"concurrent, caches warm: markets + candles ({requests_cached} requests)", cached))
    print(_row(f"concurrent, no cache ({requests_cold} requests, 502 rows per klines)", cold))
    print(_row(f"sequential, one request after another ({1 + 4 * len(COINS)} requests)", sequential))
    print(
        f"speed-up sequential / concurrent (medians): {statistics.median(sequential) / statistics.median(cached):.1f}x "
        f"(caches warm), {statistics.median(sequential) / statistics.median(cold):.1f}x (no cache)"
    )


if __name__ == "__main__":
    main()
