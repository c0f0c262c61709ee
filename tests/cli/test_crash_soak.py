"""Crash soak: live `bot tick` processes against the fake exchange, SIGKILLed at random
points, each kill followed by the next tick the way cron would run it; after every tick
that completes, and at the end, the fake exchange's order log is compared with the state.

Promises checked (each a count that must stay 0):
- duplicates: a client order id sent twice, or two entries for one decision (tick x coin);
- unprotected: a position open on the exchange without an open reduce-only stop-loss for
  its whole size after a completed tick;
- unknown: an open order of the bot on the exchange that the state does not hold, or a
  position whose side or size differs between the exchange and the state;
- unloadable: a state file that does not load after a kill;
- journal missing / extra: an exchange trade with no fill in the journal, or the reverse;
- account off: after a completed tick, the state's cash differs from the exchange's wallet;
- leaks: an exchange or Anthropic key in any file under var/ or in any tick's output.

Decisions are scripted through the fake Messages API (Claude is the strategy): a seeded mix
of BUY / SELL / CLOSE on BTC and ETH, chosen from what the exchange holds, so entries, adds,
flips and closes come every few ticks. Each tick runs at its own 3-minute boundary
(tests/fakes/clocked.py) with the exchange's data clock set to the same time, so stops and
take-profits trigger from the recorded prices between ticks.

Malformed answers: before a quarter of the ticks one private endpoint is set to answer once
with its own JSON cut in half after acting on the request (an order placed, its answer
truncated); one tick in ten has a read endpoint (positions, balance, trigger orders)
truncated on every try, so that tick fails and must change nothing. Re-runs: a third of the
kills are followed by a run 20 s later, the same minute (the same tick id), before the next
3-minute tick. At the end the journal's fills are matched with the exchange's trades by
client order id (a triggered stop counts under the stop's id).

Kills: 70 % of the ticks, the one after a kill included; half at a random moment inside the
tick's measured runtime, half timed on an order reaching the exchange (whose answer is held
back ``ORDER_ANSWER_DELAY_MS``), so a good share land between "order sent" and "state saved".
The default suite runs FAST_KILLS; the full soak is ``pytest -m slow tests/cli/test_crash_soak.py``
(or ``python bench/crash_soak.py`` for the figures).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import LIVE_CONFIRMATION
from bot.ops.state import StateStore
from tests.conftest import NOW, ROOT, data_dir
from tests.fakes.account import EntryAnswer

FAST_KILLS = 12
KILL_SHARE = 0.7  # of the ticks run: killed
FULL_KILLS = 200
ORDER_ANSWER_DELAY_MS = 150
MALFORMED_SHARE = 0.25  # of the ticks: one private answer truncated once
PERSISTENT_SHARE = 0.1  # of the ticks: a read endpoint truncated on every try (the tick fails)
RERUN_SHARE = 1 / 3  # of the kills: followed by a re-run in the same minute
# Asynchronous answers (tests/fakes/account.py EntryAnswer), one drawn for each entry of a tick:
# filled at once, late, after the bot's reads, half now and half later, half with the rest
# expiring, 0.1 % worse (on Hyperliquid the rest of an IOC is cancelled at once).
ASYNC_ANSWERS = [
    None,
    EntryAnswer(now=0.0, later=2),
    EntryAnswer(now=0.0, later=6),
    EntryAnswer(now=0.5, later=2),
    EntryAnswer(now=0.5, later=1, rest="expire"),
    EntryAnswer(now=1.0, slip=0.001),
]
SECRETS = {
    "EXCHANGE_API_KEY": "soak-exchange-key-5d1c",
    "EXCHANGE_SECRET": "soak-exchange-secret-93b7",
    "ANTHROPIC_API_KEY": "sk-soak-8e2f",
}
TRUNCATED_ONCE = [
    ("GET", "/fapi/v3/positionRisk"),
    ("GET", "/fapi/v3/account"),
    ("GET", "/fapi/v1/openOrders"),
    ("GET", "/fapi/v1/openAlgoOrders"),
    ("GET", "/fapi/v1/order"),
    ("GET", "/fapi/v1/algoOrder"),
    ("POST", "/fapi/v1/order"),
    ("POST", "/fapi/v1/algoOrder"),
    ("GET", "/fapi/v1/userTrades"),
    ("DELETE", "/fapi/v1/algoOrder"),
]
TRUNCATED_ALWAYS = [("GET", "/fapi/v3/positionRisk"), ("GET", "/fapi/v3/account"), ("GET", "/fapi/v1/openAlgoOrders")]


@dataclass(frozen=True)
class SoakVenue:
    """What the soak needs to know of a venue: its fake, its settings, the endpoints it truncates
    (method, path, the fake's request type or None) and which requests place orders."""

    id: str
    exchange: str  # lines added to CONFIG's [exchange]
    trading: str  # ... and to its [trading]
    secrets: dict[str, str]
    truncated_once: list[tuple[str, str, str | None]]
    truncated_always: list[tuple[str, str, str | None]]
    order_requests: tuple[str, ...]  # paths (Binance) or /exchange action types (Hyperliquid) that place orders

    def fake(self, **options):
        if self.id == "hyperliquid":
            from tests.fakes.hyperliquid import FakeHyperliquid

            fake = FakeHyperliquid(data_dir(), now=NOW, coins=COINS, wallet=self.secrets["EXCHANGE_API_KEY"], **options)
        elif self.id == "bybit":
            from tests.fakes.bybit import FakeBybit

            fake = FakeBybit(data_dir(), now=NOW, coins=COINS, **options)
            fake.account.api_key, fake.account.api_secret = (
                self.secrets["EXCHANGE_API_KEY"],
                self.secrets["EXCHANGE_SECRET"],
            )
        else:
            from tests.fakes.exchange import FakeExchange

            fake = FakeExchange(data_dir(), now=NOW, coins=COINS, **options)
            fake.account.api_key, fake.account.api_secret = (
                self.secrets["EXCHANGE_API_KEY"],
                self.secrets["EXCHANGE_SECRET"],
            )
        return fake

    def is_order(self, request) -> bool:
        return request.method == "POST" and (
            request.path in self.order_requests or request.params.get("type") in self.order_requests
        )

    def bot_ids(self, at, ticks: int) -> dict[str, str]:
        """The venue's client id -> the bot's ``bot-<tick>-<coin>-<leg>`` for every tick of the soak."""
        from bot.clock import tick_id_for
        from bot.tick.risk import client_order_id
        from bot.venues.profiles import profile_for

        profile = profile_for(self.id)
        legs = ["entry", "add", "close", "exit", *(f"{leg}{n}" for leg in ("sl", "tp") for n in ("", *range(2, 10)))]
        ids = [
            client_order_id(tick_id_for(at + i * TICK + lag), coin, leg)
            for i in range(ticks)
            for lag in (timedelta(0), timedelta(seconds=20))
            for coin in COINS
            for leg in legs
        ]
        return {profile.client_id(bot_id): bot_id for bot_id in ids}


_INFO = [
    ("POST", "/info", kind)
    for kind in ("clearinghouseState", "frontendOpenOrders", "orderStatus", "userFills", "userFillsByTime")
]
_BYBIT_READS = [("GET", p) for p in ("position/list", "account/wallet-balance", "order/realtime", "execution/list")]
SOAK_VENUES = {
    "binanceusdm": SoakVenue(
        "binanceusdm",
        "",
        "",
        SECRETS,
        [(m, p, None) for m, p in TRUNCATED_ONCE],
        [(m, p, None) for m, p in TRUNCATED_ALWAYS],
        ("/fapi/v1/order", "/fapi/v1/algoOrder"),
    ),
    "hyperliquid": SoakVenue(
        "hyperliquid",
        'id = "hyperliquid"\n',
        'quote = "USDC"\n',
        {**SECRETS, "EXCHANGE_API_KEY": "0x5d1c" + "ab" * 18, "EXCHANGE_SECRET": "0x93b7" + "cd" * 30},
        [
            *_INFO,
            ("POST", "/exchange", "order"),
            ("POST", "/exchange", "order/sl"),
            ("POST", "/exchange", "order/tp"),
            ("POST", "/exchange", "cancelByCloid"),
        ],
        [("POST", "/info", "clearinghouseState"), ("POST", "/info", "frontendOpenOrders")],
        ("order", "order/sl", "order/tp"),
    ),
    "bybit": SoakVenue(
        "bybit",
        'id = "bybit"\n',
        "",
        SECRETS,
        [
            *((m, f"/v5/{p}", None) for m, p in _BYBIT_READS),
            ("POST", "/v5/order/create", "order"),
            ("POST", "/v5/order/create", "order/sl"),
            ("POST", "/v5/order/create", "order/tp"),
            ("POST", "/v5/order/cancel", None),
        ],
        [
            ("GET", "/v5/position/list", None),
            ("GET", "/v5/account/wallet-balance", None),
            ("GET", "/v5/order/realtime", None),
        ],
        ("order", "order/sl", "order/tp"),
    ),
}
TICK = timedelta(minutes=3)
COINS = ("BTC", "ETH")
CONFIG = """\
[exchange]
timeout_ms = 3000
retries = 1

[trading]
coins = ["BTC", "ETH"]

[risk]
# the soak wants an order every tick or two: the pacing limits would refuse most of them
max_entries_per_hour = 1000
max_entries_per_day = 10000
stop_loss_cooldown_min = 0
daily_loss_limit_pct = 100
max_drawdown_pct = 100
# its stops (0.4 %) and take-profits (0.6 %) are tight so exits fill between ticks: 0.92 net of costs
min_reward_risk = 0.5

[strategy]
name = "claude"

[llm]
retries = 0
timeout_s = 5

[ops]
max_consecutive_errors = 1000
recovery_backoff_seconds = 0
"""


@dataclass
class SoakResult:
    kills: int = 0
    ticks: int = 0  # processes started, killed or not
    completed: int = 0
    duplicates: list[str] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    unloadable: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # a key found in var/ or a tick's output
    account_off: list[str] = field(default_factory=list)
    journal_missing: list[str] = field(default_factory=list)  # exchange trades without a journal fill
    journal_extra: list[str] = field(default_factory=list)  # journal fills without an exchange trade
    malformed: int = 0  # ticks with a truncated answer injected
    failed: int = 0  # completed ticks that failed (a read endpoint truncated on every try): nothing is promised of them
    reruns: int = 0  # runs in the same minute as the killed one before them
    exchange_fills: int = 0
    journal_fills: int = 0
    kill_points: Counter = field(default_factory=Counter)  # where the state stood when the process died
    exit_codes: Counter = field(default_factory=Counter)
    orders: int = 0
    entries: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"kills {self.kills} · ticks {self.ticks} ({self.completed} completed) · orders {self.orders} "
            f"({self.entries} entries/adds) · duplicates {len(self.duplicates)} · "
            f"unprotected {len(self.unprotected)} · "
            f"unknown {len(self.unknown)} · unloadable {len(self.unloadable)} · tracebacks {len(self.tracebacks)} · "
            f"leaks {len(self.leaks)} · "
            f"account off {len(self.account_off)} · malformed {self.malformed} ({self.failed} failed ticks) · "
            f"same-minute re-runs {self.reruns} · "
            f"fills: exchange {self.exchange_fills}, journal {self.journal_fills}, missing "
            f"{len(self.journal_missing)}, extra {len(self.journal_extra)} · "
            f"kill points {dict(self.kill_points)} · exit codes {dict(self.exit_codes)} · {self.seconds:.1f} s"
        )


def _decision(rng: random.Random, fake, coin: str) -> dict:
    held = fake.account.positions.get(coin)
    amount = held.amount if held is not None else 0.0
    price = fake.price(coin)
    choices = ["BUY", "SELL"] + (["CLOSE", "CLOSE", "HOLD"] if amount else ["HOLD"])
    action = rng.choice(choices)
    if action in ("CLOSE", "HOLD"):
        return {"coin": coin, "action": action, "confidence": 0.8, "reasoning": "soak"}
    sign = 1 if action == "BUY" else -1
    return {
        "coin": coin,
        "action": action,
        "confidence": 0.8,
        "size_pct": 5,
        "leverage": 3,
        "stop_loss": round(price * (1 - sign * 0.004), 2),  # tight: stops fill between ticks now and then
        "take_profit": round(price * (1 + sign * 0.006), 2),
        "reasoning": "soak",
    }


def _env(exchange_url: str, anthropic_url: str, secrets: dict[str, str] = SECRETS) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    return {
        **keep,
        **secrets,
        "BOT_EXCHANGE__API_URL": exchange_url,
        "ANTHROPIC_BASE_URL": anthropic_url,
        "BOT_ENABLE_TRADING": "true",
        "BOT_LIVE__CONFIRM": LIVE_CONFIRMATION,
    }


def _start(project: Path, env: dict[str, str], at) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.clocked", at.strftime("%Y-%m-%dT%H:%M:%S"), "tick"],
        cwd=project,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _order_posts(fake, venue: SoakVenue) -> int:
    with fake._lock:
        return sum(venue.is_order(r) for r in fake.requests)


def _posted(fake, path: str) -> int:
    with fake._lock:
        return sum(r.method == "POST" and r.path.endswith(path) for r in fake.requests)


def _kill_point(store: StateStore, fake, result: SoakResult) -> None:
    """Where the killed tick stood: the state must load, and its pending intents say how far it got."""
    try:
        state = store.load()
    except Exception as exc:  # noqa: BLE001 (any failure to load is the finding)
        result.unloadable.append(f"{type(exc).__name__}: {exc}")
        return
    if state is None or not state.pending_intents:
        result.kill_points["nothing pending"] += 1
        return
    on_exchange = {o.client_id for o in fake.account.orders}
    for intent in state.pending_intents:
        sent = intent.client_order_id in on_exchange
        result.kill_points[f"{intent.kind} {'sent, not recorded' if sent else 'saved, not sent'}"] += 1


def _check(store: StateStore, fake, result: SoakResult, label: str) -> None:
    """After a completed tick: the exchange and the state agree and every position is protected."""
    state = store.load()
    with fake._lock:
        open_orders = [o for o in fake.account.orders if o.status == "NEW"]
        positions = {coin: p.amount for coin, p in fake.account.positions.items() if p.amount}
    known = {i for p in state.positions.values() for i in (p.stop_order_id, p.take_profit_order_id) if i}
    known |= {i.client_order_id for i in state.pending_intents}
    for order in open_orders:
        if order.client_id not in known:
            result.unknown.append(f"{label}: open {order.type} {order.client_id} unknown to the state")
    for coin, amount in positions.items():
        held = state.positions.get(coin)
        signed = (held.amount if held.side == "long" else -held.amount) if held else 0.0
        if abs(signed - amount) > 1e-9:
            result.unknown.append(f"{label}: {coin} exchange {amount:g}, state {signed:g}")
        stops = [o for o in open_orders if o.symbol == f"{coin}USDT" and o.type == "STOP_MARKET" and o.reduce_only]
        if not any(abs(o.quantity - abs(amount)) < 1e-9 for o in stops):
            result.unprotected.append(
                f"{label}: {coin} {amount:g} has no stop-loss for its size ({[o.client_id for o in stops]})"
            )
    for coin in state.positions:
        if coin not in positions:
            result.unknown.append(f"{label}: the state holds {coin}, the exchange does not")
    if abs(state.cash_usd - fake.account.wallet_usd) > 1e-6:
        result.account_off.append(
            f"{label}: cash {state.cash_usd:.6f}, the exchange's wallet {fake.account.wallet_usd:.6f}"
        )


def _journal_vs_exchange(project: Path, fake, result: SoakResult) -> None:
    """Every exchange trade is a journal fill under the same client id (a triggered stop's under the stop's)."""
    by_id = {o.id: o for o in fake.account.orders}
    exchange = Counter()
    for order_id in dict.fromkeys(trade["orderId"] for trade in fake.account.trades):  # a partial fill's trades: one
        order = by_id[order_id]
        cid = order.client_id
        if cid.startswith("algo_"):
            cid = by_id[int(cid.removeprefix("algo_"))].client_id
        exchange[cid] += 1
    journal = Counter()
    for line in (project / "var" / "journal.jsonl").read_text().splitlines():
        for fill in json.loads(line)["fills"]:
            journal[fill["client_order_id"]] += 1
    result.exchange_fills, result.journal_fills = sum(exchange.values()), sum(journal.values())
    result.journal_missing = [f"{cid} x{n}" for cid, n in (exchange - journal).items()]
    result.journal_extra = [f"{cid or '(no id)'} x{n}" for cid, n in (journal - exchange).items()]


def _duplicates(fake, names: dict[str, str]) -> tuple[list[str], int]:
    ids = Counter(o.client_id for o in fake.account.orders)
    found = [f"client id {cid} sent {n} times" for cid, n in ids.items() if n > 1]
    entries = [names.get(o.client_id, o.client_id) for o in fake.account.orders if o.type == "MARKET"]
    entries = [bot_id for bot_id in entries if bot_id.endswith(("-entry", "-add"))]
    per_decision = Counter(bot_id.rsplit("-", 1)[0] for bot_id in entries)  # bot-<tick>-<coin>
    found += [f"{key}: {n} entries for one decision" for key, n in per_decision.items() if n > 1]
    return found, len(entries)


RUNS_PER_KILL = 5  # the work bound: a kill lands on about half the runs (KILL_SHARE, a tick done before it)


def soak(
    project: Path,
    *,
    kills: int,
    seed: int,
    max_runs: int | None = None,
    venue: str = "binanceusdm",
    asynchronous: bool = True,
) -> SoakResult:
    """Kill `kills` live ticks, each followed by a tick that completes, in at most ``max_runs``
    runs (default ``RUNS_PER_KILL`` per kill); with `asynchronous`, the venue answers entries as
    it may (``ASYNC_ANSWERS``). Work is bounded, never seconds: a loaded machine makes every
    run slower, not fewer; a hung run ends at its own 60 s timeout."""
    max_runs = max_runs or kills * RUNS_PER_KILL
    from tests.fakes.anthropic import FakeAnthropic, tool_call

    spec = SOAK_VENUES[venue]
    secrets = spec.secrets
    (project / "config.toml").write_text(
        CONFIG.replace("[exchange]\n", f"[exchange]\n{spec.exchange}", 1).replace(
            "[trading]\n", f"[trading]\n{spec.trading}", 1
        )
    )
    rng = random.Random(seed)
    result = SoakResult()
    store = StateStore(project / "var" / "state.json")
    started = time.monotonic()
    durations = [2.0]
    at = NOW
    with spec.fake(order_answer_delay_ms=ORDER_ANSWER_DELAY_MS) as fake, FakeAnthropic() as llm:
        env = _env(fake.url, llm.url, secrets)

        def run(*, kill: bool, rerun: bool = False) -> bool:
            """One run at the tick ``at`` (20 s into it for a re-run); True if it was killed."""
            when = at + timedelta(seconds=20) if rerun else at
            fake.now_ms = int(when.timestamp() * 1000)
            fake.clear_faults()
            if rng.random() < MALFORMED_SHARE:
                result.malformed += 1
                method, path, kind = rng.choice(spec.truncated_once)
                fake.inject("truncated", path=path, method=method, order_type=kind, times=1)
            elif rng.random() < PERSISTENT_SHARE / (1 - MALFORMED_SHARE):
                result.malformed += 1
                method, path, kind = rng.choice(spec.truncated_always)
                fake.inject("truncated", path=path, method=method, order_type=kind)
            with fake._lock:
                fake.account.entry_answers[:] = (
                    [a for a in (rng.choice(ASYNC_ANSWERS) for _ in COINS * 2) if a] if asynchronous else []
                )
            with llm._lock:
                llm._script.clear()
            llm.script(tool_call({"decisions": [_decision(rng, fake, coin) for coin in COINS]}))
            posts_before = _order_posts(fake, spec)
            on_order = kill and rng.random() < 0.5
            delay_s = rng.uniform(0.05, sorted(durations)[len(durations) // 2])
            begun = time.monotonic()
            process = _start(project, env, when)
            result.ticks += 1
            result.reruns += rerun
            if kill:
                while process.poll() is None:
                    if on_order and _order_posts(fake, spec) > posts_before:
                        time.sleep(rng.uniform(0, ORDER_ANSWER_DELAY_MS / 1000))
                        break
                    if not on_order and time.monotonic() - begun >= delay_s:
                        break
                    time.sleep(0.005)
                process.send_signal(signal.SIGKILL)
            out, err = process.communicate(timeout=60)
            result.leaks += [
                f"{name} in the output at {at:%H:%M:%S}" for name, secret in secrets.items() if secret in out + err
            ]
            fake.clear_faults()
            if process.returncode == -signal.SIGKILL:
                result.kills += 1
                _kill_point(store, fake, result)
                return True
            durations.append(time.monotonic() - begun)
            result.completed += 1
            result.exit_codes[process.returncode] += 1
            if "Traceback" in out + err or process.returncode not in (0, 3, 4):
                result.tracebacks.append(f"{when:%H:%M:%S} exit {process.returncode}: {err.strip()[-400:]}")
            if process.returncode == 3:
                result.failed += 1  # it could not see the account: it must not have acted (checked after the next one)
            else:
                _check(store, fake, result, f"{when:%H:%M:%S}")
            return False

        run(kill=False)  # a first tick: the account adopted, no kill yet
        at += TICK
        while result.kills < kills and result.ticks < max_runs:
            killed = run(kill=rng.random() < KILL_SHARE)  # the tick after a kill may be killed too
            if killed and rng.random() < RERUN_SHARE:
                run(
                    kill=rng.random() < KILL_SHARE, rerun=True
                )  # the owner (or a retrying cron) runs it again within the minute
            at += TICK  # cron runs the next tick 3 minutes later
        fake.clear_faults()
        run(kill=False)
        result.duplicates, result.entries = _duplicates(fake, spec.bot_ids(NOW, result.ticks + 2))
        result.orders = len(fake.account.orders)
        _check(store, fake, result, "end")
        _journal_vs_exchange(project, fake, result)
        for path in (project / "var").rglob("*"):
            text = path.read_text(errors="replace") if path.is_file() else ""
            result.leaks += [
                f"{name} in {path.relative_to(project)}" for name, secret in secrets.items() if secret in text
            ]
    result.seconds = time.monotonic() - started
    return result


def _assert_clean(result: SoakResult, kills: int) -> None:
    print(result.summary())
    assert result.kills >= kills, result.summary()
    assert result.duplicates == [], result.duplicates
    assert result.unprotected == [], result.unprotected
    assert result.unknown == [], result.unknown
    assert result.unloadable == [], result.unloadable
    assert result.tracebacks == [], result.tracebacks
    assert result.leaks == [], result.leaks
    assert result.account_off == [], result.account_off
    assert result.journal_missing == [] and result.journal_extra == [], (result.journal_missing, result.journal_extra)
    assert result.malformed > 0 and result.reruns > 0, result.summary()
    assert result.entries >= kills // 2, "the soak must trade for its kills to mean anything"
    sent_not_recorded = sum(n for point, n in result.kill_points.items() if "sent, not recorded" in point)
    assert sent_not_recorded >= kills // 10, result.kill_points


def test_crash_soak_fast(tmp_path):
    _assert_clean(
        soak(tmp_path, kills=FAST_KILLS, seed=11), FAST_KILLS
    )  # idle, it takes ~50 s; at load 10 several times that, with the same runs


@pytest.mark.slow
@pytest.mark.parametrize("venue", list(SOAK_VENUES))
def test_crash_soak_full(tmp_path, venue):
    _assert_clean(soak(tmp_path, kills=FULL_KILLS, seed=2011, venue=venue), FULL_KILLS)


# -- a killed tick run again in the same minute: the same tick id, so no second opening order ----

SAME_MINUTE_CONFIG = """\
[exchange]
timeout_ms = 3000
retries = 1

[trading]
coins = ["BTC"]

[risk]
allow_adding = true  # the doubling this guards against is an add approved on the re-run

[strategy]
name = "claude"

[llm]
retries = 0
timeout_s = 5
"""


@pytest.mark.parametrize("killed_on", ["entry", "sl"])
def test_a_tick_killed_after_its_entry_filled_and_run_again_in_the_same_minute_opens_nothing_more(tmp_path, killed_on):
    """Killed while the exchange holds the answer to the entry (filled, not recorded) or to its
    stop-loss (entry recorded, stop pending); cron or the owner runs `bot tick` again 30 s later,
    the same tick id, and the strategy says BUY again: the entry is adopted, never doubled."""
    from tests.fakes.anthropic import FakeAnthropic, btc_buy, tool_call
    from tests.fakes.exchange import FakeExchange

    (tmp_path / "config.toml").write_text(SAME_MINUTE_CONFIG)
    store = StateStore(tmp_path / "var" / "state.json")
    landed = {"entry": "/fapi/v1/order", "sl": "/fapi/v1/algoOrder"}[killed_on]
    with (
        FakeExchange(
            data_dir(), now=NOW, coins=("BTC",), order_answer_delay_ms=30_000, order_answer_delay_path=landed
        ) as fake,
        FakeAnthropic() as llm,
    ):
        fake.account.api_key, fake.account.api_secret = SECRETS["EXCHANGE_API_KEY"], SECRETS["EXCHANGE_SECRET"]
        env = _env(fake.url, llm.url)
        price = fake.price("BTC")
        buy = btc_buy(price, reasoning="same minute")
        llm.script(tool_call({"decisions": [buy]}), tool_call({"decisions": [buy]}))

        process = _start(tmp_path, env, NOW + timedelta(seconds=20))
        deadline = time.monotonic() + 30
        while (
            not _posted(fake, landed) and process.poll() is None and time.monotonic() < deadline
        ):  # the order itself, not a lookup
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # the order reached the exchange; its answer is held back
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        [entry] = fake.account.orders[:1]
        assert (entry.client_id, entry.status) == ("bot-250603T1200-BTC-entry", "FILLED")
        assert fake.count("/fapi/v1/order") == 1  # answered at once or held back: never timed out and looked up
        pending = [i.kind for i in store.load().pending_intents]
        assert pending == (["entry"] if killed_on == "entry" else ["stop_loss"])

        fake.order_answer_delay_ms = 0
        again = _start(tmp_path, env, NOW + timedelta(seconds=50))
        out, err = again.communicate(timeout=60)

    assert again.returncode == 0, out + err
    assert "Traceback" not in out + err
    openings = [(o.client_id, o.status) for o in fake.account.orders if o.type == "MARKET" and not o.reduce_only]
    assert openings == [("bot-250603T1200-BTC-entry", "FILLED")]  # exactly one entry: no add, no resend
    state = store.load()
    assert state.pending_intents == []
    assert state.positions["BTC"].amount == entry.quantity == fake.account.positions["BTC"].amount
    assert {o.quantity for o in fake.account.open_algo("BTC")} == {
        entry.quantity
    }  # its stop-loss and take-profit, once
    records = [json.loads(line) for line in (tmp_path / "var" / "journal.jsonl").read_text().splitlines()]
    [record] = records  # the killed run wrote no journal line
    assert record["tick_id"] == "250603T1200"
    [verdict] = record["verdicts"]
    assert (verdict["verdict"], verdict["codes"]) == ("rejected", ["duplicate"])
    assert (
        verdict["reason"]
        == "BTC already got its opening order in this tick (250603T1200): a re-run of a tick opens nothing more"
    )
