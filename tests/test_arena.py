"""The strategy arena: candidates on their own paper books, the leaderboard, rotation.

End to end as cron runs it (`bot tick --dry-run --replay` subprocesses) with two rules
variants and two Claude candidates behind the fake Messages API, each model scripted its
own answer; the leaderboard and the rotation rule on hand-made tick reports.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.arena.arena import ReportList, memory_arena
from bot.arena.leaderboard import choose, standing
from bot.config import Settings
from bot.models import Account, Fill, FundingPayment, Outcome, Side, TickReport, Usage
from bot.ops.notify import Notifier
from bot.ops.state import StateStore
from bot.strategies import HoldStrategy
from bot.venues.history import HistoryMarket
from tests.conftest import run_bot
from tests.fakes.anthropic import tool_call
from tests.fakes.notify import NotifyEndpoint

FIRST = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the replay's first tick on the bundled sample
USAGE = {"input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

ARENA = """
[strategy]
name = "rules"
[trading]
coins = ["BTC", "ETH"]
[arena]
active = "haiku"
[[arena.candidates]]
name = "rules-a"
strategy = "rules"
[[arena.candidates]]
name = "rules-b"
strategy = "rules"
rules = { size_pct = 20 }
[[arena.candidates]]
name = "haiku"
strategy = "claude"
llm = { model = "claude-haiku-5-5", retries = 0, timeout_s = 2, deadline_s = 5 }
[[arena.candidates]]
name = "sonnet"
strategy = "claude"
llm = { model = "claude-sonnet-4-6", retries = 0, timeout_s = 2, deadline_s = 5 }
"""
DOWN = """
[[arena.candidates]]
name = "down"
strategy = "claude"
llm = { model = "claude-opus-5-5", base_url = "http://127.0.0.1:9", retries = 0, timeout_s = 1, deadline_s = 2 }
"""


def _decision(coin: str, action: str, price: float, *, up: bool) -> dict:
    stop, take = (price * 0.98, price * 1.04) if up else (price * 1.02, price * 0.96)
    return {
        "coin": coin,
        "action": action,
        "confidence": 0.8,
        "size_pct": 10,
        "leverage": 2,
        "stop_loss": round(stop, 2),
        "take_profit": round(take, 2),
        "invalidation": "-",
        "reasoning": "scripted",
    }


def _book(project, name):
    return StateStore(project / "var" / "replay" / "arena" / name / "state.json").load()


def _tick(project, url):
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": url}
    return run_bot("tick", "--dry-run", "--replay", cwd=project, env=env)


@pytest.fixture
def arena_project(project):
    (project / "config.toml").write_text(ARENA + DOWN)
    return project


def test_each_candidate_trades_its_own_book_and_the_active_one_the_account(arena_project, fake_anthropic):
    prices = HistoryMarket().snapshot_at(["BTC", "ETH"], FIRST).coins
    btc, eth = prices["BTC"].last_price, prices["ETH"].last_price
    buy_btc = tool_call({"decisions": [_decision("BTC", "BUY", btc, up=True)]}, usage=USAGE)
    fake_anthropic.script_for("claude-haiku-5-5", buy_btc, buy_btc)  # its book, then the account (haiku is active)
    fake_anthropic.script_for(
        "claude-sonnet-4-6", tool_call({"decisions": [_decision("ETH", "SELL", eth, up=False)]}, usage=USAGE)
    )
    result = _tick(arena_project, fake_anthropic.url)
    assert result.returncode == 0, result.stdout + result.stderr

    # the scripted books: Claude's 10 % x 2 on its coin, the rules 10 % x 3 and 20 % x 3 on BTC (lot 0.001 rounded down)
    def lots(margin_pct, leverage, price):
        return math.floor(10_000 * margin_pct / 100 * leverage / price * 1000) / 1000

    haiku, sonnet, rules_a, rules_b, down = (
        _book(arena_project, name) for name in ("haiku", "sonnet", "rules-a", "rules-b", "down")
    )
    assert {c: (p.side, p.amount) for c, p in haiku.positions.items()} == {
        "BTC": (Side.LONG, pytest.approx(lots(10, 2, btc)))
    }
    assert {c: (p.side, p.amount) for c, p in sonnet.positions.items()} == {
        "ETH": (Side.SHORT, pytest.approx(lots(10, 2, eth)))
    }
    assert {c: (p.side, p.amount) for c, p in rules_a.positions.items()} == {
        "BTC": (Side.SHORT, pytest.approx(lots(10, 3, btc)))
    }
    assert {c: (p.side, p.amount) for c, p in rules_b.positions.items()} == {
        "BTC": (Side.SHORT, pytest.approx(lots(20, 3, btc)))
    }
    # the candidate whose LLM is down held alone: an empty book, its tick degraded, the others' unaffected
    assert down.positions == {} and down.cash_usd == 10_000
    [record] = [
        json.loads(line) for line in (arena_project / "var/replay/arena/down/journal.jsonl").read_text().splitlines()
    ]
    assert record["outcome"] == "degraded" and "unavailable" in record["message"]
    # the account: haiku's decision on its own prompt, through its risk and execute stages
    account = StateStore(arena_project / "var" / "replay" / "state.json").load()
    assert {c: (p.side, p.amount) for c, p in account.positions.items()} == {
        "BTC": (Side.LONG, pytest.approx(lots(10, 2, btc)))
    }
    [main] = [json.loads(line) for line in (arena_project / "var/replay/journal.jsonl").read_text().splitlines()]
    assert main["strategy"] == "haiku" and main["outcome"] == "ok"
    audit = json.loads((arena_project / "var/replay/arena/sonnet/llm/250602T0100.json").read_text())
    assert audit["decisions"][0]["coin"] == "ETH" and audit["decisions"][0]["action"] == "SELL"
    assert sorted(r.body["model"] for r in fake_anthropic.requests) == [
        "claude-haiku-5-5",
        "claude-haiku-5-5",
        "claude-sonnet-4-6",
    ]
    # each candidate's LLM dollars are its own (Haiku 5.5 0.10 / 0.50, Sonnet 4.6 3 / 15 per MTok)
    assert haiku.llm.spent("2025-06-02").cost_usd == pytest.approx((1000 * 0.10 + 200 * 0.50) / 1e6, abs=1e-12)
    assert sonnet.llm.spent("2025-06-02").cost_usd == pytest.approx((1000 * 3 + 200 * 15) / 1e6, abs=1e-12)

    status = run_bot("status", "--replay", cwd=arena_project)
    assert "arena: haiku runs the account" in status.stdout
    board = json.loads(run_bot("arena", "--replay", "--json", cwd=arena_project).stdout)
    assert board["active"] == "haiku" and {s["name"] for s in board["standings"]} == {
        "rules-a",
        "rules-b",
        "haiku",
        "sonnet",
        "down",
    }

    pinned = run_bot("arena", "--replay", "pin", "sonnet", cwd=arena_project)
    assert pinned.returncode == 0 and "sonnet runs the account (pinned" in pinned.stdout
    assert json.loads(run_bot("arena", "--replay", "--json", cwd=arena_project).stdout)["active"] == "sonnet"
    assert "pinned" in run_bot("status", "--replay", cwd=arena_project).stdout

    # a candidate whose pass raises (its book is corrupt) holds alone: the account's tick is ok and names it
    (arena_project / "var/replay/arena/rules-b/state.json").write_text("{not json")
    result = _tick(arena_project, fake_anthropic.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "arena candidate rules-b failed: StateError:" in result.stdout and "strategy sonnet" in result.stdout
    last = json.loads((arena_project / "var/replay/journal.jsonl").read_text().splitlines()[-1])
    assert last["outcome"] == "ok" and last["sources_skipped"]["arena:rules-b"].startswith("StateError:")
    assert _book(arena_project, "rules-a").tick == 2 and _book(arena_project, "sonnet").tick == 2


def test_a_killed_tick_leaves_every_candidates_book_loadable(arena_project, fake_anthropic):
    (arena_project / "config.toml").write_text(ARENA)
    fake_anthropic.latency_ms = 600
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake_anthropic.url}
    assert _tick(arena_project, fake_anthropic.url).returncode == 0  # one whole tick: every book exists
    before = {name: _book(arena_project, name).tick for name in ("rules-a", "rules-b", "haiku", "sonnet")}
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))} | env
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
        cwd=arena_project,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(fake_anthropic.requests) < 6 and time.monotonic() < deadline:  # the second tick's calls are in flight
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for name, ticks in before.items():
        book = _book(arena_project, name)  # loads: no torn file
        assert book.tick in (ticks, ticks + 1)
    fake_anthropic.latency_ms = 0
    assert _tick(arena_project, fake_anthropic.url).returncode == 0
    assert all(_book(arena_project, name).tick >= ticks + 1 for name, ticks in before.items())


def test_bad_arena_config_and_unknown_pin_are_one_line_and_exit_2(project):
    (project / "config.toml").write_text(
        '[[arena.candidates]]\nname = "x"\nstrategy = "rules"\n[[arena.candidates]]\nname = "x"\nstrategy = "rules"\n'
    )
    result = run_bot("arena", cwd=project)
    assert (
        result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "'x' is used twice" in result.stderr
    )
    (project / "config.toml").write_text(
        '[[arena.candidates]]\nname = "wide"\nstrategy = "rules"\nrules = { stop_atr = -1 }\n'
    )
    result = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert (
        result.returncode == 2
        and "[[arena.candidates]] 'wide': `rules.stop_atr`" in result.stderr
        and "Traceback" not in result.stderr
    )
    (project / "config.toml").write_text('[[arena.candidates]]\nname = "wide"\nstrategy = "rules"\n')
    result = run_bot("arena", "pin", "wid", cwd=project)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "no arena candidate named 'wid' — did you mean `wide`?" in result.stderr


# ----- the leaderboard, by hand -------------------------------------------------------------


def _report(minute: int, equity: float, *, fills=(), funding=(), cost_usd: float = 0.0, prices=None) -> TickReport:
    at = FIRST + timedelta(minutes=3 * minute)
    account = Account(
        cash_usd=equity, equity_usd=equity, margin_used_usd=0.0, unrealized_pnl_usd=0.0, available_usd=equity
    )
    return TickReport(
        tick_id=str(minute),
        tick=minute,
        mode="paper",
        dry_run=True,
        as_of=at,
        strategy="x",
        outcome=Outcome.OK,
        account=account,
        fills=list(fills),
        funding=list(funding),
        usage=Usage(calls=1 if cost_usd else 0, cost_usd=cost_usd),
        prices=prices or {},
    )


def _fill(minute, side, price, *, fee, reduce_only=False, realized=0.0, amount=1.0):
    return Fill(
        coin="BTC",
        side=side,
        amount=amount,
        price=price,
        fee_usd=fee,
        realized_pnl_usd=realized,
        reduce_only=reduce_only,
        client_order_id=f"c{minute}",
        at=FIRST + timedelta(minutes=3 * minute),
    )


def test_leaderboard_figures_by_hand():
    # opening 10,000; a long opened at tick 1 (fee 0.5), funding -0.2 at tick 2, closed at tick 3 (+10 before its 0.55
    # fee);
    # a short opened at tick 3 still open at the end; $1 of LLM at tick 2
    funding = FundingPayment(
        coin="BTC", side=Side.LONG, at=FIRST + timedelta(minutes=6), rate=0.0001, price=105.0, amount_usd=-0.2
    )
    reports = [
        _report(1, 10_100, fills=[_fill(1, Side.LONG, 100.0, fee=0.5)]),
        _report(2, 10_050, funding=[funding], cost_usd=1.0),
        _report(
            3,
            10_200,
            fills=[
                _fill(3, Side.LONG, 110.0, fee=0.55, reduce_only=True, realized=10.0),
                _fill(3, Side.SHORT, 110.0, fee=0.4),
            ],
            prices={"BTC": 108.0},
        ),
    ]
    entry = standing("a", "rules", reports, opening_usd=10_000, book=None)
    net = [10_000, 10_100, 10_049, 10_199]  # equity less the LLM dollars spent so far
    returns = [net[i + 1] / net[i] - 1 for i in range(3)]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert entry.return_pct == pytest.approx(1.99, abs=1e-9)
    assert entry.sharpe == pytest.approx(mean / std * math.sqrt(175_200), rel=1e-9)
    assert entry.max_drawdown_pct == pytest.approx((1 - 10_049 / 10_100) * 100, rel=1e-9)
    assert entry.fees_usd == pytest.approx(1.45, abs=1e-12)
    assert entry.funding_usd == pytest.approx(-0.2, abs=1e-12) and entry.llm_usd == 1.0
    # two trades: the long (+10 - 1.05 fees - 0.2 funding = +8.75, 6 minutes) and the short still open (-0.4 fee, 0
    # minutes)
    assert (entry.trades, entry.win_rate_pct, entry.longs, entry.shorts, entry.long_short_ratio) == (2, 50.0, 1, 1, 1.0)
    assert entry.avg_hold_hours == pytest.approx((6 + 0) / 2 / 60, abs=1e-12)


# ----- rotation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incumbent", "challenger", "chosen"),
    [
        (2.0, 2.5, "inc"),  # better, but inside the margin of 1.0
        (2.0, 3.0, "inc"),  # exactly at the margin: not more than it
        (2.0, 3.01, "new"),  # beyond it: switch
        (None, -5.0, "new"),  # the incumbent has no track record: any score wins
        (2.0, None, "inc"),  # the challenger has none: nothing to compare
    ],
)
def test_rotation_switches_only_beyond_the_margin(incumbent, challenger, chosen):
    assert choose("inc", {"inc": incumbent, "new": challenger}, margin=1.0)[0] == chosen


def test_a_flat_book_scores_zero_sharpe_and_a_short_one_none():
    from bot.arena.leaderboard import score

    flat = standing("flat", "rules", [_report(1, 10_000), _report(2, 10_000)], opening_usd=10_000, book=None)
    assert flat.sharpe is None  # no variance: no ratio
    assert score(flat, metric="sharpe", min_ticks=2) == 0.0  # but a track record: it keeps the account against a loser
    assert score(flat, metric="sharpe", min_ticks=3) is None
    assert choose("flat", {"flat": 0.0, "loser": -3.0}, margin=0.25)[0] == "flat"


def test_rotation_runs_once_a_day_at_its_time_on_the_window_scores():
    settings = Settings(
        _env_file=None,
        arena={
            "candidates": [{"name": "inc", "strategy": "rules"}, {"name": "new", "strategy": "rules"}],
            "rotation": {
                "enabled": True,
                "time": "12:00",
                "metric": "return",
                "min_ticks": 2,
                "margin": 1.0,
                "window_days": 3,
            },
        },
    )
    arena = memory_arena(settings, make_strategy=lambda _own: HoldStrategy())
    inc, new = arena.players
    inc.journal.reports = [_report(1, 10_100), _report(2, 10_200)]  # +2 %
    new.journal.reports = [_report(1, 10_100), _report(2, 10_250)]  # +2.5 %: inside the margin
    assert isinstance(inc.journal, ReportList)
    noon = FIRST.replace(hour=12)
    assert arena.rotate(noon - timedelta(minutes=3)) == ""  # before its time: nothing scored
    note = arena.rotate(noon)
    assert arena.active == "inc" and "within the margin 1" in note
    assert arena.record.rotations[-1].scores == {"inc": pytest.approx(2.0), "new": pytest.approx(2.5)}
    new.journal.reports.append(_report(3, 10_302))  # +3.02 %: beyond the margin, but the day was scored already
    assert arena.rotate(noon + timedelta(minutes=3)) == "" and arena.active == "inc"
    next_noon = noon + timedelta(days=1)
    with NotifyEndpoint() as endpoint:
        arena.notifier = Notifier([endpoint.url])
        note = arena.rotate(next_noon)
        [message] = endpoint.messages()
    assert arena.active == "new" and arena.record.since == next_noon and "beats inc" in note
    assert message["title"] == "arena: new now runs the account"
    assert (
        message["message"]
        == "new (3.02) beats inc (2) by more than the margin 1. Scores (return, 3 days): inc 2, new 3.02"
    )
    assert [(r.incumbent, r.chosen) for r in arena.record.rotations] == [
        ("inc", "inc"),
        ("inc", "new"),
    ]  # both journaled


# ----- bot backtest --arena -----------------------------------------------------------------


def test_arena_backtest_books_match_each_candidates_own_backtest():
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.config_file import with_overrides

    base = Settings(_env_file=None, strategy={"name": "rules"}, trading={"coins": ["BTC", "ETH"]})
    candidates = [
        {"name": "small", "strategy": "rules"},
        {"name": "big", "strategy": "rules", "rules": {"size_pct": 20, "leverage": 2}},
    ]
    settings = base.model_copy(
        update={"arena": Settings(_env_file=None, arena={"candidates": candidates, "active": "big"}).arena}
    )
    request = BacktestRequest(start=FIRST, end=FIRST + timedelta(hours=12))
    arena = arena_backtest(settings, request, notify=lambda _line: None)
    alone = {
        "small": backtest_command(base, request, progress=False),
        "big": backtest_command(
            with_overrides(base, {"rules.size_pct": 20, "rules.leverage": 2}, where="test"), request, progress=False
        ),
    }
    board = {entry.name: entry for entry in arena.board.standings}
    for name, result in alone.items():  # the same decisions, fills and equity as a plain backtest of the candidate
        assert list(arena.curves[name]) == pytest.approx(list(result.equity_usd), rel=1e-12)
        assert board[name].trades == len(result.trades) and board[name].fees_usd == pytest.approx(
            result.fees_usd, rel=1e-12
        )
        assert board[name].return_pct == pytest.approx((result.equity_usd[-1] / 10_000 - 1) * 100, rel=1e-12)
    assert arena.curves["small"][-1] != arena.curves["big"][-1]  # the two books diverged
    # rotation off: the account follows the active candidate, tick for tick
    assert list(arena.account.equity_usd) == pytest.approx(list(alone["big"].equity_usd), rel=1e-12)
    assert arena.account.strategy == "arena (big)"


def test_a_candidate_over_its_budget_holds_and_says_so_once_a_day(project, fake_anthropic):
    (project / "config.toml").write_text(
        '[strategy]\nname = "rules"\n[trading]\ncoins = ["BTC"]\n[[arena.candidates]]\nname = "r"\nstrategy = "rules"\n'
        '[[arena.candidates]]\nname = "broke"\nstrategy = "claude"\nmax_usd_per_day = 0\n'
        'llm = { model = "claude-haiku-5-5" }\n'
    )
    for _ in range(2):
        assert _tick(project, fake_anthropic.url).returncode == 0
    records = [json.loads(line) for line in (project / "var/replay/arena/broke/journal.jsonl").read_text().splitlines()]
    assert [r["strategy"] for r in records] == ["hold", "hold"] and [r["fills"] for r in records] == [[], []]
    assert (
        "LLM budget reached: 0.0000 USD spent on 2025-06-02, llm.max_usd_per_day = 0; hold decides until 00:00 UTC"
        in records[0]["message"]
    )
    assert "LLM budget" not in records[1]["message"]
    assert not [r for r in fake_anthropic.requests if r.body.get("model") == "claude-haiku-5-5"]


def test_arena_backtest_rerun_from_the_cache_asks_nothing_and_scores_the_same(tmp_path, fake_anthropic, monkeypatch):
    """A cached answer is billed what it first cost: the budgets, the net-of-LLM scores and so
    the rotation come out the same on a free re-run (here Sonnet's budget runs out mid-day)."""
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    llm = {"base_url": fake_anthropic.url, "retries": 0}
    settings = Settings(
        _env_file=None,
        base_dir=tmp_path,
        strategy={"name": "rules"},
        trading={"coins": ["BTC"]},
        arena={
            "candidates": [
                {"name": "rules", "strategy": "rules"},
                {"name": "haiku", "strategy": "claude", "llm": {**llm, "model": "claude-haiku-5-5"}},
                {
                    "name": "sonnet",
                    "strategy": "claude",
                    "max_usd_per_day": 0.02,
                    "llm": {**llm, "model": "claude-sonnet-4-6"},
                },
            ]
        },
    )
    request = BacktestRequest(start=FIRST, end=FIRST + timedelta(minutes=3 * 11), yes=True)
    first = arena_backtest(settings, request, notify=lambda _line: None)
    asked = len(fake_anthropic.requests)
    again = arena_backtest(settings, request, notify=lambda _line: None)
    assert len(fake_anthropic.requests) == asked  # every answer came from the cache
    assert again.board.model_dump() == first.board.model_dump()
    board = {entry.name: entry for entry in first.board.standings}
    sonnet_calls = sum(r.body["model"] == "claude-sonnet-4-6" for r in fake_anthropic.requests)
    assert 0 < sonnet_calls < 12 and board["sonnet"].llm_usd >= 0.02  # it held once over its budget
    assert (
        board["haiku"].llm_usd > 0
        and first.account.cache == {"hits": 0, "misses": asked - 0}
        and again.account.cache["misses"] == 0
    )


def test_backtest_arena_command_prints_the_leaderboard_and_writes_the_chart(project):
    (project / "config.toml").write_text(
        '[strategy]\nname = "rules"\n[trading]\ncoins = ["BTC"]\n'
        '[[arena.candidates]]\nname = "small"\nstrategy = "rules"\n'
        '[[arena.candidates]]\nname = "big"\nstrategy = "rules"\nrules = { size_pct = 20 }\n'
    )
    out = project / "report"
    result = run_bot(
        "backtest",
        "--arena",
        "--from",
        "2025-06-02T01:00",
        "--to",
        "2025-06-02T04:00",
        "--out",
        str(out),
        "--json",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {s["name"] for s in shown["leaderboard"]["standings"]} == {"small", "big"} and shown["leaderboard"][
        "active"
    ] == "small"
    assert (
        shown["account"]["strategy"] == "arena (small)" and shown["account"]["ticks"] == 61
    )  # 3 hours of 3-minute ticks, both ends
    assert {s["ticks"] for s in shown["leaderboard"]["standings"]} == {61}
    assert json.loads((out / "leaderboard.json").read_text()) == shown["leaderboard"]
    assert (out / "arena.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
