"""The ASGI app (FastAPI on uvicorn) and the command's start-up checks.

FastAPI because the API's contract is pydantic models already (the bot's own status
model included): it validates requests into them, answers 422 with the field at fault,
and generates the OpenAPI document from the same models; it is Starlette underneath,
served by uvicorn, the ecosystem's standard pair. The server never trades: cron runs
the ticks; the server reads what they left and changes course through ``bot.ops.control``.
"""

from __future__ import annotations

import ipaddress
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
from bot.serve.auth import Guard, require_token
from bot.serve.deps import Sources

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


def create_app(settings: Settings, *, replay: bool, clock: Callable[[], float] | None = None) -> FastAPI:
    token = settings.serve.token.get_secret_value() if settings.serve.token else None
    app = FastAPI(
        title="bot",
        version="1",
        summary="Monitoring and control of a cron-run trading bot",
        openapi_url=None,  # served below, behind the token
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: the bot runs offline
        redoc_url=None,
    )
    app.state.sources = Sources(settings, replay=replay)
    app.state.guard = Guard(token, max_failures=settings.serve.max_auth_failures, **({"clock": clock} if clock else {}))
    app.state.page = DASHBOARD.read_bytes()
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
    async def no_store(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def listening_socket(host: str, port: int, *, token: str | None) -> socket.socket:
    """Bound before uvicorn starts, so a bad host or a busy port is one line and exit 2;
    any address but loopback needs a token."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(
            f"--host {host!r}: not an address this machine can listen on ({exc}); use 127.0.0.1"
        ) from None
    if not ipaddress.ip_address(address[0].split("%")[0]).is_loopback and not token:
        raise ConfigError(
            f"--host {host}: refusing to listen beyond this machine without a token; "
            "set BOT_SERVE__TOKEN in .env beside config.toml (e.g. `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        )
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


def run(settings: Settings, *, replay: bool, host: str, port: int, echo: Callable[[str], None]) -> None:
    import uvicorn

    token = settings.serve.token.get_secret_value() if settings.serve.token else None
    sock = listening_socket(host, port, token=token)
    app = create_app(settings, replay=replay)
    bound = sock.getsockname()
    url = f"http://{'[' + bound[0] + ']' if ':' in bound[0] else bound[0]}:{bound[1]}/"
    account = "replay account" if replay else "account"
    auth = "token required" if token else "no BOT_SERVE__TOKEN: anyone on this machine may use the API"
    echo(f"serving the {account} in {settings.run_dir(replay=replay)} at {url} ({auth}); Ctrl-C stops")
    log.info("serve_started", url=url, replay=replay, token_required=bool(token))
    config = uvicorn.Config(
        app, log_config=None, access_log=False, proxy_headers=False, server_header=False, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])
