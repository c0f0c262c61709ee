"""`bot pause`, `bot stop`, `bot resume` and `bot notify-summary` (bot/cli/control.py) as real
processes over a replay account."""

from __future__ import annotations

import json

from tests.cli.clikit import _replay_tick
from tests.conftest import run_bot
from tests.fakes.notify import NotifyEndpoint


def test_pause_and_resume_by_hand_in_replay(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    paused = run_bot("pause", "--replay", "--reason", "FOMC tonight", cwd=project)
    assert paused.returncode == 0
    assert paused.stdout == "paused: FOMC tonight. Ticks keep managing open positions; `bot resume` trades again.\n"
    status = run_bot("status", "--replay", cwd=project)
    assert (
        "PAUSED by user since " in status.stdout and ": FOMC tonight (open positions are still managed" in status.stdout
    )
    tick = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert tick.returncode == 6  # ran, managed positions, opened nothing
    assert "no new positions: paused by user: FOMC tonight" in tick.stdout
    record = json.loads((project / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
    assert record["paused"] is True and all(f["reduce_only"] for f in record["fills"])
    assert run_bot("resume", "--replay", cwd=project).stdout == "resumed: lifted pause (FOMC tonight)\n"
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    assert json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)["paused"] is False


def test_stop_by_hand_closes_every_position_at_the_next_tick(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    state_file = project / "var" / "replay" / "state.json"
    held = sorted(json.loads(state_file.read_text())["positions"])
    assert held  # the replay's first tick opens positions (see test_pause_and_resume_by_hand_in_replay)
    stopped = run_bot("stop", "--replay", "--reason", "exchange incident", cwd=project)
    assert stopped.returncode == 0, stopped.stderr
    assert (
        stopped.stdout
        == f"stopping: exchange incident. The next tick closes every open position ({', '.join(held)}) and opens none; "
        f"`bot resume` cancels.\n"
    )
    assert json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)["stop_requested"] is True
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    record = json.loads((project / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
    assert sorted(f["coin"] for f in record["fills"]) == held and all(f["reduce_only"] for f in record["fills"])
    assert json.loads(state_file.read_text())["positions"] == {}
    assert run_bot("resume", "--replay", cwd=project).stdout == "resumed: lifted pause (exchange incident)\n"
    assert json.loads(state_file.read_text())["stop_requested"] is False


def test_daily_summary_is_sent_once(project):
    with NotifyEndpoint() as endpoint:
        env = {"BOT_NOTIFY__URLS": json.dumps([endpoint.url])}
        assert run_bot("tick", "--dry-run", "--replay", cwd=project, env=env).returncode == 0
        opened = len(endpoint.received)
        assert opened >= 1 and all(body["title"].startswith("bot replay: trade opened") for body in endpoint.messages())
        first = run_bot("notify-summary", "--replay", "--day", "2025-06-02", cwd=project, env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("equity ") and first.stdout.endswith("\nsent\n")
        again = run_bot("notify-summary", "--replay", "--day", "2025-06-02", cwd=project, env=env)
        assert again.stdout.endswith("not sent: the summary for 2025-06-02 was already sent\n")
    summary = endpoint.messages()[opened:]
    assert len(summary) == 1 and summary[0]["title"] == "bot replay: daily summary 2025-06-02"
    assert f"ticks: 1 ok; fills: {opened}," in summary[0]["message"]
    none = run_bot("notify-summary", "--replay", cwd=project)
    assert none.returncode == 2 and "no notification URLs" in none.stderr


def test_gh17_2_a_summary_no_url_accepted_is_not_marked_sent_and_replay_uses_the_simulated_day(project):
    with NotifyEndpoint(status=500) as down:
        env = {"BOT_NOTIFY__URLS": json.dumps([down.url])}
        assert _replay_tick(project, **env).returncode == 0  # at 2025-06-02 01:00, the sample's first replay time
        failed = run_bot("notify-summary", "--replay", cwd=project, env=env)
    assert failed.returncode == 3 and failed.stdout == ""  # never "sent"
    assert failed.stderr.splitlines()[-1] == (
        "error: the summary for 2025-06-02 was not delivered: every URL in notify.urls failed "
        f"(see `notify_failed` in {project / 'var' / 'logs' / 'replay.log'}); it is not marked sent, run the command "
        f"again"
    )
    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    assert "summary:2025-06-02" not in state["notified"]
    with NotifyEndpoint() as up:
        sent = run_bot("notify-summary", "--replay", cwd=project, env={"BOT_NOTIFY__URLS": json.dumps([up.url])})
    assert sent.returncode == 0 and sent.stdout.endswith("\nsent\n")
    assert [body["title"] for body in up.messages()] == ["bot replay: daily summary 2025-06-02"]
