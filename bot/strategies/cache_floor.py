"""Each model's minimum cacheable prefix, learned from the API's own answers, kept in var/cache.

Anthropic's prompt-caching page documents a per-model minimum below which a cache
breakpoint caches nothing, silently: no error, and both usage counters
(``cache_creation_input_tokens``, ``cache_read_input_tokens``) are 0. The newest models'
minimums are not published, and a hard-coded table goes stale (it had no 5.5 model at
all). So every answer is read as a measurement of the request it answers: counters at 0
while the last breakpoint closed a prefix of N tokens mean the minimum is above N; a
counter above 0 means that prefix reached it. The two bounds are kept per model in
``var/cache/prompt_cache.json`` (tokens as the bot estimates them, 4 characters a token,
the unit every prefix is measured in here); a lost or unreadable file only means
learning again from the next answer.

What they are for: saying whether this prompt is cached on this model, measured, not
assumed (``bot models`` prices a day from it). Nothing is padded to reach a minimum
(``bot.strategies.request`` says why).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import structlog
from pydantic import Field, ValidationError

from bot.models import StrictModel

log = structlog.get_logger(__name__)
FILE = "prompt_cache.json"


class CacheFloor(StrictModel):
    """What the API's answers say of one model's minimum cacheable prefix (estimated tokens)."""

    above: int = Field(0, ge=0)  # the minimum is above this: the longest prefix sent that cached nothing
    at_most: int | None = Field(None, ge=0)  # the minimum is at most this: the shortest prefix that was cached

    def caches(self, tokens: int) -> bool | None:
        """Whether a prefix of ``tokens`` is cached on this model; None while the answers cannot tell."""
        if self.at_most is not None and tokens >= self.at_most:
            return True
        if tokens <= self.above:
            return False
        return None

    def said(self) -> str:
        """The bounds in words, for a table cell."""
        if self.at_most is not None and self.above:
            return f"{self.above + 1:,}-{self.at_most:,}"
        if self.at_most is not None:
            return f"<= {self.at_most:,}"
        return f"> {self.above:,}" if self.above else "unknown"


def learn(floor: CacheFloor, *, prefixes: list[int], written: int, read: int) -> CacheFloor:
    """``floor`` after one answer: ``prefixes`` are the estimated tokens closed by each breakpoint
    of the request (``request.breakpoint_prefixes``), ``written`` / ``read`` the API's counters."""
    if not prefixes:
        return floor
    last = max(prefixes)
    if written + read == 0:
        return floor.model_copy(update={"above": max(floor.above, last)})
    return floor.model_copy(update={"at_most": last if floor.at_most is None else min(floor.at_most, last)})


def load_floors(cache_dir: Path | None) -> dict[str, CacheFloor]:
    """model -> what is known of its minimum; empty when nothing was learned or the file is unreadable."""
    if cache_dir is None:
        return {}
    try:
        raw = json.loads((cache_dir / FILE).read_text())
        return {model: CacheFloor.model_validate(floor) for model, floor in raw.items()}
    except (OSError, ValueError, AttributeError, ValidationError):
        return {}


def remember(cache_dir: Path | None, model: str, floor: CacheFloor) -> None:
    """Keep ``floor`` for ``model`` (a write that fails costs a re-learning, nothing else)."""
    if cache_dir is None:
        return
    floors = load_floors(cache_dir)
    if floors.get(model) == floor:
        return
    floors[model] = floor
    path = cache_dir / FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({name: value.model_dump() for name, value in sorted(floors.items())}, indent=1))
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("cache_floor_not_saved", path=str(path), error=str(exc))
