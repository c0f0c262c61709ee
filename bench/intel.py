"""Issue 21's figures: the context block's size for six coins, and a tick's wall time with
and without intel when the sources are slow.

- block size: the block built from the recorded answers (tests/fakes/intel_answers, what
  the tests assert), and a full one (3 headlines for each of 6 coins and 3 for the
  market, ~90-character titles) at the default caps and uncapped;
  tokens estimated as characters / 4 and / 3 (no tokenizer offline);
- a whole `run_tick` in-process (rules, paper broker, state in memory) against the fake
  exchange in its own process (``--latency-ms`` per request, markets cache warm) and the
  fake intel sources on 127.0.0.1 (every route delayed), each run with a cold intel cache:
  no intel; sources answering within the market's time; slower than it; one hanging
  past ``intel.timeout_s``.

    .venv/bin/python bench/intel.py [--runs 5] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.data_phase import COINS, start_fake_exchange  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.config.intel import Feed, IntelSettings  # noqa: E402
from bot.tick.briefing import MARKET, Briefing, Headline, Impact, Sentiment  # noqa: E402
from bot.tick.prompt import context_block  # noqa: E402
from tests.fakes.intel import FakeIntel  # noqa: E402


def _start_fake_intel(*options: str):
    """The fake sources in their own process, as real hosts would be; returns (process, url)."""
    import subprocess

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.intel", *options], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    return server, server.stdout.readline().strip()


RECORDED_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _sizes(text: str) -> str:
    return f"{len(text):,} characters, ~{len(text) / 4:.0f} tokens at 4 characters per token, ~{len(text) / 3:.0f} at 3"


def _full_briefing(now: datetime) -> Briefing:
    words = "exchange flows steady as traders weigh funding and open interest ahead of the weekly close"

    def headline(group: str, i: int) -> Headline:
        return Headline(
            title=f"{group} {words}"[:90],
            source="coindesk",
            published_at=now - timedelta(minutes=20 * i + 5),
            impact=[Impact.HIGH, Impact.MEDIUM, Impact.LOW][i],
            coins=[] if group == MARKET else [group],
        )

    return Briefing(
        as_of=now,
        sentiment=Sentiment(value=72, label="Greed", at=now.replace(hour=0, minute=0), previous=65),
        headlines={group: [headline(group, i) for i in range(3)] for group in [*COINS, MARKET]},
    )


def _settings(exchange_url: str, var: Path, intel_url: str | None, *, timeout_s: float = 4.0) -> Settings:
    if intel_url is None:
        return Settings(exchange={"api_url": exchange_url}, base_dir=var)
    feeds = [
        Feed(name="coindesk", url=f"{intel_url}/feeds/coindesk.rss"),
        Feed(name="decrypt", url=f"{intel_url}/feeds/decrypt.atom"),
    ]
    intel = IntelSettings(enabled=True, fear_greed_url=f"{intel_url}/fng/", feeds=feeds, timeout_s=timeout_s)
    return Settings(exchange={"api_url": exchange_url}, intel=intel, base_dir=var)


async def _tick(settings: Settings, market_cache: Path) -> dict[str, float]:
    from bot.intel import live_intel
    from bot.strategies.rules import RulesStrategy
    from bot.tick.engine import TickContext, run_tick
    from bot.venues.market import CcxtMarket
    from bot.venues.paper import PaperBroker
    from tests.fakes.memory import MemoryJournal, MemoryStore

    ctx = TickContext(
        settings=settings,
        mode="paper",
        dry_run=True,
        market=CcxtMarket(settings, cache_dir=market_cache),
        strategy=RulesStrategy(settings.rules),
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
        intel=live_intel(settings),
    )
    report = await run_tick(ctx, datetime.now(UTC))
    assert report.coins_loaded == COINS, report.errors
    return {**report.duration_ms, "skipped": len(report.sources_skipped)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    print("## context block, 6 coins\n")
    full = _full_briefing(RECORDED_NOW)
    defaults = IntelSettings()
    two = full.model_copy(
        update={"headlines": {group: items[: defaults.headlines_per_coin] for group, items in full.headlines.items()}}
    )
    for name, text in (
        (
            f"defaults: {defaults.headlines_per_coin} per coin and market, cap {defaults.max_tokens}",
            context_block(two, now=RECORDED_NOW, max_tokens=defaults.max_tokens),
        ),
        (
            f"3 per coin and market, cap {defaults.max_tokens}",
            context_block(full, now=RECORDED_NOW, max_tokens=defaults.max_tokens),
        ),
        ("3 per coin and market, uncapped", context_block(full, now=RECORDED_NOW, max_tokens=4000)),
    ):
        print(f"- {name}: {text.count(' ago [')} headlines, {_sizes(text)}")

    server, exchange_url = start_fake_exchange(args.latency_ms)
    rows = []
    try:
        with FakeIntel() as fake, tempfile.TemporaryDirectory() as tmp:
            from bot.intel.live import LiveIntel

            intel = LiveIntel(_settings(exchange_url, Path(tmp), fake.url), cache_dir=Path(tmp) / "recorded")
            recorded = context_block(
                asyncio.run(intel.briefing(COINS, RECORDED_NOW)).before(RECORDED_NOW), now=RECORDED_NOW, max_tokens=400
            )
            print(
                f"- from the recorded answers (Fear & Greed, coindesk RSS, decrypt Atom; no CryptoPanic): "
                f"{_sizes(recorded)}\n"
            )
            print("sample excerpt (the recorded answers):\n```\n" + recorded + "\n```\n")
            market_cache = Path(tmp) / "market-cache"
            asyncio.run(
                _tick(_settings(exchange_url, Path(tmp) / "warm", None), market_cache)
            )  # imports; markets and candles cached
            scenarios = [
                ("no intel", None, 0.0, 4.0),
                ("sources answer in 0.1 s", ["--delay-s", "0.1"], 0.0, 4.0),
                ("sources answer in 1.0 s", ["--delay-s", "1.0"], 0.0, 4.0),
                ("one source hangs, timeout_s 1", ["--hang", "/feeds/decrypt.atom"], 0.0, 1.0),
            ]
            for name, options, _, timeout in scenarios:
                intel_server, url = _start_fake_intel(*options) if options is not None else (None, None)
                figures = []
                try:
                    for run in range(args.runs):
                        var = Path(tmp) / f"{name}-{run}"  # a cold intel cache every run: every source is asked
                        figures.append(
                            asyncio.run(_tick(_settings(exchange_url, var, url, timeout_s=timeout), market_cache))
                        )
                finally:
                    if intel_server is not None:
                        intel_server.terminate()
                        intel_server.wait()
                rows.append((name, figures))
    finally:
        server.terminate()
        server.wait()
    print(
        f"## a tick's wall time, fake exchange {args.latency_ms:g} ms per request, {args.runs} runs, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
    )
    print(
        "| scenario | total ms (min / median) | market stage ms (median) | intel stage ms: waited after the market "
        "(median) | sources skipped |"
    )
    print("|---|---|---|---|---|")
    for name, figures in rows:
        total = [f["total"] for f in figures]
        market = statistics.median(f["market"] for f in figures)
        waited = statistics.median(f.get("intel", 0.0) for f in figures)
        print(
            f"| {name} | {min(total):.0f} / {statistics.median(total):.0f} | {market:.0f} | {waited:.0f} | "
            f"{figures[0]['skipped']} |"
        )


if __name__ == "__main__":
    main()
