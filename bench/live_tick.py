"""What a live tick's broker costs against the fake Binance USD-M account: requests and time.

Three ticks of ``CcxtBroker`` (settle, then execute) with the six default coins, driven
in-process against the fake exchange with ``--latency-ms`` per request:

1. an empty account: reconciliation only;
2. one entry: reconciliation, margin mode + leverage, market order, stop-loss, take-profit;
3. one protected position held: reconciliation only.

    .venv/bin/python bench/live_tick.py [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import LIVE_CONFIRMATION, Settings  # noqa: E402
from bot.models import OrderPlan, Side, Snapshot  # noqa: E402
from bot.ops.state import BotState, StateStore  # noqa: E402
from bot.tick.risk import client_order_id  # noqa: E402
from bot.venues.ccxt_broker import CcxtBroker  # noqa: E402
from tests.conftest import NOW, data_dir  # noqa: E402
from tests.fakes.exchange import FakeExchange  # noqa: E402


async def _tick(settings: Settings, store: StateStore, now, plans: list[OrderPlan]) -> float:
    broker = CcxtBroker(settings, save=store.save)
    state = store.load() or BotState.fresh(mode="live", initial_equity_usd=0.0)
    started = time.perf_counter()
    try:
        await broker.settle(book=state, snapshot=Snapshot(as_of=now), now=now)
        await broker.execute(plans, book=state, prices={}, now=now)
    finally:
        await broker.aclose()
    elapsed = time.perf_counter() - started
    state.tick += 1
    store.save(state)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with FakeExchange(data_dir(), now=NOW) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.latency_ms = args.latency_ms
        settings = Settings(
            enable_trading=True,
            exchange={"api_url": fake.url},
            live={"confirm": LIVE_CONFIRMATION},
            exchange_api_key="test-key",
            exchange_secret="test-secret",
        )
        store = StateStore(Path(tmp) / "state.json")
        price = fake.price("BTC")
        plan = OrderPlan(
            coin="BTC",
            symbol="BTC/USDT:USDT",
            side=Side.LONG,
            amount=0.028,
            reference_price=price,
            leverage=3,
            stop_loss=round(price * 0.98, 1),
            take_profit=round(price * 1.04, 1),
            client_order_id=client_order_id("b", "BTC", "entry"),
        )
        print(f"fake exchange latency {args.latency_ms:g} ms per request, 6 coins")
        for name, now, plans in (
            ("empty account", NOW, []),
            ("one entry", NOW + timedelta(minutes=3), [plan]),
            ("one position held", NOW + timedelta(minutes=6), []),
        ):
            fake.requests.clear()
            seconds = asyncio.run(_tick(settings, store, now, plans))
            counts = Counter(f"{r.method} {r.path}" for r in fake.requests)
            print(f"{name}: {len(fake.requests)} requests, {seconds:.2f} s")
            for path, count in sorted(counts.items()):
                print(f"    {count:3d}  {path}")


if __name__ == "__main__":
    main()
