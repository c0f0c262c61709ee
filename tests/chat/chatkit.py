"""A replay account with one open position and a journal of three fills, and a Telegram session
against the fake Bot API (``tests/fakes/telegram.py``), for the chat's tests and the transcript.

The figures, by hand: BTC long 0.01 @ 60,000 marked at 61,000 is +10.00 USDT unrealized; the
journal's fills are ETH long 0.5 opened @ 3,000 (fee 0.60), closed @ 3,100 (+50.00, fee 0.62),
then BTC opened (fee 0.24): realized +50.00, fees 1.46, cash 10,048.54, equity 10,058.54
(+0.59% on 10,000).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.config.file import load_settings
from bot.models import Outcome, Position, Side
from bot.ops.state import BotState, StateStore
from tests.fakes.telegram import TOKEN, FakeTelegram

OWNER = 111_222_333
STRANGER = 444_555_666
T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def account(folder: Path) -> Path:
    """var/replay/state.json and journal.jsonl under ``folder``; returns the state file."""
    var = folder / "var" / "replay"
    var.mkdir(parents=True)
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    state.positions["BTC"] = Position(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=0.01,
        entry_price=60_000.0,
        leverage=3.0,
        margin_usd=200.0,
        opened_at=T0,
        stop_loss=58_000.0,
        take_profit=64_000.0,
    )
    state.last_prices = {"BTC": 61_000.0, "ETH": 3_100.0}
    state.tick, state.last_tick_at, state.last_tick_id = 3, T0 + timedelta(minutes=6), "20250602T1206"
    state.last_outcome = Outcome.OK
    state.realized_pnl_usd, state.fees_paid_usd = 50.0, 1.46
    state.cash_usd = 10_048.54
    state.last_equity_usd = state.peak_equity_usd = 10_058.54
    StateStore(var / "state.json").save(state)
    fills = [
        ("12:00", "ETH", "long", False, 0.5, 3_000.0, 0.60, 0.0, "entry"),
        ("12:03", "ETH", "long", True, 0.5, 3_100.0, 0.62, 50.0, "close"),
        ("12:06", "BTC", "long", False, 0.01, 60_000.0, 0.24, 0.0, "entry"),
    ]
    with open(var / "journal.jsonl", "w") as journal:
        for tick, (at, coin, side, reduce, amount, price, fee, pnl, reason) in enumerate(fills, start=1):
            fill = {
                "at": f"2025-06-02T{at}:00Z",
                "coin": coin,
                "side": side,
                "reduce_only": reduce,
                "amount": amount,
                "price": price,
                "fee_usd": fee,
                "realized_pnl_usd": pnl,
                "reason": reason,
                "client_order_id": f"t{tick}-{coin}",
            }
            record = {"tick_id": f"t{tick}", "tick": tick, "as_of": fill["at"], "outcome": "ok", "fills": [fill]}
            journal.write(json.dumps(record) + "\n")
    return var / "state.json"


def settings_for(folder: Path, fake: FakeTelegram, monkeypatch) -> Settings:
    (folder / "config.toml").write_text(
        f'[telegram]\napi_url = "{fake.url}"\nchat_ids = [{OWNER}]\npoll_timeout_seconds = 1\n'
    )
    monkeypatch.setenv("BOT_TELEGRAM__TOKEN", TOKEN)
    return load_settings(folder / "config.toml")


class SteppedClock:
    """The wall clock a conversation reads: ``step`` seconds further at each read."""

    def __init__(self, start: datetime, step: float = 1.0) -> None:
        self.now = start
        self.step = timedelta(seconds=step)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def nonces():
    number = 0
    while True:
        number += 1
        yield f"q{number}"


def session(settings: Settings, fake: FakeTelegram, *, updates: int, clock=None) -> int:
    """Run `bot telegram`'s loop until it has handled ``updates`` updates; the fake already holds the script."""
    from bot.chat.telegram import run

    return run(
        settings,
        replay=True,
        clock=clock or SteppedClock(datetime(2026, 12, 8, 3, 0, tzinfo=UTC)),
        stop_after=updates,
        nonces=nonces(),
        echo=lambda line: None,
    )
