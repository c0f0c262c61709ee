"""Run the real CLI with its wall clock set to a chosen time: ``python -m tests.fakes.clocked
2025-06-03T12:00 tick``. The crash soak drives many live ticks a few seconds apart through
this, each at its own 3-minute boundary (the tick id, and so every client order id, comes
from the clock), against a fake exchange whose data clock is set to the same time.

Only ``datetime.now`` as the CLI reads it is changed; the engine gets ``now`` handed in."""

from __future__ import annotations

import sys
from datetime import UTC, datetime


def main() -> None:
    at = datetime.fromisoformat(sys.argv[1]).replace(tzinfo=UTC)

    class _Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 (datetime's signature)
            return at if tz is not None else at.replace(tzinfo=None)

    import bot.cli
    import bot.cli.base

    bot.cli.base.datetime = _Clock
    sys.argv = ["bot", *sys.argv[2:]]
    bot.cli.main()


if __name__ == "__main__":
    main()
