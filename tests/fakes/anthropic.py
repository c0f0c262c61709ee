"""A fake Anthropic Messages API on 127.0.0.1 that the real ``anthropic`` SDK talks to.

``POST /v1/messages`` answers with the next scripted reply, or with the default one (a
``decide`` tool call holding every coin named in the prompt) when the script is empty.
Replies: a tool call with a given input, a text-only answer, an answer cut at
``max_tokens``, an HTTP error in Anthropic's own body format (400, 401, 403, 404, 429,
500, 529 overloaded), a hang longer than any client timeout, a 200 with a truncated
JSON body, a 200 with an empty body. Every request is recorded (headers and JSON body)
so tests can assert the model, tool schema, forced tool choice and cache_control.

Usage numbers: a scripted reply may carry exact ``usage``; otherwise they are estimated
at 4 characters per token (the fake has no tokenizer) and prompt caching is simulated:
the first request with a ``cache_control`` block writes the prefix (tools + system) to
the cache, a later identical prefix reads it, provided it reaches ``cache_min_tokens``
(below it the API caches nothing and bills the prefix as plain input).

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
from dataclasses import dataclass, field
from typing import Any

from tests.fakes._local import LocalServer, QuietHandler

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    400: "messages: at least one message is required",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "model: not found",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}
KINDS = {"tool_use", "text", "max_tokens", "error", "hang", "truncated", "empty"}


@dataclass
class Reply:
    kind: str
    tool_input: Any = None
    text: str = ""
    status: int = 200
    usage: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reply kind {self.kind!r}; one of {sorted(KINDS)}")  # a typo must not pass silently
        if self.kind == "error" and self.status not in ERROR_TYPES:
            raise ValueError(f"no Anthropic error body for HTTP {self.status}; one of {sorted(ERROR_TYPES)}")


def tool_call(tool_input: Any, *, usage: dict[str, int] | None = None) -> Reply:
    return Reply("tool_use", tool_input=tool_input, usage=usage)


def text_reply(text: str, *, usage: dict[str, int] | None = None) -> Reply:
    return Reply("text", text=text, usage=usage)


def cut_at_max_tokens(tool_input: Any) -> Reply:
    """The answer hit max_tokens: the API stops with stop_reason max_tokens."""
    return Reply("max_tokens", tool_input=tool_input)


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


@dataclass
class FakeAnthropic(LocalServer):
    hang_seconds: float = 30.0
    latency_ms: float = 0.0
    cache_min_tokens: int = 1024  # the documented minimum cacheable prefix of claude-sonnet-4-6
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: list[Reply] = []
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

    def _next(self) -> Reply | None:
        with self._lock:
            return self._script.pop(0) if self._script else None

    # -- answers -----------------------------------------------------------------------------
    def answer(self, body: dict[str, Any], reply: Reply | None) -> tuple[int, str, dict[str, str]]:
        reply = reply or tool_call(_hold_everything(body))
        if reply.kind == "error":
            payload = {"type": "error", "error": {"type": ERROR_TYPES[reply.status], "message": ERROR_MESSAGES[reply.status]}}
            return reply.status, json.dumps(payload), {"request-id": self._next_id("req")}
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
        if reply.kind == "text":
            content = [{"type": "text", "text": reply.text}]
            stop_reason, produced = "end_turn", reply.text
        else:
            tool = (body.get("tools") or [{"name": "decide"}])[0]["name"]
            content = [{"type": "tool_use", "id": self._next_id("toolu"), "name": tool, "input": reply.tool_input}]
            stop_reason = "max_tokens" if reply.kind == "max_tokens" else "tool_use"
            produced = json.dumps(reply.tool_input)
        return {
            "id": self._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": reply.usage or self._usage(body, produced),
        }

    def _usage(self, body: dict[str, Any], produced: str) -> dict[str, int]:
        """Estimated at 4 characters per token; the cached prefix is tools + system."""
        system = body.get("system") or []
        blocks = system if isinstance(system, list) else [{"type": "text", "text": system}]
        prefix = json.dumps(body.get("tools") or []) + "".join(block.get("text", "") for block in blocks)
        prefix_tokens = _tokens(prefix)
        cached = any("cache_control" in block for block in blocks) and prefix_tokens >= self.cache_min_tokens
        write = read = 0
        if cached:
            key = hashlib.sha256((body.get("model", "") + prefix).encode()).hexdigest()
            with self._lock:
                hit = key in self._cached
                self._cached.add(key)
            write, read = (0, prefix_tokens) if hit else (prefix_tokens, 0)
        uncached_prefix = 0 if cached else prefix_tokens
        return {
            "input_tokens": uncached_prefix + _tokens(json.dumps(body.get("messages") or [])),
            "output_tokens": _tokens(produced),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _hold_everything(body: dict[str, Any]) -> dict[str, Any]:
    """The default answer: HOLD for every ``== COIN ==`` block of the user prompt."""
    messages = body.get("messages") or []
    content = messages[-1].get("content", "") if messages else ""
    text = content if isinstance(content, str) else "".join(block.get("text", "") for block in content)
    coins = [coin for coin in re.findall(r"^== (\w+) ==$", text, flags=re.MULTILINE) if coin != "ACCOUNT"]
    return {"decisions": [{"coin": coin, "action": "HOLD", "confidence": 0.5, "reasoning": "no edge after costs"} for coin in coins]}


class _Handler(QuietHandler):
    fake: FakeAnthropic

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        with fake._lock:
            fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
        if fake.latency_ms:
            time.sleep(fake.latency_ms / 1000)
        if self.path.split("?")[0] != "/v1/messages":
            self._send(404, json.dumps({"type": "error", "error": {"type": "not_found_error", "message": f"not found: {self.path}"}}))
            return
        reply = fake._next()
        if reply is not None and reply.kind == "hang":
            time.sleep(fake.hang_seconds)
            self.close_connection = True
            return
        status, text, headers = fake.answer(body, reply)
        self._send(status, text, headers=headers)



def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic Messages API on 127.0.0.1 (answers HOLD for every coin)")
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added before every answer (a model's thinking time)")
    args = parser.parse_args()
    fake = FakeAnthropic(latency_ms=args.latency_ms).start(args.port)
    print(f"fake anthropic at {fake.url} ; Ctrl-C stops", flush=True)
    fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
