"""The live broker driven tick by tick against the fake exchange: the settings, a strategy that
insists, the bot (``Bot``: store, journal, broker, one ``run_tick`` a call) and the order log's
readers, shared by the broker's tests (tests/venues/) and the regressions they guard."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import LIVE_CONFIRMATION, Settings
from bot.models import Action, Decision
from bot.ops.journal import Journal
from bot.ops.state import StateStore
from bot.tick.engine import TickContext, run_tick
from bot.venues.ccxt_broker import CcxtBroker, SimulatedCrash
from bot.venues.history import HistoryMarket
from tests.conftest import data_dir
from tests.fakes.exchange import FakeExchange

COINS = ["BTC", "ETH"]
TICK = timedelta(minutes=3)


def live_settings(fake: FakeExchange, *, allow_adding: bool = False, **live) -> Settings:
    return Settings(
        enable_trading=True,
        exchange={"api_url": fake.url, "timeout_ms": 2000, "retries": 1},
        trading={"coins": COINS},
        risk={"allow_adding": allow_adding},  # so the insisting strategy's repeated BUY is refused, unless a test adds
        live={"confirm": LIVE_CONFIRMATION, **live},
        exchange_api_key="test-key",
        exchange_secret="test-secret",
    )


class Scripted:
    """BUY BTC with a 2 % stop and a 4 % take-profit every tick, like a strategy that insists
    (``action`` can be changed between ticks). Its levels follow the exchange's price (a test
    may have moved it away from the recorded candles)."""

    name = "scripted"
    trace = None  # free: nothing to account

    def __init__(self, price) -> None:
        self.price = price
        self.action = Action.BUY

    async def decide(self, *, features, portfolio, prompt):
        price, sign = self.price(), (-1 if self.action is Action.SELL else 1)
        return [
            Decision(
                coin="BTC",
                action=self.action,
                confidence=0.9,
                size_pct=10,
                leverage=3,
                stop_loss=price * (1 - sign * 0.02),
                take_profit=price * (1 + sign * 0.04),
            )
        ]


class Bot:
    """One live bot on disk: run ticks, optionally killed at a named point."""

    def __init__(
        self, folder: Path, fake: FakeExchange, *, settings: Settings | None = None, market=None, **options
    ) -> None:
        self.fake = fake
        self.settings = settings or live_settings(fake, **options)
        self.market = market or HistoryMarket(data_dir())
        self.store = StateStore(folder / "state.json")
        self.journal = Journal(folder / "journal.jsonl")
        self.strategy = Scripted(lambda: fake.price("BTC"))

    def tick(self, now: datetime, *, kill_at: str | None = None):
        self.fake.now_ms = int(now.timestamp() * 1000)
        on_disk: dict[str, bytes] = {}

        def checkpoint(name: str) -> None:
            if name == kill_at:
                on_disk["state"] = self.store.path.read_bytes()
                on_disk["journal"] = self.journal.path.read_bytes() if self.journal.path.exists() else b""
                raise SimulatedCrash(name)

        broker = CcxtBroker(self.settings, save=self.store.save, checkpoint=checkpoint)
        ctx = TickContext(
            settings=self.settings,
            mode="live",
            dry_run=False,
            market=self.market,
            strategy=self.strategy,
            broker=broker,
            store=self.store,
            journal=self.journal,
        )

        async def main():
            try:
                return await run_tick(ctx, now)
            finally:
                await broker.aclose()

        try:
            return asyncio.run(main())
        except SimulatedCrash:
            self.store.path.write_bytes(on_disk["state"])  # the process died: only what was on disk survives
            self.journal.path.write_bytes(on_disk["journal"])
            self.store.backup.unlink(missing_ok=True)
            return None

    def state(self):
        return self.store.load()


def orders(fake: FakeExchange, client_id_part: str = "") -> list[tuple[str, str, str]]:
    return [(o.client_id, o.type, o.status) for o in fake.account.orders if client_id_part in o.client_id]


def posts(fake: FakeExchange, path: str) -> int:
    return sum(r.method == "POST" and r.path == path for r in fake.requests)


ENTRY = "bot-250603T1200-BTC-entry"
SL, TP = "bot-250603T1200-BTC-sl", "bot-250603T1200-BTC-tp"
