"""In-memory stand-ins for the state store, the journal and a strategy: a tick driven in a test
writes nothing to disk and decides what the test scripted."""

from __future__ import annotations

from bot.ops.state import BotState


class MemoryStore:
    def __init__(self) -> None:
        self.state: BotState | None = None
        self.saves = 0

    def load(self) -> BotState | None:
        return self.state.model_copy(deep=True) if self.state else None

    def save(self, state: BotState) -> None:
        self.state = state.model_copy(deep=True)
        self.saves += 1


class MemoryJournal(list):
    append = list.append

    def last_fills(self):
        return self[-1].fills if self else []


class ScriptedStrategy:
    """Returns the next scripted item each tick; an exception instance is raised instead."""

    name = "scripted"
    trace = None  # free: nothing to account

    def __init__(self, *script) -> None:
        self.script = list(script)

    async def decide(self, *, features, portfolio, prompt):
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item
