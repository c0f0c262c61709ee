"""``GET /metrics``: the Prometheus exposition, built at each scrape from state.json and
the journal (the server keeps no counters of its own, so a restart loses nothing).
Counters come from the journal, its compressed parts included (their indexes): a rotation
does not restart them."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.models import Outcome
from bot.serve.deps import Sources


class BotCollector(Collector):
    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        state, problem = self.sources.state.read()
        yield GaugeMetricFamily(
            "bot_state_readable",
            "1 when state.json was read, 0 when it is missing or unreadable",
            value=0 if state is None or problem else 1,
        )
        if state is None:
            return
        index = self.sources.index.refresh()
        mode = [state.mode]
        gauge = _with_mode(GaugeMetricFamily, mode)
        if state.last_tick_at:
            yield gauge(
                "bot_last_tick_timestamp_seconds",
                "time of the last tick (simulated in replay), Unix seconds",
                state.last_tick_at.timestamp(),
            )
        if state.last_duration_ms is not None:
            yield gauge("bot_last_tick_duration_seconds", "duration of the last tick", state.last_duration_ms / 1000)
        ticks = CounterMetricFamily(
            "bot_ticks", "ticks recorded in the journal, by outcome", labels=["mode", "outcome"]
        )
        for outcome in Outcome:
            ticks.add_metric([state.mode, outcome.value], index.outcomes.get(outcome.value, 0))
        yield ticks
        prices = state.last_prices
        yield gauge("bot_equity_usd", "account equity at the last tick's prices, USDT", state.last_equity_usd)
        yield gauge("bot_open_positions", "open positions", len(state.positions))
        exposure = sum(p.notional_usd(prices.get(coin, p.entry_price)) for coin, p in state.positions.items())
        yield gauge("bot_exposure_usd", "notional of the open positions at the last prices, USDT", exposure)
        yield gauge("bot_consecutive_failures", "failed ticks in a row", state.consecutive_errors)
        yield gauge("bot_paused", "1 when paused (no new positions)", int(state.paused))
        yield gauge("bot_stop_requested", "1 when every position closes at the next tick", int(state.stop_requested))
        tokens = CounterMetricFamily("bot_llm_tokens", "LLM tokens billed, by kind (journal)", labels=["mode", "kind"])
        for kind in ("input", "output", "cache_write", "cache_read"):
            tokens.add_metric([state.mode, kind], getattr(index.usage, f"{kind}_tokens"))
        yield tokens
        yield _with_mode(CounterMetricFamily, mode)(
            "bot_llm_cost_usd", "LLM spend, USD (journal)", index.usage.cost_usd
        )
        yield _with_mode(CounterMetricFamily, mode)("bot_llm_calls", "LLM calls (journal)", index.usage.calls)


def _with_mode(kind: type, mode: list[str]):
    def metric(name: str, documentation: str, value: float) -> Metric:
        family = kind(name, documentation, labels=["mode"])
        family.add_metric(mode, value)
        return family

    return metric


def exposition(sources: Sources) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BotCollector(sources))
    return generate_latest(registry)
