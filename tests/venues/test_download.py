"""`bot download`'s fetching with the real ccxt against the fake exchange: exact rows, resumable,
nothing lost, the venue's funding interval kept."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.errors import ConfigError, MarketDataError
from bot.venues.download import Downloader, missing_ranges
from bot.venues.history import HistoryMarket, _read_csv
from tests.conftest import NOW, data_dir
from tests.venues.venuekit import VENUES, _venue_settings

SINCE = datetime(2025, 5, 30, tzinfo=UTC)
UNTIL = datetime(2025, 6, 4, tzinfo=UTC)  # after the fake's now (06-03 12:00): stops at the last closed candle


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _download(fake, folder: Path, *, coins=("BTC",), since=SINCE, on_progress=None, timeframes=("3m", "4h")) -> list:
    settings = Settings(exchange={"api_url": fake.url, "timeout_ms": 2000, "retries": 0})
    downloader = Downloader(settings, folder=folder, now=NOW, on_progress=on_progress)
    return asyncio.run(downloader.run(list(coins), [*timeframes, "funding"], since_ms=_ms(since), until_ms=_ms(UNTIL)))


def _source(timeframe: str, stem: str, since: datetime, step_ms: int) -> np.ndarray:
    rows = _read_csv(data_dir() / timeframe, stem)
    return rows[(rows[:, 0] >= _ms(since)) & (rows[:, 0] + step_ms <= _ms(NOW))]


def test_missing_ranges_are_the_head_and_the_tail_around_what_is_there():
    have = np.array([[1000.0, 1], [1100.0, 1], [1200.0, 1]])
    assert missing_ranges(np.empty((0, 2)), since_ms=0, until_ms=500, step_ms=100) == [(0, 500)]
    assert missing_ranges(have, since_ms=800, until_ms=1600, step_ms=100) == [(800, 1000), (1300, 1600)]
    assert missing_ranges(have, since_ms=1000, until_ms=1300, step_ms=100) == []  # complete: nothing to fetch


def test_download_writes_exactly_the_closed_candles_and_settled_funding(fake_exchange, tmp_path):
    results = _download(fake_exchange, tmp_path)
    three, four, funding = (
        _read_csv(tmp_path / folder, stem)
        for folder, stem in (("3m", "BTCUSDT-3m"), ("4h", "BTCUSDT-4h"), ("funding_8h", "BTCUSDT-funding-8h"))
    )
    np.testing.assert_array_equal(three, _source("3m", "BTCUSDT-3m", SINCE, 180_000))
    np.testing.assert_array_equal(four, _source("4h", "BTCUSDT-4h", SINCE, 14_400_000))
    assert len(three) == 4.5 * 480 and three[-1, 0] == _ms(NOW) - 180_000  # 05-30 00:00 .. 06-03 11:57
    expected_funding = _read_csv(data_dir() / "funding_8h", "BTCUSDT-funding-8h")
    expected_funding = expected_funding[(expected_funding[:, 0] >= _ms(SINCE)) & (expected_funding[:, 0] <= _ms(NOW))]
    np.testing.assert_allclose(funding, expected_funding, rtol=0, atol=1e-12)  # the fake sends 8 decimals
    assert [r.added for r in results] == [2160, 27, 14]


def test_a_rerun_fetches_nothing_and_an_earlier_since_fetches_only_the_head(fake_exchange, tmp_path):
    _download(fake_exchange, tmp_path)
    before = fake_exchange.count("/klines"), fake_exchange.count("/fundingRate")
    again = _download(fake_exchange, tmp_path)
    assert [r.added for r in again] == [0, 0, 0]
    assert (fake_exchange.count("/klines"), fake_exchange.count("/fundingRate")) == before
    earlier = _download(fake_exchange, tmp_path, since=datetime(2025, 5, 29, tzinfo=UTC))
    assert [r.added for r in earlier] == [480, 6, 3]
    requests = [r for r in fake_exchange.requests if r.path == "/fapi/v1/klines"][before[0] :]
    assert all(int(r.params["startTime"]) == _ms(datetime(2025, 5, 29, tzinfo=UTC)) for r in requests)


def test_an_interrupted_download_keeps_its_pages_and_the_next_run_resumes(fake_exchange, tmp_path):
    pages: list[int] = []

    def fail_after_first_page(key: str, done: int, total: int) -> None:
        if key == "BTC 3m" and 0 < done < total and not pages:
            pages.append(done)
            fake_exchange.inject("503", path="/klines")  # every later klines request fails

    with pytest.raises(
        MarketDataError,
        match=r"BTC 3m: ExchangeNotAvailable from binanceusdm after 1000 new rows \(saved\); run the same command "
        r"again to resume",
    ):
        # 3m alone: with 4h fetched at once, whichever klines request met the fault first would be named
        _download(fake_exchange, tmp_path, on_progress=fail_after_first_page, timeframes=("3m",))
    kept = _read_csv(tmp_path / "3m", "BTCUSDT-3m")
    assert pages == [1000]  # ccxt asks binanceusdm for 1,000 candles a page
    np.testing.assert_array_equal(
        kept, _source("3m", "BTCUSDT-3m", SINCE, 180_000)[:1000]
    )  # written before the failure
    fake_exchange.clear_faults()
    results = _download(fake_exchange, tmp_path)
    assert results[0].added == 1160 and results[0].rows == 2160
    np.testing.assert_array_equal(_read_csv(tmp_path / "3m", "BTCUSDT-3m"), _source("3m", "BTCUSDT-3m", SINCE, 180_000))


def test_downloaded_history_is_what_the_backtest_reads(fake_exchange, tmp_path):
    _download(fake_exchange, tmp_path, since=datetime(2025, 2, 1, tzinfo=UTC))  # 500 4h candles before the 3m span
    market = HistoryMarket(tmp_path)
    assert market.available_coins() == ["BTC"]
    assert market.span(["BTC"])[1] == NOW
    assert market.candles("BTC")["4h"][0, 0] == _ms(datetime(2025, 2, 1, tzinfo=UTC))


def test_an_unknown_coin_is_refused_with_a_suggestion(fake_exchange, tmp_path):
    with pytest.raises(ConfigError, match="--coins: BTX has no USDT perpetual on binanceusdm — did you mean `BTC`"):
        _download(fake_exchange, tmp_path, coins=("BTX",))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("venue", "hours"), [("hyperliquid", 1), ("bybit", 4)])
def test_a_download_keeps_the_venues_funding_interval_and_rules_for_the_backtest(tmp_path, venue, hours):
    """ETH from 2025-06-01 00:00 to the fake's now (06-03 12:00), 60 hours: a settlement at both
    ends and every hour between on Hyperliquid (61), every 4 hours on Bybit's 240-minute ETH (16)."""
    since, until = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 4, tzinfo=UTC)
    with VENUES[venue][0](data_dir(), now=NOW, coins=("BTC", "ETH")) as fake:
        downloader = Downloader(_venue_settings(venue, fake), folder=tmp_path, now=NOW)
        asyncio.run(
            downloader.run(
                ["ETH"],
                ["3m", "4h", "funding"],
                since_ms=int(since.timestamp() * 1000),
                until_ms=int(until.timestamp() * 1000),
            )
        )
    quote = VENUES[venue][1]
    funding = (tmp_path / "funding_8h" / f"ETH{quote}-funding-8h.csv").read_text().splitlines()[1:]
    times = [int(line.split(",")[0]) for line in funding]
    assert {b - a for a, b in zip(times, times[1:], strict=False)} == {hours * 3_600_000}
    assert times[0] == int(since.timestamp() * 1000) and times[-1] <= int(NOW.timestamp() * 1000)
    assert len(times) == 60 // hours + 1
    rules = json.loads((tmp_path / "markets.json").read_text())
    assert rules["ETH"]["funding_interval_h"] == hours and rules["ETH"]["symbol"] == f"ETH/{quote}:{quote}"
    assert HistoryMarket(tmp_path, quote=quote).info("ETH").funding_interval_h == hours


def test_bybit_is_asked_for_no_more_rows_a_page_than_it_documents(tmp_path):
    """Bybit v5: kline limit [1, 1000], funding/history limit [1, 200]. Three days of 3m candles
    (1,440) take two pages of at most 1,000; 9 days of 8-hour funding (27 rows) one page of 200."""
    since = datetime(2025, 5, 25, tzinfo=UTC)
    with VENUES["bybit"][0](data_dir(), now=NOW, coins=("BTC",)) as fake:
        downloader = Downloader(_venue_settings("bybit", fake), folder=tmp_path, now=NOW)
        asyncio.run(
            downloader.run(
                ["BTC"], ["3m", "funding"], since_ms=_ms(datetime(2025, 5, 31, 12, tzinfo=UTC)), until_ms=_ms(UTC_END)
            )
        )
        asyncio.run(downloader.run(["BTC"], ["funding"], since_ms=_ms(since), until_ms=_ms(UTC_END)))
        limits = {
            path: {int(r.params["limit"]) for r in fake.requests if r.path == path}
            for path in ("/v5/market/kline", "/v5/market/funding/history")
        }
    assert limits == {"/v5/market/kline": {1000}, "/v5/market/funding/history": {200}}


UTC_END = datetime(2025, 6, 3, 12, tzinfo=UTC)


def test_a_start_before_the_venues_candle_window_is_said_in_one_line(tmp_path, monkeypatch, capsys):
    """Hyperliquid serves only its latest 5,000 candles of a timeframe; the recorded data holds
    fewer, so the window is 1,000 here (the fake's and the profile's). 3m candles from 05-29 00:00
    are asked; the latest 1,000 closed ones before 06-03 12:00 start 2,997 minutes earlier, at
    06-01 10:03 (the one still open at 12:00 is not history): the file starts there, and says so."""
    import dataclasses

    from bot.venues import profiles

    monkeypatch.setitem(
        profiles.PROFILES, "hyperliquid", dataclasses.replace(profiles.PROFILES["hyperliquid"], candle_window=1000)
    )
    with VENUES["hyperliquid"][0](data_dir(), now=NOW, coins=("BTC",)) as fake:
        fake.candle_window = 1000
        downloader = Downloader(_venue_settings("hyperliquid", fake), folder=tmp_path, now=NOW)
        since = _ms(datetime(2025, 5, 29, tzinfo=UTC))
        [three, funding] = asyncio.run(
            downloader.run(["BTC"], ["3m", "funding"], since_ms=since, until_ms=_ms(UTC_END))
        )
    assert (three.rows, three.first_ms) == (999, _ms(datetime(2025, 6, 1, 10, 3, tzinfo=UTC)))
    assert three.note == (
        "hyperliquid serves only its latest 1,000 3m candles: BTC 3m starts 2025-06-01 10:03, not 2025-05-29 00:00 UTC"
    )
    assert funding.note == "" and funding.first_ms == since  # funding history is not windowed
