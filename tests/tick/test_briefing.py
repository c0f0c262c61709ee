"""Intel inside the tick: no item from after the tick's time reaches its prompt, a failing or
slow intel is skipped by name without degrading the tick, nothing left running."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from bot.backtest.loop import run_backtest
from bot.config import Settings
from bot.config.intel import IntelSettings
from bot.intel.archive import ArchiveIntel
from bot.models import Outcome
from bot.tick.briefing import Briefing, Headline, Impact, Sentiment
from bot.tick.engine import TickContext, run_tick
from bot.tick.prompt import CONTEXT_END, CONTEXT_HEADER, CONTEXT_NOTE
from bot.venues.history import HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.memory import MemoryJournal, MemoryStore
from tests.intel.intelkit import COINS, START, _archive, _day


class Prompts:
    """A strategy that reads (so builds) every prompt and decides nothing."""

    name = "prompts"
    trace = None  # free: nothing to account

    def __init__(self) -> None:
        self.users: list[str] = []

    async def decide(self, *, features, portfolio, prompt):
        self.users.append(prompt.user)
        return []


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
        assert f'Fear & Greed 61 "Greed" (yesterday 55, +6), {now.hour}h old' in user and "Extreme Greed" not in user


def test_the_tick_itself_cuts_what_an_intel_hands_back_to_its_time():
    report, user, state = _tick(Leaky())
    block = "\n".join(
        [CONTEXT_HEADER, CONTEXT_NOTE, 'BTC 1m ago [low] source "bug": "Bitcoin from a minute ago"', CONTEXT_END]
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
    block = "\n".join([CONTEXT_HEADER, CONTEXT_NOTE, "unavailable this tick: cryptopanic", CONTEXT_END])
    assert f"{block}\n== ACCOUNT ==" in user


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
