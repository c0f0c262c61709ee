"""The conversation (bot/chat/conversation.py) without Telegram: the turns, the confirmation rule, the
locked control paths it reaches, on the replay account of ``chatkit``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.chat.conversation import Conversation, parse
from bot.config import Settings
from bot.ops.state import StateStore
from tests.chat.chatkit import OWNER, SteppedClock, account, nonces

OTHER = 222


@pytest.fixture
def chat(tmp_path):
    state_file = account(tmp_path)
    settings = Settings(base_dir=tmp_path, telegram={"chat_ids": [OWNER], "confirm_seconds": 60})
    clock = SteppedClock(datetime(2026, 12, 8, 3, 0, tzinfo=UTC), step=1)
    return Conversation(settings, replay=True, clock=clock, nonces=nonces()), state_file, clock


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/Close@fake_trading_bot btc now", ("close", ["btc", "now"])),
        ("/status", ("status", [])),
        ("  YES ", ("", ["YES"])),
        ("", ("", [])),
    ],
)
def test_parse_reads_the_command_word_without_the_bots_name(text, parsed):
    assert parse(text) == parsed


def test_a_lowercase_yes_confirms_and_resume_lifts_the_pause(chat):
    conversation, state_file, _ = chat
    assert conversation.message(OWNER, "/pause").confirm == "q1"
    assert conversation.message(OWNER, "yes").text == (
        "paused: paused from Telegram. Ticks keep managing open positions; /resume trades again."
    )
    assert conversation.message(OWNER, "/resume").confirm == "q2"
    assert conversation.message(OWNER, "YES").text == "resumed: lifted pause (paused from Telegram)"
    assert not StateStore(state_file).load().paused


def test_a_yes_after_confirm_seconds_lapses_and_changes_nothing(chat):
    conversation, state_file, clock = chat
    before = state_file.read_bytes()
    conversation.message(OWNER, "/stop")
    clock.step = clock.step * 61  # the next read is 61 s after the question
    assert conversation.message(OWNER, "YES").text == (
        "/stop lapsed: the YES came 61 s after the question (telegram.confirm_seconds = 60); send it again"
    )
    assert state_file.read_bytes() == before


def test_anything_but_yes_cancels_and_a_later_yes_does_nothing(chat):
    conversation, state_file, _ = chat
    before = state_file.read_bytes()
    conversation.message(OWNER, "/stop")
    reply = conversation.message(OWNER, "/positions")
    assert reply.text.splitlines()[0] == "(not confirmed: /stop cancelled)"
    assert reply.text.splitlines()[1].startswith("BTC long 0.01 @ 60000")
    assert conversation.message(OWNER, "YES").text.startswith("send a command:\n/status")
    assert state_file.read_bytes() == before


def test_a_question_is_answered_only_in_its_own_chat_and_by_its_own_button(chat):
    conversation, state_file, _ = chat
    before = state_file.read_bytes()
    conversation.message(OWNER, "/stop")
    assert conversation.button(OTHER, "yes:q1").text == "this question is no longer open: send the command again"
    assert conversation.button(OWNER, "yes:q9").text == "this question is no longer open: send the command again"
    assert conversation.button(OWNER, "no:q1").text == "cancelled /stop"
    assert state_file.read_bytes() == before


def test_close_asks_for_a_held_coin_then_records_the_request_under_the_lock(chat):
    conversation, state_file, _ = chat
    reply = conversation.message(OWNER, "/close btc taking profit")
    assert reply.text == (
        "Close the BTC position at the next tick (market order)? Reply YES to confirm (anything else cancels)."
    )
    assert StateStore(state_file).load().close_requested == {}  # asked, not done
    assert conversation.message(OWNER, "YES").text == (
        "closing long BTC 0.01 at the next tick (taking profit); /status shows the request until it is done."
    )
    saved = StateStore(state_file).load()
    assert saved.close_requested == {"BTC": "taking profit"} and not saved.paused
    assert "closing at the next tick: BTC (taking profit)" in conversation.message(OWNER, "/status").text.splitlines()


def test_without_a_state_a_reading_command_says_how_to_make_one(tmp_path):
    settings = Settings(base_dir=tmp_path, telegram={"chat_ids": [OWNER]})
    conversation = Conversation(settings, replay=True, clock=SteppedClock(datetime(2026, 12, 8, tzinfo=UTC)))
    assert conversation.message(OWNER, "/status").text == (
        "error: no state in var/replay yet: run `bot tick --dry-run --replay`"  # relative: the text leaves the machine
    )
    assert conversation.message(OWNER, "/close BTC").text == "/close BTC: no open BTC position; open: none"


def test_trades_shows_the_last_fills_oldest_first(chat):
    conversation, _, _ = chat
    assert conversation.message(OWNER, "/trades 2").text == (
        "2025-06-02 12:03 close long ETH 0.5 @ 3100 fee 0.62 pnl +50.00 (close)\n"
        "2025-06-02 12:06 open long BTC 0.01 @ 60000 fee 0.24 (entry)"
    )
    assert conversation.message(OWNER, "/trades 51").text == "/trades N: N is a number from 1 to 50, got '51'"
    assert conversation.message(OWNER, "/status now").text == "/status takes no argument; /help lists the commands"


def test_a_yes_while_a_tick_holds_the_lock_is_one_line_and_changes_nothing(tmp_path):
    from bot.ops.state import TickLock

    state_file = account(tmp_path)
    before = state_file.read_bytes()
    settings = Settings(base_dir=tmp_path, telegram={"chat_ids": [OWNER]}, ops={"lock_wait_seconds": 0})
    conversation = Conversation(
        settings, replay=True, clock=SteppedClock(datetime(2026, 12, 8, tzinfo=UTC)), nonces=nonces()
    )
    conversation.message(OWNER, "/pause")
    with TickLock(state_file.parent / "tick.lock").acquire(started_at=datetime(2026, 12, 8, 3, 0, tzinfo=UTC)):
        reply = conversation.message(OWNER, "YES").text
    assert reply.startswith("error: another bot process is running on var/replay (holder: pid ")
    assert "\n" not in reply
    assert state_file.read_bytes() == before


def test_a_question_reads_at_most_read_ticks_records_of_the_journal(chat, monkeypatch):
    from bot.chat import conversation as module

    monkeypatch.setattr(module, "READ_TICKS", 2)  # the journal holds 3 records of one fill each
    conversation, _, _ = chat
    assert [line[:16] for line in conversation.message(OWNER, "/trades 10").text.splitlines()] == [
        "2025-06-02 12:03",
        "2025-06-02 12:06",
    ]
