"""The live broker's fake exchange: an empty account at ``NOW`` with the six coins."""

from __future__ import annotations

import pytest

from tests.conftest import NOW, data_dir
from tests.fakes.exchange import FakeExchange


@pytest.fixture
def fake():
    with FakeExchange(data_dir(), now=NOW, coins=("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")) as server:
        yield server
