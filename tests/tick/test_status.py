"""`bot status`'s model: a held coin outside the coin list is shown as managed only (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.ops.state import BotState
from tests.tick.tickkit import doge_long


def test_gh16_1_status_says_a_held_coin_outside_the_list_is_managed_only(tmp_path):
    from bot.tick.status import build_status

    since = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    state.positions = {"DOGE": doge_long(stop=0.15, since=since)}
    state.last_prices = {"DOGE": 0.19435}
    status = build_status(
        state, settings=Settings(trading={"coins": ["BTC"]}), state_file=tmp_path / "state.json", now=since
    )
    [doge] = status.positions
    assert doge.managed_only and doge.unrealized_pnl_usd == pytest.approx(-6.30, abs=1e-9)
    status = build_status(
        state, settings=Settings(trading={"coins": ["DOGE"]}), state_file=tmp_path / "state.json", now=since
    )
    assert not status.positions[0].managed_only


def test_status_shows_the_first_line_of_the_owners_instructions(tmp_path):
    from bot.tick.status import build_status

    now = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    notes = "Only trade with the 4h trend.\nHalf size on DOGE."  # 48 characters: 12 tokens
    status = build_status(state, settings=Settings(llm={"instructions": notes}), state_file=tmp_path / "s", now=now)
    assert status.llm_instructions == "Only trade with the 4h trend. (2 lines, ~12 tokens)"
    assert build_status(state, settings=Settings(), state_file=tmp_path / "s", now=now).llm_instructions == ""


def test_status_names_the_accounts_currency_as_its_venue_settles(tmp_path):
    """A Hyperliquid account is USDC (its perpetuals settle in USDC): `bot status` says so."""
    import io

    from rich.console import Console

    from bot.cli import views
    from bot.tick.status import build_status

    now = datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000.0)
    settings = Settings(exchange={"id": "hyperliquid"}, trading={"quote": "USDC"})
    status = build_status(state, settings=settings, state_file=tmp_path / "s", now=now)
    assert status.quote == "USDC"
    assert build_status(state, settings=Settings(), state_file=tmp_path / "s", now=now).quote == "USDT"
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False, markup=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(views, "console", console)
        views.print_status(status)
    [line] = [line for line in buffer.getvalue().splitlines() if line.startswith("equity ")]
    assert line.startswith("equity 10,000.00 USDC (+0.00%) · cash 10,000.00") and "USDT" not in buffer.getvalue()
