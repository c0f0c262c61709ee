"""Issue 34, bug 1: `truncate -s -100 var/replay/journal.jsonl; bot tick --dry-run --replay;
bot journal --replay` glued the tick's whole record onto the torn line (one unreadable line),
so `bot journal` lost it while `bot status` counted it; a garbage line was skipped unsaid."""

from __future__ import annotations

import json
import os

from tests.cli.clikit import _replay_tick
from tests.conftest import run_bot


def test_a_torn_last_line_is_set_aside_and_every_tick_after_it_is_listed(project):
    for _ in range(4):
        assert _replay_tick(project).returncode == 0
    journal = project / "var" / "replay" / "journal.jsonl"
    whole = journal.read_bytes()
    os.truncate(journal, len(whole) - 100)  # `truncate -s -100`: the fourth record torn
    torn = whole[:-100].rsplit(b"\n", 1)[1]

    tick = _replay_tick(project)
    assert tick.returncode == 0, tick.stderr
    (side,) = journal.parent.glob("journal.torn-*.jsonl")
    assert side.read_bytes() == torn
    said = f"set aside in {side.name} before this record"
    assert tick.stdout.count(said) == 1 and said not in tick.stderr
    log = (project / "var" / "logs" / "replay.log").read_text()
    assert log.count(said) == 1

    rows = json.loads(run_bot("journal", "--replay", "--json", cwd=project).stdout)
    assert [row["tick"] for row in rows] == [1, 2, 3, 5]  # tick 4's record was the torn line
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert status["ticks"] == 5 and status["journal_records"] == 4 and status["journal_unreadable"] == 0
    assert status["journal_set_aside"] == [side.name]
    shown = run_bot("status", "--replay", cwd=project).stdout
    assert f"journal: 4 records · 0 unreadable line(s)\n  torn line set aside in {side.name}" in shown

    again = _replay_tick(project)
    assert again.returncode == 0 and "set aside" not in again.stdout  # said once
    assert [row["tick"] for row in json.loads(run_bot("journal", "--replay", "--json", cwd=project).stdout)] == [
        1,
        2,
        3,
        5,
        6,
    ]


def test_a_garbage_line_in_the_middle_is_counted_and_named_never_dropped_unsaid(project):
    for _ in range(3):
        assert _replay_tick(project).returncode == 0
    journal = project / "var" / "replay" / "journal.jsonl"
    first, rest = journal.read_bytes().split(b"\n", 1)
    journal.write_bytes(first + b"\nnot a record\n" + rest)

    listed = run_bot("journal", "--replay", cwd=project)
    assert listed.returncode == 0 and "last 3 ticks" in listed.stdout
    at = len(first) + 1
    assert listed.stderr == f"warning: skipped an unreadable journal line: journal.jsonl byte {at:,} (12 chars)\n"

    assert _replay_tick(project).returncode == 0  # the append counts what it has not read yet
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert (status["journal_records"], status["journal_unreadable"]) == (4, 1)
    assert status["journal_unreadable_lines"] == [f"journal.jsonl line 2, byte {at:,} (12 chars)"]
    assert (
        f"unreadable: journal.jsonl line 2, byte {at:,} (12 chars)" in run_bot("status", "--replay", cwd=project).stdout
    )
