"""`bot backtest --compare` (bot/backtest/compare.py): the gap and its bootstrap interval, the
decision agreement, and a scripted model through the real SDK that remembers the span (a gap)
or only reads the numbers it is shown (none)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pytest

from bot.backtest.compare import LIKELY_MEMORY, agreement, gap_interval, verdict
from bot.venues.history import SAMPLE_DIR, _read_csv
from tests.conftest import run_bot
from tests.fakes.anthropic import FakeAnthropic, _hold_everything

KEY = "sk-ant-test-compare-0123456789"
SPAN = ("--coins", "BTC", "ETH", "--to", "2025-06-02T04:00")  # 61 ticks from the sample's first
BTC_CLOSES = {int(row[0]): float(row[4]) for row in _read_csv(SAMPLE_DIR / "3m", "BTCUSDT-3m")}


def test_the_gap_of_a_steady_plain_run_over_a_flat_blind_one_is_its_return_with_no_spread():
    plain = np.array([101.0, 102.01, 103.0301, 104.060401])  # +1 % a tick from 100
    blind = np.array([100.0, 100.0, 100.0, 100.0])
    gap, low, high = gap_interval(plain, blind, initial_usd=100.0, seed=1)
    # every resample of four +1 % ticks is four +1 % ticks: 1.01 ** 4 - 1 = 4.060401 %
    assert (round(gap, 9), round(low, 9), round(high, 9)) == (4.060401, 4.060401, 4.060401)
    assert verdict(low, high).startswith(LIKELY_MEMORY)
    assert gap_interval(blind, blind, initial_usd=100.0, seed=1) == (0.0, 0.0, 0.0)
    assert verdict(0.0, 0.0) == "no significant gap"


def test_a_gap_made_of_one_lucky_tick_has_an_interval_that_holds_zero():
    plain = np.array([100.0] * 24 + [110.0] + [110.0] * 24)  # one jump of +10 % in 49 ticks
    blind = np.full(49, 100.0)
    gap, low, high = gap_interval(plain, blind, initial_usd=100.0, seed=1)
    assert round(gap, 9) == 10.0
    assert low == 0.0 and high >= 10.0  # resamples without the jump's block exist: not evidence
    assert verdict(low, high) == "no significant gap"


def test_agreement_counts_same_actions_on_the_ticks_both_runs_were_asked():
    plain = {1: {"BTC": "BUY", "ETH": "HOLD"}, 2: {"BTC": "CLOSE", "ETH": "HOLD"}, 3: {"BTC": "HOLD", "ETH": "HOLD"}}
    blind = {1: {"BTC": "HOLD", "ETH": "HOLD"}, 2: {"BTC": "CLOSE", "ETH": "SELL"}}  # tick 3 not asked
    assert agreement(plain, blind) == (50.0, 4)  # BTC@1 differs, ETH@2 differs
    assert agreement(plain, {}) == (None, 0)


def _text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(block.get("text", "") for block in content)


def _remembers(body: dict) -> dict:
    """A model that knows BTC's next 3 minutes once it sees "BTC" and the date (it is always on the
    side of the next move); blind, it holds every coin."""
    text = _text(body)
    when = re.search(r"^Time (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", text, flags=re.MULTILINE)
    if "== BTC ==" not in text or when is None:
        return _hold_everything(body)
    now_ms = int(datetime.strptime(when.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)
    price, later = BTC_CLOSES[now_ms - 180_000], BTC_CLOSES[now_ms]  # this tick's price, the next tick's
    held = re.search(r"^BTC (long|short) ", text, flags=re.MULTILINE)
    want = "long" if later > price else "short" if later < price else held.group(1) if held else None
    if want is None or (held and held.group(1) == want):
        return {"decisions": []}
    stop = price * (0.97 if want == "long" else 1.03)
    action = "BUY" if want == "long" else "SELL"  # on the other side's position: closes it and opens this one
    return {"decisions": [{"coin": "BTC", "action": action, "confidence": 0.9, "size_pct": 50, "leverage": 3,
                           "stop_loss": stop, "reasoning": "I remember this day"}]}  # fmt: skip


def _reads_the_numbers(body: dict) -> dict:
    """A model that trades what it is shown: long while the price is above its EMA20, closed below it."""
    text, decisions = _text(body), []
    for coin, price, ema in re.findall(r"^== (\w+) ==\nprice (\S+) \| ema20 (\S+)", text, flags=re.MULTILINE):
        p, e = float(price), float(ema)
        held = re.search(rf"^{coin} long ", text, flags=re.MULTILINE)
        if held and p < e:
            decisions.append({"coin": coin, "action": "CLOSE", "confidence": 0.9})
        elif not held and p > e * 1.0005:
            decisions.append(
                {"coin": coin, "action": "BUY", "confidence": 0.9, "size_pct": 20, "leverage": 2, "stop_loss": p * 0.97}
            )
    return {"decisions": decisions}


def _compare(project, fake: FakeAnthropic):
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "BOT_LLM__BASE_URL": fake.url,
        "BOT_LLM__MODEL": "claude-sonnet-4-6",
        "BOT_RISK__MAX_ENTRIES_PER_HOUR": "100",  # a flip a tick: the remembering model's
        "BOT_RISK__MAX_ENTRIES_PER_DAY": "1000",
    }
    # no fee, no slippage: a model on the side of every next move gains on every tick it holds
    args = ("backtest", "--strategy", "claude", *SPAN, "--fee", "0", "--slippage", "0", "--compare", "--json", "--yes")
    result = run_bot(*args, cwd=project, env=env, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "--compare: a plain and a blind run of the same span: 122 uncached calls at most, up to 1.08 USD" in (
        result.stderr
    )  # twice the one run's estimate below (61 calls at 0.0089 USD each: 0.54 USD)
    assert result.stderr.count("Claude backtest: 61 decisions with claude-sonnet-4-6") == 2  # both runs priced
    return json.loads(result.stdout)


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server


def test_a_model_that_remembers_the_span_shows_a_gap_labelled_likely_memory(project, fake):
    fake.respond = _remembers
    shown = _compare(project, fake)
    assert len(fake.requests) == 122  # the blind run asked anew: the cache keys blind prompts apart
    blind_requests = [_text(r.body) + str(r.body["system"]) for r in fake.requests[61:]]
    assert not any("BTC" in text or "2025-" in text for text in blind_requests)
    assert shown["plain"]["trades"] > 0 and shown["blind"]["trades"] == 0 and shown["blind"]["return_pct"] == 0.0
    assert shown["gap_pct"] == pytest.approx(shown["plain"]["return_pct"], abs=1e-9) and shown["gap_pct"] > 0
    assert shown["gap_low_pct"] > 0 and shown["verdict"].startswith(LIKELY_MEMORY)
    assert shown["agreement_pct"] < 100.0 and shown["decisions_compared"] == 122  # 61 ticks x 2 coins
    again = _compare(project, fake)
    assert len(fake.requests) == 122  # both runs answered from the cache: the same table, nothing paid
    assert again["plain"]["llm_cost_usd"] == again["blind"]["llm_cost_usd"] == 0.0
    for run in ("plain", "blind"):
        again[run]["llm_cost_usd"] = shown[run]["llm_cost_usd"]
    assert again == shown


def test_a_model_that_only_reads_the_numbers_shows_no_gap(project, fake):
    fake.respond = _reads_the_numbers
    shown = _compare(project, fake)
    assert shown["plain"]["trades"] > 0 and shown["blind"]["trades"] == shown["plain"]["trades"]
    assert shown["agreement_pct"] == 100.0
    assert abs(shown["gap_pct"]) < 0.01 and shown["verdict"] == "no significant gap"


def test_the_rules_compared_blind_and_plain_agree_on_every_decision_with_no_gap(project):
    args = ("backtest", "--coins", "BTC", "ETH", "--to", "2025-06-02T06:00", "--compare", "--json")
    result = run_bot(*args, cwd=project, timeout=120)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["ticks"] == 101 and shown["plain"] == shown["blind"] and shown["plain"]["trades"] > 0
    assert shown["plain"]["outcomes"] == {"ok": 101}
    assert shown["agreement_pct"] == 100.0 and shown["decisions_compared"] == 202
    assert (shown["gap_pct"], shown["gap_low_pct"], shown["gap_high_pct"]) == (0.0, 0.0, 0.0)
    assert result.stderr == (
        "--compare: a plain and a blind run of the same span (each run's estimate follows; --max-cost applies to "
        "each run)\n"
    )  # the rules cost nothing: no estimate


def test_compare_with_out_or_arena_is_one_line_and_exit_2(project):
    for flag in (("--out", str(project / "report")), ("--arena",)):
        result = run_bot("backtest", "--compare", *flag, cwd=project)
        assert result.returncode == 2
        assert result.stderr == (
            f"error: --compare with {flag[0]}: the comparison prints one table; run each alone for its own report\n"
        )
        assert result.stdout == "" and not (project / "report").exists()
