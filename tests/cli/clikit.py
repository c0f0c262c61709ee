"""One `bot tick --dry-run --replay` process in a project folder, as the CLI tests run it."""

from __future__ import annotations

from tests.conftest import run_bot


def _replay_tick(project, **env):
    return run_bot("tick", "--dry-run", "--replay", cwd=project, env=env)
