"""What the tick plugs in: a market to read, a strategy to ask, a broker to trade, and
where the tick's record goes. Venues, strategies and operations implement these; the
engine knows nothing else of them: every member it reads is declared here (a test reads
``bot/tick/`` and fails on any ``getattr`` / ``hasattr``).

Every strategy has a ``trace``: a paid one's ``Trace`` is refreshed by every ``decide``
and read by the engine after deciding, whether ``decide`` returned or raised, to account
the tokens, journal the refused entries and keep the audit record; a free one's is None.
A strategy that asks another one (a cache, a gate, the arena's active candidate) builds
on ``WrappedStrategy``, which forwards the inner one's ``name`` and ``trace``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import Field

from bot.models import (
    CoinFeatures,
    Correction,
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
from bot.ops.state import BotState
from bot.tick.briefing import Briefing


class Book(Protocol):
    """The part of the bot's state a broker reads and changes."""

    cash_usd: float
    positions: dict[str, Position]
    fees_paid_usd: float
    realized_pnl_usd: float
    funding_usd: float  # net funding received (+) or paid (-), all time
    funding_payments: list[FundingPayment]  # the payments booked by the last settle()


class Broker(Protocol):
    # What the broker changed or could not do outside an order's fill (the live broker's
    # reconciliation; the paper broker's funding charged without a rate): the tick moves
    # them into its report after `settle` and `execute` and clears the list; an alert
    # degrades the tick.
    corrections: list[Correction]

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


class PromptView(Protocol):
    """What a strategy is asked: a built ``Prompt``, or the tick's ``DeferredPrompt`` that
    builds its text on first read. ``briefing`` (the news and sentiment the text renders)
    reads without building it: the rules' sentiment filter never pays for the text."""

    @property
    def system(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def memory(self) -> str: ...
    @property
    def briefing(self) -> Briefing | None: ...


class Strategy(Protocol):
    name: str
    # A paid strategy's report of its last `decide` (see `Trace`), refreshed by every
    # call; None for a free strategy (rules, hold) and for a wrapper that asked nobody.
    trace: Trace | None

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        """Decisions for the coins the strategy wants to act on; coins left out HOLD."""
        ...


class WrappedStrategy:
    """A strategy that asks another one (``inner``) with a policy around it: the decision
    cache, the backtest's cost gate and every-n-th tick, the arena's active candidate.

    Its ``name`` is the inner one's and its ``trace`` the inner one's after the call
    ``decide`` made (None until then, and for a tick a subclass answers without asking):
    forwarded here once, whether the inner call returned or raised. A subclass adds its
    policy in its own ``decide`` and asks through ``super().decide``.
    """

    trace: Trace | None = None

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        inner = self.inner
        self.trace = None
        try:
            return await inner.decide(features=features, portfolio=portfolio, prompt=prompt)
        finally:
            self.trace = inner.trace


class Trace(StrictModel):
    """What a paid strategy reports besides its decisions."""

    usage: Usage = Field(default_factory=Usage)
    invalid: dict[str, str] = Field(default_factory=dict)  # coin -> why its entry was refused and held
    audit: dict[str, Any] | None = None  # prompt, raw answer, validated decisions: var/llm/<tick_id>.json
    model: str = ""
    shape: str = ""  # how the answer was asked for (json_schema, strict_tool, forced_tool, auto_tool)
    lifecycle: str = ""  # the model's, from the Models API: active | deprecated
    retires_at: datetime | None = None
    profile_of: str = ""  # the provider whose profile stood in for a Models API it does not serve
    refusal: str = ""  # the category, when Claude refused to answer


class Arena(Protocol):
    """Candidate strategies on their own paper books (``bot.arena``): they trade each tick
    on its snapshot and features while the account's strategy decides."""

    async def play(
        self,
        *,
        snapshot: Snapshot,
        features: dict[str, CoinFeatures],
        briefing: Briefing | None,
        mode: str,
        now: datetime,
        clock: Callable[[], float],
    ) -> dict[str, str]:
        """Every candidate's pass on this tick (what the account's tick fetched and
        computed, handed down; ``clock`` times its stages); returns candidate -> why it
        failed (it held)."""
        ...

    def rotate(self, now: datetime) -> str:
        """The rotation rule, once a day; what to note in the account's report ("" if nothing)."""
        ...


class Store(Protocol):
    def load(self) -> BotState | None: ...
    def save(self, state: BotState) -> None: ...


class Recorder(Protocol):
    """Where each tick's report goes: the journal file, or a backtest's lists in memory."""

    def append(self, report: TickReport) -> None: ...

    def last_fills(self) -> list[Fill]:
        """The fills of the newest report appended ([] before the first). A run killed
        between saving the state and appending leaves booked fills this does not hold:
        the next tick recovers them (an in-memory recorder shares the process with its
        state, so it always holds them)."""
        ...


class Auditor(Protocol):
    def write(self, tick_id: str, record: dict[str, Any]) -> None: ...
