"""The protocols say everything the engine reads: no ``getattr`` / ``hasattr`` under
``bot/tick/``, every strategy's ``trace``, every broker's ``corrections``, every
recorder's ``last_fills``, and ``WrappedStrategy`` forwarding an inner strategy's
``name`` and ``trace`` once for every wrapper."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.arena.arena import ActiveStrategy, ReportList, memory_arena
from bot.backtest.loop import EveryNthTick, _Recorder
from bot.config import LlmSettings, PaperSettings, RulesSettings, Settings
from bot.models import Fill, Outcome, Side, TickReport, Usage
from bot.ops.journal import Journal
from bot.strategies import HoldStrategy
from bot.strategies.claude import ClaudeStrategy
from bot.strategies.ema_cross import EmaCrossStrategy
from bot.strategies.rules import RulesStrategy
from bot.tick.protocols import Trace, WrappedStrategy
from bot.venues.paper import PaperBroker

TICK = Path(__file__).resolve().parents[2] / "bot" / "tick"
NOW = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


def test_the_tick_reads_no_member_its_protocols_do_not_declare():
    """A member read through getattr / hasattr is one the protocols do not say exists."""
    found = [
        f"{path.name}:{node.lineno} {node.func.id}"
        for path in sorted(TICK.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"getattr", "hasattr"}
    ]
    assert not found, f"declare these members in bot/tick/protocols.py and read them directly: {found}"


def test_the_protocols_import_nothing_for_type_checking_only():
    """No TYPE_CHECKING import hides a cycle between the protocols and the tick's context."""
    assert "TYPE_CHECKING" not in (TICK / "protocols.py").read_text()


def test_a_free_strategy_has_no_trace_and_a_paid_one_has_one():
    free = [RulesStrategy(RulesSettings()), EmaCrossStrategy(), HoldStrategy()]
    assert [strategy.trace for strategy in free] == [None, None, None]
    claude = ClaudeStrategy(LlmSettings(), api_key="sk-test")
    assert isinstance(claude.trace, Trace)


def test_the_paper_broker_declares_its_corrections():
    assert PaperBroker(PaperSettings()).corrections == []


def _fill(coin: str) -> Fill:
    return Fill(coin=coin, side=Side.LONG, amount=1.0, price=100.0, fee_usd=0.05, client_order_id=f"t-{coin}", at=NOW)


def _report(*fills: Fill) -> TickReport:
    return TickReport(
        tick_id="250602T0100",
        tick=1,
        mode="paper",
        dry_run=True,
        as_of=NOW,
        strategy="rules",
        outcome=Outcome.OK,
        fills=list(fills),
    )


@pytest.mark.parametrize(
    "make", [lambda tmp: Journal(tmp / "journal.jsonl"), lambda _: _Recorder(10_000), lambda _: ReportList()]
)
def test_every_recorder_answers_the_fills_of_its_newest_report(tmp_path, make):
    recorder = make(tmp_path)
    assert recorder.last_fills() == []
    recorder.append(_report(_fill("BTC")))
    recorder.append(_report(_fill("ETH")))
    assert recorder.last_fills() == [_fill("ETH")]


class _Paid:
    """Pays for every call; the trace of the last one, whether it answered or raised."""

    name = "paid"
    trace: Trace | None = None

    def __init__(self, *, fail: bool = False) -> None:
        self.fail, self.calls = fail, 0

    async def decide(self, *, features, portfolio, prompt):
        self.calls += 1
        self.trace = Trace(usage=Usage(calls=1, cost_usd=0.01 * self.calls))
        if self.fail:
            raise TimeoutError("the API took too long")
        return []


class _Passing(WrappedStrategy):
    pass


def test_a_wrapper_has_the_inner_strategy_s_name_and_the_trace_of_the_call_it_made():
    inner = _Paid()
    wrapper = _Passing(inner)
    assert wrapper.name == "paid" and wrapper.trace is None  # nothing asked yet
    asyncio.run(wrapper.decide(features={}, portfolio=None, prompt=None))
    assert wrapper.trace is inner.trace and wrapper.trace.usage.cost_usd == pytest.approx(0.01)


def test_a_wrapper_forwards_the_trace_of_a_call_that_raised():
    inner = _Paid(fail=True)
    wrapper = _Passing(inner)
    with pytest.raises(TimeoutError):
        asyncio.run(wrapper.decide(features={}, portfolio=None, prompt=None))
    assert wrapper.trace is inner.trace  # what the failed call cost is still accounted


def test_a_wrapper_that_asks_nobody_this_tick_has_no_trace():
    every = EveryNthTick(_Paid(), 2)
    asyncio.run(every.decide(features={}, portfolio=None, prompt=None))
    assert every.trace is not None
    asyncio.run(every.decide(features={}, portfolio=None, prompt=None))
    assert every.trace is None  # held without asking: nothing paid


def test_the_active_strategy_is_named_after_the_candidate_and_forwards_its_trace():
    settings = Settings(
        _env_file=None,
        arena={"candidates": [{"name": "first", "strategy": "rules"}, {"name": "second", "strategy": "rules"}]},
    )
    paid = _Paid()
    active = ActiveStrategy(memory_arena(settings, make_strategy=lambda _own: paid))
    assert active.name == "first" and active.trace is None
    asyncio.run(active.decide(features={}, portfolio=None, prompt=None))
    assert active.trace is paid.trace
