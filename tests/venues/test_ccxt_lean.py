"""The lean ccxt load: one exchange class, the same classes and errors as the full package."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from bot.venues.ccxt_lean import lean_ccxt
ccxt = lean_ccxt(sys.argv[1])
cls = getattr(ccxt, sys.argv[1], None)
loaded = sorted(
    name.split(".")[2] for name in sys.modules
    if name.startswith("ccxt.async_support.") and name.count(".") == 2 and name != "ccxt.async_support.base"
)
print(json.dumps({
    "cls": cls and f"{cls.__module__}.{cls.__qualname__}",
    "loaded": loaded,
    "errors": issubclass(ccxt.InsufficientFunds, ccxt.ExchangeError) and ccxt.BadResponse.__module__,
    "exchanges": len(ccxt.exchanges),
    "unknown": getattr(lean_ccxt("binanceusmd"), "binanceusmd", None),
}))
"""


def _probe(exchange_id: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, exchange_id], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("exchange_id", "modules"),
    # binanceusdm subclasses binance: ccxt's own module imports it, nothing else comes in
    [("binanceusdm", ["binance", "binanceusdm"]), ("bybit", ["bybit"]), ("hyperliquid", ["hyperliquid"])],
)
def test_only_the_venue_asked_for_is_imported_with_ccxts_own_classes(exchange_id, modules):
    import ccxt.async_support as full

    probe = _probe(exchange_id)
    assert probe["cls"] == f"ccxt.async_support.{exchange_id}.{exchange_id}"
    assert probe["loaded"] == modules
    assert probe["errors"] == "ccxt.base.errors"
    assert probe["exchanges"] == len(full.exchanges)  # the list an unknown id is matched against
    assert probe["unknown"] is None  # a typo stays unknown (create_exchange says "did you mean")


def test_a_process_that_imported_ccxt_in_full_keeps_it():
    import ccxt.async_support as full

    from bot.venues.ccxt_lean import lean_ccxt

    assert lean_ccxt("bybit") is full and full.bybit.__name__ == "bybit"
