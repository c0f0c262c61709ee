"""var/arena/arena.json: which candidate runs the account, since when, pinned or not, and
the rotations so far. Written atomically like state.json (``bot.ops.state``); the
candidates' own books are ordinary state.json / journal.jsonl pairs in var/arena/NAME/.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import Field, ValidationError

from bot.errors import StateError
from bot.models import StrictModel
from bot.ops.state import write_atomic

ROTATIONS_KEPT = 50


class RotationRecord(StrictModel):
    """One daily scoring at `arena.rotation.time`, whether it switched or not."""

    at: datetime
    incumbent: str
    chosen: str  # == incumbent when nobody beat it by the margin
    scores: dict[str, float | None]  # candidate -> score over the window (None: too short a track record)
    reason: str
    probabilities: dict[str, float | None] = Field(
        default_factory=dict
    )  # challenger -> P(its Sharpe above the incumbent's) over the window (PSR; None: too short a sample)


class ArenaRecord(StrictModel):
    active: str
    since: datetime | None = None  # when it got the account (None: from the first tick)
    pinned: bool = False  # `bot arena pin NAME`: rotation leaves it alone until `unpin`
    last_rotation_day: str = ""  # "YYYY-MM-DD" of the last scoring: once a day
    rotations: list[RotationRecord] = Field(default_factory=list)  # the last ROTATIONS_KEPT, oldest first


class ArenaStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ArenaRecord | None:
        try:
            return ArenaRecord.model_validate(json.loads(self.path.read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "corrupt or not an arena record"
            raise StateError(
                f"{self.path}: cannot read ({why}); move it away: the arena starts again from `arena.active`"
            ) from None

    def save(self, record: ArenaRecord) -> None:
        record.rotations = record.rotations[-ROTATIONS_KEPT:]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, record.model_dump_json(indent=1).encode())
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot write ({exc.strerror or exc}); make {self.path.parent} writable, then run again"
            ) from None
