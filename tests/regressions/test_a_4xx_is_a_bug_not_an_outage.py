"""Issue 31: the API refusing the request itself (400/401/403/404/413) is a bug or a configuration,
not an outage. It fails the tick (alert, backoff, self-pause) or, with `llm.on_error = "rules"`, lets
the rules decide while it lasts; a model retired mid-run is found at once. The real SDK against the
fake Messages API, the engine's whole tick."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.errors import ConfigError
from bot.models import Action, Outcome, Side
from bot.ops.notify import EventKind
from bot.tick.engine import run_tick
from bot.tick.status import build_status
from tests.fakes.anthropic import ModelSpec, error, tool_call
from tests.strategies.claudekit import START, _ctx, _run

REFUSED = "Anthropic refused the request (400 invalid_request_error: messages: at least one message is required)"
OPS = {"max_consecutive_errors": 3, "recovery_backoff_seconds": 60, "max_backoff_seconds": 3600}


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent = []

    def send(self, events) -> int:
        self.sent += events
        return len(events)


def test_a_400_on_three_ticks_alerts_backs_off_and_pauses(fake_anthropic, tmp_path):
    notifier = MemoryNotifier()
    ctx = _ctx(fake_anthropic, ops=OPS, notifier=notifier)
    fake_anthropic.script(error(400), error(400), error(400))
    # each run lands just past the backoff the failure before set: 60 s, then 120 s
    reports = [_run(ctx, minutes) for minutes in (0, 3, 6)]
    state = ctx.store.state
    assert [report.outcome for report in reports] == [Outcome.FAILED] * 3
    assert reports[0].message == f"claude request refused, holding every coin (llm.on_error = hold): {REFUSED}"
    assert all(report.decisions == [] and report.fills == [] for report in reports)
    assert state.consecutive_errors == 3 and state.llm.request_errors == 3 and state.llm.last_error == REFUSED
    assert state.llm.request_error_since == START
    assert state.backoff_until == START + timedelta(minutes=6, seconds=240)  # 60 x 2^2
    assert state.paused and state.pause_reason.startswith("3 failed ticks in a row, last: claude request refused")
    kinds = [event.kind for event in notifier.sent]
    assert kinds == [EventKind.TICK_FAILED] * 3 + [EventKind.EMERGENCY_PAUSE]
    assert notifier.sent[0].body.startswith(f"tick 250603T1200 failed (1 in a row): {reports[0].message}")
    status = build_status(
        state, settings=ctx.settings, state_file=tmp_path / "state.json", now=START + timedelta(minutes=7)
    )
    assert status.llm_request_refused == (
        "since 2025-06-03 12:00 UTC, 3 tick(s) in a row: every coin holds, failed ticks (llm.on_error = hold)"
    )


def test_with_on_error_rules_the_rules_decide_while_it_lasts_and_the_first_one_alerts(fake_anthropic, tmp_path):
    notifier = MemoryNotifier()
    ctx = _ctx(fake_anthropic, ops=OPS, notifier=notifier, on_error="rules")
    fake_anthropic.script(error(400), error(400), error(400))
    reports = [_run(ctx, minutes) for minutes in (0, 3, 6)]
    state = ctx.store.state
    said = f"claude request refused, rules decide (llm.on_error = rules): {REFUSED}"
    assert [report.outcome for report in reports] == [Outcome.DEGRADED] * 3
    assert all(said in report.message for report in reports)  # every tick's summary says it
    assert not state.paused and state.consecutive_errors == 0 and state.backoff_until is None
    assert state.llm.request_errors == 3
    # the rules decided and traded: on the bundled sample they short ETH at 12:00 (4h and 3m trends down), then
    # hold the position; Claude spent no token
    [entry] = reports[0].decisions
    assert (entry.coin, entry.action, entry.size_pct) == ("ETH", Action.SELL, 10.0)
    assert entry.reasoning.startswith("4h and 3m trends down")
    assert [(fill.coin, fill.side) for fill in reports[0].fills] == [("ETH", Side.SHORT)]
    assert reports[1].decisions == reports[2].decisions == [] and "ETH" in state.positions
    assert all(report.usage.calls == 0 for report in reports)
    [alert] = [event for event in notifier.sent if event.kind is not EventKind.TRADE_OPENED]  # the first one only
    assert alert.kind is EventKind.LLM_REQUEST_ERROR and alert.body.startswith(REFUSED)
    status = build_status(
        state, settings=ctx.settings, state_file=tmp_path / "state.json", now=START + timedelta(minutes=7)
    )
    assert status.llm_request_refused == (
        "since 2025-06-03 12:00 UTC, 3 tick(s) in a row: the rules decide (llm.on_error = rules)"
    )
    # an answer ends the streak: Claude decides again
    fake_anthropic.script(tool_call({"decisions": []}))
    again = _run(ctx, 9)
    assert again.outcome is Outcome.OK and again.strategy == "claude" and ctx.store.state.llm.request_errors == 0


@pytest.mark.parametrize("status", [429, 500, 529])
def test_an_outage_holds_this_tick_and_counts_nothing(fake_anthropic, status):
    ctx = _ctx(fake_anthropic, ops=OPS)
    fake_anthropic.script(error(status))
    report = _run(ctx)
    assert report.outcome is Outcome.DEGRADED and report.message.startswith("claude unavailable, holding every coin")
    assert ctx.store.state.consecutive_errors == 0 and ctx.store.state.llm.request_errors == 0


def test_a_model_retired_mid_run_is_found_at_once_naming_priced_models(fake_anthropic, tmp_path):
    fake_anthropic.models["claude-unpriced-test"] = ModelSpec("claude-unpriced-test", "active, but no price")
    ctx = _ctx(fake_anthropic, cache_dir=tmp_path)
    assert _run(ctx).outcome is Outcome.OK  # the capabilities are cached for 24 h
    lookups = len(fake_anthropic.model_lookups)
    fake_anthropic.models["claude-sonnet-4-6"] = replace(
        fake_anthropic.models["claude-sonnet-4-6"], lifecycle="retired", retires_at="2025-06-03T12:01:00Z"
    )
    with pytest.raises(ConfigError) as caught:
        asyncio.run(run_tick(ctx, START + timedelta(minutes=3)))
    assert str(caught.value) == (
        "llm.model 'claude-sonnet-4-6' is retired: Anthropic no longer serves it; set llm.model in config.toml to an "
        "active model, e.g. claude-fable-5-1, claude-opus-5-5, claude-sonnet-5-5, claude-haiku-5-5, claude-sonnet-5"
    )
    # the 404 made the bot ask the Models API at once (the model, then the active list), not in 24 h
    assert fake_anthropic.model_lookups[lookups].startswith("/v1/models/claude-sonnet-4-6")
    assert len(fake_anthropic.model_lookups) == lookups + 2
