"""The CLI's entry (bot/cli/__init__.py): help and version without noise, a fast start without
heavy imports, output into a closed pipe."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.cli.clikit import _replay_tick
from tests.conftest import run_bot


def test_gh17_9_output_into_a_closed_pipe_is_not_a_bug(project):
    assert _replay_tick(project).returncode == 0
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    for args in (["journal", "--replay"], ["status", "--replay"], ["--help"]):
        reader_gone = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        reader_gone.stdout.close()  # before the command prints anything: its first write meets a closed pipe
        assert reader_gone.wait(timeout=60) == 0, args
        assert reader_gone.stderr.read() == b"", args
        reader_gone.stderr.close()


def test_version_short_help_and_help_without_type_noise(project):
    from importlib.metadata import version

    assert run_bot("--version", cwd=project).stdout == f"bot {version('bot')}\n"
    short, long = run_bot("tick", "-h", cwd=project), run_bot("tick", "--help", cwd=project)
    assert short.returncode == 0 and short.stdout == long.stdout
    assert (
        "  --dry-run  " in short.stdout
        and "<bool>" not in short.stdout
        and "<bool>" not in run_bot("-h", cwd=project).stdout
    )


def test_help_and_status_start_fast_without_heavy_imports(project):
    # A bound on work, not on seconds (bench/tick.py and bench/ops.py time them): the
    # modules each loads. 161 for --help (plain click help: no rich) and 410 for status when written; pandas alone
    # adds ~520 and ccxt ~840, so a heavy import slipping in breaks the bound.
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    probe = (
        "import sys, runpy; sys.argv = ['bot', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('ccxt', 'anthropic', 'pandas', 'ta', 'apprise', 'numpy', 'feedparser', 'aiohttp', "
        "'dask', 'distributed', 'matplotlib', 'telegram', 'httpx') if m in sys.modules]\n"
        "built = [m for m in ('TickReport', 'OrderPlan', 'RiskVerdict') if 'bot.models' in sys.modules and "
        "sys.modules['bot.models'].__dict__[m].__pydantic_complete__]\n"
        "print('BUILT', built, 'HEAVY', heavy, 'MODULES', len(sys.modules))"
    )
    for args, most in ((["--help"], 250), (["status", "--replay"], 480)):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], cwd=project, capture_output=True, text=True, timeout=30
        )
        assert "HEAVY []" in result.stdout, (args, result.stdout, result.stderr)
        assert int(result.stdout.split("MODULES")[1]) <= most, (args, result.stdout)
        # The tick's contracts defer their validators (StrictModel's defer_build): status never builds one (TickReport,
        # OrderPlan, RiskVerdict).
        assert "BUILT []" in result.stdout, (args, result.stdout)
