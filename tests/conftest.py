"""Shared fixtures: real data paths, a fake exchange on 127.0.0.1, a project config in tmp."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"  # the full data: only the slow cross-check and bench/ read it
SAMPLE = ROOT / "bot" / "data" / "sample"
FIXTURE = ROOT / "tests" / "data" / "market"  # the rows the tests need beyond the sample
# Inside the bundled sample and the test market: 2025-06-03 12:00 UTC.
NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


@cache
def data_dir() -> Path:
    """The test market: the bundled sample plus tests/data/market (3m from 2025-05-29, 4h
    and funding from 2025-01-25, 1h from 2025-05-29, all to 2025-06-06), merged once per run into a temporary
    folder as plain CSV. Every test reads the project's own files, the same on a fresh
    clone as in CI (tests/data/make_market.py says where the rows come from)."""
    import pandas as pd

    folder = Path(tempfile.mkdtemp(prefix="bot-test-market-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for part in sorted(FIXTURE.glob("*/*.csv.gz")):
        in_sample = SAMPLE / part.parent.name / part.name
        rows = pd.concat([pd.read_csv(part), *([pd.read_csv(in_sample)] if in_sample.exists() else [])]).sort_values(
            "timestamp"
        )
        (folder / part.parent.name).mkdir(exist_ok=True)
        rows.to_csv(folder / part.parent.name / part.name.removesuffix(".gz"), index=False)
    return folder


@pytest.fixture
def fake_exchange():
    from tests.fakes.exchange import FakeExchange

    with FakeExchange(data_dir(), now=NOW) as fake:
        yield fake


@pytest.fixture
def live_fake():
    """A fake exchange whose data clock follows the wall clock, so `bot tick` sees a current market."""
    from tests.fakes.exchange import FakeExchange

    with FakeExchange(data_dir(), now=NOW, follow_wall_clock=True) as fake:
        yield fake


@pytest.fixture
def fake_anthropic():
    from tests.fakes.anthropic import FakeAnthropic

    with FakeAnthropic(hang_seconds=10) as fake:
        yield fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a minimal config.toml; var/ will appear beside it."""
    (tmp_path / "config.toml").write_text("[exchange]\ntimeout_ms = 2000\nretries = 1\n")
    return tmp_path


def run_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run the real CLI as a subprocess, the way cron does."""
    full_env = {
        key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
