"""`bot backtest --arena`'s engine: each candidate's book equals its own backtest, and a rerun
from the decision cache asks nothing and scores the same."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import Settings
from tests.arena.arenakit import FIRST

# ----- bot backtest --arena -----------------------------------------------------------------


def test_arena_backtest_books_match_each_candidates_own_backtest():
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.config.file import with_overrides

    base = Settings(_env_file=None, strategy={"name": "rules"}, trading={"coins": ["BTC", "ETH"]})
    candidates = [
        {"name": "small", "strategy": "rules"},
        {"name": "big", "strategy": "rules", "rules": {"size_pct": 20, "leverage": 2}},
    ]
    settings = base.model_copy(
        update={"arena": Settings(_env_file=None, arena={"candidates": candidates, "active": "big"}).arena}
    )
    request = BacktestRequest(start=FIRST, end=FIRST + timedelta(hours=12))
    arena = arena_backtest(settings, request, notify=lambda _line: None)
    alone = {
        "small": backtest_command(base, request, progress=False),
        "big": backtest_command(
            with_overrides(base, {"rules.size_pct": 20, "rules.leverage": 2}, where="test"), request, progress=False
        ),
    }
    board = {entry.name: entry for entry in arena.board.standings}
    for name, result in alone.items():  # the same decisions, fills and equity as a plain backtest of the candidate
        assert list(arena.curves[name]) == pytest.approx(list(result.equity_usd), rel=1e-12)
        assert board[name].trades == len(result.trades) and board[name].fees_usd == pytest.approx(
            result.fees_usd, rel=1e-12
        )
        assert board[name].return_pct == pytest.approx((result.equity_usd[-1] / 10_000 - 1) * 100, rel=1e-12)
    assert arena.curves["small"][-1] != arena.curves["big"][-1]  # the two books diverged
    # 241 ticks (12 h, both ends), half the minimum sample: no Sharpe, no interval, no verdict yet; big runs the account
    for entry in board.values():
        assert (entry.needs_ticks, entry.sharpe, entry.sharpe_ci, entry.return_ci_pct) == (239, None, None, None)
    assert (board["big"].verdict, board["small"].verdict) == ("incumbent", "not distinguishable yet")
    assert arena.board.bootstrap.startswith("stationary block bootstrap") and arena.board.verdict_probability == 0.95
    # rotation off: the account follows the active candidate, tick for tick
    assert list(arena.account.equity_usd) == pytest.approx(list(alone["big"].equity_usd), rel=1e-12)
    assert arena.account.strategy == "arena (big)"


def test_arena_backtest_rerun_from_the_cache_asks_nothing_and_scores_the_same(tmp_path, fake_anthropic, monkeypatch):
    """A cached answer is billed what it first cost: the budgets, the net-of-LLM scores and so
    the rotation come out the same on a free re-run (here Sonnet's budget runs out mid-day)."""
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    llm = {"base_url": fake_anthropic.url, "retries": 0}
    settings = Settings(
        _env_file=None,
        base_dir=tmp_path,
        strategy={"name": "rules"},
        trading={"coins": ["BTC"]},
        arena={
            "candidates": [
                {"name": "rules", "strategy": "rules"},
                {"name": "haiku", "strategy": "claude", "llm": {**llm, "model": "claude-haiku-5-5"}},
                {
                    "name": "sonnet",
                    "strategy": "claude",
                    "max_usd_per_day": 0.02,
                    "llm": {**llm, "model": "claude-sonnet-4-6"},
                },
            ]
        },
    )
    request = BacktestRequest(start=FIRST, end=FIRST + timedelta(minutes=3 * 11), yes=True)
    first = arena_backtest(settings, request, notify=lambda _line: None)
    asked = len(fake_anthropic.requests)
    again = arena_backtest(settings, request, notify=lambda _line: None)
    assert len(fake_anthropic.requests) == asked  # every answer came from the cache
    assert again.board.model_dump() == first.board.model_dump()
    board = {entry.name: entry for entry in first.board.standings}
    sonnet_calls = sum(r.body["model"] == "claude-sonnet-4-6" for r in fake_anthropic.requests)
    assert 0 < sonnet_calls < 12 and board["sonnet"].llm_usd >= 0.02  # it held once over its budget
    assert (
        board["haiku"].llm_usd > 0
        and first.account.cache == {"hits": 0, "misses": asked - 0}
        and again.account.cache["misses"] == 0
    )


def test_arena_backtest_instances_ask_on_their_own_and_rerun_from_the_cache(tmp_path, fake_anthropic, monkeypatch):
    """`instances = 2`: the second book has a decision-cache identity of its own, so it asks
    Claude once a tick itself (N instances cost N times one book's calls) instead of replaying
    the first book's answers; a re-run asks nothing."""
    from bot.arena.backtest import arena_backtest
    from bot.backtest.runner import BacktestRequest

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    llm = {"base_url": fake_anthropic.url, "retries": 0, "model": "claude-haiku-5-5"}

    def settings(instances, folder):  # folder: where the decision cache lives
        return Settings(
            _env_file=None,
            base_dir=tmp_path / folder,
            strategy={"name": "rules"},
            trading={"coins": ["BTC"]},
            arena={"candidates": [{"name": "haiku", "strategy": "claude", "llm": llm, "instances": instances}]},
        )

    request = BacktestRequest(start=FIRST, end=FIRST + timedelta(minutes=3 * 5), yes=True)
    one = arena_backtest(settings(1, "x"), request, notify=lambda _line: None)
    asked = len(fake_anthropic.requests)
    two = arena_backtest(settings(2, "x"), request, notify=lambda _line: None)  # the same cache: book 1's answers
    ticks = len(two.account.times_ms)
    assert ticks == 6 and len(fake_anthropic.requests) - asked == ticks  # only book 2 asked, once a tick
    assert [entry.name for entry in two.board.standings] == ["haiku", "haiku.2"]
    assert [spread.instances for spread in two.board.spreads] == [2] and not one.board.spreads
    asked = len(fake_anthropic.requests)
    again = arena_backtest(settings(2, "x"), request, notify=lambda _line: None)
    assert len(fake_anthropic.requests) == asked and again.board.model_dump() == two.board.model_dump()
