"""The strategy arena as cron runs it: real `bot tick` processes, each candidate on its own paper
book and the active one on the account, a killed tick, a bad config, a candidate over budget."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from bot.models import Side
from bot.ops.state import StateStore
from bot.venues.history import HistoryMarket
from tests.arena.arenakit import FIRST
from tests.conftest import run_bot
from tests.fakes.anthropic import tool_call

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
    assert {(s["sharpe"], s["needs_ticks"], s["verdict"]) for s in board["standings"] if s["name"] != "haiku"} == {
        (None, 479, "not distinguishable yet")  # one tick: no Sharpe, no interval, no verdict yet
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


def test_a_candidate_over_its_budget_holds_and_says_so_once_a_day(project, fake_anthropic):
    (project / "config.toml").write_text(
        '[strategy]\nname = "rules"\n[trading]\ncoins = ["BTC"]\n[[arena.candidates]]\nname = "r"\nstrategy = "rules"\n'
        '[[arena.candidates]]\nname = "broke"\nstrategy = "claude"\nmax_usd_per_day = 0\nllm = { model = '
        '"claude-haiku-5-5" }\n'
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


def test_pin_and_unpin_take_their_options_after_the_subcommand(arena_project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(arena_project / "config.toml")
    pinned = run_bot("arena", "pin", "rules-b", "--replay", "--config", config, cwd=elsewhere)
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout == "arena: rules-b runs the account (pinned: rotation is off until `bot arena unpin`)\n"
    record = json.loads((arena_project / "var/replay/arena/arena.json").read_text())
    assert record["active"] == "rules-b" and record["pinned"] is True
    assert not (arena_project / "var/arena").exists()  # the replay account's arena, not the live one
    unpinned = run_bot("arena", "unpin", "--config", config, "--replay", cwd=elsewhere)
    assert unpinned.returncode == 0 and unpinned.stdout == "arena: rules-b runs the account (rotation may change it)\n"
    assert json.loads((arena_project / "var/replay/arena/arena.json").read_text())["pinned"] is False
    before = run_bot("arena", "--replay", "--config", config, "pin", "rules-a", cwd=elsewhere)  # still works there too
    assert before.returncode == 0 and "rules-a runs the account (pinned" in before.stdout
