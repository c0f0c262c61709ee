"""ccxt's async package with only the exchange classes the bot uses: half the memory, half the time.

``import ccxt.async_support`` runs two ``__init__`` files that import every one of ccxt's
~105 exchanges twice (sync and async): 0.8 s and ~95 MB before the first request, for a tick
that talks to one venue. This loads those two ``__init__`` files from ccxt's own source with
only the per-exchange import lines left out (everything else, errors, ``Exchange``,
``exchanges``, precision constants, runs as written), then imports the one exchange module
asked for and binds its class where ``__init__`` would have. Measured by
``bench/ccxt_import.py``.

When ccxt is already imported in full (a test process, a REPL), that module is used as it
is; when its ``__init__`` no longer has the shape this expects, the plain import runs: the
lean path is an optimisation, never a different ccxt.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from types import ModuleType

# `from ccxt.binanceusdm import binanceusdm`, then a comment: one exchange's line in ccxt's __init__
_EXCHANGE_LINE = re.compile(r"^from ccxt\.(?:async_support\.)?(\w+) import (\w+)\s*(#.*)?$")
_PACKAGES = ("ccxt", "ccxt.async_support")


def lean_ccxt(exchange_id: str | None = None) -> ModuleType:
    """``ccxt.async_support``, with ``exchange_id``'s class bound on it when given (an unknown
    id stays unbound: ``getattr(module, id, None)`` is None, as with the full package)."""
    if "ccxt.async_support" not in sys.modules:
        try:
            for name in _PACKAGES:
                _load_without_exchanges(name)
        except Exception:  # an unexpected layout: forget the partial load, import in full
            for name in _PACKAGES:
                sys.modules.pop(name, None)
            importlib.import_module("ccxt.async_support")
    module = sys.modules["ccxt.async_support"]
    if exchange_id and not isinstance(getattr(module, exchange_id, None), type) and exchange_id in module.exchanges:
        submodule = importlib.import_module(f"ccxt.async_support.{exchange_id}")
        setattr(module, exchange_id, getattr(submodule, exchange_id))  # the import bound the submodule: the class
    return module


def _load_without_exchanges(name: str) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.loader is None:
        raise ImportError(f"{name} is not installed")
    with open(spec.origin, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    kept = [line for line in lines if not _is_exchange_line(line)]
    if len(lines) - len(kept) < 50 or not any(line.startswith("exchanges = [") for line in kept):
        raise ImportError(f"{name}/__init__.py does not list its exchanges as expected")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile("\n".join(kept), spec.origin, "exec"), module.__dict__)  # ccxt's own code, less its exchanges
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def _is_exchange_line(line: str) -> bool:
    match = _EXCHANGE_LINE.match(line)
    return bool(match and match.group(1) == match.group(2) and match.group(1) != "base")
