"""State file: atomic replace with a backup, and refusal to overwrite what it cannot read."""

from __future__ import annotations

import json

import pytest

from bot.errors import StateError
from bot.state import BotState, Journal, StateStore


def _state(cash=10_000.0):
    state = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    state.cash_usd = cash
    return state


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


def test_journal_skips_a_line_torn_by_a_crash(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.path.write_text('{"tick": 1}\n{"tick": 2, "outc')
    assert journal.tail(5) == [{"tick": 1}]
