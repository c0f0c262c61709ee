"""`bot telegram`'s loop (bot/chat/telegram.py) through python-telegram-bot against the fake Bot API:
a session bounded by updates handled, never by seconds."""

from __future__ import annotations

import json

import pytest

from bot.ops.state import StateStore
from tests.chat.chatkit import OWNER, STRANGER, account, session, settings_for
from tests.fakes.telegram import FakeTelegram, press, say

pytest.importorskip("telegram")  # the `telegram` extra; the `test` extra installs it


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


def test_owner_reads_status_then_pauses_after_yes_and_the_pause_is_saved(tmp_path, fake, monkeypatch):
    state_file = account(tmp_path)
    settings = settings_for(tmp_path, fake, monkeypatch)
    fake.script((say(OWNER, "/status"), 1), (say(OWNER, "/pause FOMC tonight"), 1), (say(OWNER, "YES"), 1))
    assert session(settings, fake, updates=3) == 3
    status, question, done = fake.texts_to(OWNER)
    assert status.splitlines()[0] == "bot replay: running"
    assert "last tick 3 at 2025-06-02 12:06 UTC, ok" in status
    assert "equity 10,058.54 USDT (+0.59%), uPnL +10.00, 1 position(s)" in status
    assert question == (
        "Pause the bot? No new positions until /resume; open ones are still managed. Reply YES to confirm (anything "
        "else cancels)."
    )
    assert fake.sent[1]["reply_markup"]["inline_keyboard"] == [
        [{"text": "YES", "callback_data": "yes:q1"}, {"text": "No", "callback_data": "no:q1"}]
    ]
    assert done == "paused: FOMC tonight. Ticks keep managing open positions; /resume trades again."
    saved = StateStore(state_file).load()
    assert saved.paused and saved.pause_reason == "FOMC tonight" and saved.paused_by == "user"
    assert [c["command"] for c in fake.commands][:3] == ["help", "status", "profit"]  # the menu, set at start-up


@pytest.fixture
def logged():
    """bot.log's set-up for one test, taken down after it (the root handlers, structlog, the secrets)."""
    import logging

    import structlog

    from bot import log

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield log.configure_logging
    finally:
        root.handlers[:], root.level = handlers, level
        structlog.reset_defaults()
        log._set_secrets([])


def test_a_strangers_stop_and_yes_are_ignored_and_logged_without_their_text(tmp_path, fake, monkeypatch, logged):
    state_file = account(tmp_path)
    before = state_file.read_bytes()
    settings = settings_for(tmp_path, fake, monkeypatch)
    log_file = tmp_path / "bot.log"
    logged(log_file=log_file, level="INFO", console_level="ERROR", secrets=settings.secrets())
    fake.script(
        (say(STRANGER, "/stop my-s3cret-note", name="Mallory"), 0),
        (say(STRANGER, "YES", name="Mallory"), 0),
        (say(OWNER, "/positions"), 1),
    )
    assert session(settings, fake, updates=3) == 3
    assert fake.texts_to(STRANGER) == []
    assert fake.texts_to(OWNER) == ["BTC long 0.01 @ 60000, mark 61000, uPnL +10.00 USDT, 3x, SL 58000 TP 64000"]
    assert state_file.read_bytes() == before  # not paused, no stop requested: not even rewritten
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    ignored = [line for line in lines if line["event"] == "telegram_ignored"]
    assert [(line["chat_id"], line["command"], line["chars"]) for line in ignored] == [
        (STRANGER, "stop", 20),
        (STRANGER, "", 3),
    ]
    text = log_file.read_text()
    assert "my-s3cret-note" not in text and fake.token not in text and fake.token.split(":")[1] not in text


def test_a_button_confirms_a_stop_and_a_stale_button_does_nothing(tmp_path, fake, monkeypatch):
    state_file = account(tmp_path)
    settings = settings_for(tmp_path, fake, monkeypatch)
    fake.script(
        (say(OWNER, "/stop"), 1),
        (press(OWNER, "YES"), 2),  # the toast (answerCallbackQuery) and the result (sendMessage)
        (press(OWNER, "No"), 2),  # the same question's button again: it was answered
    )
    assert session(settings, fake, updates=3) == 3
    assert fake.texts_to(OWNER)[1:] == [
        "stopping: the next tick closes every open position (BTC) and opens none; /resume cancels.",
        "this question is no longer open: send the command again",
    ]
    saved = StateStore(state_file).load()
    assert saved.stop_requested and saved.paused and saved.pause_reason == "stopped from Telegram"
    assert fake.methods().count("answerCallbackQuery") == 2
    assert "reply_markup" not in fake.sent[0]  # the question's buttons were taken away after the first answer


def test_a_bad_close_argument_is_one_line_and_changes_nothing(tmp_path, fake, monkeypatch):
    state_file = account(tmp_path)
    before = state_file.read_bytes()
    settings = settings_for(tmp_path, fake, monkeypatch)
    fake.script(
        (say(OWNER, "/close"), 1),
        (say(OWNER, "/close BTC;rm"), 1),
        (say(OWNER, "/close DOGE"), 1),
        (say(OWNER, "/trades x"), 1),
        (say(OWNER, "/frobnicate"), 1),
    )
    assert session(settings, fake, updates=5) == 5
    assert fake.texts_to(OWNER) == [
        "/close needs a coin: /close COIN; open: BTC",
        "/close: 'BTC;rm' is not a coin; open: BTC",
        "/close DOGE: no open DOGE position; open: BTC",
        "/trades N: N is a number from 1 to 50, got 'x'",
        "unknown command /frobnicate; /help lists them",
    ]
    assert state_file.read_bytes() == before


def test_commands_sent_while_it_was_down_are_dropped_at_start(tmp_path, fake, monkeypatch):
    state_file = account(tmp_path)
    before = state_file.read_bytes()
    settings = settings_for(tmp_path, fake, monkeypatch)
    fake.queue_now(say(OWNER, "/stop"))
    fake.queue_now(say(OWNER, "YES"))
    fake.script((say(OWNER, "/profit"), 1))
    assert session(settings, fake, updates=1) == 1
    (profit,) = fake.texts_to(OWNER)
    assert profit.splitlines()[-2:] == [
        "closes in the last 3 fill(s): 1, 1 won / 0 lost, net +50.00 USDT",  # open ETH, close ETH, open BTC
        "best ETH +50.00 · worst ETH +50.00 USDT",
    ]
    assert state_file.read_bytes() == before


def test_close_by_button_is_recorded_for_the_next_tick(tmp_path, fake, monkeypatch):
    state_file = account(tmp_path)
    settings = settings_for(tmp_path, fake, monkeypatch)
    fake.script((say(OWNER, "/close BTC"), 1), (press(OWNER, "YES"), 2))
    assert session(settings, fake, updates=2) == 2
    assert fake.texts_to(OWNER)[-1] == (
        "closing long BTC 0.01 at the next tick (closed from Telegram); /status shows the request until it is done."
    )
    assert StateStore(state_file).load().close_requested == {"BTC": "closed from Telegram"}


def test_in_a_group_a_command_for_another_bot_is_left_alone(tmp_path, fake, monkeypatch):
    account(tmp_path)
    settings = settings_for(tmp_path, fake, monkeypatch)
    fake.script((say(OWNER, "/status@other_bot"), 0), (say(OWNER, "/positions@Fake_Trading_Bot"), 1))
    assert session(settings, fake, updates=2) == 2
    assert fake.texts_to(OWNER) == ["BTC long 0.01 @ 60000, mark 61000, uPnL +10.00 USDT, 3x, SL 58000 TP 64000"]


def test_a_bug_is_one_line_in_the_chat_and_the_next_command_is_answered(tmp_path, fake, monkeypatch):
    from bot.chat.conversation import Conversation

    account(tmp_path)
    settings = settings_for(tmp_path, fake, monkeypatch)

    def broken(self, command, args):
        raise RuntimeError("boom")

    monkeypatch.setattr(Conversation, "_read", broken)
    fake.refuse["setMyCommands"] = "BOT_COMMANDS_TOO_MUCH"  # a server that refuses the menu: the chat still runs
    fake.script((say(OWNER, "/status"), 1), (say(OWNER, "/pause"), 1))
    assert session(settings, fake, updates=2) == 2
    assert fake.texts_to(OWNER)[0] == "internal error: RuntimeError: boom (details in the log; please report it)"
    assert fake.texts_to(OWNER)[1].startswith("Pause the bot?")
    assert fake.commands == []
