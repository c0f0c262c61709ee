"""Who may use the server: the token, the Host header, the requests that change anything.

A server on loopback is still reachable by every page the owner's browser opens, so
nothing here trusts the address a request comes from:

- **A token, always.** ``BOT_SERVE__TOKEN`` (environment or .env; config.toml refuses it)
  when set, else var/serve.token, made at the first `bot serve` (0600, 43 characters of
  ``secrets.token_urlsafe``) and shown once as a ready-to-click link. Every route but
  ``health`` and the page (which holds no data) needs ``Authorization: Bearer <token>``:
  a header a cross-origin page can send only after a CORS preflight, which this server
  never grants (it answers no OPTIONS and sets no ``Access-Control-*`` header). No cookie
  is ever set, so the browser never attaches the token on its own.
- **JSON only for changes.** A request other than GET or HEAD needs
  ``Content-Type: application/json`` (415 otherwise): the "simple" content types a page
  may send cross-origin without a preflight (form, text/plain) are refused before any
  route runs.
- **The Host header** must name this server (the address it is bound to, loopback names,
  ``serve.allowed_hosts``), else 421: a page whose DNS name was rebound to 127.0.0.1
  sends its own name and reads nothing.
- **Wrong tokens** are logged with the client's address (never the token) and counted:
  after ``serve.max_auth_failures`` within a minute that address gets 429 for anything
  but the right token, which always passes (behind a proxy every client shares one
  address: a guesser there must not lock the owner out).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.config import Settings
from bot.errors import ConfigError

log = structlog.get_logger("bot.serve")

WINDOW_SECONDS = 60.0
TOKEN_FILE = "serve.token"
MIN_PUBLIC_TOKEN_CHARS = 32  # beyond loopback: 32 characters of a random alphabet are out of any guesser's reach
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def server_token(settings: Settings) -> tuple[str, bool]:
    """(token, new): ``BOT_SERVE__TOKEN`` when set, else var/serve.token's; when that file does
    not exist, a new token that ``save_token`` writes once the server could listen (a start
    that fails leaves no token nobody was shown). An empty or unreadable file is one line (exit 2)."""
    if settings.serve.token and settings.serve.token.get_secret_value():
        return settings.serve.token.get_secret_value(), False
    path = settings.var_dir / TOKEN_FILE
    if path.exists():
        return _read_token(path), False
    return secrets.token_urlsafe(32), True


def save_token(path: Path, token: str) -> None:
    """Write a new token readable by the owner only (0600 from its creation, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token + "\n")


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is unreadable ({type(exc).__name__}): delete it and a new token is made") from None
    if not token or any(char.isspace() for char in token):
        raise ConfigError(f"{path} holds no token (one line, no spaces): delete it and a new token is made")
    return token


def check_token_strength(host_address: str, token: str) -> None:
    """Beyond loopback a short token is refused (one line, exit 2); loopback keeps any."""
    if is_loopback(host_address) or len(token) >= MIN_PUBLIC_TOKEN_CHARS:
        return
    raise ConfigError(
        f"--host {host_address}: the token has {len(token)} characters; listening beyond this machine needs at least "
        f"{MIN_PUBLIC_TOKEN_CHARS} (e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` into "
        "BOT_SERVE__TOKEN, or unset it to use var/serve.token)"
    )


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).is_loopback


def allowed_hosts(bound: str, extra: list[str]) -> frozenset[str]:
    """The names a Host header may carry: loopback names, the bound address unless it is
    the wildcard (0.0.0.0 / ::, which no client names), and ``serve.allowed_hosts``."""
    names = set(_LOOPBACK_NAMES) | {name.strip().lower().strip("[]") for name in extra if name.strip()}
    if not ipaddress.ip_address(bound.split("%")[0]).is_unspecified:
        names.add(bound.lower())
    return frozenset(names)


def host_name(header: str) -> str:
    """The name of a Host header without its port: ``[::1]:8080`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def sends_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


class Guard:
    """The token and the wrong-token counts per client address (monotonic clock, injectable)."""

    def __init__(self, token: str, *, max_failures: int, clock: Callable[[], float] = time.monotonic) -> None:
        if not token:
            raise ValueError("the server always has a token")
        self._token = token.encode()
        self._max = max_failures
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str, presented: str | None) -> None:
        """Return if ``presented`` is the token; raise 401, or 429 once ``client`` sent too many wrong ones."""
        if presented is not None and hmac.compare_digest(presented.encode(), self._token):
            return  # the right token always passes: wrong guesses never lock the owner out
        with self._lock:
            now = self._clock()
            failures = self._failures[client]
            while failures and now - failures[0] >= WINDOW_SECONDS:
                failures.popleft()
            if not failures:
                self._failures.pop(client, None)  # bounded: only addresses that failed within the minute
            if len(failures) >= self._max:
                retry = int(WINDOW_SECONDS - (now - failures[0])) + 1
                raise HTTPException(
                    429, f"too many wrong tokens from {client}; retry in {retry} s", headers={"Retry-After": str(retry)}
                )
            if presented is None:
                raise HTTPException(
                    401,
                    "this endpoint needs `Authorization: Bearer <token>` (the link `bot serve` printed)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            self._failures[client].append(now)
            count = len(self._failures[client])
        log.warning("serve_auth_failed", client=client, failures_last_minute=count)
        raise HTTPException(
            401,
            "wrong token: use BOT_SERVE__TOKEN, or var/serve.token when that is unset",
            headers={"WWW-Authenticate": "Bearer"},
        )


_bearer = HTTPBearer(auto_error=False, description="BOT_SERVE__TOKEN, or var/serve.token")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    request.app.state.guard.check(client_of(request), credentials.credentials if credentials else None)
