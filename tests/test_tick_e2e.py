"""End to end, as cron runs it: `bot tick --dry-run` subprocesses against the fake exchange."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest

from bot.config import Settings
from bot.models import ReturnStats
from bot.strategies.rules import RulesStrategy
from bot.tick.indicators import compute_features
from bot.tick.portfolio import portfolio_of
from bot.tick.prompt import build_prompt
from bot.venues.history import HistoryMarket
from tests.conftest import data_dir, run_bot


def _expected_decisions(data_time: datetime) -> dict[str, str]:
    """What the rules strategy decides on the same candles, computed in-process from history."""
    snapshot = HistoryMarket(data_dir()).snapshot_at(Settings().trading.coins, data_time)
    features = compute_features(snapshot)
    prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    portfolio = portfolio_of(
        cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    prompt = build_prompt(Settings(), features, portfolio, now=data_time, tick=1)
    decisions = asyncio.run(
        RulesStrategy(Settings().rules).decide(features=features, portfolio=portfolio, prompt=prompt)
    )
    return {decision.coin: decision.action.value for decision in decisions}


def _tick(project, fake, *args):
    return run_bot("tick", "--dry-run", *args, cwd=project, env={"BOT_EXCHANGE__API_URL": fake.url})


def _live_journal(project):
    return [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]


def test_dry_run_tick_trades_the_rules_decisions_and_a_second_tick_continues(project, live_fake):
    result = _tick(project, live_fake)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PAPER (dry-run) tick 1 · ")
    assert "coins 6/6 loaded: BTC ETH SOL BNB DOGE XRP" in result.stdout

    [record] = _live_journal(project)
    data_time = live_fake.data_time(datetime.fromisoformat(record["as_of"]))
    expected = _expected_decisions(data_time)
    assert {d["coin"]: d["action"] for d in record["decisions"]} == expected
    assert record["outcome"] == "ok" and record["errors"] == {}
    assert {fill["coin"] for fill in record["fills"]} == {
        coin for coin, verdict in ((v["coin"], v["verdict"]) for v in record["verdicts"]) if verdict != "rejected"
    }

    state = json.loads((project / "var" / "state.json").read_text())
    assert state["tick"] == 1 and state["mode"] == "paper"
    assert state["cash_usd"] == pytest.approx(10_000 - sum(f["fee_usd"] for f in record["fills"]))

    second = _tick(project, live_fake)
    assert second.returncode == 0, second.stderr
    assert "tick 2 · " in second.stdout
    records = _live_journal(project)
    assert [r["tick"] for r in records] == [1, 2]
    assert records[1]["account"]["cash_usd"] == pytest.approx(records[0]["account"]["cash_usd"])


def test_one_coin_failing_skips_only_that_coin(project, live_fake):
    live_fake.inject("500", symbol="SOLUSDT")
    result = _tick(project, live_fake)
    assert result.returncode == 4, result.stderr  # degraded
    assert "coins 5/6 loaded: BTC ETH BNB DOGE XRP" in result.stdout
    assert "skipped SOL: OperationFailed" in result.stdout
    [record] = _live_journal(project)
    assert record["outcome"] == "degraded" and set(record["errors"]) == {"SOL"}


def test_exchange_down_fails_the_tick_and_trades_nothing(project, live_fake):
    live_fake.inject("503")
    result = _tick(project, live_fake)
    assert result.returncode == 3
    assert "outcome failed" in result.stdout and "cannot load markets" in result.stdout
    assert "Traceback" not in result.stderr
    [record] = _live_journal(project)
    assert record["outcome"] == "failed" and record["fills"] == []
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["consecutive_errors"] == 1 and state["cash_usd"] == 10_000


def test_secrets_never_reach_files_or_output(project, live_fake, fake_anthropic):
    from tests.fakes.anthropic import error

    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-SECRET-0001",
        "EXCHANGE_API_KEY": "KEY-SECRET-0002",
        "EXCHANGE_SECRET": "SECRET-0003",
    }
    (project / ".env").write_text("EXCHANGE_SECRET=SECRET-0003\n")
    env = {
        "BOT_EXCHANGE__API_URL": live_fake.url,
        "BOT_LLM__BASE_URL": fake_anthropic.url,
        "BOT_LOG__CONSOLE_LEVEL": "DEBUG",
        **secrets,
    }
    outputs = [run_bot("tick", "--dry-run", cwd=project, env=env)]  # Claude decides (the key is set)
    fake_anthropic.script(error(401))
    outputs.append(run_bot("tick", "--dry-run", cwd=project, env=env))  # the key refused
    live_fake.inject("503")
    outputs.append(run_bot("tick", "--dry-run", cwd=project, env=env))  # a failing tick too
    outputs.append(run_bot("status", cwd=project, env=env))
    outputs.append(run_bot("status", "--json", cwd=project, env=env))
    assert [result.returncode for result in outputs] == [0, 4, 3, 0, 0]
    assert [request.headers["authorization"] for request in fake_anthropic.requests] == [
        "Bearer sk-ant-SECRET-0001"
    ] * 2  # anthropic 2.12 sends the key as a bearer token
    assert any((project / "var" / "llm").iterdir())
    written = [path for path in (project / "var").rglob("*") if path.is_file()]
    assert any(path.name == "bot.log" for path in written)
    for secret in secrets.values():
        for result in outputs:
            assert secret not in result.stdout + result.stderr
        for path in written:
            assert secret not in path.read_text(errors="replace"), path
