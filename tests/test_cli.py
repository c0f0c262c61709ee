"""The CLI as cron runs it: subprocesses, offline replay, one-line errors, fast start-up."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import run_bot


def _journal(project, replay=True):
    path = project / "var" / ("replay" if replay else "") / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_replay_ticks_advance_the_simulated_clock_and_keep_the_paper_account(project):
    first = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("REPLAY (dry-run) tick 1 · 2025-06-02 01:00 UTC · strategy rules")
    assert "coins 6/6 loaded: BTC ETH SOL BNB DOGE XRP" in first.stdout
    assert first.stderr == ""
    second = run_bot("tick", "--replay", "--dry-run", cwd=project)
    assert second.returncode == 0, second.stderr
    assert "tick 2 · 2025-06-02 01:03 UTC" in second.stdout

    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    records = _journal(project)
    assert [record["tick"] for record in records] == [1, 2]
    assert state["tick"] == 2 and state["last_tick_at"] == "2025-06-02T01:03:00Z"
    # The account carried over: the first tick's fills cost fees that the second starts from.
    fees = sum(fill["fee_usd"] for record in records for fill in record["fills"])
    assert state["fees_paid_usd"] > 0 and abs(state["fees_paid_usd"] - fees) < 1e-9
    assert records[1]["account"]["cash_usd"] == records[0]["account"]["cash_usd"]
    assert set(state["positions"]) == {fill["coin"] for fill in records[0]["fills"]}
    # Logs: JSON lines, every tick line bound to its tick id; a replay has its own file.
    lines = [json.loads(line) for line in (project / "var" / "logs" / "replay.log").read_text().splitlines()]
    done = [line for line in lines if line["event"] == "tick_done"]
    assert [line["tick_id"] for line in done] == ["250602T0100", "250602T0103"]


def test_replay_from_a_given_time_and_its_limits(project):
    result = run_bot("tick", "--dry-run", "--replay", "2025-06-04T10:00", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "2025-06-04 10:00 UTC" in result.stdout
    back = run_bot("tick", "--dry-run", "--replay", "2025-06-03T00:00", cwd=project)
    assert back.returncode == 2
    assert back.stderr.startswith("error: the replay in ") and "cannot go back in time" in back.stderr
    too_late = run_bot("tick", "--dry-run", "--replay", "2025-06-09T00:00", cwd=project)
    assert too_late.returncode == 2 and too_late.stderr == (  # a time asked for: nothing to remove, pick another
        "error: --replay 2025-06-09T00:00: past the end of the history (2025-06-05 00:00 UTC); pick an earlier time or pass --data-dir with more history\n"
    )
    bad = run_bot("tick", "--replay", "yesterday", cwd=project)
    assert (
        bad.returncode == 2
        and bad.stderr.strip()
        == "error: --replay: 'yesterday' is not a time; use ISO format like 2025-06-02T01:00 (UTC)"
    )


def test_config_errors_are_one_line_with_exit_code_2(project):
    (project / "config.toml").write_text('[trading]\ncoins = ["BTC"]\nleverage = 3\n')
    result = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert result.returncode == 2
    assert result.stderr == f"error: {project / 'config.toml'}: unknown setting `trading.leverage`\n"
    assert result.stdout == ""
    missing = run_bot("status", "--config", str(project / "nope.toml"), cwd=project)
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    usage = run_bot("tick", "--bogus", cwd=project)
    assert usage.returncode == 2 and "No such option" in usage.stderr and "Traceback" not in usage.stderr


def test_live_trading_without_keys_stops_with_one_line_and_touches_nothing(project):
    result = run_bot("tick", cwd=project, env={"BOT_ENABLE_TRADING": "true"})
    assert result.returncode == 2
    assert result.stderr == (
        "error: `enable_trading = true` needs EXCHANGE_API_KEY and EXCHANGE_SECRET in the environment or .env beside the config; "
        "set them or run with --dry-run\n"
    )
    assert not (project / "var" / "state.json").exists()


def test_live_trading_without_the_written_confirmation_is_refused(project):
    result = run_bot(
        "tick",
        cwd=project,
        env={"BOT_ENABLE_TRADING": "true", "EXCHANGE_API_KEY": "key-0001", "EXCHANGE_SECRET": "secret-0002"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        'error: `enable_trading = true` also needs `[live] confirm = "I understand this trades real money"`'
    )
    assert "Traceback" not in result.stderr


def test_corrupt_state_stops_the_tick_and_is_kept(project):
    state = project / "var" / "replay" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 1, "tick": ')
    result = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert result.returncode == 5
    assert result.stderr.startswith(f"error: {state} is corrupt or truncated")
    assert "Traceback" not in result.stderr
    assert state.read_text() == '{"version": 1, "tick": '


def test_status_reads_the_state_the_ticks_left(project):
    empty = run_bot("status", "--replay", cwd=project)
    assert empty.returncode == 2 and "run `bot tick --dry-run --replay` first" in empty.stderr
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    human = run_bot("status", "--replay", cwd=project)
    assert human.returncode == 0
    assert human.stdout.startswith("mode REPLAY · 1 ticks · last 2025-06-02 01:00 UTC · outcome ok")
    machine = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert machine["ticks"] == 1 and machine["last_tick_id"] == "250602T0100" and machine["last_outcome"] == "ok"


def test_help_and_status_start_fast_without_heavy_imports(project):
    # A bound on work, not on seconds (bench/tick.py and bench/ops.py time them): the
    # modules each loads. 161 for --help (plain click help: no rich) and 410 for status when written; pandas alone
    # adds ~520 and ccxt ~840, so a heavy import slipping in breaks the bound.
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    probe = (
        "import sys, runpy; sys.argv = ['bot', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('ccxt', 'anthropic', 'pandas', 'ta', 'apprise', 'numpy', 'feedparser', 'aiohttp', 'dask', 'distributed', 'matplotlib') if m in sys.modules]\n"
        "built = [m for m in ('TickReport', 'OrderPlan', 'RiskVerdict') if 'bot.models' in sys.modules and sys.modules['bot.models'].__dict__[m].__pydantic_complete__]\n"
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


def test_bad_exchange_id_names_the_setting(project):
    result = run_bot("tick", "--dry-run", cwd=project, env={"BOT_EXCHANGE__ID": "binanceusd"})
    assert result.returncode == 2
    assert result.stderr == "error: `exchange.id`: unknown ccxt exchange 'binanceusd' — did you mean `binanceusdm`?\n"
    assert not (project / "var" / "state.json").exists()  # not a tick: nothing recorded


def test_replay_reads_another_data_dir(project):
    from tests.conftest import data_dir

    result = run_bot("tick", "--dry-run", "--replay", "--data-dir", str(data_dir()), cwd=project)
    assert result.returncode == 0, result.stderr
    # the test market's 3m candles start 2025-05-29 00:00, so 500 closed ones exist from 01:00 the next day
    assert "tick 1 · 2025-05-30 01:00 UTC" in result.stdout
    missing = run_bot("tick", "--dry-run", "--replay", "--data-dir", str(project / "nowhere"), cwd=project)
    assert missing.returncode == 2 and "has no 3m/ folder" in missing.stderr
