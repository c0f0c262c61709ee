"""What the tick plugs in: a market to read, a strategy to ask, a broker to trade, and
where the tick's record goes. Venues, strategies and operations implement these; the
engine knows nothing else of them.

A strategy that pays per call also exposes ``trace`` (a ``Trace``), refreshed by every
``decide``: the engine reads it after deciding, whether ``decide`` returned or raised,
to account the tokens, journal the refused entries and keep the audit record.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from bot.models import (
    CoinFeatures,
    Decision,
    Fill,
    FundingPayment,
    OrderPlan,
    Portfolio,
    Position,
    Snapshot,
    StrictModel,
    TickReport,
    Usage,
)
from bot.tick.briefing import Briefing
from bot.tick.prompt import Prompt

if TYPE_CHECKING:
    from bot.ops.state import BotState
    from bot.tick.context import Pass


class Book(Protocol):
    """The part of the bot's state a broker reads and changes."""

    cash_usd: float
    positions: dict[str, Position]
    fees_paid_usd: float
    realized_pnl_usd: float
    funding_usd: float  # net funding received (+) or paid (-), all time
    funding_payments: list[FundingPayment]  # the payments booked by the last settle()


class Broker(Protocol):
    async def settle(self, *, book: Book, snapshot: Snapshot, now: datetime) -> list[Fill]:
        """Bring ``book`` up to date with what happened since the last tick, before anyone decides.

        Paper: stop-loss / take-profit / liquidation triggers from the candles since the
        last tick and funding settlements, in time order. Live: reconcile with the exchange.
        Sets ``book.funding_payments`` to the funding booked by this call.
        """
        ...

    async def execute(
        self, plans: list[OrderPlan], *, book: Book, prices: dict[str, float], now: datetime
    ) -> list[Fill]:
        """Send ``plans`` in order, update ``book`` and return what filled."""
        ...


class Market(Protocol):
    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        """Closed candles and derivatives data for ``coins`` as of ``now``."""
        ...


class Intel(Protocol):
    async def briefing(self, coins: list[str], now: datetime) -> Briefing:
        """News and sentiment for ``coins`` as of ``now``; a source that fails is named in
        ``skipped``, never raised. The tick keeps only what was published by ``now``."""
        ...


class Strategy(Protocol):
    name: str

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: Prompt
    ) -> list[Decision]:
        """Decisions for the coins the strategy wants to act on; coins left out HOLD."""
        ...


class Trace(StrictModel):
    """What a paid strategy reports besides its decisions."""

    usage: Usage = Field(default_factory=Usage)
    invalid: dict[str, str] = Field(default_factory=dict)  # coin -> why its entry was refused and held
    audit: dict[str, Any] | None = None  # prompt, raw answer, validated decisions: var/llm/<tick_id>.json
    model: str = ""
    shape: str = ""  # how the answer was asked for (json_schema, strict_tool, forced_tool, auto_tool)
    lifecycle: str = ""  # the model's, from the Models API: active | deprecated
    retires_at: datetime | None = None
    refusal: str = ""  # the category, when Claude refused to answer


class Arena(Protocol):
    """Candidate strategies on their own paper books (``bot.arena``): they trade each tick
    on its snapshot and features while the account's strategy decides."""

    async def play(self, run: Pass) -> dict[str, str]:
        """Every candidate's pass on this tick; returns candidate -> why it failed (it held)."""
        ...

    def rotate(self, run: Pass) -> str:
        """The rotation rule, once a day; what to note in the account's report ("" if nothing)."""
        ...


class Store(Protocol):
    def load(self) -> BotState | None: ...
    def save(self, state: BotState) -> None: ...


class Recorder(Protocol):
    def append(self, report: TickReport) -> None: ...


class Auditor(Protocol):
    def write(self, tick_id: str, record: dict[str, Any]) -> None: ...
