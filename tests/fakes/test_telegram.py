"""The fake Bot API's own answers (tests/fakes/telegram.py), checked with plain HTTP: the error
shapes and the update queue the chat's tests rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from tests.fakes.telegram import TOKEN, FakeTelegram, say


def _call(fake: FakeTelegram, method: str, token: str = TOKEN, **params) -> tuple[int, dict]:
    body = urllib.parse.urlencode(params).encode()
    try:
        with urllib.request.urlopen(f"{fake.url}/bot{token}/{method}", data=body, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_wrong_token_an_unknown_method_and_an_unknown_chat_answer_as_the_bot_api_does():
    with FakeTelegram() as fake:
        assert _call(fake, "getMe", token="1:nope") == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        assert _call(fake, "getMeh") == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
        assert _call(fake, "sendMessage", chat_id=5, text="hi") == (
            400,
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
        )
        status, me = _call(fake, "getMe")
        assert status == 200 and me["result"]["id"] == 7400000001 and me["result"]["is_bot"] is True


def test_updates_stay_until_an_offset_confirms_them_and_a_step_waits_for_its_answer():
    with FakeTelegram(max_empty_polls=2) as fake:
        fake.script((say(5, "/status"), 1), (say(5, "YES"), 0))
        _, first = _call(fake, "getUpdates", timeout=0)
        assert [u["message"]["text"] for u in first["result"]] == ["/status"]  # YES waits for the answer owed
        _, again = _call(fake, "getUpdates", timeout=0)
        assert again["result"] == first["result"]  # not confirmed yet: delivered again
        assert _call(fake, "sendMessage", chat_id=5, text="running")[0] == 200
        _, second = _call(fake, "getUpdates", timeout=0, offset=first["result"][0]["update_id"] + 1)
        assert [u["message"]["text"] for u in second["result"]] == ["YES"]
        offset = second["result"][0]["update_id"] + 1
        assert [_call(fake, "getUpdates", timeout=0, offset=offset)[1]["result"] for _ in range(2)] == [[], []]
        _, filler = _call(fake, "getUpdates", timeout=0, offset=offset)  # the poll budget spent: a filler update
        assert filler["result"][0]["message"]["chat"]["id"] == 999_000_999
