"""Intel inside the tick: a backtest never shows an item from after its simulated time,
a failing or slow Intel never fails or degrades a tick, the report's coverage, the
rules' sentiment filter, and `bot status` / `bot download --intel` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.backtest.loop import run_backtest
from bot.config import Settings
from bot.config_intel import IntelSettings
from bot.intel.archive import ArchiveIntel, append_items, save_points
from bot.intel.sources import Item
from bot.models import Outcome
from bot.strategies.rules import RulesStrategy
from bot.tick.briefing import Briefing, Headline, Impact, Sentiment
from bot.tick.engine import TickContext, run_tick
from bot.venues.history import HistoryMarket
from bot.venues.paper import PaperBroker
from tests.conftest import run_bot
from tests.fakes.intel import FakeIntel
from tests.test_engine import MemoryJournal, MemoryStore

START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)  # inside the bundled sample
COINS = ["BTC", "ETH"]


def _day(day: int, value: int, label: str) -> Sentiment:
    return Sentiment(value=value, label=label, at=datetime(2025, 6, day, tzinfo=UTC))


def _archive(folder: Path, *, minutes: range, points: list[Sentiment]) -> Path:
    """One BTC headline a minute, its title naming its own publication time."""
    save_points(folder, points)
    items = [
        Item(
            source="tape",
            title=f"Bitcoin tape {START + timedelta(minutes=m):%H:%M}",
            published_at=START + timedelta(minutes=m),
        )
        for m in minutes
    ]
    append_items(folder, items)
    return folder


class Prompts:
    """A strategy that reads (so builds) every prompt and decides nothing."""

    name = "prompts"
    trace = None  # free: nothing to account

    def __init__(self) -> None:
        self.users: list[str] = []

    async def decide(self, *, features, portfolio, prompt):
        self.users.append(prompt.user)
        return []


def test_no_item_published_after_the_tick_reaches_its_prompt(tmp_path):
    folder = _archive(
        tmp_path,
        minutes=range(-90, 120),
        points=[_day(2, 55, "Neutral"), _day(3, 61, "Greed"), _day(4, 99, "Extreme Greed")],
    )
    settings = Settings(
        trading={"coins": COINS}, intel=IntelSettings(enabled=True, headlines_per_coin=3, max_age_hours=1)
    )
    strategy = Prompts()
    intel = ArchiveIntel(folder, coins=COINS, settings=settings.intel)
    end = START + timedelta(hours=1)
    asyncio.run(run_backtest(settings, market=HistoryMarket(), strategy=strategy, start=START, end=end, intel=intel))
    assert len(strategy.users) == 21  # 12:00 .. 13:00 every 3 minutes
    for user in strategy.users:
        now = datetime.strptime(re.match(r"Time (.{16}) UTC", user)[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        shown = [
            datetime.strptime(f"{now:%Y-%m-%d} {hhmm}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            for hhmm in re.findall(r"Bitcoin tape (\d\d:\d\d)", user)
        ]
        # the three newest published by `now` (the one AT now included), none after it
        assert shown == [now, now - timedelta(minutes=1), now - timedelta(minutes=2)], (now, shown)
        assert f"Fear & Greed 61 Greed (yesterday 55, +6), {now.hour}h old" in user and "Extreme Greed" not in user


class Leaky:
    """An Intel with a bug: it hands back news and a sentiment from the future."""

    async def briefing(self, coins, now):
        late = Headline(
            title="Bitcoin leaked from tomorrow",
            source="bug",
            published_at=now + timedelta(hours=1),
            impact=Impact.HIGH,
            coins=["BTC"],
        )
        fine = Headline(
            title="Bitcoin from a minute ago",
            source="bug",
            published_at=now - timedelta(minutes=1),
            impact=Impact.LOW,
            coins=["BTC"],
        )
        sentiment = Sentiment(value=99, label="Extreme Greed", at=now + timedelta(days=1), previous=10)
        return Briefing(as_of=now, sentiment=sentiment, headlines={"BTC": [late, fine]})


class Failing:
    def __init__(self, error: BaseException | None = None, sleep_s: float = 0.0) -> None:
        self.error, self.sleep_s = error, sleep_s

    async def briefing(self, coins, now):
        await asyncio.sleep(self.sleep_s)
        if self.error:
            raise self.error
        return Briefing(as_of=now, skipped={"cryptopanic": "HTTP 429"})


def _tick(intel, **intel_settings):
    settings = Settings(trading={"coins": COINS}, intel=IntelSettings(enabled=True, **intel_settings))
    strategy, store = Prompts(), MemoryStore()
    ctx = TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=HistoryMarket(),
        strategy=strategy,
        broker=PaperBroker(settings.paper),
        store=store,
        journal=MemoryJournal(),
        intel=intel,
    )
    report = asyncio.run(run_tick(ctx, START))
    return report, strategy.users[0], store.state


def test_the_tick_itself_cuts_what_an_intel_hands_back_to_its_time():
    report, user, state = _tick(Leaky())
    block = (
        "== CONTEXT (news and sentiment published before this tick) ==\n"
        "BTC: 1m ago [low] Bitcoin from a minute ago (bug)"
    )
    assert block in user and "tomorrow" not in user and "Extreme Greed" not in user
    assert state.last_context == block and report.outcome is Outcome.OK


def test_a_failing_intel_is_skipped_by_name_and_the_tick_is_not_degraded():
    report, user, state = _tick(Failing(RuntimeError("feeds on fire")))
    assert report.outcome is Outcome.OK and report.message == ""
    assert report.sources_skipped == {"intel": "no news or sentiment this tick: RuntimeError: feeds on fire"}
    assert "CONTEXT" not in user and state.last_context == ""
    assert "intel" in report.duration_ms


def test_an_intel_slower_than_its_timeout_is_cut_off_and_named():
    report, user, _ = _tick(Failing(sleep_s=30), timeout_s=0.2)  # waited for 0.2 + 1 s at most
    assert report.outcome is Outcome.OK
    assert report.sources_skipped == {
        "intel": "no news or sentiment this tick: TimeoutError: the sources took over 1.2 s"
    }


def test_a_source_an_intel_names_as_skipped_reaches_the_report_and_the_prompt():
    report, user, _ = _tick(Failing())
    assert report.sources_skipped == {"cryptopanic": "HTTP 429"} and report.outcome is Outcome.OK
    assert (
        "== CONTEXT (news and sentiment published before this tick) ==\n"
        "unavailable this tick: cryptopanic\n== ACCOUNT ==" in user
    )


def test_coverage_counts_the_ticks_with_a_fresh_value_or_a_headline_in_the_window(tmp_path):
    folder = _archive(tmp_path, minutes=range(0, 1), points=[_day(3, 61, "Greed")])  # one headline at 12:00
    intel = ArchiveIntel(folder, coins=COINS, settings=IntelSettings(enabled=True, max_age_hours=1))
    # 12:00 .. 14:00: 41 ticks; the 12:00 headline is in the 1 h window of the 21 ticks 12:00 .. 13:00
    assert intel.coverage(START, START + timedelta(hours=2), timedelta(minutes=3)) == {
        "sentiment_pct": 100.0,
        "headlines_pct": 51.2,
        "any_pct": 100.0,
    }
    # before any value and any headline: nothing
    assert intel.coverage(START - timedelta(days=2), START - timedelta(days=2), timedelta(minutes=3)) == {
        "sentiment_pct": 0.0,
        "headlines_pct": 0.0,
        "any_pct": 0.0,
    }


def test_the_rules_sentiment_filter_refuses_shorts_in_extreme_fear_only_when_on(tmp_path):
    folder = _archive(tmp_path, minutes=range(0), points=[_day(1, 10, "Extreme Fear"), _day(2, 10, "Extreme Fear")])
    start, end = (
        datetime(2025, 6, 2, 1, 0, tzinfo=UTC),
        datetime(2025, 6, 2, 3, 0, tzinfo=UTC),
    )  # the sample's rules short at 01:00

    def trades(sentiment_filter: bool):
        settings = Settings(intel=IntelSettings(enabled=True), rules={"sentiment_filter": sentiment_filter})
        intel = ArchiveIntel(folder, coins=settings.trading.coins, settings=settings.intel)
        result = asyncio.run(
            run_backtest(
                settings,
                market=HistoryMarket(),
                strategy=RulesStrategy(settings.rules),
                start=start,
                end=end,
                intel=intel,
            )
        )
        return [(trade.coin, trade.side) for trade in result.trades]

    unfiltered = trades(False)
    assert unfiltered and {side for _, side in unfiltered} == {"short"}
    assert trades(True) == []  # Fear & Greed 10 <= fear_below 20: no short opens


def test_bot_download_intel_archives_what_answers_and_names_what_does_not(project):
    with FakeIntel() as fake:
        env = {
            "BOT_INTEL__FEAR_GREED_URL": f"{fake.url}/fng/",
            "BOT_INTEL__FEEDS": json.dumps(
                [
                    {"name": "coindesk", "url": f"{fake.url}/feeds/coindesk.rss"},
                    {"name": "broken", "url": f"{fake.url}/feeds/broken.rss"},
                ]
            ),
        }
        downloaded = run_bot("download", "--intel", "--data-dir", "data", cwd=project, env=env)
        assert (
            "/fng/",
            {"limit": "0"},
        ) in fake.requests  # the whole history (the sources are asked at once, in any order)
    intel = Path("data") / "intel"  # as --data-dir was given
    assert downloaded.returncode == 4, downloaded.stderr  # one source failed, the rest is archived: exit "degraded"
    assert (
        downloaded.stdout.strip() == f"{intel}: Fear & Greed 6 days, +5 headlines"
    )  # coindesk's 5 dated items, future ones too
    assert downloaded.stderr.strip() == "intel source broken skipped: HTTP 502"
    # the sources gone: nothing archived is lost, the failure is named
    again = run_bot("download", "--intel", "--data-dir", "data", cwd=project, env={**env, "BOT_INTEL__FEEDS": "[]"})
    assert (again.returncode, again.stdout.strip()) == (4, f"{intel}: Fear & Greed 6 days, +0 headlines")
    assert again.stderr.strip() == "intel source fear_greed skipped: connection failed (ClientConnectorError)"
    assert len((project / intel / "headlines.jsonl").read_text().splitlines()) == 5


def test_a_replay_tick_with_intel_shows_the_context_in_bot_status(project):
    import shutil

    from tests.conftest import SAMPLE

    shutil.copytree(SAMPLE, project / "data")
    _archive(project / "data", minutes=range(-30, 30, 10), points=[_day(2, 55, "Neutral"), _day(3, 61, "Greed")])
    env = {"BOT_INTEL__ENABLED": "true"}
    ticked = run_bot("tick", "--replay", "2025-06-03T12:00", "--data-dir", "data", cwd=project, env=env)
    assert ticked.returncode == 0, ticked.stderr
    status = run_bot("status", "--replay", cwd=project, env=env)
    # headlines at 11:30 .. 12:20 every 10 min; by 12:00 four are out (11:30 .. 12:00), two shown per coin (the default)
    assert (
        "context the model saw: Fear & Greed 61 Greed (yesterday 55, +6), 12h old · 2 headlines (all: --json)"
        in status.stdout
    )
    as_json = json.loads(run_bot("status", "--replay", "--json", cwd=project, env=env).stdout)
    assert as_json["last_context"].splitlines()[2:] == [
        "BTC: 0m ago [low] Bitcoin tape 12:00 (tape)",
        "BTC: 10m ago [low] Bitcoin tape 11:50 (tape)",
    ]


def test_a_live_dry_run_tick_asks_the_sources_and_names_the_broken_one(project, live_fake):
    with FakeIntel() as fake:
        env = {
            "BOT_EXCHANGE__API_URL": live_fake.url,
            "BOT_INTEL__ENABLED": "true",
            "BOT_INTEL__FEAR_GREED_URL": f"{fake.url}/fng/",
            "BOT_INTEL__FEEDS": json.dumps(
                [
                    {"name": "coindesk", "url": f"{fake.url}/feeds/coindesk.rss"},
                    {"name": "broken", "url": f"{fake.url}/feeds/broken.rss"},
                ]
            ),
            "CRYPTOPANIC_TOKEN": "cp-T0KEN-s3cret-9f8e7d",
            "BOT_INTEL__CRYPTOPANIC_URL": f"{fake.url}/api/developer/v2/posts/",
        }
        ticked = run_bot("tick", "--dry-run", cwd=project, env=env)
        asked = sorted(fake.paths())
    assert ticked.returncode == 0, ticked.stderr  # a broken source does not degrade the tick
    assert "  intel broken skipped: HTTP 502" in ticked.stdout.splitlines()
    assert asked == ["/api/developer/v2/posts/", "/feeds/broken.rss", "/feeds/coindesk.rss", "/fng/"]
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["outcome"] == "ok" and record["sources_skipped"] == {"broken": "HTTP 502"}
    assert sorted(path.name for path in (project / "var" / "cache" / "intel").iterdir()) == [
        "coindesk.json",
        "cryptopanic.json",
        "fear_greed.json",
    ]
    state = (project / "var" / "state.json").read_text()
    assert json.loads(state)["last_context"].startswith(
        "== CONTEXT (news and sentiment published before this tick) ==\n"
    )
    everything = (
        state
        + ticked.stdout
        + ticked.stderr
        + (project / "var" / "logs" / "bot.log").read_text()
        + (project / "var" / "journal.jsonl").read_text()
    )
    assert "cp-T0KEN-s3cret-9f8e7d" not in everything


def test_bot_backtest_with_intel_reports_the_archives_coverage(project):
    import shutil

    from tests.conftest import SAMPLE

    shutil.copytree(SAMPLE, project / "data")
    _archive(project / "data", minutes=range(0, 1), points=[_day(3, 61, "Greed")])  # one headline, at 12:00
    env = {"BOT_INTEL__ENABLED": "true", "BOT_INTEL__MAX_AGE_HOURS": "1"}
    args = [
        "backtest",
        "--data-dir",
        "data",
        "--coins",
        "BTC",
        "--from",
        "2025-06-03T12:00",
        "--to",
        "2025-06-03T14:00",
    ]
    text = run_bot(*args, cwd=project, env=env)
    assert text.returncode == 0, text.stderr
    # 41 ticks; the headline is in the 1 h window of 21 of them (12:00 .. 13:00): 51.2 %
    assert "intel coverage: 100 % of the ticks (Fear & Greed 100 %, headlines 51.2 %)" in text.stdout
    report = json.loads(run_bot(*args, "--json", cwd=project, env=env).stdout)
    assert report["intel_coverage"] == {"sentiment_pct": 100.0, "headlines_pct": 51.2, "any_pct": 100.0}
    without = json.loads(run_bot(*args, "--json", cwd=project).stdout)
    assert without["intel_coverage"] == {}


def test_a_tick_whose_market_fails_leaves_no_intel_request_running():
    from bot.errors import MarketDataError

    class NoMarket:
        async def snapshot(self, coins, now):
            await asyncio.sleep(0.01)  # the intel request is under way by now
            raise MarketDataError("every coin failed")

    class Waiting:
        cancelled = False

        async def briefing(self, coins, now):
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                Waiting.cancelled = True
                raise

    settings = Settings(trading={"coins": COINS}, intel=IntelSettings(enabled=True))
    ctx = TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=NoMarket(),
        strategy=Prompts(),
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
        intel=Waiting(),
    )

    async def tick_then_yield():
        report = await run_tick(ctx, START)
        await asyncio.sleep(0)  # let the cancellation land, still inside the tick's event loop
        return report, Waiting.cancelled  # read here: asyncio.run cancels whatever is left when it ends

    report, cancelled = asyncio.run(tick_then_yield())
    assert report.outcome is Outcome.FAILED and report.message == "no market data: every coin failed"
    assert cancelled
