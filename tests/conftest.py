"""Shared fixtures: real data paths, a fake exchange on 127.0.0.1, a project config in tmp."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "bot" / "data" / "sample"
# Inside the bundled sample and the shared data: 2025-06-03 12:00 UTC.
NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


def data_dir() -> Path:
    """The full shared data when present (CI has it), else the bundled sample."""
    return SHARED_DATA if (SHARED_DATA / "3m").is_dir() else SAMPLE


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


def run_bot(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real CLI as a subprocess, the way cron does."""
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
