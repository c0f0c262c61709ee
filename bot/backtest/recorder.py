"""The memory of a backtest between ticks: the state kept in memory and the journal that
keeps per tick only what the report reads (``bot.backtest.loop.run_backtest``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from bot.models import CorrectionKind, Fill, Outcome, TickReport, Verdict
from bot.ops.state import BotState


class _MemoryStore:
    """State kept in memory between ticks: the same object, never copied or written."""

    def __init__(self) -> None:
        self.state: BotState | None = None

    def load(self) -> BotState | None:
        return self.state

    def save(self, state: BotState) -> None:
        self.state = state


class _Recorder:
    """The journal of a backtest: keeps per tick only what the report needs."""

    _MESSAGES = 5

    def __init__(self, initial_usd: float) -> None:
        self.times_ms: list[int] = []
        self.equity: list[float] = []
        self.exposed: list[bool] = []
        self.fills: list[Fill] = []
        self.funding: list[tuple[str, datetime, float]] = []  # coin, settlement time, USD received (+) or paid (-)
        self.cost_usd = 0.0
        self.unknown_funding: list[str] = []  # coins of settlements passed without a rate
        self.stale_funding: list[str] = []  # coins of settlements passed with only an earlier settlement's rate
        self.outcomes: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()  # the risk step's refusals by code
        self.messages: list[str] = []
        self._last_equity = initial_usd
        self._last_fills: list[Fill] = []

    def last_fills(self) -> list[Fill]:
        return self._last_fills

    def quiet(self, time_ms: int, equity: float, exposed: bool) -> None:
        """A tick the skip plan booked (bot/backtest/skip.py): what ``append`` keeps of an OK
        tick with no fill, no funding, no correction and no refusal."""
        self._last_fills = []
        self.times_ms.append(time_ms)
        self._last_equity = equity
        self.equity.append(equity)
        self.exposed.append(exposed)
        self.outcomes[Outcome.OK.value] += 1

    def append(self, report: TickReport) -> None:
        self._last_fills = report.fills
        self.times_ms.append(int(report.as_of.timestamp() * 1000))
        if report.account is not None:
            self._last_equity = report.account.equity_usd
        self.equity.append(self._last_equity)
        self.exposed.append(bool(report.positions))
        self.fills.extend(report.fills)
        for payment in report.funding:  # the paper broker's funding settlements
            self.funding.append((payment.coin, payment.at, payment.amount_usd))
        for correction in report.corrections:
            if correction.kind is CorrectionKind.FUNDING_UNKNOWN:
                self.unknown_funding.append(correction.coin)
            elif correction.kind is CorrectionKind.FUNDING_STALE:
                self.stale_funding.append(correction.coin)
        for verdict in report.verdicts:
            if verdict.verdict is Verdict.REJECTED:
                self.rejections.update(code.value for code in verdict.codes)
        self.cost_usd += report.usage.cost_usd
        self.outcomes[report.outcome.value] += 1
        if report.outcome is not Outcome.OK and report.message and len(self.messages) < self._MESSAGES:
            self.messages.append(f"{report.as_of:%Y-%m-%d %H:%M} {report.outcome}: {report.message}")
