"""The server's token check: wrong tokens lock the address out for the rest of the minute."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from bot.serve.auth import Guard


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_wrong_tokens_lock_the_address_out_for_the_rest_of_the_minute():
    clock = Clock()
    guard = Guard("right", max_failures=3, clock=clock)
    for second in (0.0, 1.0, 2.0):
        clock.now = second
        with pytest.raises(HTTPException) as wrong:
            guard.check("10.0.0.9", "wrong")
        assert wrong.value.status_code == 401
    clock.now = 10.0
    with pytest.raises(HTTPException) as locked:
        guard.check("10.0.0.9", "right")  # even the right token: the address is locked out
    assert locked.value.status_code == 429 and locked.value.headers["Retry-After"] == "51"  # 60 - 10 + 1
    guard.check("127.0.0.2", "right")  # another address is not
    clock.now = 60.0  # the failure at 0 s is a minute old: two remain, under the limit
    guard.check("10.0.0.9", "right")
    with pytest.raises(HTTPException) as missing:
        guard.check("10.0.0.9", None)
    assert missing.value.status_code == 401
    Guard(None, max_failures=1).check("any", None)  # no token configured: nothing to check
