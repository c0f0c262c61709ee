"""`bot models` end to end: the real CLI and the real SDK against the fake Models and Messages API."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import run_bot
from tests.fakes.anthropic import ModelSpec

PRICED_LISTED = [  # the fake's active and deprecated models, in its order (its retired Sonnet 4.5 is not listed)
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-sonnet-5",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-5",
]
USER_TOKENS = 860 * 6 // 4  # catalog.USER_CHARS_PER_COIN for the six default coins: 1,290 tokens


def _env(url, **extra):
    return {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": url, "BOT_LLM__RETRIES": "0", **extra}


def _models(project, url, *args):
    result = run_bot("models", "--json", *args, cwd=project, env=_env(url))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_listed_model_with_a_price_with_its_request_price_cutoff_and_estimate(project, fake_anthropic):
    fake_anthropic.models["claude-unpriced-test"] = ModelSpec("claude-unpriced-test", "no price")
    listing = _models(project, fake_anthropic.url)
    rows = {row["id"]: row for row in listing["models"]}
    assert list(rows) == PRICED_LISTED and listing["unpriced"] == ["claude-unpriced-test"]
    sonnet = rows["claude-sonnet-5-5"]
    assert (sonnet["lifecycle"], sonnet["shape"], sonnet["thinking"], sonnet["effort"]) == (
        "active",
        "json_schema",
        "adaptive",
        "low",
    )
    assert sonnet["price"] == {
        "input_usd_per_mtok": 2.0,
        "output_usd_per_mtok": 10.0,
        "cache_write_usd_per_mtok": 2.5,
        "cache_read_usd_per_mtok": 0.1,
        "checked": "2026-12-07",
        "source": "https://platform.claude.com/docs/en/about-claude/pricing",
    }
    assert sonnet["knowledge_cutoff"] == "2026-06-30" and sonnet["cache_minimum"] == "unknown"
    cost = sonnet["per_tick"]
    # nothing learned yet: priced uncached, 480 x (prompt x $2 + 240 out x $10) per million
    prompt = cost["prompt_tokens"]
    assert prompt > USER_TOKENS and cost["output_tokens"] == 240 and cost["measured_ticks"] == 0
    assert cost["cached"] is None
    assert cost["usd_per_day"] == pytest.approx(480 * (prompt * 2 + 240 * 10) / 1e6)
    # the same prompt on Haiku 4.5: no adaptive thinking, no effort (neither is sent); deprecated with its date
    haiku, opus = rows["claude-haiku-4-5"], rows["claude-opus-4-5"]
    assert (haiku["thinking"], haiku["effort"]) == ("default", None)
    assert (opus["lifecycle"], opus["retires_at"]) == ("deprecated", "2027-01-22T00:00:00Z")
    assert opus["knowledge_cutoff"] == "2025-08-31"
    # every listed model's answer kept in var/cache for the next tick
    cached = sorted(path.stem for path in (project / "var" / "cache" / "models").glob("*.json"))
    assert cached == sorted([*PRICED_LISTED, "claude-unpriced-test"])
    text = run_bot("models", cwd=project, env=_env(fake_anthropic.url)).stdout
    assert "claude-sonnet-5-5 (llm.model) · active\n  request  json_schema, thinking adaptive, effort low\n" in text
    assert "claude-opus-4-5 · deprecated, retires 2027-01-22\n" in text
    assert text.endswith("listed without a price (add one under [llm.prices] to use it):\n  claude-unpriced-test\n")
    assert "  source   https://platform.claude.com/docs/en/models/haiku-5-5/overview\n  checked  2026-12-07\n" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_model_the_journal_holds_is_measured_and_its_cache_minimum_learned(project, fake_anthropic):
    fake_anthropic.cache_min_tokens = 1024  # below the real prompt's static prefix: cached from the first tick
    env = _env(fake_anthropic.url, BOT_LLM__MODEL="claude-sonnet-5-5")
    for _ in range(2):
        assert run_bot("tick", "--dry-run", "--replay", cwd=project, env=env).returncode == 0
    usages = [json.loads(line) for line in (project / "var" / "replay" / "journal.jsonl").read_text().splitlines()]
    assert [record["model"] for record in usages] == ["claude-sonnet-5-5"] * 2
    first, second = (record["usage"] for record in usages)
    rows = {row["id"]: row for row in _models(project, fake_anthropic.url, "--replay")["models"]}
    cost = rows["claude-sonnet-5-5"]["per_tick"]
    prompts = [u["input_tokens"] + u["cache_write_tokens"] + u["cache_read_tokens"] for u in (first, second)]
    assert cost["measured_ticks"] == 2 and cost["prompt_tokens"] == round(sum(prompts) / 2)
    assert cost["usd_per_day"] == pytest.approx((first["cost_usd"] + second["cost_usd"]) / 2 * 480)
    # the first answer wrote the cache: the minimum is at most the prefix the tick closed with its breakpoint
    assert rows["claude-sonnet-5-5"]["cache_minimum"] == f"<= {first['cache_write_tokens']:,}"
    assert rows["claude-haiku-5-5"]["per_tick"]["measured_ticks"] == 0  # no tick on it: an estimate


def test_without_a_key_or_an_api_one_line_and_its_exit_code(project, fake_anthropic):
    result = run_bot("models", cwd=project, env={"ANTHROPIC_BASE_URL": fake_anthropic.url})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: bot models reads Anthropic's Models API: set ANTHROPIC_API_KEY in the environment or .env\n"
    )
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = run_bot("models", cwd=project, env=_env(closed))
    assert down.returncode == 3 and down.stdout == ""
    assert down.stderr.startswith(f"error: cannot reach the Anthropic Models API at {closed}")
    assert down.stderr.endswith(": try again later\n") and down.stderr.count("\n") == 1
    wrong = run_bot("models", "--jsn", cwd=project, env=_env(fake_anthropic.url))
    assert wrong.returncode == 2 and "No such option: --jsn" in wrong.stderr
    assert not (project / "var" / "cache" / "models").exists()  # nothing half-written by the failures
