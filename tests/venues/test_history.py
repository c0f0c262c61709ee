"""Historical market: only candles closed at the simulated time, nothing after it; a data
folder keeps its venue's funding interval and rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.errors import ConfigError
from bot.venues.history import SAMPLE_DIR, HistoryMarket, funding_interval_h

NOW = datetime(2025, 6, 3, 12, 4, tzinfo=UTC)  # inside a 3m candle that opened at 12:03
MS = 1000

HOUR = 3_600_000


def test_snapshot_shows_only_closed_candles_and_settled_funding():
    market = HistoryMarket()
    snapshot = market.snapshot_at(["BTC", "ETH"], NOW)
    btc = snapshot.coins["BTC"]
    assert snapshot.errors == {}
    assert btc.candles_3m.shape == (500, 6) and btc.candles_4h.shape == (500, 6)
    assert btc.candles_3m[-1, 0] == datetime(2025, 6, 3, 12, 0, tzinfo=UTC).timestamp() * MS  # 12:00-12:03 closed
    assert btc.candles_4h[-1, 0] == datetime(2025, 6, 3, 8, 0, tzinfo=UTC).timestamp() * MS  # 08:00-12:00 closed
    assert btc.last_price == btc.candles_3m[-1, 4]
    assert btc.open_interest is None  # no history: unknown, never invented
    assert btc.info.min_notional_usd == 100 and btc.info.amount_step == 0.001
    # funding settled at 08:00 (the 16:00 one is in the future)
    from bot.venues.history import _read_csv

    funding = _read_csv(SAMPLE_DIR / "funding_8h", "BTCUSDT-funding-8h")
    expected = funding[funding[:, 0] == datetime(2025, 6, 3, 8, tzinfo=UTC).timestamp() * MS][0, 1]
    assert btc.funding_rate == expected


def test_gh36_1_the_snapshot_hands_over_the_settlements_since_before_its_oldest_candle():
    """At 12:04 the oldest of 500 closed 3m candles opened at 11:03 the day before: the
    settlements from 06-02 08:00 (the last before it) to 06-03 08:00, each with its own rate."""
    from bot.venues.history import _read_csv

    btc = HistoryMarket().snapshot_at(["BTC"], NOW).coins["BTC"]
    assert btc.candles_3m[0, 0] == datetime(2025, 6, 2, 11, 3, tzinfo=UTC).timestamp() * MS
    funding = _read_csv(SAMPLE_DIR / "funding_8h", "BTCUSDT-funding-8h")
    hours = [datetime(2025, 6, 2, 8, tzinfo=UTC) + timedelta(hours=8 * i) for i in range(4)]
    expected = [(int(at.timestamp() * MS), funding[funding[:, 0] == at.timestamp() * MS][0, 1]) for at in hours]
    assert btc.funding_rates == tuple(expected) and btc.funding_rates[-1][1] == btc.funding_rate


def test_future_candles_cannot_change_the_snapshot():
    market = HistoryMarket()
    before = market.snapshot_at(["SOL"], NOW).coins["SOL"].candles_3m.copy()
    history = market._load("SOL").candles["3m"]
    future = history[:, 0] >= datetime(2025, 6, 3, 12, 3, tzinfo=UTC).timestamp() * MS
    history[future, 1:5] *= 10  # perturb everything not yet closed at NOW
    assert np.array_equal(market.snapshot_at(["SOL"], NOW).coins["SOL"].candles_3m, before)


def test_span_of_the_bundled_sample():
    first, last = HistoryMarket().span(["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"])
    assert first == datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # 500 x 3m after the sample's start
    assert last == datetime(2025, 6, 5, 0, 0, tzinfo=UTC)


def test_outside_the_history_the_coin_is_reported_missing():
    snapshot = HistoryMarket().snapshot_at(["BTC"], datetime(2025, 6, 5, 0, 0, tzinfo=UTC) + timedelta(minutes=3))
    assert snapshot.coins == {}
    assert snapshot.errors["BTC"] == "no 3m history covering 2025-06-05 00:03 UTC"


def test_unknown_coin_and_bad_data_dir(tmp_path):
    market = HistoryMarket()
    snapshot = market.snapshot_at(["BTCC", "ETH"], NOW)
    assert snapshot.errors == {
        "BTCC": f"unknown coin 'BTCC' in {market.data_dir}: fix `trading.coins` — did you mean `BTC`?"
    }
    assert list(snapshot.coins) == ["ETH"]  # skipped, as the live market skips it; the others go on
    assert market.span(["BTCC", "ETH"]) == market.span(["ETH"])
    with pytest.raises(ConfigError, match="has no 3m/ folder"):
        HistoryMarket(tmp_path)


def test_a_data_folder_keeps_its_venues_interval_and_rules(tmp_path):
    """Hourly settlements in funding_8h/ and markets.json beside them: the history market
    answers Hyperliquid's 1 h and $10 minimum, not Binance's bundled 8 h and $100."""
    start = 1_748_908_800_000  # 2025-06-03 00:00 UTC
    for tf, step in (("3m", 180_000), ("4h", 14_400_000)):
        (tmp_path / tf).mkdir()
        rows = "\n".join(f"{start + i * step},1,1,1,1,1" for i in range(3))
        (tmp_path / tf / f"BTCUSDC-{tf}.csv").write_text("timestamp,open,high,low,close,volume\n" + rows + "\n")
    (tmp_path / "funding_8h").mkdir()
    (tmp_path / "funding_8h" / "BTCUSDC-funding-8h.csv").write_text(
        "timestamp,funding_rate\n" + "\n".join(f"{start + i * HOUR},0.0000125" for i in range(5)) + "\n"
    )
    rules = {
        "BTC": {
            "symbol": "BTC/USDC:USDC",
            "amount_step": 0.00001,
            "price_step": 1.0,
            "min_notional_usd": 10.0,
            "max_leverage": 40.0,
            "funding_interval_h": 1.0,
        }
    }
    (tmp_path / "markets.json").write_text(json.dumps(rules))
    info = HistoryMarket(tmp_path, quote="USDC").info("BTC")
    assert (info.symbol, info.min_notional_usd, info.max_leverage, info.funding_interval_h) == (
        "BTC/USDC:USDC",
        10.0,
        40.0,
        1.0,
    )
    (tmp_path / "markets.json").unlink()
    assert HistoryMarket(tmp_path, quote="USDC").info("BTC").funding_interval_h == 1.0  # from the settlements' spacing


def test_the_interval_of_recorded_settlements_is_their_usual_spacing():
    assert funding_interval_h(np.array([0, 8 * HOUR, 16 * HOUR, 24 * HOUR])) == 8.0
    assert funding_interval_h(np.array([0, HOUR, 2 * HOUR, 5 * HOUR, 6 * HOUR])) == 1.0  # a gap does not change it
    assert funding_interval_h(np.array([0])) is None
