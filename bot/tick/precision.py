"""Exchange precision helpers shared by the risk step and both brokers.

Decimal arithmetic so 0.3 / 0.1 style float error never turns a valid size into one
step less (or an order the exchange rejects for precision).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal


def floor_to_step(value: float, step: float) -> float:
    """Largest multiple of ``step`` not above ``value`` (order amounts: never oversize)."""
    if step <= 0:
        return value
    quantum = Decimal(str(step))
    return float((Decimal(str(value)) / quantum).to_integral_value(rounding=ROUND_DOWN) * quantum)


def round_to_step(value: float, step: float) -> float:
    """Nearest multiple of ``step`` (trigger prices)."""
    if step <= 0:
        return value
    quantum = Decimal(str(step))
    return float((Decimal(str(value)) / quantum).to_integral_value(rounding=ROUND_HALF_UP) * quantum)
