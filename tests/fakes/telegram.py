"""A Telegram Bot API server on 127.0.0.1: the methods `bot telegram` calls through
python-telegram-bot, in the shapes of https://core.telegram.org/bots/api.

Requests are ``POST /bot<token>/<method>`` with form-encoded, JSON or query parameters
(#making-requests); every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code": N, "description": "..."}`` (#making-requests). A wrong token is 401
"Unauthorized", an unknown method 404 "Not Found" (what api.telegram.org answers).

People are scripted: ``script(step, ...)`` queues what users type or press, each step with the
number of answers (sendMessage / answerCallbackQuery calls) the bot owes for it. A step
becomes an update only when the bot has given every answer owed for the steps before it,
so a YES is never read before its question was asked; a step from a chat the bot must ignore
owes 0. The work is bounded by polls, never by seconds: once ``max_empty_polls`` getUpdates
calls have come back empty, the fake delivers filler updates from ``FILLER_CHAT`` (counted
by a ``--max-updates`` run like any other), so a bot that stops answering still ends its run.

``transcript`` is the conversation as a person would read it (who said what, in order);
``calls`` every method call with its parameters.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes._local import LocalServer, QuietHandler

TOKEN = "7400000001:AAF-fake-t0ken-Xq9s3cr3tValue-1234567"  # <bot id>:<secret>, as @BotFather issues them
BOT_ID = int(TOKEN.split(":")[0])
FILLER_CHAT = 999_000_999
EPOCH = 1_796_000_000  # the fake's Unix time of its first update; one second per event after it

# Parameters sent as JSON-serialized values in a form (#making-requests: "JSON-serialized" in each method's table)
_JSON = {"reply_markup", "commands", "allowed_updates", "entities", "reply_parameters", "link_preview_options"}
_INT = {"chat_id", "offset", "limit", "timeout", "message_id"}
_BOOL = {"drop_pending_updates", "show_alert", "disable_notification"}


@dataclass
class Step:
    make: Callable[[FakeTelegram], dict[str, Any]]  # the update's payload (without update_id), made when released
    answers: int  # what the bot owes for it before the next step is released


def say(chat_id: int, text: str, *, name: str = "Owner") -> Callable[[FakeTelegram], dict[str, Any]]:
    """A user's text message (#message); a leading /command gets its bot_command entity (#messageentity)."""

    def make(fake: FakeTelegram) -> dict[str, Any]:
        user = {"id": chat_id, "is_bot": False, "first_name": name}
        message: dict[str, Any] = {
            "message_id": fake.next_message_id(),
            "from": user,
            "chat": {"id": chat_id, "type": "private", "first_name": name},
            "date": fake.tick(),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        fake.known_chats.add(chat_id)
        fake.transcript.append(f"{name} ({chat_id}): {text}")
        return {"message": message}

    return make


def press(chat_id: int, label: str, *, name: str = "Owner") -> Callable[[FakeTelegram], dict[str, Any]]:
    """A button pressed under the bot's last question to that chat (#callbackquery): its callback_data, made when
    the step is released, so it names the question the bot really asked. A question whose buttons were taken
    away can still be pressed once more: a second client, or a press already on its way."""

    def make(fake: FakeTelegram) -> dict[str, Any]:
        message = next(m for m in reversed(fake.asked) if m["chat"]["id"] == chat_id)
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        button = next(b for b in buttons if b["text"] == label)
        query_id = f"cq{fake.next_message_id()}"
        fake.open_queries.add(query_id)
        fake.transcript.append(f"{name} ({chat_id}): [presses {label}]")
        return {
            "callback_query": {
                "id": query_id,
                "from": {"id": chat_id, "is_bot": False, "first_name": name},
                "message": message,
                "chat_instance": f"ci{chat_id}",
                "data": button["callback_data"],
            }
        }

    return make


class FakeTelegram(LocalServer):
    def __init__(self, token: str = TOKEN, *, max_empty_polls: int = 40) -> None:
        self.token = token
        self.max_empty_polls = max_empty_polls
        self.cond = threading.Condition()
        self.script_steps: deque[Step] = deque()
        self.updates: list[dict[str, Any]] = []  # made and not yet confirmed by a getUpdates offset
        self.owed = 0  # answers owed for the steps released so far
        self.answers = 0
        self.empty_polls = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []  # the bot's messages (#message), edits applied
        self.asked: list[dict[str, Any]] = []  # the bot's messages with buttons, as sent
        self.transcript: list[str] = []
        self.known_chats: set[int] = set()
        self.open_queries: set[str] = set()
        self.commands: list[dict[str, Any]] = []
        self.refuse: dict[str, str] = {}  # method -> the Bad Request description it answers with, once
        self._update_id = 100
        self._message_id = 0
        self._clock = EPOCH

    # -- what the test drives -------------------------------------------------------------------------

    def script(self, *steps: tuple[Callable[[FakeTelegram], dict[str, Any]], int]) -> None:
        with self.cond:
            self.script_steps.extend(Step(make, answers) for make, answers in steps)
            self.cond.notify_all()

    def queue_now(self, make: Callable[[FakeTelegram], dict[str, Any]]) -> None:
        """An update that is already waiting when the bot starts (typed while it was down)."""
        with self.cond:
            self._add(make(self))

    def texts_to(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent if m["chat"]["id"] == chat_id]

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    # -- helpers for the updates ----------------------------------------------------------------------

    def next_message_id(self) -> int:
        self._message_id += 1
        return self._message_id

    def tick(self) -> int:
        self._clock += 1
        return self._clock

    def _add(self, payload: dict[str, Any]) -> None:
        self._update_id += 1
        self.updates.append({"update_id": self._update_id, **payload})

    def _release(self) -> None:
        """Make the next scripted steps into updates while the bot owes nothing."""
        while self.script_steps and self.answers >= self.owed:
            step = self.script_steps.popleft()
            self._add(step.make(self))
            self.owed += step.answers

    # -- the methods ----------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.cond:
            self.calls.append((method, params))
        answer = getattr(self, f"_m_{method}", None)
        if method in self.refuse:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {self.refuse.pop(method)}"}
        if answer is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            return 200, {"ok": True, "result": answer(params)}
        except _BadRequest as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # https://core.telegram.org/bots/api#getme: a User object (#user) with the bot-only fields
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Fake bot",
            "username": "fake_trading_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:  # noqa: N802
        # https://core.telegram.org/bots/api#deletewebhook: drop_pending_updates drops what is waiting; True
        with self.cond:
            if params.get("drop_pending_updates"):
                self.transcript += [f"(dropped at start-up: update {u['update_id']})" for u in self.updates]
                self.updates.clear()
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:  # noqa: N802
        # https://core.telegram.org/bots/api#setmycommands: a list of BotCommand (#botcommand, 1-32 chars); True
        for command in params["commands"]:
            if not 1 <= len(command["command"]) <= 32 or not 1 <= len(command["description"]) <= 256:
                raise _BadRequest("BOT_COMMAND_INVALID")
        self.commands = params["commands"]
        return True

    def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:  # noqa: N802
        # https://core.telegram.org/bots/api#getupdates: `offset` confirms every update below it; `limit` 1-100;
        # `timeout` seconds of long polling; `allowed_updates` filters the types; an Array of Update (#update)
        offset = params.get("offset")
        limit = min(max(params.get("limit") or 100, 1), 100)
        allowed = params.get("allowed_updates") or None
        with self.cond:
            if offset is not None:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self._release()
            if not self.updates:
                self.cond.wait_for(lambda: self._ready(), timeout=params.get("timeout") or 0)
                self._release()
            if not self.updates:
                self.empty_polls += 1
                if self.empty_polls > self.max_empty_polls:
                    self._add(say(FILLER_CHAT, "(fake: poll budget spent)", name="filler")(self))
            wanted = [u for u in self.updates if allowed is None or any(kind in u for kind in allowed)]
            return wanted[:limit]

    def _ready(self) -> bool:
        return bool(self.updates) or (bool(self.script_steps) and self.answers >= self.owed)

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # https://core.telegram.org/bots/api#sendmessage: chat_id, text of 1-4096 characters after entities parsing,
        # optional reply_markup (#inlinekeyboardmarkup); the sent Message (#message)
        chat_id = params.get("chat_id")
        text = params.get("text") or ""
        if chat_id not in self.known_chats:
            raise _BadRequest("chat not found")
        if not text.strip():
            raise _BadRequest("message text is empty")
        if len(text) > 4096:
            raise _BadRequest("message is too long")
        with self.cond:
            message: dict[str, Any] = {
                "message_id": self.next_message_id(),
                "from": self._m_getMe({}),
                "chat": {"id": chat_id, "type": "private", "first_name": "Owner"},
                "date": self.tick(),
                "text": text,
            }
            markup = params.get("reply_markup")
            if markup and markup.get("inline_keyboard"):
                message["reply_markup"] = markup
                self.asked.append(json.loads(json.dumps(message)))
                labels = " ".join(f"[{b['text']}]" for row in markup["inline_keyboard"] for b in row)
                self.transcript.append(f"bot: {text}\n     {labels}")
            else:
                self.transcript.append(f"bot: {text}")
            self.sent.append(message)
            self.answers += 1
            self.cond.notify_all()
            return message

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:  # noqa: N802
        # https://core.telegram.org/bots/api#answercallbackquery: callback_query_id, text of 0-200 characters; True
        query_id = params.get("callback_query_id")
        if query_id not in self.open_queries:
            raise _BadRequest("query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > 200:
            raise _BadRequest("MESSAGE_TOO_LONG")
        with self.cond:
            self.open_queries.discard(query_id)
            if params.get("text"):
                self.transcript.append(f"bot (toast): {params['text']}")
            self.answers += 1
            self.cond.notify_all()
        return True

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        # https://core.telegram.org/bots/api#editmessagereplymarkup: chat_id + message_id; the edited Message.
        # The same markup again is refused: "message is not modified" (the Bot API's answer to a no-op edit)
        with self.cond:
            message = next(
                (
                    m
                    for m in self.sent
                    if m["chat"]["id"] == params.get("chat_id") and m["message_id"] == params.get("message_id")
                ),
                None,
            )
            if message is None:
                raise _BadRequest("message to edit not found")
            markup = params.get("reply_markup") or None
            if markup == message.get("reply_markup"):
                raise _BadRequest("message is not modified")
            if markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            return message

    def _handler(self) -> type[QuietHandler]:
        return _Handler


class _BadRequest(Exception):
    pass


def _params(raw: dict[str, str]) -> dict[str, Any]:
    """Form or query values are strings; the methods' tables say which are JSON, integers or booleans."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON:
            params[key] = json.loads(value)
        elif key in _INT:
            params[key] = int(value)
        elif key in _BOOL:
            params[key] = value.lower() == "true"
        else:
            params[key] = value
    return params


class _Handler(QuietHandler):
    fake: FakeTelegram

    def do_GET(self) -> None:  # noqa: N802  (#making-requests: GET and POST are both supported)
        self._answer(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    def _answer(self, body: bytes) -> None:
        url = urlsplit(self.path)
        prefix, _, method = url.path.strip("/").partition("/")
        if prefix != f"bot{self.fake.token}":
            self._send(401, json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}))
            return
        raw = dict(parse_qsl(url.query))
        kind = self.headers.get("Content-Type") or ""
        if kind.startswith("application/json") and body:
            params = {**_params(raw), **json.loads(body)}
        else:
            raw.update(parse_qsl(body.decode()))
            params = _params(raw)
        status, answer = self.fake.handle(method, params)
        self._send(status, json.dumps(answer))


if __name__ == "__main__":  # by hand: `python -m tests.fakes.telegram`, then point telegram.api_url at it
    fake = FakeTelegram().start()
    print(fake.url, TOKEN, flush=True)
    fake.serve_until_interrupted()
