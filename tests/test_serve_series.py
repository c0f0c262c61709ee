"""The server's pure parts with numbers worked by hand: the equity curve (drawdown, the
buy-and-hold basket, thinning), the health verdict, the wrong-token limit; and the
robust readers of state.json and the journal while ticks replace them."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import HTTPException

from bot.models import Outcome
from bot.ops.state import BotState, StateStore
from bot.serve.auth import Guard
from bot.serve.deps import JournalIndex, StateReader
from bot.serve.series import TickPoint, equity_curve, health_of

T0 = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


def tick(n: int, equity: float | None, prices: dict[str, float], outcome: str = "ok") -> TickPoint:
    return TickPoint(
        tick=n, as_of=T0 + timedelta(minutes=3 * (n - 1)), outcome=outcome, equity_usd=equity, prices=prices
    )


TICKS = [
    tick(1, 10_000.0, {"BTC": 100.0, "ETH": 10.0}),  # the basket: 5,000 in each coin
    tick(2, 11_000.0, {"BTC": 110.0, "ETH": 10.0}),  # new peak
    tick(3, 9_900.0, {"BTC": 90.0, "ETH": 12.0}),  # 10 % below the 11,000 peak
    tick(4, None, {}, outcome="failed"),  # no valuation: not on the curve
    tick(5, 10_450.0, {"BTC": 120.0}),  # ETH did not load: valued at its last price, 12
]


def test_equity_curve_drawdown_and_buy_and_hold_basket():
    curve = equity_curve(TICKS, initial_equity_usd=10_000.0, max_points=100)
    assert [p.tick for p in curve.points] == [1, 2, 3, 5]
    assert [p.equity_usd for p in curve.points] == [10_000.0, 11_000.0, 9_900.0, 10_450.0]
    assert [p.drawdown_pct for p in curve.points] == pytest.approx([0.0, 0.0, 10.0, 5.0])
    # 10,000 x mean(price / first price): (1+1)/2, (1.1+1)/2, (0.9+1.2)/2, (1.2+1.2)/2
    assert [p.buy_hold_usd for p in curve.points] == pytest.approx([10_000.0, 10_500.0, 10_500.0, 12_000.0])
    assert curve.max_drawdown_pct == pytest.approx(10.0)
    assert curve.buy_hold_coins == ["BTC", "ETH"]
    assert curve.total_ticks == 4


def test_a_journal_without_prices_has_no_basket_and_a_long_curve_is_thinned_keeping_the_last_point():
    plain = [TickPoint(tick=n, as_of=T0, outcome="ok", equity_usd=10_000.0 + n) for n in range(1, 6)]
    curve = equity_curve(plain, initial_equity_usd=10_000.0, max_points=3)
    assert [p.tick for p in curve.points] == [1, 3, 5]  # every 2nd, the last included
    assert curve.buy_hold_coins == [] and all(p.buy_hold_usd is None for p in curve.points)
    assert [p.tick for p in equity_curve(plain[:4], initial_equity_usd=10_000.0, max_points=2).points] == [1, 4]


def state_at(last_tick_at, **changes) -> BotState:
    return BotState.fresh(mode="paper", initial_equity_usd=10_000.0).model_copy(
        update={"last_tick_at": last_tick_at, "last_outcome": Outcome.OK, **changes}
    )


@pytest.mark.parametrize(
    ("state", "age", "ok", "status"),
    [
        (state_at(T0), 100.0, True, "ok"),
        (state_at(T0), 360.0, True, "ok"),  # one missed cron run is tolerated
        (state_at(T0), 361.0, False, "stale"),
        (state_at(T0, paused=True), 10.0, True, "paused"),
        (state_at(T0, consecutive_errors=1, last_outcome=Outcome.FAILED), 10.0, False, "failed"),
        (state_at(None), None, False, "no ticks yet"),
        (None, None, False, "no ticks yet"),
    ],
)
def test_health_is_a_recent_tick_that_did_not_fail(state, age, ok, status):
    verdict = health_of(state, problem="", age_seconds=age, lock_holder=None)
    assert (verdict.ok, verdict.status) == (ok, status)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_wrong_tokens_lock_the_address_out_for_the_rest_of_the_minute():
    clock = Clock()
    guard = Guard("right", max_failures=3, clock=clock)
    for second in (0.0, 1.0, 2.0):
        clock.now = second
        with pytest.raises(HTTPException) as wrong:
            guard.check("10.0.0.9", "wrong")
        assert wrong.value.status_code == 401
    clock.now = 10.0
    with pytest.raises(HTTPException) as locked:
        guard.check("10.0.0.9", "right")  # even the right token: the address is locked out
    assert locked.value.status_code == 429 and locked.value.headers["Retry-After"] == "51"  # 60 - 10 + 1
    guard.check("127.0.0.2", "right")  # another address is not
    clock.now = 60.0  # the failure at 0 s is a minute old: two remain, under the limit
    guard.check("10.0.0.9", "right")
    with pytest.raises(HTTPException) as missing:
        guard.check("10.0.0.9", None)
    assert missing.value.status_code == 401
    Guard(None, max_failures=1).check("any", None)  # no token configured: nothing to check


def test_state_reader_serves_the_last_good_state_while_the_file_is_torn(tmp_path):
    store = StateStore(tmp_path / "state.json")
    store.save(BotState.fresh(mode="replay", initial_equity_usd=10_000.0).model_copy(update={"tick": 4}))
    reader = StateReader(store, pause_seconds=0.0)
    state, problem = reader.read()
    assert state.tick == 4 and problem == ""
    good = store.path.read_text()
    store.path.write_text(good[: len(good) // 2])  # a half-written file (as a non-atomic writer would leave)
    state, problem = reader.read()
    assert state.tick == 4 and "corrupt or truncated" in problem and problem.endswith("(showing the last good state)")
    store.path.write_text(good.replace('"tick": 4', '"tick": 5'))
    assert reader.read()[0].tick == 5
    fresh = StateReader(StateStore(tmp_path / "other.json"), pause_seconds=0.0)
    (tmp_path / "other.json").write_text("{")
    assert fresh.read()[0] is None and "corrupt" in fresh.read()[1]  # nothing good yet: the route answers 503


def journal_line(n: int, equity: float) -> str:
    return (
        json.dumps(
            {
                "tick_id": f"t{n}",
                "tick": n,
                "as_of": (T0 + timedelta(minutes=3 * n)).isoformat(),
                "outcome": "ok",
                "account": {"equity_usd": equity},
                "usage": {"calls": 1, "input_tokens": 100, "cost_usd": 0.5},
            }
        )
        + "\n"
    )


def test_journal_index_waits_for_a_line_being_written_and_restarts_on_rotation(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(journal_line(1, 10_000.0) + journal_line(2, 10_100.0))
    index = JournalIndex(path).refresh()
    assert [t.equity_usd for t in index.ticks] == [10_000.0, 10_100.0]
    line = journal_line(3, 10_200.0)
    with open(path, "a") as handle:
        handle.write(line[:25])  # a tick is appending right now
    assert [t.tick for t in index.refresh().ticks] == [1, 2]
    with open(path, "a") as handle:
        handle.write(line[25:] + "not json\n")  # the rest, and a torn line
        handle.write(
            journal_line(9, 10_000.0).replace('"equity_usd": 10000.0', '"equity_usd": "lots"') + "[1, 2]\n"
        )  # foreign lines
        handle.write(
            json.dumps({"tick": 9, "as_of": T0.isoformat(), "outcome": "ok", "prices": {"BTC": 0}}) + "\n"
        )  # a price of 0
    assert [t.tick for t in index.refresh().ticks] == [1, 2, 3]
    assert index.outcomes["ok"] == 3 and index.usage.calls == 3 and index.usage.cost_usd == pytest.approx(1.5)
    os.rename(path, tmp_path / "journal.jsonl.1")  # rotated: a new, shorter file
    path.write_text(journal_line(4, 9_000.0))
    assert [t.tick for t in index.refresh().ticks] == [4]
    path.unlink()
    assert index.refresh().ticks == []


def test_lock_holder_names_the_running_tick_without_taking_the_lock(tmp_path):
    from bot.ops.state import TickLock
    from bot.serve.deps import lock_holder

    path = tmp_path / "tick.lock"
    assert lock_holder(path) is None  # no lock file yet
    with TickLock(path).acquire(started_at=T0):
        assert lock_holder(path) == f"pid {os.getpid()} since 2025-06-02 01:00:00 UTC"
    assert lock_holder(path) is None  # released: the file stays, nobody holds it
