"""The ASGI app (FastAPI on uvicorn) and the command's start-up checks.

FastAPI because the API's contract is pydantic models already (the bot's own status
model included): it validates requests into them, answers 422 with the field at fault,
and generates the OpenAPI document from the same models; it is Starlette underneath,
served by uvicorn, the ecosystem's standard pair. The server never trades: cron runs
the ticks; the server reads what they left and changes course through ``bot.ops.control``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from bot.config import Settings
from bot.errors import ConfigError
from bot.serve import api
from bot.serve.auth import (
    TOKEN_FILE,
    Guard,
    allowed_hosts,
    check_token_strength,
    host_name,
    require_token,
    save_token,
    sends_json,
)
from bot.serve.deps import Sources
from bot.serve.trades import Readers

log = structlog.get_logger("bot.serve")

DASHBOARD = Path(__file__).with_name("dashboard.html")
# The page runs only its own inline script and talks only to this server.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(
    settings: Settings,
    *,
    replay: bool,
    token: str,
    bound: str,
    clock: Callable[[], float] | None = None,
    readers: Readers | None = None,
) -> FastAPI:
    """The app for ``token``, answering only to Host names of ``bound`` (the listening address)."""
    app = FastAPI(
        title="bot",
        version="1",
        summary="Monitoring and control of a cron-run trading bot",
        openapi_url=None,  # served below, behind the token
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: the bot runs offline
        redoc_url=None,
    )
    app.state.sources = Sources(settings, replay=replay, readers=readers or Readers())
    app.state.guard = Guard(token, max_failures=settings.serve.max_auth_failures, **({"clock": clock} if clock else {}))
    app.state.page = DASHBOARD.read_bytes()
    app.state.hosts = allowed_hosts(bound, settings.serve.allowed_hosts)
    app.include_router(api.public)
    app.include_router(api.api)
    app.include_router(api.scrape)

    @app.get("/api/v1/openapi.json", include_in_schema=False, dependencies=[Depends(require_token)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        """The page holds no data (it reads the API with the token the user gives it), so it needs none."""
        return HTMLResponse(request.app.state.page, headers=_PAGE_HEADERS)

    @app.exception_handler(RequestValidationError)
    async def bad_input(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in exc.errors()]
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"])
        return JSONResponse({"message": f"{where}: {first['msg']}", "detail": errors}, status_code=422)

    @app.middleware("http")
    async def gate(request: Request, call_next):
        """Before any route: a Host header naming this server (DNS rebinding), and JSON for
        anything that is not a read (a cross-origin page cannot send it without a preflight)."""
        name = host_name(request.headers.get("host", ""))
        if name not in request.app.state.hosts:
            log.warning("serve_host_refused", host=name[:100], client=request.client.host if request.client else "")
            return JSONResponse(
                {"message": f"Host {name[:100]!r} is not a name of this server; add it to serve.allowed_hosts if so"},
                status_code=421,
            )
        if request.method not in ("GET", "HEAD") and not sends_json(request.headers.get("content-type")):
            return JSONResponse(
                {"message": "send `Content-Type: application/json` (and the bearer token) to change anything"},
                status_code=415,
            )
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def listening_socket(host: str, port: int, *, token: str) -> socket.socket:
    """Bound before uvicorn starts, so a bad host, a short token beyond loopback or a busy
    port is one line and exit 2."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(
            f"--host {host!r}: not an address this machine can listen on ({exc}); use 127.0.0.1"
        ) from None
    check_token_strength(address[0], token)
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}): stop what uses it or pick another --port"
        ) from None
    sock.listen(2048)
    return sock


def _url(address: str, port: int) -> str:
    return f"http://{'[' + address + ']' if ':' in address else address}:{port}/"


def run(
    settings: Settings,
    *,
    replay: bool,
    host: str,
    port: int,
    token: str,
    created: bool,
    echo: Callable[[str], None],
    readers: Readers | None = None,
) -> None:
    """Serve until Ctrl-C. The first line names the URL; a token made now is shown this once,
    as a link whose fragment (never sent to a server) hands it to the dashboard."""
    import uvicorn

    sock = listening_socket(host, port, token=token)
    if created:
        save_token(settings.var_dir / TOKEN_FILE, token)
    bound = sock.getsockname()
    app = create_app(settings, replay=replay, token=token, bound=bound[0], readers=readers)
    url = _url(bound[0], bound[1])
    account = "replay account" if replay else "account"
    echo(f"serving the {account} in {settings.run_dir(replay=replay)} at {url} (token required); Ctrl-C stops")
    local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bound[0], bound[0])  # a wildcard is reached through loopback
    if created:
        echo(
            f"open {_url(local, bound[1])}#token={token} (a new token, kept in "
            f"{settings.var_dir / TOKEN_FILE} (0600); shown this once)"
        )
    elif settings.serve.token:
        echo("the token is BOT_SERVE__TOKEN: open the page and paste it, or add #token=<it> to the URL")
    else:
        echo(f"the token is in {settings.var_dir / TOKEN_FILE}: open {_url(local, bound[1])}#token=<its content>")
    log.info("serve_started", url=url, replay=replay, token_made=created)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, proxy_headers=False, server_header=False, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])
