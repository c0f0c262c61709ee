"""The crash soak's figures: live `bot tick` processes SIGKILLed at random points against the
fake exchange (tests/cli/test_crash_soak.py holds the soak and what it checks).

    python bench/crash_soak.py --kills 200 --seed 2011 [--venue hyperliquid] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cli.test_crash_soak import SOAK_VENUES, soak  # noqa: E402 (after the path is set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2011)
    parser.add_argument("--max-runs", type=int, default=None, help="at most this many runs (default: 5 per kill)")
    parser.add_argument(
        "--venue", choices=list(SOAK_VENUES), default="binanceusdm", help="which venue's fake the live ticks trade on"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="run in this (new) folder and keep it: the state and journal to read"
    )
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True)
        result = soak(args.keep, kills=args.kills, seed=args.seed, max_runs=args.max_runs, venue=args.venue)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = soak(Path(folder), kills=args.kills, seed=args.seed, max_runs=args.max_runs, venue=args.venue)
    print(f"{args.venue}: {result.summary()}")
    problems = (
        *result.duplicates,
        *result.unprotected,
        *result.unknown,
        *result.unloadable,
        *result.tracebacks,
        *result.leaks,
        *result.account_off,
        *(f"journal missing {m}" for m in result.journal_missing),
        *(f"journal extra {e}" for e in result.journal_extra),
    )
    for problem in problems:
        print("  ", problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
