"""State file: atomic replace with a backup, refusal to overwrite what cannot be read,
migrations, the lock (the journal: tests/ops/test_journal.py)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import StateError
from bot.models import Outcome, TickReport
from bot.ops.state import BotState, StateStore


def _state(cash=10_000.0):
    state = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    state.cash_usd = cash
    return state


T0 = datetime(2025, 6, 2, 23, 51, tzinfo=UTC)


def _report(index: int) -> TickReport:
    at = T0 + timedelta(minutes=3 * index)
    return TickReport(
        tick_id=f"{at:%y%m%dT%H%M}",
        tick=index + 1,
        mode="replay",
        dry_run=True,
        as_of=at,
        strategy="rules",
        outcome=Outcome.OK,
    )


def test_round_trip_and_backup_of_the_previous_version(tmp_path):
    store = StateStore(tmp_path / "state.json")
    assert store.load() is None
    store.save(_state(1.0))
    store.save(_state(2.0))
    assert store.load().cash_usd == 2.0
    assert json.loads(store.backup.read_text())["cash_usd"] == 1.0
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1, "cash_', "is corrupt or truncated"),
        ("", "is corrupt or truncated"),
        ('{"version": 1}', "is invalid at `initial_equity_usd`"),
    ],
)
def test_unreadable_state_stops_with_one_line_naming_the_file_and_the_fix(tmp_path, content, message):
    store = StateStore(tmp_path / "state.json")
    store.save(_state())
    store.save(_state())
    store.path.write_text(content)
    with pytest.raises(StateError) as error:
        store.load()
    text = str(error.value)
    assert message in text and str(store.path) in text
    assert f"cp {store.backup} {store.path}" in text
    assert "\n" not in text
    assert store.path.read_text() == content  # never overwritten


def test_newer_schema_version_asks_for_an_upgrade(tmp_path):
    store = StateStore(tmp_path / "state.json")
    store.path.write_text(json.dumps({"version": 99}))
    with pytest.raises(StateError, match="schema version 99, newer than this bot understands"):
        store.load()


def test_a_version_1_file_is_migrated_and_rewritten_in_version_2_keeping_the_old_as_backup(tmp_path):
    store = StateStore(tmp_path / "state.json")
    v1 = _state(1234.5).model_dump(
        mode="json",
        exclude={
            "paused_at",
            "paused_by",
            "backoff_until",
            "last_skipped_at",
            "last_prices",
            "max_drawdown_pct",
            "notified",
        },
    )
    v1.update(version=1, paused=True, pause_reason="by hand")
    store.path.write_text(json.dumps(v1))
    state = store.load()
    assert state.version == 2 and state.cash_usd == 1234.5
    assert state.paused and state.paused_by == "user" and state.notified == []
    store.save(state)
    assert json.loads(store.path.read_text())["version"] == 2
    assert json.loads(store.backup.read_text()) == v1  # the v1 file survives as the backup


def test_a_file_without_a_version_is_read_as_version_1(tmp_path):
    store = StateStore(tmp_path / "state.json")
    data = _state().model_dump(
        mode="json", include={"initial_equity_usd", "cash_usd", "last_equity_usd", "peak_equity_usd"}
    )
    store.path.write_text(json.dumps(data))
    assert store.load().version == 2


def test_a_newer_file_names_the_backup_and_is_not_touched(tmp_path):
    store = StateStore(tmp_path / "state.json")
    store.save(_state())
    store.save(_state())
    newer = json.dumps({"version": 3, "something": "new"})
    store.path.write_text(newer)
    with pytest.raises(StateError) as error:
        store.load()
    assert str(error.value) == (
        f"{store.path} has schema version 3, newer than this bot understands (2): it was written by a newer bot; "
        f"upgrade the bot (pip install -U), or restore the copy from before the last tick with `cp {store.backup} "
        f"{store.path}` "
        "(that tick then runs again: the journal keeps both records)"
    )
    assert store.path.read_text() == newer


@pytest.mark.parametrize("content", ["[1, 2]", '{"version": "two"}'])
def test_a_json_file_that_is_not_a_state_is_refused(tmp_path, content):
    store = StateStore(tmp_path / "state.json")
    store.path.write_text(content)
    with pytest.raises(StateError, match="state.json (is not a state file|has no valid schema version)"):
        store.load()


def test_a_full_disk_while_saving_stops_with_one_line_and_the_old_state_intact(tmp_path):
    """RLIMIT_FSIZE makes every write past the limit fail with EFBIG, as a full disk fails
    with ENOSPC: the temporary file cannot be completed."""
    import resource
    import signal

    store = StateStore(tmp_path / "state.json")
    store.save(_state(1.0))
    before = store.path.read_bytes()
    big = _state(2.0)
    big.last_message = "x" * 50_000
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    try:
        with pytest.raises(StateError) as error:
            store.save(big)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert str(error.value) == (
        f"{store.path}: cannot write the new state (File too large); the previous state is intact: "
        f"free disk space or make {tmp_path} writable, then run again"
    )
    assert store.path.read_bytes() == before and store.load().cash_usd == 1.0
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unwritable_folder_stops_with_one_line(tmp_path):
    store = StateStore(tmp_path / "state.json")
    store.save(_state(1.0))
    (tmp_path / ".state.json.tmp").mkdir()  # the temporary file cannot be created (as in a read-only folder)
    with pytest.raises(
        StateError, match=r"cannot write the new state \(Is a directory\); the previous state is intact"
    ):
        store.save(_state(2.0))
    assert store.load().cash_usd == 1.0


def test_the_lock_admits_one_holder_and_names_it(tmp_path):
    from datetime import UTC, datetime

    from bot.errors import LockedError
    from bot.ops.state import TickLock

    first = TickLock(tmp_path / "tick.lock").acquire(started_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    with pytest.raises(LockedError) as error:
        TickLock(tmp_path / "tick.lock").acquire(wait_seconds=0.2)
    assert f"(holder: pid {os.getpid()} since 2025-01-02 03:04:05 UTC); this run did nothing" in str(error.value)
    first.release()
    with TickLock(tmp_path / "tick.lock").acquire():
        pass


def test_gh17_10_a_corrupt_state_names_the_json_error_once(tmp_path):
    import pytest

    from bot.errors import StateError
    from bot.ops.state import StateStore

    (tmp_path / "state.json").write_text('{"tick": ')
    with pytest.raises(StateError) as caught:
        StateStore(tmp_path / "state.json").load()
    assert str(caught.value) == (
        f"{tmp_path / 'state.json'} is corrupt or truncated (Expecting value: line 1 column 10 (char 9)); move it away "
        f"to start a fresh account"
    )
