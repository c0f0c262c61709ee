"""Claude decides: one request per tick, shaped by what the model accepts, its answer
checked before anything trades.

The model's capabilities come from the Models API (``bot.strategies.capabilities``,
cached under var/cache); the request is built from them (``bot.strategies.request``):
structured outputs, a strict tool or the forced tool, thinking and effort only as the
model allows. The static system part is byte-identical from tick to tick, so where it
reaches the model's minimum cacheable prefix it is read from the prompt cache after the
first tick (0.1x the input price or less) as long as ticks come less than 5 minutes
apart; every answer's cache counters teach ``bot.strategies.cache_floor`` where that
minimum lies.

Failure policy: any failure to get a usable answer (auth, 429, 5xx / overloaded,
timeout, connection error, malformed or empty body, no answer in the expected shape, an
answer cut at max_tokens, a refusal) raises ``LlmUnavailable`` with one line saying what
happened and what to do; the engine then holds every coin. A retired or unknown model is
a ``ConfigError`` (exit 2). Retries are the SDK's own (``llm.retries``), not tenacity on
top; ``llm.deadline_s`` bounds the whole step, the capability lookup and retries
included. An answer in the expected shape is validated entry by entry (``validate``): a
bad entry holds that coin only, with the reason journaled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config import LlmSettings
from bot.errors import LlmRequestError, LlmUnavailable
from bot.models import Action, CoinFeatures, Decision, Portfolio
from bot.ops.budget import priced
from bot.strategies.cache_floor import CacheFloor, learn, load_floors, remember
from bot.strategies.capabilities import ModelCaps, read_caps
from bot.strategies.request import TOOL_NAME, Shape, breakpoint_prefixes, build_request, tool_schema
from bot.tick.protocols import PromptView, Trace

__all__ = ["ClaudeStrategy", "tool_schema", "validate"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClaudeStrategy:
    name = "claude"

    def __init__(
        self,
        llm: LlmSettings,
        *,
        api_key: str,
        cache_dir: Path | None = None,
        clock: Callable[[], datetime] = _utc_now,
        capabilities_ttl: timedelta | None = None,
        provider: Any = None,
    ) -> None:
        self.llm = llm
        self.provider = provider  # a bot.config.providers.ProviderProfile; None: Anthropic itself
        self._api_key = api_key
        self._cache_dir = cache_dir
        self._clock = clock  # only for the capability cache's age: nothing here trades on it
        self._ttl = capabilities_ttl
        self.caps: ModelCaps | None = None
        self._prefixes: list[int] = []  # the breakpoints' prefixes of the last request sent
        self.trace = Trace()  # paid: refreshed by every `decide`, read by the engine after it

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        audit: dict[str, Any] = {
            "model": self.llm.model,
            "system": prompt.system,
            "memory": prompt.memory,
            "user": prompt.user,
        }
        self.trace = Trace(audit=audit, model=self.llm.model)
        audit = self.trace.audit  # pydantic copied it: fill in the copy the engine will read
        try:
            message, shape = await self._call(prompt, audit)
            usage = message.usage
            details = getattr(usage, "output_tokens_details", None)
            self.trace.usage = priced(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                thinking_tokens=getattr(details, "thinking_tokens", 0) or 0,
                cache_write_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_tokens=usage.cache_read_input_tokens or 0,
                price=self.llm.price,
            )
            audit["usage"] = self.trace.usage.model_dump()
            self._learn_floor(usage)
            audit["response"] = {"id": message.id, "stop_reason": message.stop_reason}
            answer = audit["response"]["answer"] = self._answer(message, shape, audit)
            decisions, invalid = validate(answer, features=features, portfolio=portfolio)
        except LlmUnavailable as exc:
            audit["error"] = str(exc)
            raise
        self.trace.invalid = invalid
        audit["decisions"] = [decision.model_dump(mode="json") for decision in decisions]
        audit["invalid"] = invalid
        return decisions

    async def _call(self, prompt: PromptView, audit: dict[str, Any]) -> tuple[Any, Shape]:
        import anthropic

        llm = self.llm
        client = anthropic.AsyncAnthropic(
            **_credentials(self._api_key, self.provider),
            base_url=llm.base_url,
            max_retries=llm.retries,
            timeout=llm.timeout_s,
        )
        try:
            async with client, asyncio.timeout(llm.deadline_s):
                caps = await read_caps(
                    client,
                    llm.model,
                    cache_dir=self._cache_dir,
                    now=self._clock(),
                    ttl=self._ttl,
                    priced=llm.prices,
                    profile=self.provider,
                )
                self.caps = caps
                self.trace.lifecycle, self.trace.retires_at = caps.lifecycle, caps.retires_at
                self.trace.profile_of = llm.provider if caps.source == "profile" else ""
                shape, request = build_request(
                    system=prompt.system, memory=prompt.memory, user=prompt.user, caps=caps, llm=llm
                )
                audit["shape"] = self.trace.shape = shape.value
                audit["request"] = {key: value for key, value in request.items() if key not in ("system", "messages")}
                self._prefixes = breakpoint_prefixes(request)
                try:
                    return await client.messages.create(**request), shape
                except anthropic.NotFoundError:
                    # retired mid-run, on a capabilities cache still fresh: ask the Models API at once
                    # (a ConfigError naming the priced active models when it is gone), not in 24 h
                    await read_caps(
                        client,
                        llm.model,
                        cache_dir=self._cache_dir,
                        now=self._clock(),
                        ttl=None,
                        priced=llm.prices,
                        fresh=True,
                    )
                    raise
        except TimeoutError:
            raise LlmUnavailable(
                f"no answer from Claude within llm.deadline_s = {llm.deadline_s:g} s (retries included)"
            ) from None
        except anthropic.APIError as exc:
            message = _describe(exc, llm=llm, base_url=str(client.base_url))
            if self.provider is not None:  # the key and host are the provider's, not Anthropic's
                message = message.replace("ANTHROPIC_API_KEY", self.provider.api_key_env)
                message = f"provider {llm.provider}: {message}"
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500 and status not in _OUTAGES:
                raise LlmRequestError(message, status=status) from None
            raise LlmUnavailable(message) from None
        except ValueError as exc:  # the SDK lets a 200 with a broken JSON body through as JSONDecodeError
            raise LlmUnavailable(f"malformed answer from the Anthropic API (not JSON: {exc})") from None

    def _learn_floor(self, usage: Any) -> None:
        """What this answer says of the model's minimum cacheable prefix, remembered in var/cache."""
        model = self.llm.model
        known = load_floors(self._cache_dir).get(model, CacheFloor())
        floor = learn(
            known,
            prefixes=self._prefixes,
            written=usage.cache_creation_input_tokens or 0,
            read=usage.cache_read_input_tokens or 0,
        )
        if floor != known:
            remember(self._cache_dir, model, floor)

    def _answer(self, message: Any, shape: Shape, audit: dict[str, Any]) -> Any:
        """The decision batch as data: the tool's input, or the JSON text (structured outputs)."""
        calls = [block for block in message.content if block.type == "tool_use" and block.name == TOOL_NAME]
        texts = [block.text for block in message.content if block.type == "text"]
        if texts:
            audit["response"]["text"] = "\n".join(texts)
        if calls:
            audit["response"]["tool_input"] = calls[0].input
        if message.stop_reason == "refusal":
            details = getattr(message, "stop_details", None)
            category = getattr(details, "category", None) or "uncategorised"
            self.trace.refusal = category
            audit["response"]["refusal"] = category
            raise LlmUnavailable(
                f"Claude refused to answer (stop_reason refusal, category {category}): holding every coin"
            )
        if message.stop_reason == "max_tokens":
            raise LlmUnavailable("Claude's answer was cut at llm.max_tokens; raise llm.max_tokens in config.toml")
        if shape is Shape.JSON_SCHEMA:
            if not texts:
                raise LlmUnavailable("Claude answered without the JSON text that output_config.format asks for")
            try:
                return json.loads("".join(texts))
            except ValueError:
                raise LlmUnavailable(f"Claude's structured answer is not JSON: {''.join(texts)[:80]!r}") from None
        if shape is Shape.JSON_TEXT:
            return json_answer("".join(texts), who=self.llm.provider)
        if not calls:
            said = f": {texts[0][:80]!r}" if texts else ""
            raise LlmUnavailable(f"Claude answered without calling the `{TOOL_NAME}` tool{said}")
        return calls[0].input


def _credentials(key: str, provider: Any) -> dict[str, Any]:
    """The SDK's credential arguments. Anthropic: ``api_key`` as ever. A provider: its key as a
    bearer token (``auth_token``), or in an ``X-Api-Key`` header with no Authorization header
    (the installed SDK sends ``api_key`` as a bearer token, anthropic/_client.py ``_api_key_auth``).
    Either way the key is passed explicitly, so the SDK never falls back on ANTHROPIC_API_KEY
    and Anthropic's key never reaches another provider."""
    if provider is None:
        return {"api_key": key}
    if provider.auth == "bearer":
        return {"auth_token": key}
    from anthropic import Omit

    return {"api_key": key, "default_headers": {"X-Api-Key": key, "Authorization": Omit()}}


# 4xx answers that mean "not now" (a timeout, a conflict, the rate limit): outages, retried next
# tick like a 5xx or a 529. Every other 4xx is the request itself: a bug or a configuration.
_OUTAGES = frozenset({408, 409, 429})


def _describe(exc: Any, *, llm: LlmSettings, base_url: str) -> str:
    """One line per failure kind, saying what to do about it."""
    import anthropic

    retried = (
        f"after {llm.retries} {'retry' if llm.retries == 1 else 'retries'}"
        if llm.retries
        else "(no retries: llm.retries = 0)"
    )
    if isinstance(exc, anthropic.AuthenticationError):
        return (
            "Anthropic rejected ANTHROPIC_API_KEY (401 authentication_error): "
            "set a valid key in the environment or .env"
        )
    if isinstance(exc, anthropic.PermissionDeniedError):
        return (
            "ANTHROPIC_API_KEY may not use this model or workspace (403 permission_error): "
            "check the key's access in the console"
        )
    if isinstance(exc, anthropic.NotFoundError):
        return (
            f"Anthropic answered 404 not_found_error ({exc.api_message or 'no message'}) although the Models API "
            f"lists {llm.model!r}: check llm.base_url"
        )
    if isinstance(exc, anthropic.RequestTooLargeError):
        return (
            f"Anthropic refused the request as too large (413 request_too_large: {exc.api_message or 'no message'}): "
            "fewer coins, a smaller llm.memory_max_tokens or shorter llm.instructions"
        )
    if isinstance(exc, anthropic.RateLimitError):
        return f"Claude rate limit (429 rate_limit_error) {retried}: holding this tick"
    if isinstance(exc, anthropic.OverloadedError):
        return f"Claude is overloaded (529 overloaded_error) {retried}: holding this tick"
    if isinstance(exc, anthropic.InternalServerError):
        return f"Anthropic API error {exc.status_code} ({exc.type or 'server error'}) {retried}: holding this tick"
    if isinstance(exc, anthropic.APITimeoutError):
        return f"no answer from Claude within llm.timeout_s = {llm.timeout_s:g} s {retried}: holding this tick"
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        why = type(cause).__name__ if cause else "connection error"
        return f"cannot reach the Anthropic API at {base_url} ({why}) {retried}"
    if isinstance(exc, anthropic.APIStatusError):
        return f"Anthropic refused the request ({exc.status_code} {exc.type or ''}: {exc.api_message or 'no message'})"
    return f"malformed answer from the Anthropic API ({type(exc).__name__})"


# -- validation (pure) --------------------------------------------------------------------


def json_answer(text: str, *, who: str) -> Any:
    """The JSON object of a plain-text answer (``Shape.JSON_TEXT``): the text itself, or what lies
    between its first ``{`` and last ``}`` (a model may wrap it in a ``json`` fence or a sentence).
    No object at all is an unusable answer; what the object holds is ``validate``'s to judge."""
    start, end = text.find("{"), text.rfind("}")
    for candidate in (text.strip(), text[start : end + 1] if 0 <= start < end else ""):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise LlmUnavailable(f"{who}'s answer holds no JSON object: {text[:80]!r}")


def validate(
    tool_input: Any, *, features: dict[str, CoinFeatures], portfolio: Portfolio
) -> tuple[list[Decision], dict[str, str]]:
    """Decisions that may go to the risk step, and coin -> reason for each refused entry.

    The answer must be ``{"decisions": [...]}`` (else ``LlmUnavailable``: the whole
    answer is unusable). Each entry is checked by the ``Decision`` model (the bounds the
    schema could only state in words), then against this tick's data: a known coin,
    listed once, a size for an entry, a stop-loss and a take-profit, where given, on the
    right sides of the last price, CLOSE only for an open position. A refused entry
    becomes HOLD for its coin; an unknown coin is dropped. What the risk step decides for
    every strategy alike stays there (one decision contract): leverage above
    ``risk.max_leverage`` is cut to it, an entry without a stop-loss follows
    ``risk.missing_stop_loss`` (derived from ATR, or rejected), a take-profit is optional
    and, when given, must earn ``risk.min_reward_risk``.
    """
    if not isinstance(tool_input, dict) or not isinstance(tool_input.get("decisions"), list):
        shown = json.dumps(tool_input)[:80] if _jsonable(tool_input) else type(tool_input).__name__
        raise LlmUnavailable(f'malformed tool input from Claude (expected {{"decisions": [...]}}, got {shown})')
    decided: dict[str, Decision] = {}
    invalid: dict[str, str] = {}
    for index, entry in enumerate(tool_input["decisions"], start=1):
        raw_coin = entry.get("coin") if isinstance(entry, dict) else None
        coin = raw_coin.strip().upper() if isinstance(raw_coin, str) else ""
        if coin not in features:
            known = ", ".join(features)
            invalid[coin or f"entry {index}"] = (
                f"unknown coin {raw_coin!r} (this tick: {known})" if coin else "entry without a coin"
            )
            continue
        if coin in decided or coin in invalid:
            decided.pop(coin, None)
            invalid[coin] = "listed more than once"
            continue
        reason = ""
        try:
            decision = Decision.model_validate({**entry, "coin": coin})
        except ValidationError as exc:
            reason = _first_error(exc)
        else:
            reason = _check(decision, features[coin], portfolio)
        if reason:
            invalid[coin] = reason
        else:
            decided[coin] = decision
    held = [
        Decision(coin=coin, action=Action.HOLD, confidence=0.0, reasoning=f"invalid, holding: {reason}")
        for coin, reason in invalid.items()
        if coin in features
    ]
    return [*decided.values(), *held], invalid


def _check(decision: Decision, features: CoinFeatures, portfolio: Portfolio) -> str:
    """Why ``decision`` cannot stand against this tick's data, or '' when it can."""
    action, price = decision.action, features.price
    if action is Action.HOLD:
        return ""
    if action is Action.CLOSE:
        return "" if decision.coin in portfolio.positions else "CLOSE without an open position"
    if decision.size_pct <= 0:
        return f"{action} with size_pct 0"
    long = action is Action.BUY
    side = "long" if long else "short"
    exits = [("stop_loss", decision.stop_loss, True), ("take_profit", decision.take_profit, False)]
    for name, value, loss_side in exits if long else exits[::-1]:  # the one below the price first
        if value is None:
            continue  # the risk step's rule: a missing stop follows risk.missing_stop_loss, a take-profit is optional
        below = long == loss_side  # a long's stop and a short's take-profit lie below the price
        if below and not value < price:
            return f"{name} {value:g} is not below the price {price:g} for a {side}"
        if not below and not value > price:
            return f"{name} {value:g} is not above the price {price:g} for a {side}"
    return ""


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "entry"
    value = error.get("input")
    shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
    return f"`{where}`: {error['msg']}{shown}"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
