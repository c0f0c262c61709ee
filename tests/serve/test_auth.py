"""Who may use the server: the token (from the environment or var/serve.token), the
wrong-token limit that never locks the right token out, the Host names and the JSON rule."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from bot.config import Settings
from bot.errors import ConfigError
from bot.serve.auth import (
    Guard,
    allowed_hosts,
    check_token_strength,
    host_name,
    save_token,
    sends_json,
    server_token,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_wrong_tokens_lock_the_address_out_but_never_the_right_token():
    clock = Clock()
    guard = Guard("right", max_failures=3, clock=clock)
    for second in (0.0, 1.0, 2.0):
        clock.now = second
        with pytest.raises(HTTPException) as wrong:
            guard.check("10.0.0.9", "wrong")
        assert wrong.value.status_code == 401
    clock.now = 10.0
    with pytest.raises(HTTPException) as locked:
        guard.check("10.0.0.9", "wrong")
    assert locked.value.status_code == 429 and locked.value.headers["Retry-After"] == "51"  # 60 - 10 + 1
    with pytest.raises(HTTPException) as missing:
        guard.check("10.0.0.9", None)
    assert missing.value.status_code == 429
    guard.check("10.0.0.9", "right")  # the owner behind the same proxy address: always in
    with pytest.raises(HTTPException) as elsewhere:
        guard.check("127.0.0.2", "wrong")
    assert elsewhere.value.status_code == 401  # another address is not locked
    clock.now = 60.0  # the failure at 0 s is a minute old: two remain, under the limit
    with pytest.raises(HTTPException) as again:
        guard.check("10.0.0.9", None)
    assert again.value.status_code == 401
    with pytest.raises(ValueError, match="always has a token"):
        Guard("", max_failures=1)


def test_the_env_token_wins_else_the_file_else_a_new_one(tmp_path):
    settings = Settings(base_dir=tmp_path)
    token, new = server_token(settings)
    assert new and len(token) == 43 and not (tmp_path / "var" / "serve.token").exists()  # written only once bound
    save_token(tmp_path / "var" / "serve.token", token)
    assert (tmp_path / "var" / "serve.token").stat().st_mode & 0o777 == 0o600
    assert server_token(settings) == (token, False)
    assert server_token(Settings(base_dir=tmp_path, serve={"token": "from-env"})) == ("from-env", False)
    (tmp_path / "var" / "serve.token").write_text("two words\n")
    with pytest.raises(ConfigError, match=r"serve\.token holds no token \(one line, no spaces\): delete it"):
        server_token(settings)


def test_a_short_token_is_refused_beyond_loopback_only():
    check_token_strength("127.0.0.1", "x")
    check_token_strength("::1", "x")
    check_token_strength("0.0.0.0", "x" * 32)
    with pytest.raises(ConfigError) as short:
        check_token_strength("0.0.0.0", "x" * 31)
    assert str(short.value).startswith("--host 0.0.0.0: the token has 31 characters;")
    assert "x" * 31 not in str(short.value)


@pytest.mark.parametrize(
    ("bound", "extra", "header", "allowed"),
    [
        ("127.0.0.1", [], "127.0.0.1:8080", True),
        ("127.0.0.1", [], "localhost:8080", True),
        ("127.0.0.1", [], "[::1]:8080", True),
        ("127.0.0.1", [], "LOCALHOST", True),
        ("127.0.0.1", [], "rebound.example:8080", False),  # DNS rebinding: the attacker's name
        ("127.0.0.1", [], "", False),
        ("127.0.0.1", ["Bot.Example.org"], "bot.example.org", True),
        ("0.0.0.0", [], "0.0.0.0:8080", False),  # the wildcard is no client's name
        ("0.0.0.0", [], "192.168.1.5:8080", False),
        ("192.168.1.5", [], "192.168.1.5:8080", True),
    ],
)
def test_the_host_header_must_name_this_server(bound, extra, header, allowed):
    assert (host_name(header) in allowed_hosts(bound, extra)) is allowed


def test_only_json_is_a_change():
    assert sends_json("application/json") and sends_json("Application/JSON; charset=utf-8")
    for other in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "", None):
        assert not sends_json(other)
