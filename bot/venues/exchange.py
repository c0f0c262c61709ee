"""The one place a ccxt exchange object is built, and how its calls are retried and described.

Shared by the market (public data) and the live broker (private account), so both see
the same exchange id, URLs, timeouts and retry policy.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bot.config import Settings
from bot.errors import ConfigError, did_you_mean
from bot.venues.ccxt_lean import lean_ccxt
from bot.venues.profiles import profile_for

if TYPE_CHECKING:
    import ccxt.async_support as ccxt_async


def create_exchange(settings: Settings, *, credentials: bool = False) -> ccxt_async.Exchange:
    """A ccxt async exchange for ``settings.exchange``; with the account keys when ``credentials``."""
    ccxt = lean_ccxt(settings.exchange.id)
    exchange_cls = getattr(ccxt, settings.exchange.id, None)
    if exchange_cls is None:
        hint = did_you_mean(settings.exchange.id, ccxt.exchanges)
        raise ConfigError(f"`exchange.id`: unknown ccxt exchange {settings.exchange.id!r}{hint}")
    profile = profile_for(settings.exchange.id)
    profile.check(quote=settings.trading.quote)
    config: dict[str, Any] = {
        **profile.config,
        "enableRateLimit": True,
        "rateLimiterAlgorithm": "rollingWindow",
        "timeout": settings.exchange.timeout_ms,
        "options": {"defaultType": "swap", "fetchCurrencies": False, **profile.options},
    }
    if profile.builder_fee_pct:
        config["options"].update(builder_options(opted_in=settings.exchange.builder_fee))
    if credentials and settings.exchange_api_key and settings.exchange_secret:
        key_field, secret_field = profile.credentials
        config[key_field] = settings.exchange_api_key.get_secret_value()
        config[secret_field] = settings.exchange_secret.get_secret_value()
    exchange = exchange_cls(config)
    # ccxt sleeps 250 ms in close() so TLS connections can shut down gracefully; a
    # cron tick exits right after, so that quarter second is pure latency.
    exchange.timeout_on_exit = 0
    if settings.exchange.sandbox:
        exchange.set_sandbox_mode(True)
    if settings.exchange.api_url:
        point_exchange_at(exchange, settings.exchange.api_url)
    _refuse_malformed(exchange)
    if profile.builder_fee_pct and not settings.exchange.builder_fee:
        exchange.handle_builder_fee_approval = _no_approval
    return exchange


def builder_options(*, opted_in: bool) -> dict[str, Any]:
    """ccxt's Hyperliquid builder, as the owner chose it, never approved by the bot.

    ccxt (hyperliquid.handle_builder_fee_approval, before every order while unapproved) signs
    ApproveBuilderFee with the bot's key, but Hyperliquid takes that action only from the main
    wallet, "not an agent/API wallet" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/builder-codes):
    with an API wallet it fails, and is sent again before the next order. And an order that
    carries a builder the account never approved is refused, even at a fee of 0 ("Builder fee
    has not been approved.": hummingbot/hummingbot#8449, nautechsystems/nautilus_trader#4241).
    Off (the default): ``approvedBuilderFee`` False, so no order carries the builder, and
    ``create_exchange`` skips the approval. Opted in: the owner has approved ccxt's builder from
    the main wallet (README), so ``approvedBuilderFee`` True attaches it at ``feeInt`` 10 (0.01 %)."""
    return {"builderFee": opted_in, "approvedBuilderFee": opted_in}


async def _no_approval() -> bool:
    """ccxt's builder-fee approval, not sent (``builder_options``)."""
    return True


def _refuse_malformed(exchange: Any) -> None:
    """A 2xx answer whose body is not JSON (truncated, empty, an HTML page) raises BadResponse.

    ccxt parses such a body into None and hands the raw text to the parser, which makes an
    empty result of it without raising (no positions, a balance of 0): the bot would act on
    a false picture. ``handle_errors`` is ccxt's hook for exchange-specific error answers;
    this runs the exchange's own first, then refuses the malformed success.
    """
    ccxt = lean_ccxt()

    vendor = exchange.handle_errors

    # noqa: ANN001, ANN202
    def handle_errors(code, reason, url, method, headers, body, response, request_headers, request_body):
        result = vendor(code, reason, url, method, headers, body, response, request_headers, request_body)
        if response is None and 200 <= (code or 0) < 300 and not _bare_string(body, request_body):
            path = urlsplit(url).path  # the query carries the signature: keep it out of messages
            raise ccxt.BadResponse(
                f"{exchange.id} {method} {path}: malformed answer ({len(body or '')} bytes that are not JSON)"
            )
        return result

    exchange.handle_errors = handle_errors


# Hyperliquid's /info {"type": "userAbstraction"} answers a bare JSON string ("unifiedAccount",
# "default", ...; its docs, "Query a user's abstraction state"); ccxt's hyperliquid.is_unified_enabled
# reads it as a string and caches it. Refusing it made ccxt read a unified account's balance from
# the perp clearinghouse (0) and ask again before every order.
_STRING_ANSWERS = ('"userAbstraction"',)


def _bare_string(body: str | None, request_body: Any) -> bool:
    """A JSON string answering one of the requests documented to answer one (``_STRING_ANSWERS``)."""
    text = (body or "").strip()
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return False
    try:
        if not isinstance(json.loads(text), str):
            return False
    except ValueError:
        return False
    return any(mark in str(request_body or "") for mark in _STRING_ANSWERS)


def is_duplicate_id(exc: BaseException) -> bool:
    """The venue refused an order as a duplicate of a client id it holds (ccxt maps the codes to
    InvalidOrder or ExchangeError: the text is what says it)."""
    text = str(exc).lower()
    return any(mark in text for mark in ("-4116", "110072", "duplicate"))


def margin_mode_refusal(exc: BaseException) -> str | None:
    """Why Bybit refused to switch the account's margin mode, or None for any other error.

    Bybit v5 "Set Margin Mode" (https://bybit-exchange.github.io/docs/v5/account/set-margin-mode):
    a unified account's margin mode is the whole account's, and a switch that cannot be made
    answers retCode 3400045 "Set margin mode failed" with ``result.reasons``, each a
    ``reasonCode`` and ``reasonMsg``; the account keeps the mode it had. ccxt raises
    ExchangeError with the body in its message (bybit.exceptions '3400045')."""
    text = str(exc)
    if "3400045" not in text:
        return None
    reasons: list[str] = []
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        body = json.loads(text[text.index("{") :])
        reasons = [
            f"{r.get('reasonMsg') or 'no reason given'} ({r.get('reasonCode')})"
            for r in (body.get("result") or {}).get("reasons") or []
        ]
    return "; ".join(reasons) or "Set margin mode failed, no reason given"


def is_transient(exc: BaseException) -> bool:
    """Retry network hiccups, Binance's -1001 'try again' and a malformed answer (BadResponse:
    truncated, or missing what the bot needs); never bans, bad requests or auth."""
    ccxt = lean_ccxt()

    if isinstance(exc, ccxt.DDoSProtection):
        return False  # 418/429: back off until the next tick instead of hammering
    return isinstance(exc, ccxt.NetworkError | ccxt.BadResponse) or type(exc) is ccxt.OperationFailed


async def with_retry(
    function: Callable[..., Awaitable[Any]],
    *args: Any,
    retries: int,
    check: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> Any:
    """``await function(...)``, retried up to ``retries`` more times on transient errors only.

    ``check`` validates the answer inside the retry: a malformed one (BadResponse) is asked
    again like a timeout, and what ``check`` returns is the result."""
    from tenacity import (
        AsyncRetrying,
        retry_if_exception,
        stop_after_attempt,
        wait_exponential,
    )

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=0.25, max=2.0),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            answer = await function(*args, **kwargs)
            return check(answer) if check else answer


def describe(exc: BaseException) -> str:
    """One line, exception class first; ccxt messages can be long JSON bodies."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def point_exchange_at(exchange: Any, api_url: str) -> None:
    """Replace scheme and host of every REST URL in ``exchange.urls['api']``.

    ccxt maps Binance USD-M error codes only for URLs on the real fapi host, so the
    linear exact-code table is merged into the generic one to keep e.g. -4116 mapped
    to InvalidOrder after the rewrite.
    """
    target = urlsplit(api_url.rstrip("/"))

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            parts = urlsplit(value)
            return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
        if isinstance(value, dict):
            return {key: rewrite(item) for key, item in value.items()}
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])
    linear = exchange.exceptions.get("linear", {}).get("exact", {}) if isinstance(exchange.exceptions, dict) else {}
    if linear:
        exchange.exceptions["exact"] = {**exchange.exceptions.get("exact", {}), **linear}
