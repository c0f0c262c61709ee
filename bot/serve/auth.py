"""The one auth dependency every protected route uses: ``Authorization: Bearer <token>``.

The token comes from BOT_SERVE__TOKEN (environment or .env; config.toml refuses it) and
is compared in constant time. A wrong token is logged with the client's address, never
the token, and counted: after ``serve.max_auth_failures`` wrong tokens within a minute
the address gets 429 (even with the right token) until the oldest failure is a minute
old. No cookies are ever set, so a browser cannot be made to send the token (no CSRF).
Without a token (loopback only: ``bot serve`` refuses any other host) nothing is checked.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

log = structlog.get_logger("bot.serve")

WINDOW_SECONDS = 60.0


class Guard:
    """The token and the failure counts per client address (monotonic clock, injectable)."""

    def __init__(self, token: str | None, *, max_failures: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token.encode() if token else None
        self._max = max_failures
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        return self._token is not None

    def check(self, client: str, presented: str | None) -> None:
        """Return if ``presented`` is the token; raise 401 or 429 otherwise."""
        if self._token is None:
            return
        with self._lock:
            now = self._clock()
            failures = self._failures[client]
            while failures and now - failures[0] >= WINDOW_SECONDS:
                failures.popleft()
            if len(failures) >= self._max:
                retry = int(WINDOW_SECONDS - (now - failures[0])) + 1
                raise HTTPException(
                    429, f"too many wrong tokens from {client}; retry in {retry} s", headers={"Retry-After": str(retry)}
                )
            if presented is None:
                raise HTTPException(
                    401,
                    "this endpoint needs `Authorization: Bearer <BOT_SERVE__TOKEN>`",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if hmac.compare_digest(presented.encode(), self._token):
                return
            failures.append(now)
            count = len(failures)
        log.warning("serve_auth_failed", client=client, failures_last_minute=count)
        raise HTTPException(
            401, "wrong token: use the value of BOT_SERVE__TOKEN", headers={"WWW-Authenticate": "Bearer"}
        )


_bearer = HTTPBearer(auto_error=False, description="the value of BOT_SERVE__TOKEN")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    request.app.state.guard.check(client_of(request), credentials.credentials if credentials else None)
