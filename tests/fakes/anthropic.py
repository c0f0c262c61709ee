"""A fake Anthropic API on 127.0.0.1 that the real ``anthropic`` SDK talks to.

``GET /v1/models/{id}`` and ``GET /v1/models`` serve ``MODELS`` (capabilities and
lifecycle, as the Models API shapes them). ``POST /v1/messages`` first enforces the
model's rules as the API does, with a 400 or 404 in Anthropic's body format: unknown or
retired model 404; a forced tool choice (``tool`` / ``any``) where the model refuses it,
and on every model together with thinking (explicit, or on by default); a thinking type,
effort level, ``output_config.format`` or ``strict`` tool the model does not list;
``temperature`` / ``top_p`` / ``top_k`` and an assistant prefill where rejected;
``max_tokens`` above the model's; a schema keyword outside the structured-output subset in
``output_config.format`` or a ``strict`` tool (``schema_violation``, sources beside it). Then it
answers with the next scripted reply, or with
the default one (HOLD for every coin named in the prompt): as JSON text when the request
asked for ``output_config.format``, else as a ``decide`` tool call. Replies: a decision
batch, a text-only answer, an answer cut at ``max_tokens``, a refusal with its category,
an HTTP error (400, 401, 403, 404, 429, 500, 529 overloaded), a hang longer than any
client timeout, a 200 with a truncated or empty body. Every messages request is recorded
(headers and JSON body); model lookups go to ``model_lookups``.

Usage numbers: a scripted reply may carry exact ``usage``; otherwise they are estimated
at 4 characters per token (the fake has no tokenizer). Thinking, when on, adds a fixed
number of thinking tokens per effort level to the output (``THINKING_TOKENS``), reported
in ``output_tokens_details``. Prompt caching follows the API: the prompt is laid out as
format schema, tools, system blocks, messages; each ``cache_control`` block (or the last
block, for a top-level ``cache_control``) is a breakpoint whose prefix is cached only if
it reaches the model's minimum; the longest prefix written before is read, the rest up
to the last breakpoint is written, and the cache key includes model, thinking and effort.
The minimum cacheable prefix is per model (``ModelSpec.cache_min_tokens``) or one for
every model (``FakeAnthropic(cache_min_tokens=512)``, 4096, ...): below it nothing is
cached, the request succeeds, and both ``cache_creation_input_tokens`` and
``cache_read_input_tokens`` are 0, no error said. Source: Anthropic's prompt-caching page
(https://platform.claude.com/docs/en/build-with-claude/prompt-caching, "minimum cacheable
prompt length": 512 tokens for Opus 5 / Fable 5, 1,024 to 4,096 for earlier models; "shorter
prompts cannot be cached, even if marked with cache_control"), as summarised with the zero
counters by https://dev.to/creeta/claudes-prompt-cache-fails-silently-below-1024-tokens-1ch1.

Where the other behaviours come from (none from this project's reading of its own code):

- error statuses, types and the ``{"type": "error", "error": {"type", "message"}}`` body:
  Anthropic's errors page (https://platform.claude.com/docs/en/api/errors) and the installed
  SDK's ``anthropic/_exceptions.py``, which maps each status to the exception the bot catches;
- the Models API's shape (``id``, ``display_name``, ``created_at``, ``lifecycle``,
  ``retires_at``, ``capabilities``, ``max_tokens``): the installed SDK's
  ``anthropic/types/model_info.py`` and ``model_capabilities.py``;
- which request shapes each model refuses (a forced tool choice on the newest models and with
  thinking on every model, ``budget_tokens``, sampling parameters, an assistant prefill):
  ../shared/DESIGN.md's field notes on the 2026 API, from Anthropic's model and migration pages;
- the structured-output schema subset and its 400 wording: beside ``SCHEMA_COMMON`` below;
- usage fields (``input_tokens``, ``cache_creation_input_tokens``, ``cache_read_input_tokens``,
  ``output_tokens``): the installed SDK's ``anthropic/types/usage.py``.

Run it by hand: ``python -m tests.fakes.anthropic --port 8766``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes._local import LocalServer, QuietHandler

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",  # Anthropic's errors page: the request exceeds the maximum allowed number of bytes
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    400: "messages: at least one message is required",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "model: not found",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}
KINDS = {"tool_use", "text", "max_tokens", "refusal", "error", "hang", "truncated", "empty"}
EFFORTS = ("low", "medium", "high", "xhigh", "max")
THINKING_TOKENS = {"low": 120, "medium": 400, "high": 1200, "xhigh": 2400, "max": 4000}


@dataclass
class ModelSpec:
    """What one model accepts, and what the Models API says of it."""

    id: str
    display_name: str
    lifecycle: str = "active"  # active | deprecated | retired
    retires_at: str | None = None
    created_at: str = "2026-01-01T00:00:00Z"
    structured_outputs: bool = True
    thinking_types: frozenset[str] = frozenset(
        {"adaptive", "disabled"}
    )  # accepted thinking.type values; empty = no thinking
    thinking_default: bool = False  # thinking on when the request does not say
    effort_levels: tuple[str, ...] = ()
    default_effort: str = "high"
    forced_tool: bool = True  # tool_choice tool / any accepted (never with thinking)
    sampling: bool = False  # temperature / top_p / top_k accepted
    prefill: bool = False  # a last assistant turn accepted
    cache_min_tokens: int = 1024
    max_tokens: int = 64_000

    def info(self) -> dict[str, Any]:
        def on(flag: bool) -> dict[str, bool]:
            return {"supported": flag}

        types = self.thinking_types
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "lifecycle": self.lifecycle,
            "retires_at": self.retires_at,
            "deprecated_at": "2026-06-01T00:00:00Z" if self.lifecycle != "active" else None,
            "max_input_tokens": 1_000_000,
            "max_tokens": self.max_tokens,
            "capabilities": {
                "batch": on(True),
                "citations": on(True),
                "code_execution": on(False),
                "image_input": on(True),
                "pdf_input": on(True),
                "context_management": {"supported": False},
                "server_tools": {"supported": False},
                "structured_outputs": on(self.structured_outputs),
                "effort": {
                    "supported": bool(self.effort_levels),
                    **{level: on(level in self.effort_levels) for level in EFFORTS},
                },
                "thinking": {
                    "supported": bool(types - {"disabled"}),
                    "types": {
                        name: on(name in types or (name == "disabled" and not types))
                        for name in ("adaptive", "between_tools", "disabled", "enabled")
                    },
                },
            },
        }


_LATEST = {"structured_outputs": True, "forced_tool": False, "thinking_default": True}
MODELS = {
    spec.id: spec
    for spec in [
        ModelSpec(
            "claude-fable-5-1",
            "Claude Fable 5.1",
            **_LATEST,
            thinking_types=frozenset({"adaptive"}),
            effort_levels=EFFORTS,
            cache_min_tokens=512,
        ),
        ModelSpec(
            "claude-opus-5-5",
            "Claude Opus 5.5",
            **_LATEST,
            thinking_types=frozenset({"adaptive"}),
            effort_levels=EFFORTS,
            default_effort="medium",
        ),
        ModelSpec(
            "claude-sonnet-5-5",
            "Claude Sonnet 5.5",
            **_LATEST,
            thinking_types=frozenset({"adaptive", "between_tools"}),
            effort_levels=EFFORTS,
            cache_min_tokens=2048,
        ),
        ModelSpec(
            "claude-haiku-5-5",
            "Claude Haiku 5.5",
            thinking_default=True,
            effort_levels=("low", "medium", "high"),
            default_effort="medium",
            cache_min_tokens=2048,
        ),
        ModelSpec("claude-sonnet-5", "Claude Sonnet 5", thinking_default=True, effort_levels=EFFORTS),
        ModelSpec(
            "claude-sonnet-4-6",
            "Claude Sonnet 4.6",
            thinking_types=frozenset({"adaptive", "enabled", "disabled"}),
            effort_levels=("low", "medium", "high"),
        ),
        ModelSpec(
            "claude-haiku-4-5",
            "Claude Haiku 4.5",
            thinking_types=frozenset({"enabled", "disabled"}),
            sampling=True,
            prefill=True,
            cache_min_tokens=4096,
        ),
        ModelSpec(
            "claude-opus-4-5",
            "Claude Opus 4.5",
            lifecycle="deprecated",
            retires_at="2027-01-22T00:00:00Z",
            thinking_types=frozenset({"enabled", "disabled"}),
            effort_levels=("low", "medium", "high"),
            cache_min_tokens=4096,
        ),
        ModelSpec(
            "claude-sonnet-4-5",
            "Claude Sonnet 4.5",
            lifecycle="retired",
            retires_at="2026-11-30T00:00:00Z",
            sampling=True,
            prefill=True,
        ),
    ]
}


# The JSON Schema subset that structured outputs accept (``output_config.format.schema`` and a
# ``strict`` tool's ``input_schema``; the schema is compiled into a grammar). Sources: the
# installed SDK's ``anthropic/lib/_parse/_transform.py`` (``transform_schema``, what
# ``messages.parse`` sends: it keeps exactly these keywords and moves every other one into
# the description "so that the model *might* follow them"); Anthropic's structured-outputs
# page, "JSON Schema limitations" (objects need ``additionalProperties: false``; ``minItems``
# 0 or 1 only; a few string formats); /work/shared/DESIGN.md's field notes. The wording of
# the 400 is the API's: "output_format.schema: For 'integer' type, property 'minimum' is
# not supported" (agentjido/req_llm#302, the older parameter's name) and "For 'integer'
# type, properties maximum, minimum are not supported" for several (BerriAI/litellm#21016);
# the path before the colon names the node, as the API's validation errors do.
SCHEMA_COMMON = frozenset({"type", "description", "title", "enum", "const", "anyOf", "allOf", "$ref", "$defs"})
SCHEMA_BY_TYPE = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems"}),
    "string": frozenset({"format"}),
}
STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)


def schema_violation(node: Any, path: str) -> str | None:
    """The API's 400 message for the first keyword outside the subset under ``node``, or None."""
    if not isinstance(node, dict):
        return f"{path}: a schema must be an object"
    kind = node.get("type")
    if isinstance(kind, list):
        return f"{path}: type arrays are not supported; use anyOf"
    label = kind if isinstance(kind, str) else ("anyOf" if "anyOf" in node else "enum" if "enum" in node else "schema")
    extra = sorted(set(node) - SCHEMA_COMMON - SCHEMA_BY_TYPE.get(kind, frozenset()))
    if len(extra) == 1:
        return f"{path}: For '{label}' type, property '{extra[0]}' is not supported"
    if extra:
        return f"{path}: For '{label}' type, properties {', '.join(extra)} are not supported"
    if kind == "object" and node.get("additionalProperties") is not False:
        return f"{path}: For 'object' type, 'additionalProperties' must be explicitly set to false"
    if kind == "array" and node.get("minItems", 0) not in (0, 1):
        return f"{path}: For 'array' type, 'minItems' values other than 0 or 1 are not supported"
    if kind == "string" and "format" in node and node["format"] not in STRING_FORMATS:
        return f"{path}: For 'string' type, format {node['format']!r} is not supported"
    children = [(f"{path}.properties.{name}", child) for name, child in (node.get("properties") or {}).items()]
    children += [(f"{path}.$defs.{name}", child) for name, child in (node.get("$defs") or {}).items()]
    children += [
        (f"{path}.{key}.{i}", child) for key in ("anyOf", "allOf") for i, child in enumerate(node.get(key) or [])
    ]
    if "items" in node:
        children.append((f"{path}.items", node["items"]))
    return next((found for sub, child in children if (found := schema_violation(child, sub))), None)


@dataclass
class Reply:
    kind: str
    tool_input: Any = None
    text: str = ""
    status: int = 200
    usage: dict[str, int] | None = None
    category: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown reply kind {self.kind!r}; one of {sorted(KINDS)}"
            )  # a typo must not pass silently
        if self.kind == "error" and self.status not in ERROR_TYPES:
            raise ValueError(f"no Anthropic error body for HTTP {self.status}; one of {sorted(ERROR_TYPES)}")


def tool_call(tool_input: Any, *, usage: dict[str, int] | None = None) -> Reply:
    """A decision batch: a tool call, or the JSON text when the request asked for output_config.format."""
    return Reply("tool_use", tool_input=tool_input, usage=usage)


answer = tool_call


def btc_buy(price: float, *, leverage: int = 3, reasoning: str = "fault matrix", **change: Any) -> dict[str, Any]:
    """One BUY of BTC for 10 % at ``leverage``: stop-loss 2 % under ``price``, take-profit 4 % over
    (whole dollars, the shapes Decision accepts), with any field changed by ``change``."""
    return {
        "coin": "BTC",
        "action": "BUY",
        "confidence": 0.8,
        "size_pct": 10,
        "leverage": leverage,
        "stop_loss": round(price * 0.98),
        "take_profit": round(price * 1.04),
        "reasoning": reasoning,
        **change,
    }


def text_reply(text: str, *, usage: dict[str, int] | None = None) -> Reply:
    return Reply("text", text=text, usage=usage)


def cut_at_max_tokens(tool_input: Any) -> Reply:
    """The answer hit max_tokens: the API stops with stop_reason max_tokens."""
    return Reply("max_tokens", tool_input=tool_input)


def refusal(category: str | None = "general_harms") -> Reply:
    """The safety classifiers declined: HTTP 200, stop_reason refusal, stop_details.category."""
    return Reply("refusal", category=category)


def error(status: int) -> Reply:
    return Reply("error", status=status)


HANG = Reply("hang")
TRUNCATED = Reply("truncated")
EMPTY = Reply("empty")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


def _error_body(status: int, message: str) -> str:
    return json.dumps({"type": "error", "error": {"type": ERROR_TYPES[status], "message": message}})


@dataclass
class FakeAnthropic(LocalServer):
    hang_seconds: float = 30.0
    latency_ms: float = 0.0
    cache_min_tokens: int | None = None  # overrides every model's minimum cacheable prefix (module docstring)
    requests: list[Recorded] = field(default_factory=list)
    model_lookups: list[str] = field(default_factory=list)  # paths of GET /v1/models requests
    models: dict[str, ModelSpec] = field(default_factory=lambda: dict(MODELS))
    enforce: bool = True  # the per-model rules (off: any request is answered, as before they existed)
    text_without_tools: bool = False  # the default answer to a request without tools: JSON text, not a tool call
    # the default answer's tool input, from the request body (a model whose answer depends on what it is shown);
    # None: HOLD for every coin named in the prompt. Shaped as the `decide` tool's input (bot.strategies.request).
    respond: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self._script: list[Reply] = []
        self._by_model: dict[str, list[Reply]] = {}  # model -> its own queue, ahead of the shared one
        self._cached: set[str] = set()
        self._lock = threading.Lock()
        self._ids = 0

    # -- control ---------------------------------------------------------------------------
    def _handler(self) -> type[QuietHandler]:
        return _Handler

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order; then the default again."""
        with self._lock:
            self._script.extend(replies)

    def script_for(self, model: str, *replies: Reply) -> None:
        """Answer the next requests for ``model`` with ``replies`` (candidates asking at once get their own)."""
        with self._lock:
            self._by_model.setdefault(model, []).extend(replies)

    def _next(self, model: str = "") -> Reply | None:
        with self._lock:
            if queue := self._by_model.get(model):
                return queue.pop(0)
            return self._script.pop(0) if self._script else None

    # -- the Models API ----------------------------------------------------------------------
    def model_answer(self, path: str) -> tuple[int, str]:
        route, _, query = path.partition("?")
        if route.rstrip("/") == "/v1/models":
            wanted = set(re.findall(r"lifecycle(?:%5B%5D|\[\])?=(\w+)", query)) or {"active", "deprecated"}
            data = [spec.info() for spec in self.models.values() if spec.lifecycle in wanted]
            page = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
            return 200, json.dumps(page)
        spec = self.models.get(route.rsplit("/", 1)[-1])
        if spec is None:
            return 404, _error_body(404, f"model: {route.rsplit('/', 1)[-1]}")
        return 200, json.dumps(spec.info())

    # -- the rules ---------------------------------------------------------------------------
    def rejection(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """The 400 / 404 the API answers this request with, or None when it is accepted."""
        model = body.get("model", "")
        spec = self.models.get(model)
        if spec is None or spec.lifecycle == "retired":
            return 404, _error_body(404, f"model: {model}")
        choice = (body.get("tool_choice") or {}).get("type")
        forced = choice in ("tool", "any")
        thinking = self._thinking_on(spec, body)
        effort = (body.get("output_config") or {}).get("effort")
        kind = (body.get("thinking") or {}).get("type")
        checks = [
            (
                forced and not spec.forced_tool,
                f"tool_choice {choice!r} is not supported with {model}: use tool_choice auto or structured outputs",
            ),
            (forced and thinking, "Thinking may not be enabled when tool_choice forces tool use."),
            (
                kind is not None and kind not in (spec.thinking_types or {"disabled"}),
                f"thinking.type {kind!r} is not supported with {model}",
            ),
            (
                kind == "enabled" and "enabled" not in spec.thinking_types,
                f"thinking.budget_tokens is not supported with {model}",
            ),
            (
                effort is not None and effort not in spec.effort_levels,
                f"output_config.effort {effort!r} is not supported with {model}",
            ),
            (
                "format" in (body.get("output_config") or {}) and not spec.structured_outputs,
                f"output_config.format is not supported with {model}",
            ),
            (
                any(tool.get("strict") for tool in body.get("tools") or []) and not spec.structured_outputs,
                f"strict tools are not supported with {model}",
            ),
            (
                any(name in body for name in ("temperature", "top_p", "top_k")) and not spec.sampling,
                f"temperature, top_p and top_k may not be set with {model}",
            ),
            (
                bool(body.get("messages")) and body["messages"][-1].get("role") == "assistant" and not spec.prefill,
                f"assistant message prefill is not supported with {model}",
            ),
            (
                int(body.get("max_tokens") or 0) > spec.max_tokens,
                f"max_tokens: {body.get('max_tokens')} > {spec.max_tokens}, the maximum for {model}",
            ),
        ]
        for broken, message in checks:
            if broken:
                return 400, _error_body(400, message)
        if (wrong := _schema_rejection(body)) is not None:
            return 400, _error_body(400, wrong)
        return None

    @staticmethod
    def _thinking_on(spec: ModelSpec, body: dict[str, Any]) -> bool:
        kind = (body.get("thinking") or {}).get("type")
        if kind is None:
            return spec.thinking_default
        return kind in ("adaptive", "enabled")

    # -- answers -----------------------------------------------------------------------------
    def answer(self, body: dict[str, Any], reply: Reply | None) -> tuple[int, str, dict[str, str]]:
        if reply is None or reply.kind != "error":
            rejected = self.rejection(body) if self.enforce else None
            if rejected is not None:
                return rejected[0], rejected[1], {"request-id": self._next_id("req")}
        reply = reply or tool_call((self.respond or _hold_everything)(body))
        if reply.kind == "error":
            return (
                reply.status,
                _error_body(reply.status, ERROR_MESSAGES[reply.status]),
                {"request-id": self._next_id("req")},
            )
        if reply.kind == "truncated":
            return 200, json.dumps(self._message(body, tool_call({"decisions": []})))[:60], {}
        if reply.kind == "empty":
            return 200, "", {}
        return 200, json.dumps(self._message(body, reply)), {"request-id": self._next_id("req")}

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_fake{self._ids:06d}"

    def _message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        # JSON text where output_config.format asked for it, or (``text_without_tools``) where the request
        # offers no tool to call: a provider's JSON-text request, tests/fakes/provider.py
        as_json = "format" in (body.get("output_config") or {}) or (self.text_without_tools and not body.get("tools"))
        stop_details = None
        if reply.kind == "text":
            content = [{"type": "text", "text": reply.text}]
            stop_reason, produced = "end_turn", reply.text
        elif reply.kind == "refusal":
            content, stop_reason, produced = [], "refusal", ""
            stop_details = {"type": "refusal", "category": reply.category, "explanation": None}
        elif as_json:
            produced = json.dumps(reply.tool_input)
            content = [{"type": "text", "text": produced}]
            stop_reason = "max_tokens" if reply.kind == "max_tokens" else "end_turn"
        else:
            tool = (body.get("tools") or [{"name": "decide"}])[0]["name"]
            content = [{"type": "tool_use", "id": self._next_id("toolu"), "name": tool, "input": reply.tool_input}]
            stop_reason = "max_tokens" if reply.kind == "max_tokens" else "tool_use"
            produced = json.dumps(reply.tool_input)
        spec = self.models.get(body.get("model", ""))
        thinking = spec is not None and self._thinking_on(spec, body)
        if thinking and content:
            content.insert(0, {"type": "thinking", "thinking": "", "signature": "fake-signature"})
        return {
            "id": self._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": stop_details,
            "usage": reply.usage or self._usage(body, produced, spec=spec, thinking=thinking),
        }

    def _usage(self, body: dict[str, Any], produced: str, *, spec: ModelSpec | None, thinking: bool) -> dict[str, Any]:
        """Estimated at 4 characters per token; caching as the module docstring says."""
        blocks = _prompt_blocks(body)
        minimum = (
            self.cache_min_tokens if self.cache_min_tokens is not None else (spec.cache_min_tokens if spec else 1024)
        )
        marks = [index for index, (_, marked) in enumerate(blocks) if marked]
        if body.get("cache_control") and blocks:
            marks.append(len(blocks) - 1)
        total = sum(_tokens(text) for text, _ in blocks)
        salt = json.dumps([body.get("model"), body.get("thinking"), (body.get("output_config") or {}).get("effort")])
        read = write = 0
        with self._lock:
            prefixes = []
            for mark in sorted(set(marks)):
                text = "".join(text for text, _ in blocks[: mark + 1])
                tokens = sum(_tokens(part) for part, _ in blocks[: mark + 1])
                if tokens >= minimum:
                    prefixes.append((tokens, hashlib.sha256((salt + text).encode()).hexdigest()))
            hits = [tokens for tokens, key in prefixes if key in self._cached]
            read = max(hits, default=0)
            if prefixes:
                write = prefixes[-1][0] - read
                self._cached.update(key for _, key in prefixes)
        effort = (body.get("output_config") or {}).get("effort") or (spec.default_effort if spec else "high")
        thought = THINKING_TOKENS[effort] if thinking else 0
        usage: dict[str, Any] = {
            "input_tokens": total - read - write,
            "output_tokens": _tokens(produced) + thought,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }
        if thought:
            usage["output_tokens_details"] = {"thinking_tokens": thought}
        return usage


def _schema_rejection(body: dict[str, Any]) -> str | None:
    """The first schema keyword structured outputs refuse, in the format or a strict tool."""
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    if schema is not None and (wrong := schema_violation(schema, "output_config.format.schema")):
        return wrong
    for index, tool in enumerate(body.get("tools") or []):
        if tool.get("strict") and (
            wrong := schema_violation(tool.get("input_schema"), f"tools.{index}.custom.input_schema")
        ):
            return wrong
    return None


def _prompt_blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt in the API's order, as (text, has a cache breakpoint) per block."""
    blocks: list[tuple[str, bool]] = []
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    if schema is not None:
        blocks.append((json.dumps(schema), False))
    for tool in body.get("tools") or []:
        blocks.append((json.dumps({k: v for k, v in tool.items() if k != "cache_control"}), "cache_control" in tool))
    system = body.get("system") or []
    for block in system if isinstance(system, list) else [{"type": "text", "text": system}]:
        blocks.append((block.get("text", ""), "cache_control" in block))
    for message in body.get("messages") or []:
        content = message.get("content", "")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            blocks.append((block.get("text", "") or json.dumps(block), "cache_control" in block))
    return blocks


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _hold_everything(body: dict[str, Any]) -> dict[str, Any]:
    """The default answer: HOLD for every ``== COIN ==`` block of the user prompt."""
    messages = body.get("messages") or []
    content = messages[-1].get("content", "") if messages else ""
    text = content if isinstance(content, str) else "".join(block.get("text", "") for block in content)
    coins = [coin for coin in re.findall(r"^== (\w+) ==$", text, flags=re.MULTILINE) if coin != "ACCOUNT"]
    return {
        "decisions": [
            {"coin": coin, "action": "HOLD", "confidence": 0.5, "reasoning": "no edge after costs"} for coin in coins
        ]
    }


class _Handler(QuietHandler):
    fake: FakeAnthropic

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        fake = self.fake
        with fake._lock:
            fake.model_lookups.append(self.path)
        if not self.path.startswith("/v1/models"):
            self._send(404, _error_body(404, f"not found: {self.path}"))
            return
        status, text = fake.model_answer(self.path)
        self._send(status, text, headers={"request-id": fake._next_id("req")})

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with fake._lock:
            fake.requests.append(
                Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
            )
        if fake.latency_ms:
            time.sleep(fake.latency_ms / 1000)
        if self.path.split("?")[0] != "/v1/messages":
            self._send(404, _error_body(404, f"not found: {self.path}"))
            return
        reply = fake._next(str(body.get("model", "")))
        if reply is not None and reply.kind == "hang":
            time.sleep(fake.hang_seconds)
            self.close_connection = True
            return
        status, text, headers = fake.answer(body, reply)
        self._send(status, text, headers=headers)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Fake Anthropic Messages API on 127.0.0.1 (answers HOLD for every coin)"
    )
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added before every answer (a model's thinking time)"
    )
    args = parser.parse_args()
    fake = FakeAnthropic(latency_ms=args.latency_ms).start(args.port)
    print(f"fake anthropic at {fake.url} ; Ctrl-C stops", flush=True)
    fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
