"""`bot backtest --strategy claude` end to end: the real anthropic SDK against the fake Messages API."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_bot
from tests.fakes.anthropic import FakeAnthropic

KEY = "sk-ant-test-backtest-0123456789"
SPAN = ("--coins", "BTC", "ETH", "--to", "2025-06-02T02:00")  # 21 ticks from the sample's first


@pytest.fixture
def anthropic_fake():
    with FakeAnthropic() as fake:
        yield fake


def _env(fake) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": KEY,
        "BOT_LLM__BASE_URL": fake.url,
        "BOT_LLM__MODEL": "claude-sonnet-4-6",
    }  # its cutoff and prices


def test_a_claude_backtest_asks_once_per_tick_and_a_rerun_asks_nothing(project, anthropic_fake):
    first = run_bot("backtest", "--strategy", "claude", *SPAN, "--json", "--yes", cwd=project, env=_env(anthropic_fake))
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert len(anthropic_fake.requests) == 21 and report["ticks"] == 21
    assert report["cache"] == {"hits": 0, "misses": 21} and report["llm_cost_usd"] > 0
    assert report["warnings"][0].startswith("LOOK-AHEAD: claude-sonnet-4-6 was trained on data up to 2025-08-31")
    second = run_bot("backtest", "--strategy", "claude", *SPAN, "--json", cwd=project, env=_env(anthropic_fake))
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert len(anthropic_fake.requests) == 21  # nothing asked
    assert again["cache"] == {"hits": 21, "misses": 0} and again["llm_cost_usd"] == 0.0
    assert again["strategy_metrics"] == report["strategy_metrics"] and again["trade_metrics"] == report["trade_metrics"]
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert KEY not in output


def test_a_claude_backtest_above_max_cost_stops_before_asking(project, anthropic_fake):
    result = run_bot(
        "backtest", "--strategy", "claude", *SPAN, "--max-cost", "0.001", cwd=project, env=_env(anthropic_fake)
    )
    assert result.returncode == 2
    assert (
        "error: stopped at 2025-06-02 01:00 UTC (1 of 21 ticks): --strategy claude: the 21 uncached calls ahead are estimated at up to"
        in result.stderr
    )
    assert "above --max-cost 0.001 USD; raise --max-cost" in result.stderr
    assert anthropic_fake.requests == []


def test_claude_without_a_key_is_a_one_line_usage_error(project):
    result = run_bot("backtest", "--strategy", "claude", cwd=project)
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: --strategy claude needs ANTHROPIC_API_KEY in the environment or in .env beside config.toml (or use --strategy rules)\n"
    )
