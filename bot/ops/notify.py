"""Notifications to the owner through apprise (Telegram, Discord, Slack, email, json:// ...).

Events come from a tick's report (trades, stop-loss / take-profit / liquidation / manual fills,
risk limits, failures, the emergency pause) and from ``bot notify-summary``. Each has a
stable key (tick id + kind + order id or coin): the engine records the keys in state
BEFORE sending and skips keys already there, so a retried tick or a second summary run
never notifies twice (at most once: a crash between saving and sending loses the
message rather than repeating it). Sending never fails a tick: errors are logged.
apprise is imported only when something is sent.
"""

from __future__ import annotations

from enum import StrEnum

import structlog

from bot.models import Outcome, StrictModel, TickReport
from bot.ops.backoff import OpsEvent
from bot.ops.state import NOTIFIED_KEEP, BotState

log = structlog.get_logger(__name__)

# Risk codes (issue 6's RiskVerdict.codes) that mean an account-level limit stopped a trade.
_LIMIT_CODES = {"daily_loss_limit", "max_drawdown", "max_exposure", "max_positions", "too_many_entries"}
_EXIT_REASONS = {
    "stop_loss": "stop-loss hit",
    "take_profit": "take-profit hit",
    "liquidation": "LIQUIDATED",
    "manual": "closed by hand",  # `bot close COIN`: always said, whatever notify.min_trade_usd
}


class EventKind(StrEnum):
    TRADE_OPENED = "trade_opened"
    TRADE_CLOSED = "trade_closed"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    LIQUIDATION = "liquidation"
    RISK_LIMIT = "risk_limit"
    LIVE_ALERT = (
        "live_alert"  # live broker: a rejected order, a stop that failed, a position closed outside the bot ...
    )
    TICK_FAILED = "tick_failed"
    EMERGENCY_PAUSE = "emergency_pause"
    DAILY_SUMMARY = "daily_summary"
    MODEL_DEPRECATED = "model_deprecated"
    LLM_REQUEST_ERROR = (
        "llm_request_error"  # the API refuses the request (a 4xx) and `llm.on_error` lets the rules decide
    )
    ARENA_ROTATION = "arena_rotation"  # another candidate got the account (bot.arena)
    MANUAL_CLOSE = "manual"  # a position closed by `bot close COIN` (the API, the dashboard)


class Level(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


class Event(StrictModel):
    key: str  # dedupe key, stored in state once sent
    kind: EventKind
    level: Level = Level.INFO
    title: str
    body: str


def tick_events(
    report: TickReport, ops_events: list[OpsEvent], state: BotState, *, min_trade_usd: float = 0.0
) -> list[Event]:
    """What the owner should hear about one tick, in the order it happened."""
    events = []
    prefix = f"bot {report.mode}"
    for fill in report.fills:
        reason = str(fill.reason or "decision")
        notional = fill.amount * fill.price
        what = f"{fill.side} {fill.coin} {fill.amount:g} @ {fill.price:.6g} (fee {fill.fee_usd:.2f} USDT)"
        key = f"{report.tick_id}:{fill.client_order_id}"
        if reason in _EXIT_REASONS:
            kind = EventKind(reason)
            body = f"{_EXIT_REASONS[reason]}: closed {what}, PnL {fill.realized_pnl_usd:+.2f} USDT"
            events.append(
                Event(
                    key=key,
                    kind=kind,
                    level=Level.INFO if kind is EventKind.MANUAL_CLOSE else Level.WARNING,
                    title=f"{prefix}: {fill.coin} {_EXIT_REASONS[reason]}",
                    body=body,
                )
            )
        elif notional >= min_trade_usd:
            closed = fill.reduce_only
            kind = EventKind.TRADE_CLOSED if closed else EventKind.TRADE_OPENED
            body = f"{'closed' if closed else 'opened'} {what}" + (
                f", PnL {fill.realized_pnl_usd:+.2f} USDT" if closed else ""
            )
            events.append(
                Event(key=key, kind=kind, title=f"{prefix}: {kind.value.replace('_', ' ')} {fill.coin}", body=body)
            )
    for verdict in report.verdicts:
        codes = {str(code) for code in verdict.codes}
        if codes & _LIMIT_CODES:
            events.append(
                Event(
                    key=f"{report.tick_id}:risk:{verdict.coin}",
                    kind=EventKind.RISK_LIMIT,
                    level=Level.WARNING,
                    title=f"{prefix}: risk limit stopped {verdict.action} {verdict.coin}",
                    body=verdict.reason,
                )
            )
    for index, correction in enumerate(report.corrections):
        if correction.alert:
            severe = correction.kind in ("unprotected", "stop_failed")
            events.append(
                Event(
                    key=f"{report.tick_id}:alert:{index}:{correction.kind}:{correction.coin}",
                    kind=EventKind.LIVE_ALERT,
                    level=Level.FAILURE if severe else Level.WARNING,
                    title=f"{prefix}: {correction.coin + ' ' if correction.coin else ''}"
                    f"{correction.kind.replace('_', ' ')}",
                    body=correction.message,
                )
            )
    if OpsEvent.TICK_FAILED in ops_events:
        body = f"tick {report.tick_id} failed ({state.consecutive_errors} in a row): {report.message}"
        if state.backoff_until:
            body += f"; next attempt after {state.backoff_until:%H:%M:%S} UTC"
        events.append(
            Event(
                key=f"{report.tick_id}:failed",
                kind=EventKind.TICK_FAILED,
                level=Level.FAILURE,
                title=f"{prefix}: tick failed",
                body=body,
            )
        )
    llm = state.llm
    if llm.request_errors and llm.request_error_since and report.outcome is not Outcome.FAILED:
        # a failed tick alerts above; a tick the rules decided instead alerts once per streak, with the API's message
        events.append(
            Event(
                key=f"{llm.request_error_since:%Y%m%dT%H%M%S}:llm_request_error",
                kind=EventKind.LLM_REQUEST_ERROR,
                level=Level.FAILURE,
                title=f"{prefix}: Claude's request refused",
                body=f"{llm.last_error}; the rules decide until it is fixed (llm.on_error = rules)",
            )
        )
    if llm.lifecycle == "deprecated" and report.usage.calls:
        when = f"on {llm.retires_at:%Y-%m-%d}" if llm.retires_at else "on a date not yet scheduled"
        events.append(
            Event(
                key=f"{report.as_of:%Y-%m-%d}:deprecated:{llm.model}",  # once a UTC day
                kind=EventKind.MODEL_DEPRECATED,
                level=Level.WARNING,
                title=f"{prefix}: {llm.model} is deprecated",
                body=(
                    f"Anthropic retires {llm.model} {when}; after that every tick would hold. Set llm.model in "
                    f"config.toml to an active model."
                ),
            )
        )
    if OpsEvent.EMERGENCY_PAUSE in ops_events:
        body = f"paused itself: {state.pause_reason}. Open positions are still managed; run `bot resume` once fixed."
        events.append(
            Event(
                key=f"{report.tick_id}:pause",
                kind=EventKind.EMERGENCY_PAUSE,
                level=Level.FAILURE,
                title=f"{prefix}: EMERGENCY PAUSE",
                body=body,
            )
        )
    return events


def claim(events: list[Event], state: BotState) -> list[Event]:
    """The events not notified before; their keys are recorded in ``state`` (save it before sending)."""
    seen = set(state.notified)
    fresh = []
    for event in events:
        if event.key not in seen:
            seen.add(event.key)
            fresh.append(event)
    state.notified = [*state.notified, *(event.key for event in fresh)][-NOTIFIED_KEEP:]
    return fresh


class Notifier:
    """Sends events to every configured apprise URL; logs, never raises."""

    def __init__(self, urls: list[str], *, timeout_seconds: float = 10.0) -> None:
        self.urls = urls
        self.timeout_seconds = timeout_seconds

    def send(self, events: list[Event]) -> int:
        """How many (event, URL) deliveries succeeded. Each URL is its own apprise object,
        so one broken service neither hides nor blocks the others; logs name a URL by its
        position in notify.urls, never by its text (it holds tokens)."""
        if not self.urls or not events:
            return 0
        delivered = 0
        try:
            apprise = _apprise()
            senders = []
            for number, url in enumerate(self.urls, 1):
                sender = apprise.Apprise()
                if sender.add(_with_timeouts(url, self.timeout_seconds)):
                    senders.append((number, sender))
                else:
                    log.warning(
                        "notify_bad_url",
                        url_number=number,
                        hint="not a valid apprise URL; see https://github.com/caronc/apprise/wiki",
                    )
            for event in events:
                for number, sender in senders:
                    if sender.notify(title=event.title, body=event.body, notify_type=_level(apprise, event.level)):
                        delivered += 1
                        log.info("notified", kind=event.kind, key=event.key, url_number=number)
                    else:
                        log.warning(
                            "notify_failed",
                            kind=event.kind,
                            key=event.key,
                            url_number=number,
                            error="the service refused or timed out",
                        )
        except Exception as exc:  # a broken notification set-up never fails a tick
            log.error("notify_failed", error=f"{type(exc).__name__}: {exc}")
        return delivered


def notifier_for(settings) -> Notifier:
    return Notifier(
        [url.get_secret_value() for url in settings.notify.urls], timeout_seconds=settings.notify.timeout_seconds
    )


def _apprise():
    import logging
    import warnings

    with warnings.catch_warnings():  # apprise 2.2 imports the deprecated imghdr
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise  # heavy: only when something is sent

    logging.getLogger("apprise").setLevel(logging.ERROR)  # its own lines would echo URLs
    return apprise


def _level(apprise, level: Level):
    return {
        Level.INFO: apprise.NotifyType.INFO,
        Level.SUCCESS: apprise.NotifyType.SUCCESS,
        Level.WARNING: apprise.NotifyType.WARNING,
        Level.FAILURE: apprise.NotifyType.FAILURE,
    }[level]


def _with_timeouts(url: str, seconds: float) -> str:
    """apprise's connect (cto) and read (rto) timeouts, unless the URL sets its own."""
    if "cto=" in url or "rto=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}cto={seconds:g}&rto={seconds:g}"
