"""`bot tick` with Claude as cron runs it: real subprocesses against the fake Anthropic server;
every failure held with exit 4 and one line, budget, keys, retired and deprecated models,
refusals and the cache's savings in `bot status`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.venues.history import HistoryMarket
from tests.conftest import run_bot
from tests.fakes.anthropic import (
    EMPTY,
    HANG,
    TRUNCATED,
    cut_at_max_tokens,
    error,
    refusal,
    text_reply,
    tool_call,
)

FIRST = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the replay's first tick on the bundled sample
USAGE = {
    "input_tokens": 1000,
    "output_tokens": 200,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 2000,
}  # $0.0066


def _env(url, **extra):
    # Sonnet 4.6: the dollar figures below are at its prices
    env = {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": url,
        "BOT_LLM__RETRIES": "0",
        "BOT_LLM__TIMEOUT_S": "1",
    }
    return {**env, "BOT_LLM__MODEL": "claude-sonnet-4-6", **extra}


def _tick(project, url, **extra):
    return run_bot("tick", "--dry-run", "--replay", cwd=project, env=_env(url, **extra))


def _journal(project):
    return [json.loads(line) for line in (project / "var" / "replay" / "journal.jsonl").read_text().splitlines()]


def _state(project):
    return json.loads((project / "var" / "replay" / "state.json").read_text())


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# -- the CLI, end to end -------------------------------------------------------------------------------


def _model_env(url, model, **extra):
    return {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": url,
        "BOT_LLM__RETRIES": "0",
        "BOT_LLM__MODEL": model,
        **extra,
    }


def test_claude_decides_and_the_paper_broker_trades_it(project, fake_anthropic):
    btc = HistoryMarket().snapshot_at(["BTC"], FIRST).coins["BTC"].last_price
    answer = {
        "decisions": [
            {
                "coin": "BTC",
                "action": "BUY",
                "confidence": 0.8,
                "size_pct": 10,
                "leverage": 2,
                "stop_loss": round(btc * 0.98),
                "take_profit": round(btc * 1.04),
                "invalidation": "4h close below EMA50",
                "reasoning": "trend up, room above costs",
            }
        ]
    }
    fake_anthropic.script(tool_call(answer, usage=USAGE))
    result = _tick(project, fake_anthropic.url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("REPLAY (dry-run) tick 1 · 2025-06-02 01:00 UTC · strategy claude · 250602T0100")
    assert "llm 0.0066 USD · 1 call · tokens in 1,000 + cache write 0 + cache read 2,000 · out 200" in result.stdout

    [record] = _journal(project)
    assert record["strategy"] == "claude" and record["outcome"] == "ok"
    [fill] = record["fills"]
    amount = int(10_000 * 0.10 * 2 / btc * 1000) / 1000  # margin 1,000 USD x 2, lot step 0.001 rounded down
    assert (fill["coin"], fill["side"], fill["amount"]) == ("BTC", "long", pytest.approx(amount, abs=1e-9))
    assert fill["price"] == pytest.approx(btc * 1.0002, rel=1e-12)  # 0.02 % slippage against the buy
    assert record["usage"] == {
        "calls": 1,
        "input_tokens": 1000,
        "output_tokens": 200,
        "thinking_tokens": 0,
        "cache_write_tokens": 0,
        "cache_read_tokens": 2000,
        "cost_usd": pytest.approx(0.0066, abs=1e-12),
        "cache_saved_usd": pytest.approx(0.0054, abs=1e-12),
    }  # 2,000 x (3 - 0.30) µ$
    state = _state(project)
    assert state["positions"]["BTC"]["invalidation"] == "4h close below EMA50"
    assert state["llm"]["spend_by_day"]["2025-06-02"]["cost_usd"] == pytest.approx(0.0066, abs=1e-12)

    audit = json.loads((project / "var" / "replay" / "llm" / "250602T0100.json").read_text())
    assert (
        audit["shape"] == "json_schema"
        and audit["response"]["answer"] == answer
        and audit["decisions"][0]["coin"] == "BTC"
    )
    assert audit["user"] == fake_anthropic.requests[0].body["messages"][0]["content"]

    status = run_bot("status", "--replay", cwd=project)
    assert "LLM spend today (2025-06-02 UTC): 0.0066 of 10.00 USD budget · 1 calls" in status.stdout

    # the next tick shows the position to Claude with its net PnL and exit plan
    fake_anthropic.script(tool_call({"decisions": []}, usage=USAGE))
    assert _tick(project, fake_anthropic.url).returncode == 0
    user = fake_anthropic.requests[1].body["messages"][0]["content"]
    assert (
        f"BTC long {amount:g} @ " in user
        and "| PnL net of fees " in user
        and "invalidation: 4h close below EMA50" in user
    )


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (error(429), "Claude rate limit (429 rate_limit_error) (no retries: llm.retries = 0): holding this tick"),
        (error(500), "Anthropic API error 500 (api_error) (no retries: llm.retries = 0): holding this tick"),
        (error(529), "Claude is overloaded (529 overloaded_error) (no retries: llm.retries = 0): holding this tick"),
        (HANG, "no answer from Claude within llm.timeout_s = 1 s (no retries: llm.retries = 0): holding this tick"),
        (
            TRUNCATED,
            "malformed answer from the Anthropic API (not JSON: Unterminated string starting at: line 1 column 53 "
            "(char 52))",
        ),
        (EMPTY, "malformed answer from the Anthropic API (not JSON: Expecting value: line 1 column 1 (char 0))"),
        (
            text_reply("Markets are choppy."),
            "Claude's structured answer is not JSON: 'Markets are choppy.'",
        ),  # output_config.format
        (
            cut_at_max_tokens({"decisions": [{"coin": "BT"}]}),
            "Claude's answer was cut at llm.max_tokens; raise llm.max_tokens in config.toml",
        ),
        (
            tool_call({"decisions": "all in"}),
            'malformed tool input from Claude (expected {"decisions": [...]}, got {"decisions": "all in"})',
        ),
        (None, "cannot reach the Anthropic API at {url} (ConnectError) (no retries: llm.retries = 0)"),
    ],
    ids=["429", "500", "529", "hang", "truncated", "empty", "text", "max_tokens", "malformed_input", "refused"],
)
def test_every_llm_failure_holds_degrades_with_exit_4_and_one_line(project, fake_anthropic, reply, message):
    url = fake_anthropic.url
    if reply is None:
        url = _closed_port_url()
        message = message.format(url=url)
    else:
        fake_anthropic.script(reply)
    result = _tick(project, url)
    assert result.returncode == 4
    assert result.stdout.splitlines()[-1].endswith(f" ms · claude unavailable, holding every coin: {message}")
    [line] = result.stderr.splitlines()
    assert "[error" in line and "llm_unavailable" in line and message.split(" (")[0] in line
    assert "Traceback" not in result.stderr
    [record] = _journal(project)
    assert record["outcome"] == "degraded" and record["decisions"] == [] and record["fills"] == []
    assert _state(project)["cash_usd"] == 10_000 and _state(project)["tick"] == 1  # the tick is recorded, nothing lost


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            error(401),
            "Anthropic rejected ANTHROPIC_API_KEY (401 authentication_error): set a valid key in the environment or "
            ".env",
        ),
        (
            error(400),
            "Anthropic refused the request (400 invalid_request_error: messages: at least one message is required)",
        ),
    ],
    ids=["401", "400"],
)
def test_a_refused_request_fails_the_tick_with_exit_3_and_one_line(project, fake_anthropic, reply, message):
    """Issue 31: the request itself refused is a bug or a configuration, not an outage: a failed tick."""
    fake_anthropic.script(reply)
    result = _tick(project, fake_anthropic.url)
    assert result.returncode == 3
    said = f"claude request refused, holding every coin (llm.on_error = hold): {message}"
    assert result.stdout.splitlines()[-1].endswith(f" ms · {said}")
    [line] = result.stderr.splitlines()
    assert "[error" in line and "llm_request_error" in line and "Traceback" not in result.stderr
    [record] = _journal(project)
    assert record["outcome"] == "failed" and record["decisions"] == [] and record["fills"] == []
    state = _state(project)
    assert state["consecutive_errors"] == 1 and state["llm"]["request_errors"] == 1 and state["cash_usd"] == 10_000


def test_a_bad_key_shows_in_status_until_a_call_succeeds(project, fake_anthropic):
    fake_anthropic.script(error(401))
    assert _tick(project, fake_anthropic.url).returncode == 3
    status = run_bot("status", "--replay", cwd=project)
    assert status.returncode == 0
    assert (
        "LLM: Anthropic rejected ANTHROPIC_API_KEY (401 authentication_error): set a valid key in the environment or "
        ".env" in status.stdout
    )
    assert (
        "LLM request refused since 2025-06-02 01:00 UTC, 1 tick(s) in a row: every coin holds, failed ticks "
        "(llm.on_error = hold)" in status.stdout
    )
    assert _tick(project, fake_anthropic.url).returncode == 0  # the replay clock is 3 min on: past the 60 s backoff
    assert "LLM" not in run_bot("status", "--replay", cwd=project).stdout.replace("LLM spend", "")


def test_the_daily_budget_falls_back_to_rules_and_says_so_once(project, fake_anthropic):
    fake_anthropic.script(*[tool_call({"decisions": []}, usage=USAGE)] * 2)
    results = [_tick(project, fake_anthropic.url, BOT_LLM__MAX_USD_PER_DAY="0.013") for _ in range(4)]
    assert [result.returncode for result in results] == [0, 0, 0, 0]
    assert [r.stdout.split(" · ")[2] for r in results] == [
        "strategy claude",
        "strategy claude",
        "strategy rules",
        "strategy rules",
    ]
    notice = (
        "LLM budget reached: 0.0132 USD spent on 2025-06-02, llm.max_usd_per_day = 0.013; rules decides until 00:00 UTC"
    )
    assert results[2].stdout.splitlines()[-1].endswith(f" ms · {notice}")
    [warning] = results[2].stderr.splitlines()
    assert "llm_budget_reached" in warning
    assert results[3].stderr == "" and notice not in results[3].stdout
    assert len(fake_anthropic.requests) == 2


def test_no_key_runs_the_rules_and_claude_without_a_key_is_a_config_error(project, fake_anthropic):
    auto = run_bot("tick", "--dry-run", "--replay", cwd=project, env={"ANTHROPIC_BASE_URL": fake_anthropic.url})
    assert auto.returncode == 0 and " · strategy rules · " in auto.stdout.splitlines()[0]
    assert fake_anthropic.requests == []
    forced = run_bot("tick", "--dry-run", "--replay", cwd=project, env={"BOT_STRATEGY__NAME": "claude"})
    assert forced.returncode == 2
    assert forced.stderr == (
        'error: `strategy.name = "claude"` needs ANTHROPIC_API_KEY in the environment or in .env beside config.toml '
        '(or set strategy.name = "rules")\n'
    )
    rules = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_env(fake_anthropic.url, BOT_STRATEGY__NAME="rules")
    )
    assert rules.returncode == 0 and " · strategy rules · " in rules.stdout and fake_anthropic.requests == []


def test_a_live_dry_run_tick_trades_claudes_decision(project, live_fake, fake_anthropic):
    # live market from the fake exchange: exit levels around BTC's price at this wall-clock time,
    # the stop well inside the liquidation price the risk step checks
    price = live_fake._last_close("BTC")
    answer = {
        "decisions": [
            {
                "coin": "BTC",
                "action": "BUY",
                "confidence": 0.9,
                "size_pct": 5,
                "leverage": 2,
                "stop_loss": round(price * 0.97),
                "take_profit": round(price * 1.1),
                "reasoning": "scripted",
            }
        ]
    }
    fake_anthropic.script(tool_call(answer))
    env = {
        "BOT_EXCHANGE__API_URL": live_fake.url,
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_anthropic.url,
    }
    result = run_bot("tick", "--dry-run", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.startswith("PAPER (dry-run) tick 1 · ")
        and " · strategy claude · " in result.stdout.splitlines()[0]
    )
    record = json.loads((project / "var" / "journal.jsonl").read_text().splitlines()[-1])
    assert [(fill["coin"], fill["side"]) for fill in record["fills"]] == [("BTC", "long")]
    assert record["usage"]["calls"] == 1 and record["usage"]["cost_usd"] > 0
    assert (project / "var" / "llm" / f"{record['tick_id']}.json").exists()


def test_a_retired_model_stops_the_tick_with_exit_2_and_one_line(project, fake_anthropic):
    (project / "config.toml").write_text(
        '[llm.prices."claude-sonnet-4-5"]\ninput_usd_per_mtok = 3\noutput_usd_per_mtok = 15\ncache_write_usd_per_mtok '
        "= 3.75\ncache_read_usd_per_mtok = 0.3\n"
    )
    result = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_model_env(fake_anthropic.url, "claude-sonnet-4-5")
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: llm.model 'claude-sonnet-4-5' is retired: Anthropic no longer serves it; set llm.model in config.toml "
        "to an active model, "
        "e.g. claude-fable-5-1, claude-opus-5-5, claude-sonnet-5-5, claude-haiku-5-5, claude-sonnet-5"
    ]
    assert not (project / "var" / "replay" / "journal.jsonl").exists()


def test_a_refusal_reaches_the_journal_the_log_and_status(project, fake_anthropic):
    fake_anthropic.script(refusal("general_harms"))
    result = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_model_env(fake_anthropic.url, "claude-sonnet-5-5")
    )
    assert result.returncode == 4
    said = "Claude refused to answer (stop_reason refusal, category general_harms): holding every coin"
    [record] = [json.loads(line) for line in (project / "var" / "replay" / "journal.jsonl").read_text().splitlines()]
    assert record["decisions"] == [] and record["message"] == f"claude unavailable, holding every coin: {said}"
    log = (project / "var" / "logs" / "replay.log").read_text()  # a replay logs to its own file
    assert '"event": "llm_refused"' in log and '"category": "general_harms"' in log
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert status["llm_last_refusal"] == "2025-06-02 general_harms" and status["llm_last_error"] == said


def test_a_deprecated_model_works_and_status_shows_its_retirement(project, fake_anthropic):
    result = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_model_env(fake_anthropic.url, "claude-opus-4-5")
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert (status["llm_model"], status["llm_model_lifecycle"], status["llm_model_retires_at"]) == (
        "claude-opus-4-5",
        "deprecated",
        "2027-01-22T00:00:00Z",
    )
    text = run_bot("status", "--replay", cwd=project).stdout
    assert (
        "LLM model claude-opus-4-5 is DEPRECATED: Anthropic retires it on 2027-01-22; set llm.model to an active model"
        in text
    )


def test_status_shows_todays_cache_hit_ratio_and_the_dollars_it_saved(project, fake_anthropic):
    # a minimum the real prompt's static prefix reaches unpadded (nothing is padded to reach one any more)
    fake_anthropic.cache_min_tokens = 1024
    env = _model_env(fake_anthropic.url, "claude-sonnet-5-5")
    for _ in range(2):
        assert run_bot("tick", "--dry-run", "--replay", cwd=project, env=env).returncode == 0
    first, second = [
        json.loads(line)["usage"] for line in (project / "var" / "replay" / "journal.jsonl").read_text().splitlines()
    ]
    assert first["cache_read_tokens"] == 0 and second["cache_read_tokens"] == first["cache_write_tokens"] > 0
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    prompt = sum(
        usage[key] for usage in (first, second) for key in ("input_tokens", "cache_write_tokens", "cache_read_tokens")
    )
    assert status["llm_cache_hit_ratio_today"] == pytest.approx(second["cache_read_tokens"] / prompt)
    # Sonnet 5.5: a write costs $0.50 per million more than plain input ($2.50 vs $2), a read $1.90 less ($0.10 since
    # the 2026-10 cut)
    saved = (second["cache_read_tokens"] * 1.90 - first["cache_write_tokens"] * 0.50) / 1e6
    assert status["llm_cache_saved_usd_today"] == pytest.approx(saved, abs=1e-12)
    assert status["llm_thinking_tokens_today"] == 240  # the fake's 120 at effort low, twice
    text = run_bot("status", "--replay", cwd=project).stdout
    assert (
        f"cache hits {status['llm_cache_hit_ratio_today']:.0%} of prompt tokens, saved {saved:.4f} USD · thinking 240 "
        f"tokens" in text
    )


def test_gh17_10_when_claude_fails_the_tick_header_comes_first(project, fake_anthropic):
    from tests.fakes.anthropic import error

    fake_anthropic.script(error(401))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    env.update({"ANTHROPIC_API_KEY": "sk-test-0001", "ANTHROPIC_BASE_URL": fake_anthropic.url, "BOT_LLM__RETRIES": "0"})
    both = subprocess.run(  # one stream, as a terminal shows it
        [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert both.returncode == 3  # a refused key fails the tick (issue 31)
    lines = both.stdout.splitlines()
    assert lines[0] == "REPLAY (dry-run) tick 1 · 2025-06-02 01:00 UTC · strategy claude · 250602T0100"
    logged = [index for index, line in enumerate(lines) if "llm_request_error" in line]
    outcome = next(index for index, line in enumerate(lines) if line.startswith("outcome failed"))
    assert logged and min(logged) > outcome  # the warning still shows, after the summary
