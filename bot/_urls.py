"""Re-point a ccxt exchange at another host (proxy, testnet mirror, local fake)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit


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
