"""Decision cache: any strategy, its answers remembered on disk by what it was asked.

The key is a SHA-256 of the strategy's identity (model and the settings that shape its
answer) and the exact prompt (system and user part). The prompt of a tick holds the
time, every number the model sees and the account, so the same backtest asks the same
questions in the same order: a re-run is answered from the cache, sends no request,
costs nothing and reproduces the first run exactly. A changed setting, model or prompt
template misses and asks again. Failures (the inner strategy raised) are not cached.

Storage: one SQLite file (stdlib, atomic commits, safe against a crash mid-run: every
answer is committed before it is used, so an interrupted backtest resumes for free).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.models import CoinFeatures, Decision, Portfolio, Usage
from bot.tick.protocols import PromptView, Strategy, Trace, WrappedStrategy


class DecisionCache:
    """key -> (decisions, what the answer cost, the entries the strategy refused)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("CREATE TABLE IF NOT EXISTS decisions (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"decision cache {path}: {exc}; move the file away (it only saves API calls) "
                "or fix the folder's permissions"
            ) from None

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT answer FROM decisions WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, answer: dict[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO decisions (key, answer) VALUES (?, ?)", (key, json.dumps(answer)))
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def cache_key(identity: str, prompt: PromptView) -> str:
    digest = hashlib.sha256()
    parts = (
        (identity, prompt.system, prompt.user, prompt.memory)
        if prompt.memory
        else (identity, prompt.system, prompt.user)
    )
    for part in parts:  # without a memory, the key of a run before trade memories existed
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class CachedStrategy(WrappedStrategy):
    """``inner`` behind the cache. ``trace`` is the inner strategy's after a call it
    answered, and one with no cost after a cache hit (nothing was paid)."""

    def __init__(self, inner: Strategy, *, cache: DecisionCache, identity: str, bill_hits: bool = False) -> None:
        super().__init__(inner)
        self.cache, self.identity = cache, identity
        # a hit reports what the answer cost when first asked (the arena's books: a re-run scores the same)
        self.bill_hits = bill_hits
        self.hits = self.misses = 0
        self.saved_usd = 0.0  # what the cached answers cost when they were first asked

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        key = cache_key(self.identity, prompt)
        answer = self.cache.get(key)
        if answer is not None:
            self.hits += 1
            self.saved_usd += answer.get("usage", {}).get("cost_usd", 0.0)
            self.trace = _free_trace(answer)
            if self.bill_hits and answer.get("usage"):
                self.trace.usage = Usage.model_validate(answer["usage"])
            return [Decision.model_validate(decision) for decision in answer["decisions"]]
        decisions = await super().decide(features=features, portfolio=portfolio, prompt=prompt)
        self.misses += 1
        trace = self.trace
        self.cache.put(
            key,
            {
                "decisions": [decision.model_dump(mode="json") for decision in decisions],
                "usage": trace.usage.model_dump(mode="json") if trace is not None else {},
                "invalid": dict(trace.invalid) if trace is not None else {},
            },
        )
        return decisions


def _free_trace(answer: dict[str, Any]) -> Trace:
    """What a cache hit reports to the engine: no usage, the refused entries as first answered."""
    return Trace(invalid=answer.get("invalid", {}))
