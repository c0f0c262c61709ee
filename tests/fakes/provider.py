"""A fake Anthropic-compatible provider on 127.0.0.1: the project's fake Anthropic API
(``tests.fakes.anthropic``) with the behaviour of MiniMax's Anthropic layer, which the real
``anthropic`` SDK reaches with ``base_url``.

Behaviour and its sources (read 2026-12-08):

- served under a path, ``/anthropic/v1/messages``: the base URL is https://api.minimax.io/anthropic
  (https://platform.minimax.io/docs/api-reference/text-anthropic-api);
- bearer auth, ``Authorization: Bearer KEY``: MiniMax's curl example
  (https://www.developersdigest.tech/reference/api-compatibility/minimax); a missing or wrong key
  is a 401 in Anthropic's error body;
- no Models API: MiniMax documents none for this layer, so ``GET .../v1/models/{id}`` is a 404
  (the not-served case the bot must survive);
- its supported subset: text and tool calls, ``tool_choice`` "fully supported"
  (https://platform.minimaxi.com/docs/api-reference/text-anthropic-api, the parameter table);
  ``output_config``, ``thinking`` and ``cache_control`` are not in what was read, so the fake
  refuses each with a 400. MiniMax documents no wording for that refusal: the message here is
  the fake's own, in Anthropic's error body (the SDK maps the status, not the words).

``models_api="openai"`` answers ``GET .../v1/models/{id}`` as Ollama does at that path: OpenAI's model
object (``id``, ``object``, ``created``, ``owned_by``), "/v1/models/{model}" being one of Ollama's
OpenAI-compatible endpoints (https://docs.ollama.com/api/openai-compatibility, as summarised by
https://www.w3cschool.cn/ollamadocs/ollamadocs-api-openai-compatibility.html).
``auth="x-api-key"`` takes the key in an ``X-Api-Key`` header instead, as DeepSeek documents it
("x-api-key: Fully Supported", https://api-docs.deepseek.com/zh-cn/guides/anthropic_api).
``tools=False`` gives the second shape: a provider whose profile lists no tool use (Moonshot,
Z.ai: not documented), which refuses ``tools`` as well and answers in JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.fakes.anthropic import FakeAnthropic, ModelSpec, _error_body, _Handler

MINIMAX = ModelSpec(
    "MiniMax-M3",
    "MiniMax M3 (the model of MiniMax's own example)",
    structured_outputs=False,
    thinking_types=frozenset(),
    forced_tool=True,
)


@dataclass
class FakeProvider(FakeAnthropic):
    prefix: str = "/anthropic"
    key: str = "mm-test-key-0123456789"
    tools: bool = True
    auth: str = "bearer"  # or "x-api-key"
    models_api: str = "none"  # or "openai": Ollama's answer at the Models API's path
    text_without_tools: bool = True  # a request without tools asked for JSON text (bot.strategies.request)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.models = {MINIMAX.id: MINIMAX}

    @property
    def base_url(self) -> str:
        return f"{self.url}{self.prefix}"

    def _handler(self) -> type[_Handler]:
        return _ProviderHandler

    def rejection(self, body: dict[str, Any]) -> tuple[int, str] | None:
        unsupported = [name for name in ("output_config", "thinking") if name in body]
        if "cache_control" in json.dumps(body.get("system")) + json.dumps(body.get("messages")):
            unsupported.append("cache_control")
        if body.get("tools") and not self.tools:
            unsupported.append("tools")
        if unsupported:
            return 400, _error_body(400, f"invalid params, unsupported parameter: {unsupported[0]}")
        return super().rejection(body)


class _ProviderHandler(_Handler):
    fake: FakeProvider

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        with self.fake._lock:
            self.fake.model_lookups.append(self.path)
        if self.fake.models_api == "openai":
            model = self.path.rsplit("/", 1)[-1]
            self._send(200, json.dumps({"id": model, "object": "model", "created": 1764547200, "owned_by": "library"}))
            return
        self._send(404, _error_body(404, f"not found: {self.path}"))

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        fake = self.fake
        given = self.headers.get("Authorization") if fake.auth == "bearer" else self.headers.get("X-Api-Key")
        if given != (f"Bearer {fake.key}" if fake.auth == "bearer" else fake.key):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(401, _error_body(401, "invalid api key"))
            return
        if not self.path.startswith(f"{fake.prefix}/"):
            self._send(404, _error_body(404, f"not found: {self.path}"))
            return
        self.path = self.path.removeprefix(fake.prefix)
        super().do_POST()
