"""Routes under ``/api/v1``, thin: each reads through ``Sources`` and the plain-data
functions the CLI uses (``bot.tick.status``), or changes state through ``bot.ops.control``
under the tick lock, exactly as `bot pause` / `bot resume` do.

Cron owns the loop, so the classic start/stop of a bot's loop map onto the state the
ticks honour: ``start`` = resume; ``stop`` = pause and close every open position at the
next tick (persisted in state, shown in status, cancelled by resume); ``close`` = one
position at the next tick (``control.request_close``, as `bot close COIN`)."""

from __future__ import annotations

import os
from itertools import islice
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from bot.errors import ConfigError, LockedError, StateError
from bot.ops import control
from bot.ops.state import BotState
from bot.serve.auth import client_of, require_token
from bot.serve.deps import Sources, decision_records, lock_holder
from bot.serve.metrics import exposition
from bot.serve.schemas import (
    ClosedTradesPage,
    CloseRequest,
    ControlRequest,
    ControlResult,
    DecisionRecord,
    EquityCurve,
    Health,
    JournalPage,
    Metrics,
    Profit,
    TickRow,
    TradeRow,
)
from bot.serve.series import health_of
from bot.serve.trades import profit_of
from bot.tick.status import StatusPosition, StatusReport, build_status, journal_rows, status_time

log = structlog.get_logger("bot.serve")

public = APIRouter(prefix="/api/v1", tags=["health"])
api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], tags=["bot"])
scrape = APIRouter(dependencies=[Depends(require_token)], tags=["metrics"])

Count = Annotated[int, Query(ge=1, le=1000, description="how many records")]


def sources(request: Request) -> Sources:
    return request.app.state.sources


Src = Annotated[Sources, Depends(sources)]


def _shown(src: Sources, text: str) -> str:
    """``text`` with the project folder's absolute path cut: answers name paths relative to it."""
    return text.replace(f"{src.settings.var_dir.parent}{os.sep}", "")


def _state(src: Sources, response: Response) -> BotState:
    """The state, or one clear error: 404 before the first tick, 503 when unreadable."""
    state, problem = src.state.read()
    if state is None and problem:
        raise HTTPException(503, _shown(src, problem))
    if state is None:
        hint = "bot tick --dry-run --replay" if src.replay else "bot tick --dry-run"
        raise HTTPException(404, f"no state in {_shown(src, str(src.var))} yet: run `{hint}` first")
    if problem:
        response.headers["X-Bot-Warning"] = _shown(src, problem)
    return state


def _status(src: Sources, response: Response) -> StatusReport:
    state = _state(src, response)
    now = status_time(state, src.clock(), replay=src.replay)
    report = build_status(state, settings=src.settings, state_file=src.state.store.path, now=now)
    return report.model_copy(update={"state_file": _shown(src, report.state_file)})


@public.get(
    "/health", response_model=Health, responses={503: {"model": Health, "description": "stale, failed or no tick yet"}}
)
def health(src: Src) -> JSONResponse:
    state, problem = src.state.read()
    age = src.journal_age_seconds(state) if state else None
    running = lock_holder(src.var / "tick.lock") is not None
    verdict = health_of(state, problem=problem, age_seconds=age, tick_running=running)
    return JSONResponse(verdict.model_dump(mode="json"), status_code=200 if verdict.ok else 503)


@api.get("/status", response_model=StatusReport)
def status(src: Src, response: Response) -> StatusReport:
    return _status(src, response)


@api.get("/positions", response_model=list[StatusPosition])
def positions(src: Src, response: Response) -> list[StatusPosition]:
    return _status(src, response).positions


@api.get("/journal", response_model=JournalPage)
def journal(
    src: Src,
    n: Count = 20,
    before: Annotated[int | None, Query(ge=1, description="only ticks numbered below this")] = None,
) -> JournalPage:
    """Ticks newest-first from the end of the journal, ``n`` a page; ``next_before`` pages on."""
    records = (
        r
        for r in src.journal.newest_first()
        if before is None or (isinstance(r.get("tick"), int) and r["tick"] < before)
    )
    page = list(islice(records, n + 1))
    ticks = [TickRow.model_validate(row) for row in journal_rows(page[:n], count=n, trades=False)]
    return JournalPage(ticks=ticks, next_before=ticks[0].tick if len(page) > n else None)


@api.get("/trades", response_model=list[TradeRow])
def trades(src: Src, n: Count = 50) -> list[dict[str, Any]]:
    return journal_rows(src.journal.newest_first(), count=n, trades=True)


@api.get("/trades/closed", response_model=ClosedTradesPage)
def closed_trades(
    src: Src,
    n: Annotated[int, Query(ge=1, le=500, description="trades a page")] = 20,
    offset: Annotated[int, Query(ge=0, description="newest trades skipped (the last page's next_offset)")] = 0,
) -> ClosedTradesPage:
    """Round trips, newest exit first, with their exit reason, fees and net PnL: the whole journal."""
    trades = src.closed_trades()
    newest = trades[::-1][offset : offset + n]
    more = offset + n < len(trades)
    return ClosedTradesPage(trades=newest, total=len(trades), offset=offset, next_offset=offset + n if more else None)


@api.get("/profit", response_model=Profit)
def profit(src: Src) -> Profit:
    """The closed trades summed: totals, per coin and per UTC day."""
    return profit_of(src.closed_trades())


@api.get(
    "/arena",
    response_class=JSONResponse,
    responses={200: {"description": "`bot arena --json`'s Leaderboard"}, 404: {"description": "no [arena]"}},
)
def arena(src: Src) -> JSONResponse:
    """The arena's leaderboard when the config has candidates: `bot arena --json`'s model
    (bot.arena.arena.Leaderboard), plugged in by `bot serve` (``Readers``)."""
    if not src.settings.arena.candidates or src.readers.leaderboard is None:
        raise HTTPException(404, "no [arena] candidates in the config: the account runs one strategy")
    state, _ = src.state.read()
    now = state.last_run_at if src.replay and state else src.clock()
    try:
        return JSONResponse(src.readers.leaderboard(now))
    except (ConfigError, StateError) as exc:
        raise HTTPException(503, _shown(src, str(exc))) from None


@api.get("/decisions", response_model=list[DecisionRecord])
def decisions(src: Src, n: Count = 20) -> list[DecisionRecord]:
    return decision_records(src.journal, count=n)


@api.get("/equity", response_model=EquityCurve)
def equity(
    src: Src,
    response: Response,
    points: Annotated[int, Query(ge=2, le=10_000, description="at most this many points")] = 1000,
) -> Response:
    state = _state(src, response)
    body = src.curve_json(initial_equity_usd=state.initial_equity_usd, max_points=points)
    warning = response.headers.get("X-Bot-Warning")
    return Response(body, media_type="application/json", headers={"X-Bot-Warning": warning} if warning else None)


@api.get("/metrics", response_model=Metrics)
def metrics(src: Src, response: Response) -> Metrics:
    report = _status(src, response)
    state, _ = src.state.read()
    index = src.index.refresh()
    exposure = sum(p.amount * p.mark_price for p in report.positions)
    return Metrics(
        **report.model_dump(
            include={
                "equity_usd",
                "initial_equity_usd",
                "return_pct",
                "sharpe",
                "max_drawdown_pct",
                "realized_pnl_usd",
                "unrealized_pnl_usd",
                "fees_paid_usd",
                "funding_usd",
                "llm_spend_today_usd",
                "llm_budget_usd",
            }
        ),
        drawdown_pct=(1.0 - report.equity_usd / report.peak_equity_usd) * 100.0 if report.peak_equity_usd > 0 else 0.0,
        open_positions=len(report.positions),
        exposure_usd=exposure,
        ticks_by_outcome=dict(index.outcomes),
        llm_usage_total=index.usage,
        llm_spend_by_day=state.llm.spend_by_day if state else {},
    )


@scrape.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def prometheus(src: Src) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(exposition(src), media_type=CONTENT_TYPE_LATEST)


ControlBody = Annotated[ControlRequest | None, Body()]


def _control(action: str, src: Sources, request: Request, body: ControlRequest | CloseRequest | None) -> ControlResult:
    client = client_of(request)
    reason = (body.reason if body else "").strip()
    settings, now = src.settings, src.clock()
    try:
        if isinstance(body, CloseRequest):
            why = f"{reason + ' ' if reason else ''}(API, from {client})"
            state = control.request_close(settings, replay=src.replay, coin=body.coin, reason=why, now=now)
            message = f"closing {body.coin.strip().upper()} at the next tick: {why}"
        elif action == "pause":
            state = control.pause_bot(
                settings, replay=src.replay, reason=f"{reason or 'paused'} (API, from {client})", now=now
            )
            message = f"paused: {state.pause_reason}"
        elif action == "stop":
            state = control.stop_bot(
                settings, replay=src.replay, reason=f"{reason or 'stopped'} (API, from {client})", now=now
            )
            message = (
                f"stopping: every open position ({len(state.positions)}) closes at the next tick, then the bot stays "
                f"paused"
            )
        else:
            state, lifted = control.resume_bot(settings, replay=src.replay, now=now)
            message = f"resumed: lifted {lifted}"
    except (LockedError, StateError, ConfigError) as exc:
        src.record_control({"action": action, "reason": reason, "client": client, "ok": False, "message": str(exc)})
        log.warning("serve_control_failed", action=action, client=client, error=str(exc))
        code = 409 if isinstance(exc, LockedError) else 400 if isinstance(exc, ConfigError) else 503
        raise HTTPException(code, _shown(src, str(exc))) from None
    src.record_control({"action": action, "reason": reason, "client": client, "ok": True, "message": message})
    log.info("serve_control", action=action, client=client, reason=reason)
    return ControlResult(
        action=action,
        paused=state.paused,
        stop_requested=state.stop_requested,
        close_requested=state.close_requested,
        message=message,
    )


@api.post("/control/pause", response_model=ControlResult)
def pause(src: Src, request: Request, body: ControlBody = None) -> ControlResult:
    """No new positions; open ones are still managed (as `bot pause`)."""
    return _control("pause", src, request, body)


@api.post("/control/stop", response_model=ControlResult)
def stop(src: Src, request: Request, body: ControlBody = None) -> ControlResult:
    """Pause, and close every open position at the next tick."""
    return _control("stop", src, request, body)


@api.post("/control/close", response_model=ControlResult, responses={400: {"description": "unknown or flat coin"}})
def close(src: Src, request: Request, body: Annotated[CloseRequest, Body()]) -> ControlResult:
    """Close one open position at the next tick (as `bot close COIN`); fill reason `manual`."""
    return _control("close", src, request, body)


@api.post("/control/resume", response_model=ControlResult)
def resume(src: Src, request: Request) -> ControlResult:
    """Lift a pause, a stop and any backoff (as `bot resume`)."""
    return _control("resume", src, request, None)


@api.post("/control/start", response_model=ControlResult)
def start(src: Src, request: Request) -> ControlResult:
    """The same as resume: cron runs the loop, start lets it trade again."""
    return _control("start", src, request, None)
