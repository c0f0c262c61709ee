"""Other providers serving an Anthropic-compatible Messages API: where they are, how they take a
key, and what they accept when their Models API does not say (``ProviderProfile``).

`[llm] provider` (and an arena candidate's `provider`) names a built-in profile below or a
`[providers.NAME]` table of config.toml. The official ``anthropic`` SDK reaches every one of
them with ``base_url``; the key is read from the variable ``api_key_env`` names (environment
or ``.env``), never from config.toml. The Models API still answers first where a provider
serves it (it wins); where it does not (404), the profile is what the request is built from
(``bot.strategies.capabilities.profile_caps``), and `bot status` says so.

A capability the provider's pages do not document is off in its profile (no structured
outputs, no thinking, no cache control, no forced tool choice; no tools: the answer is asked
for as JSON text), so the bot never sends a field the provider may refuse.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from bot.config.base import Section, optional_url
from bot.config.llm import ModelPrice

ANTHROPIC = "anthropic"  # the default: Anthropic itself, its Models API always answers, ANTHROPIC_API_KEY


class ProviderProfile(Section):
    """One provider: where, which key and how it is sent, what its models accept, their prices."""

    base_url: str = Field(description="its Anthropic-compatible base URL (the SDK appends /v1/messages)")
    api_key_env: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]*$", description="the environment / .env variable holding its key (never the key)"
    )
    auth: Literal["x-api-key", "bearer"] = Field(
        "bearer", description="x-api-key: the key in an X-Api-Key header; bearer: Authorization: Bearer KEY"
    )
    key_required: bool = Field(True, description="false: a local server that ignores the key (Ollama)")
    structured_outputs: bool = Field(False, description="output_config.format and strict tools accepted")
    tools: bool = Field(False, description="tool use accepted; false: the answer is asked for as JSON text")
    forced_tool: bool = Field(False, description="tool_choice {type: tool} accepted")
    thinking_types: list[str] = Field(default_factory=list, description="accepted thinking.type values")
    effort_levels: list[str] = Field(default_factory=list, description="accepted output_config.effort values")
    cache_control: bool = Field(False, description="cache_control breakpoints accepted")
    max_tokens: int | None = Field(None, ge=1, description="the answer's maximum tokens, where documented")
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="USD per million tokens per model")
    any_model_price: ModelPrice | None = Field(
        None, description="the price of a model without its own row (a local server: 0)"
    )
    sources: list[str] = Field(default_factory=list, description="the pages the profile was checked on")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        checked = optional_url(value)
        if checked is None:
            raise ValueError("base_url is required")
        return checked

    def price_of(self, model: str) -> ModelPrice | None:
        return self.prices.get(model) or self.any_model_price


# Every fact below was read on READ (2026-12-08) with the `search` tool on the page named beside it.
# "not documented" means the pages read do not say; the profile then takes the conservative option.
READ = date(2026, 12, 8)
DEEPSEEK_GUIDE = "https://api-docs.deepseek.com/guides/anthropic_api"
DEEPSEEK_GUIDE_ZH = "https://api-docs.deepseek.com/zh-cn/guides/anthropic_api"  # the compatibility table
DEEPSEEK_PRICING = "https://api-docs.deepseek.com/quick_start/pricing"
MOONSHOT_SUMMARY = "https://www.developersdigest.tech/reference/api-compatibility/moonshot"
ZAI_SUMMARY = "https://www.developersdigest.tech/reference/api-compatibility/zai"
MINIMAX_GUIDE = "https://platform.minimax.io/docs/api-reference/text-anthropic-api"
MINIMAX_TABLE = "https://platform.minimaxi.com/docs/api-reference/text-anthropic-api"
OLLAMA_GUIDE = "https://docs.ollama.com/api/anthropic-compatibility"


def _peak(input_usd: float, output_usd: float, hit_usd: float) -> ModelPrice:
    """DeepSeek's peak rates (off-peak is half: the budget counts the dearer one). It bills no
    cache write: a miss is charged as plain input, so the write rate is the input rate."""
    return ModelPrice(
        input_usd_per_mtok=input_usd,
        output_usd_per_mtok=output_usd,
        cache_write_usd_per_mtok=input_usd,
        cache_read_usd_per_mtok=hit_usd,
        checked=READ,
        source=DEEPSEEK_PRICING,
    )


BUILTIN_PROVIDERS: dict[str, ProviderProfile] = {
    # DeepSeek. base_url https://api.deepseek.com/anthropic (DEEPSEEK_GUIDE). x-api-key "Fully Supported",
    # anthropic-beta / anthropic-version ignored (DEEPSEEK_GUIDE_ZH, compatibility table). A model name
    # that is neither DeepSeek's nor claude-* is a 400 (DEEPSEEK_GUIDE). Models API: not documented.
    # Tool calls: "Tool Calls ✓" per model (DEEPSEEK_PRICING); tool_choice forcing, output_config,
    # thinking over the Anthropic format, cache_control: not documented. Max output 384K (DEEPSEEK_PRICING).
    # Prices: deepseek-flash (V4.1-Flash) and deepseek-v4-pro, peak per 1M tokens (DEEPSEEK_PRICING).
    "deepseek": ProviderProfile(
        base_url="https://api.deepseek.com/anthropic",
        api_key_env="DEEPSEEK_API_KEY",
        auth="x-api-key",
        tools=True,
        max_tokens=384_000,
        prices={"deepseek-flash": _peak(0.30, 1.20, 0.006), "deepseek-v4-pro": _peak(1.32, 3.96, 0.044)},
        sources=[DEEPSEEK_GUIDE, DEEPSEEK_GUIDE_ZH, DEEPSEEK_PRICING],
    ),
    # Moonshot / Kimi. base_url https://api.moonshot.ai/anthropic (MOONSHOT_SUMMARY, "verified against
    # Moonshot AI's own documentation"; Kimi's own pages were not found by the search). Bearer: Kimi's
    # OpenAI-format API takes "Authorization: Bearer" (MOONSHOT_SUMMARY); the Anthropic layer's header is not
    # documented there, and the installed SDK sends an api_key as a bearer token too. Tools, structured
    # outputs, thinking, effort, cache control, prices: not documented -> JSON text, no extras, [llm.prices].
    "moonshot": ProviderProfile(
        base_url="https://api.moonshot.ai/anthropic",
        api_key_env="MOONSHOT_API_KEY",
        auth="bearer",
        sources=[MOONSHOT_SUMMARY],
    ),
    # Z.ai GLM. base_url https://api.z.ai/api/anthropic, key as ANTHROPIC_AUTH_TOKEN, i.e. a bearer token
    # (ZAI_SUMMARY). Tools, structured outputs, thinking, effort, cache control, prices: not documented.
    "zai": ProviderProfile(
        base_url="https://api.z.ai/api/anthropic",
        api_key_env="ZAI_API_KEY",
        auth="bearer",
        sources=[ZAI_SUMMARY],
    ),
    # MiniMax. base_url https://api.minimax.io/anthropic (MINIMAX_GUIDE); the curl example sends
    # "Authorization: Bearer" (https://www.developersdigest.tech/reference/api-compatibility/minimax).
    # messages "partially supported: text and tool calls", tool_choice "fully supported" (MINIMAX_TABLE).
    # output_config, thinking request field, effort, cache_control, prices: not documented in what was read.
    "minimax": ProviderProfile(
        base_url="https://api.minimax.io/anthropic",
        api_key_env="MINIMAX_API_KEY",
        auth="bearer",
        tools=True,
        forced_tool=True,
        sources=[MINIMAX_GUIDE, MINIMAX_TABLE],
    ),
    # Ollama, local. base_url http://localhost:11434 (no /v1: the SDK appends it), key "required but ignored",
    # sent as ANTHROPIC_AUTH_TOKEN, i.e. bearer (OLLAMA_GUIDE); Ollama's cloud takes only a bearer token
    # (https://www.developersdigest.tech/reference/api-compatibility/ollama). Tool calling: an example on
    # OLLAMA_GUIDE; forced tool_choice, structured outputs, thinking, effort, cache control: not documented.
    # A local model costs nothing per token.
    "ollama": ProviderProfile(
        base_url="http://localhost:11434",
        api_key_env="OLLAMA_API_KEY",
        auth="bearer",
        key_required=False,
        tools=True,
        any_model_price=ModelPrice(
            input_usd_per_mtok=0,
            output_usd_per_mtok=0,
            cache_write_usd_per_mtok=0,
            cache_read_usd_per_mtok=0,
            checked=READ,
            source="local: no per-token charge",
        ),
        sources=[OLLAMA_GUIDE],
    ),
}
