"""The `[arena]` settings: candidate strategies trading the same ticks on their own paper
books, and the rotation that picks which one runs the account (``bot.arena``).

Held as ``Settings.arena``. A candidate changes only what makes a strategy: its kind, its `[llm]`
and `[rules]` keys and its own daily LLM budget; risk, fees and coins are the account's, so
every book faces the same rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator

from bot.config.base import Section
from bot.errors import did_you_mean


class Candidate(Section):
    name: str = Field(
        pattern=r"^[a-z0-9_-]{1,30}$", description="short name: `bot arena pin NAME`, the leaderboard, var/arena/NAME/"
    )
    strategy: str = Field(
        description="a kind of bot.strategies.KINDS: rules, the baseline; claude, asks Claude with this candidate's "
        "[llm] keys; checked when the arena is opened"
    )
    provider: str | None = Field(
        None, description="llm.provider for this candidate: a built-in profile or a [providers.NAME] table"
    )
    llm: dict[str, Any] = Field(
        default_factory=dict, description="[llm] keys for this candidate, e.g. model, effort, thinking, memory_trades"
    )
    rules: dict[str, Any] = Field(
        default_factory=dict, description="[rules] keys for this candidate, e.g. stop_atr, size_pct"
    )
    max_usd_per_day: float = Field(
        2.0, ge=0, description="this candidate's own daily LLM budget (UTC day); reached: it holds until midnight"
    )
    blind: bool | None = Field(
        None, description="`bot backtest --arena` only: ask this candidate blind (default: backtest.blind)"
    )
    instances: int = Field(
        1,
        ge=1,
        le=8,
        description="independent paper books of these same settings (NAME, NAME.2, ... NAME.N), each with its own "
        "calls and budget: the leaderboard shows their spread, rotation scores their mean",
    )

    @property
    def books(self) -> list[str]:
        """Its books' names: the first is the candidate's own name (and var/arena/NAME/)."""
        return [self.name] + [f"{self.name}.{k}" for k in range(2, self.instances + 1)]


class Rotation(Section):
    """Off by default: the account stays with `arena.active` (or the pinned candidate)."""

    enabled: bool = Field(False, description="once a day at `time`, hand the account to the best candidate")
    time: dt.time = Field(dt.time(0, 0), description="UTC time of day of the rotation, HH:MM")
    window_days: float = Field(7.0, gt=0, le=365, description="trailing window the candidates are scored over")
    metric: Literal["sharpe", "return_over_drawdown", "return"] = Field(
        "sharpe", description="score over the window, on equity net of fees, funding and LLM cost"
    )
    min_ticks: int = Field(
        480,
        ge=2,
        description="minimum track record: ticks in the window (480 = one day) before a candidate can win; with "
        "metric sharpe at least a day whatever this says (below it the Sharpe is n/a)",
    )
    margin: float = Field(
        0.25, ge=0, description="a challenger must beat the incumbent's score by this much: no flapping"
    )
    min_probability: float | None = Field(
        None,
        gt=0.5,
        lt=1,
        description="also require significance: the challenger's probabilistic Sharpe ratio against the incumbent "
        "(the chance its true Sharpe is higher) at least this, e.g. 0.95; unset: the margin alone decides",
    )


class ArenaSettings(Section):
    candidates: list[Candidate] = Field(
        default_factory=list, description="empty: no arena, the account's own strategy decides"
    )
    active: str = Field(
        "", description="the candidate running the account until a rotation or a pin; default: the first one"
    )
    rotation: Rotation = Rotation()

    @model_validator(mode="after")
    def _names(self) -> ArenaSettings:
        names = [candidate.name for candidate in self.candidates]
        if twice := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"candidate name {twice[0]!r} is used twice: give every [[arena.candidates]] its own name")
        if self.active and self.active not in names:
            raise ValueError(
                f"active = {self.active!r} is not a candidate{did_you_mean(self.active, names)} "
                f"(candidates: {', '.join(names) or 'none'})"
            )
        return self

    @property
    def initial(self) -> str:
        return self.active or (self.candidates[0].name if self.candidates else "")

    def candidate(self, name: str) -> Candidate | None:
        return next((candidate for candidate in self.candidates if candidate.name == name), None)
