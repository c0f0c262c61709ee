"""Venue answers in the shapes of ccxt's recorded ones (tests/fixtures/ccxt_recorded/: our own values,
the shapes' source in its README) served to the real ccxt 4.5.90: an exchange whose HTTP layer
(``Exchange.fetch``, the one method every ccxt request goes through) answers the stored body, so
ccxt's own request building and parsers run on what the venue sends. Markets are set by hand (no
markets request): the stored rows name LTC, SOL, HYPE and ADA, which the project's fakes do not list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ccxt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt_recorded"
WALLET = "0x" + "1a" * 20
SETTLE = {"binanceusdm": "USDT", "bybit": "USDT", "hyperliquid": "USDC"}
FILE = {"binanceusdm": "binance", "bybit": "bybit", "hyperliquid": "hyperliquid"}
# base -> (amount step, price step): the recorded rows' own decimals
STEPS = {
    "BTC": (0.001, 0.1),
    "LTC": (0.1, 0.01),
    "SOL": (0.01, 0.01),
    "ETH": (0.0001, 0.1),
    "HYPE": (0.01, 0.001),
    "ADA": (1.0, 0.0001),
}


def recorded(venue: str, key: str) -> Any:
    """The venue's stored body under ``<ccxt method>/<description>``."""
    entries = json.loads((FIXTURES / f"{FILE[venue]}.json").read_text())["entries"]
    return entries[key]["httpResponse"]


def _market(venue: str, base: str, index: int) -> dict:
    settle = SETTLE[venue]
    amount, price = STEPS[base]
    market_id = base if venue == "hyperliquid" else f"{base}{settle}"
    return {
        "id": market_id,
        "symbol": f"{base}/{settle}:{settle}",
        "base": base,
        "quote": settle,
        "settle": settle,
        "baseId": index if venue == "hyperliquid" else base,
        "quoteId": settle,
        "settleId": settle,
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "contract": True,
        "linear": True,
        "inverse": False,
        "active": True,
        "contractSize": 1.0,
        "precision": {"amount": amount, "price": price},
        "limits": {"amount": {"min": amount}, "cost": {"min": 10.0 if venue == "hyperliquid" else 5.0}},
        "info": {"name": base, "szDecimals": "2", "category": "linear"},
    }


def exchange(venue: str, answers: dict[str, Any], *, requests: list | None = None, asynchronous: bool = False) -> Any:
    """A ccxt exchange (``ccxt.async_support``'s when ``asynchronous``) whose every request is answered
    from ``answers``: the first key found in the request's URL or body picks the recorded body ("" for
    any). What it asked for is appended to ``requests`` as (method, url, body)."""
    import ccxt.async_support as ccxt_async

    config: dict[str, Any] = {"apiKey": "key", "secret": "secret"}
    if venue == "hyperliquid":
        config = {"walletAddress": WALLET, "privateKey": "0x" + "11" * 32}
    ex = getattr(ccxt_async if asynchronous else ccxt, venue)(config)
    ex.set_markets([_market(venue, base, i) for i, base in enumerate(STEPS)])
    # what a loaded account has cached: Bybit's unified-account flags (ccxt bybit.is_unified_enabled) and
    # Binance's maintenance brackets (invented tiers: [notional floor, rate]); Hyperliquid asks
    # userAbstraction: "default" below
    if venue == "bybit":
        ex.options.update({"enableUnifiedMargin": False, "enableUnifiedAccount": True})
    if venue == "binanceusdm":
        ex.options["leverageBrackets"] = {"BTC/USDT:USDT": [["0", "0.004"], ["60000", "0.006"], ["300000", "0.012"]]}

    def answer(method: str, url: str, body: Any) -> Any:
        if requests is not None:
            requests.append((method, url, body))
        if isinstance(body, str) and '"userAbstraction"' in body:
            return "default"
        for key, recorded_body in answers.items():
            if key in url or key in str(body or ""):
                return json.loads(json.dumps(recorded_body))  # a fresh copy: ccxt's parsers may add keys
        raise AssertionError(f"no recorded answer for {method} {url} {body}")

    if asynchronous:

        async def fetch_async(url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202 (ccxt's)
            return answer(method, url, body)

        ex.fetch = fetch_async
    else:
        ex.fetch = lambda url, method="GET", headers=None, body=None: answer(method, url, body)
    return ex
