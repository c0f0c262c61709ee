"""`bot status` and `bot journal` (bot/cli/status.py) as real processes: what the ticks left,
every documented JSON field, a newer state, a cron that stopped ticking."""

from __future__ import annotations

import json

import pytest

from tests.cli.clikit import _replay_tick
from tests.conftest import run_bot


def test_newer_state_stops_tick_and_status_with_code_5(project):
    state = project / "var" / "replay" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 7}')
    for args in (["tick", "--dry-run", "--replay"], ["status", "--replay"], ["pause", "--replay"]):
        result = run_bot(*args, cwd=project)
        assert result.returncode == 5, args
        assert result.stderr.startswith(f"error: {state} has schema version 7, newer than this bot understands (2)")
        assert result.stderr.count("\n") == 1
    assert state.read_text() == '{"version": 7}'


def test_status_json_carries_every_documented_field_and_journal_lists_ticks_and_trades(project):
    for _ in range(2):
        assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    from bot.tick.status import StatusReport

    assert set(status) == set(StatusReport.model_fields)
    assert status["ticks"] == 2 and status["mode"] == "replay" and status["next_tick_at"] == "2025-06-02T01:06:00Z"
    positions = status["positions"]
    assert positions and all(p["stop_loss"] and p["take_profit"] for p in positions)
    for p in positions:
        direction = 1 if p["side"] == "long" else -1
        assert p["unrealized_pnl_usd"] == pytest.approx(
            direction * (p["mark_price"] - p["entry_price"]) * p["amount"], abs=1e-9
        )
    assert status["equity_usd"] == pytest.approx(status["cash_usd"] + status["unrealized_pnl_usd"], abs=1e-6)

    ticks = json.loads(run_bot("journal", "--replay", "-n", "1", "--json", cwd=project).stdout)
    assert [row["tick"] for row in ticks] == [2]
    trades = json.loads(run_bot("journal", "--replay", "--trades", "--json", cwd=project).stdout)
    assert len(trades) == len(positions) and {t["coin"] for t in trades} == {p["coin"] for p in positions}
    table = run_bot("journal", "--replay", cwd=project)
    assert table.returncode == 0 and "last 2 ticks" in table.stdout


def test_status_warns_when_cron_has_not_ticked_for_a_while(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    # The replayed account as a live one whose last tick was 2025: cron is clearly not running.
    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    (project / "var" / "state.json").write_text(json.dumps({**state, "mode": "paper"}))
    status = run_bot("status", cwd=project)
    assert status.returncode == 0
    assert (
        "WARNING: no tick for " in status.stdout
        and "minutes: is cron running it? (`crontab -l`, `tail var/logs/cron.log`)" in status.stdout
    )


def test_status_reads_the_state_the_ticks_left(project):
    empty = run_bot("status", "--replay", cwd=project)
    assert empty.returncode == 2 and "run `bot tick --dry-run --replay` first" in empty.stderr
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    human = run_bot("status", "--replay", cwd=project)
    assert human.returncode == 0
    assert human.stdout.startswith("mode REPLAY · 1 ticks · last 2025-06-02 01:00 UTC · outcome ok")
    machine = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert machine["ticks"] == 1 and machine["last_tick_id"] == "250602T0100" and machine["last_outcome"] == "ok"


def test_after_the_quick_start_status_and_journal_point_to_the_replay_account(project):
    fresh = run_bot("status", cwd=project)
    assert fresh.returncode == 2 and fresh.stderr == (
        f"error: no state in {project / 'var'} yet: run `bot tick --dry-run --replay` first (offline, on the bundled "
        f"sample), "
        "or `bot tick --dry-run` on live data\n"
    )
    assert _replay_tick(project).returncode == 0
    status, journal = run_bot("status", cwd=project), run_bot("journal", cwd=project)
    assert status.stderr == (
        f"error: no state in {project / 'var'} yet: the replay ticks are in the replay account: `bot status --replay` "
        "(`bot tick --dry-run` ticks on live data)\n"
    )
    assert journal.returncode == 2 and "`bot journal --replay`" in journal.stderr
