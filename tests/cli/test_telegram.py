"""`bot telegram` (bot/cli/telegram.py) as a real process against the fake Bot API: what is
missing is one line and exit 2; a scripted session ends by its count of updates."""

from __future__ import annotations

import json

import pytest

from tests.chat.chatkit import OWNER, account
from tests.conftest import run_bot
from tests.fakes.telegram import TOKEN, FakeTelegram, say

pytest.importorskip("telegram")


def _config(project, fake, chat_ids=(OWNER,)):
    (project / "config.toml").write_text(
        f'[telegram]\napi_url = "{fake.url}"\nchat_ids = {json.dumps(list(chat_ids))}\npoll_timeout_seconds = 1\n'
    )


def test_without_a_token_it_says_what_to_set(project):
    missing = run_bot("telegram", "--replay", cwd=project)
    assert missing.returncode == 2
    assert missing.stderr == (
        "error: no Telegram token: set BOT_TELEGRAM__TOKEN (from @BotFather) in the environment or .env beside the "
        "config\n"
    )


def test_without_allowed_chats_it_answers_nobody_and_shows_who_wrote(project):
    account(project)
    with FakeTelegram() as fake:
        _config(project, fake, chat_ids=())
        fake.script((say(OWNER, "/status"), 0))
        ran = run_bot("telegram", "--replay", "--max-updates", "1", cwd=project, env={"BOT_TELEGRAM__TOKEN": TOKEN})
    assert ran.returncode == 0, ran.stderr
    assert "no chat may talk to the bot yet" in ran.stdout and "BOT_TELEGRAM__CHAT_IDS='[<chat id>]'" in ran.stdout
    assert "telegram_ignored" in ran.stderr and f"chat_id={OWNER}" in ran.stderr  # on the console: the owner's id
    assert fake.texts_to(OWNER) == []


def test_a_refused_token_is_one_line_and_never_printed(project):
    with FakeTelegram() as fake:
        _config(project, fake)
        wrong = TOKEN.replace("Xq9", "Zz1")
        refused = run_bot("telegram", "--replay", cwd=project, env={"BOT_TELEGRAM__TOKEN": wrong})
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr == (
        "error: the Bot API refused the token (401 Unauthorized or 404): check BOT_TELEGRAM__TOKEN (from @BotFather)\n"
    )
    log = (project / "var" / "logs" / "replay.log").read_text()
    assert wrong.split(":")[1] not in log + refused.stdout + refused.stderr


def test_a_scripted_session_ends_after_its_updates(project):
    account(project)
    with FakeTelegram() as fake:
        _config(project, fake)
        fake.script((say(OWNER, "/help"), 1), (say(OWNER, "/pause"), 1), (say(OWNER, "no"), 1))
        ran = run_bot("telegram", "--replay", "--max-updates", "3", cwd=project, env={"BOT_TELEGRAM__TOKEN": TOKEN})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == "stopped after 3 update(s)"
    assert fake.texts_to(OWNER)[2] == "cancelled /pause"
    log = (project / "var" / "logs" / "replay.log").read_text()
    assert TOKEN.split(":")[1] not in log + ran.stdout + ran.stderr
    assert '"event": "telegram_command"' in log
