"""`bot sweep`'s pure parts: the spec and its cells, walk-forward folds, the deflated Sharpe ratio.

Every bad spec is one line on stderr and exit 2 (through the real CLI); the folds and
the statistic are checked against values worked by hand.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sweep.spec import Spec, folds_of, load_spec, points
from bot.sweep.stats import deflated_sharpe, expected_max_sharpe, probabilistic_sharpe
from tests.conftest import run_bot

T0 = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the sample's first tick with 500 closed candles


def _spec(tmp_path: Path, text: str) -> Spec:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def test_the_grid_is_every_combination_in_spec_order(tmp_path):
    spec = _spec(tmp_path, '[axes]\n"risk.max_leverage" = [2, 3, 5]\n"rules.size_pct" = [5, 10]\n')
    cells = points(spec)
    assert len(cells) == 6
    assert cells[0] == {"risk.max_leverage": 2, "rules.size_pct": 5}
    assert cells[1] == {"risk.max_leverage": 2, "rules.size_pct": 10}
    assert cells[5] == {"risk.max_leverage": 5, "rules.size_pct": 10}
    assert spec.heatmap == ["risk.max_leverage", "rules.size_pct"]


def test_nested_tables_name_the_same_settings_as_dotted_keys(tmp_path):
    spec = _spec(tmp_path, "[axes.risk]\nmax_leverage = [2, 3]\n[settings.trading]\ncoins = ['BTC']\n")
    assert spec.axes == {"risk.max_leverage": [2, 3]} and spec.settings == {"trading.coins": ["BTC"]}


def test_random_samples_are_distinct_reproducible_and_drawn_from_the_axes(tmp_path):
    text = '[sweep]\nsamples = 6\nseed = {seed}\n[axes]\n"risk.max_leverage" = [2, 3, 5, 8]\n"rules.stop_atr" = {{ low = 1.0, high = 3.0 }}\n"rules.size_pct" = {{ low = 5, high = 20 }}\n'
    first = points(_spec(tmp_path, text.format(seed=7)))
    assert points(_spec(tmp_path, text.format(seed=7))) == first
    assert points(_spec(tmp_path, text.format(seed=8))) != first
    assert len(first) == 6 and len({tuple(sorted(p.items())) for p in first}) == 6
    for point in first:
        assert point["risk.max_leverage"] in (2, 3, 5, 8)
        assert 1.0 <= point["rules.stop_atr"] <= 3.0 and isinstance(point["rules.stop_atr"], float)
        assert 5 <= point["rules.size_pct"] <= 20 and isinstance(point["rules.size_pct"], int)


def test_a_small_grid_gives_all_its_points_when_more_samples_are_asked(tmp_path):
    spec = _spec(tmp_path, '[sweep]\nsamples = 10\nseed = 1\n[axes]\n"risk.max_leverage" = [2, 3]\n')
    assert sorted(p["risk.max_leverage"] for p in points(spec)) == [2, 3]


def test_walk_forward_folds_roll_and_a_test_window_never_holds_a_training_tick(tmp_path):
    spec = _spec(tmp_path, '[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "12h"\ntest = "6h"\nfolds = 2\n')
    folds = folds_of(spec, start=T0, end=T0 + timedelta(days=1))
    # by hand: fold 0 trains 01:00..12:57 and tests 13:00..18:57; fold 1 trains 07:00..18:57, tests 19:00..00:57
    assert [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds] == [
        (T0, T0 + timedelta(hours=11, minutes=57), T0 + timedelta(hours=12), T0 + timedelta(hours=17, minutes=57)),
        (
            T0 + timedelta(hours=6),
            T0 + timedelta(hours=17, minutes=57),
            T0 + timedelta(hours=18),
            T0 + timedelta(hours=23, minutes=57),
        ),
    ]
    anchored = _spec(
        tmp_path,
        '[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "12h"\ntest = "6h"\nfolds = 2\nanchored = true\n',
    )
    assert [f.train_start for f in folds_of(anchored, start=T0, end=T0 + timedelta(days=1))] == [T0, T0]
    for train, test, count in [("90m", "30m", 5), ("1d", "3m", 7), ("3h", "3h", 4)]:
        spec = _spec(
            tmp_path,
            f'[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "{train}"\ntest = "{test}"\nfolds = {count}\n',
        )
        for fold in folds_of(spec, start=T0, end=T0 + timedelta(days=2)):
            train_ticks = set(_ticks(fold.train_start, fold.train_end))
            test_ticks = set(_ticks(fold.test_start, fold.test_end))
            assert train_ticks and test_ticks and not train_ticks & test_ticks
            assert fold.test_start == fold.train_end + timedelta(minutes=3)  # tests right after, never before


def _ticks(first: datetime, last: datetime) -> list[datetime]:
    return [first + timedelta(minutes=3 * i) for i in range(int((last - first) / timedelta(minutes=3)) + 1)]


# ----- the deflated Sharpe ratio ------------------------------------------------------------


def test_the_deflated_sharpe_ratio_matches_the_papers_worked_example():
    """Bailey & López de Prado (2014), section 5's example: annual Sharpe 2.5 over 5 years of
    daily returns (T = 1,250, 250 a year), N = 100 trials whose annual Sharpes vary by 1/2,
    skewness -3, kurtosis 10. The paper reports SR0 = 0.1132 (per day) and DSR = 0.9004.

    By hand (standard normal quantiles from tables): V = 0.5 / 250 = 0.002,
    Z^-1(0.99) = 2.32635, Z^-1(1 - 1/(100 e)) = Z^-1(0.996321) = 2.68021;
    SR0 = sqrt(0.002) x (0.42278 x 2.32635 + 0.57722 x 2.68021) = 0.044721 x 2.53060 = 0.113172.
    SR = 2.5 / sqrt(250) = 0.158114; z = (0.158114 - 0.113172) x sqrt(1249)
    / sqrt(1 + 3 x 0.158114 + 9/4 x 0.025000) = 1.58830 / 1.23717 = 1.28382; Z(z) = 0.90040.
    """
    sr0 = expected_max_sharpe(trials=100, variance=0.5 / 250)
    assert sr0 == pytest.approx(0.113172, abs=2e-6)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), benchmark=sr0, observations=1250, skewness=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.90040, abs=2e-5)  # the paper's 0.9004
    # the same through the trials themselves: 100 Sharpes of +-a with sample variance 0.002
    a = math.sqrt(0.002 * 99 / 100)
    trials = [a] * 50 + [-a] * 50
    assert deflated_sharpe(
        2.5 / math.sqrt(250), trial_sharpes=trials, observations=1250, skewness=-3.0, kurtosis=10.0
    ) == pytest.approx(dsr, rel=1e-12)


def test_one_trial_is_no_selection_and_the_psr_of_a_normal_series_is_its_t_statistic():
    """With N = 1 the benchmark is 0 and the DSR is the PSR against 0: for normal returns
    (skew 0, kurtosis 3) and SR = 0.1 over T = 101: z = 0.1 x 10 / sqrt(1 + 0.005) = 0.997509,
    Z(z) = 0.84074 (tables: 0.83891 + 0.7509 x 0.00243)."""
    assert expected_max_sharpe(trials=1, variance=0.3) == 0.0
    assert deflated_sharpe(0.1, trial_sharpes=[0.1], observations=101, skewness=0.0, kurtosis=3.0) == pytest.approx(
        0.84074, abs=1e-5
    )
    assert probabilistic_sharpe(0.1, benchmark=0.0, observations=1, skewness=0.0, kurtosis=3.0) is None


# ----- every bad spec: one line, exit 2 ------------------------------------------------------

BAD_SPECS = [
    (
        '[axes]\n"risk.max_levrage" = [2, 3]\n',
        "[axes] `risk.max_levrage`: unknown setting — did you mean `risk.max_leverage`?",
    ),
    (
        '[axes]\n"rsk.max_leverage" = [2, 3]\n',
        "[axes] `rsk.max_leverage`: unknown setting — did you mean `risk`?; name a setting as section.key, e.g. risk.max_leverage",
    ),
    ('[settings]\n"paper.fee" = 0.1\n', "[settings] `paper.fee`: unknown setting"),
    (
        '[axes]\n"risk.max_leverage" = ["high"]\n',
        "[axes] `risk.max_leverage`: Input should be a valid number, unable to parse string as a number (got 'high')",
    ),
    (
        '[axes]\n"risk.max_leverage" = [2, 200]\n',
        "[axes] `risk.max_leverage`: Input should be less than or equal to 125 (got 200)",
    ),
    (
        '[axes]\n"risk.max_leverage" = []\n',
        "axis `risk.max_leverage` is empty; give it a list of at least one value, e.g. [2, 3, 5]",
    ),
    (
        '[axes]\n"rules.stop_atr" = { low = 1, high = 2 }\n',
        "axis `rules.stop_atr`: a range is { low = A, high = B } and needs `samples` in [sweep]; or give a list of values",
    ),
    (
        '[sweep]\nmetric = "profit"\n[axes]\n"risk.max_leverage" = [2]\n',
        "sweep.metric 'profit': use one of sharpe, sortino, return, calmar",
    ),
    (
        '[sweep]\nfrom = "2025-06-01T00:00"\n[axes]\n"risk.max_leverage" = [2]\n',
        "sweep.from 2025-06-01T00:00: the history needs 500 closed candles first; the earliest start is 2025-06-02T01:00",
    ),
    (
        '[sweep]\nto = "2025-06-03T01:00"\n[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "12h"\ntest = "6h"\nfolds = 3\n',
        "[walk_forward] 3 folds of train 12h + test 6h need until 2025-06-03T06:57, but the span ends at 2025-06-03T01:00; use at most 2 folds, shorter windows or more history",
    ),
    (
        '[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "12 hours"\ntest = "6h"\n',
        '`walk_forward.train` \'12 hours\' is not a duration; write e.g. "90m", "12h" or "2d"',
    ),
    ("[sweeps]\nseed = 1\n", "unknown table [sweeps] — did you mean `sweep`?"),
    ("[axes\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SPECS, ids=[m[:40] for _, m in BAD_SPECS])
def test_a_bad_spec_is_one_line_before_anything_runs(project, text, message):
    """``sweep_command`` in this process: the ConfigError the CLI prints as one line, exit 2
    (the test below proves that mapping on a real run)."""
    from bot.config.file import load_settings
    from bot.errors import ConfigError
    from bot.sweep.command import Options, sweep_command

    (project / "spec.toml").write_text(text)
    with pytest.raises(ConfigError) as error:
        sweep_command(
            load_settings(project / "config.toml"), project / "spec.toml", Options(workers=0), notify=lambda _line: None
        )
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (project / "var" / "cache" / "sweep").exists() or not any(
        (project / "var" / "cache" / "sweep").iterdir()
    )


def test_a_bad_spec_in_a_real_run_is_one_line_and_exit_2(project):
    result = run_bot("sweep", "nowhere.toml", cwd=project)
    assert (result.returncode, result.stderr, result.stdout) == (2, "error: sweep spec not found: nowhere.toml\n", "")
    (project / "spec.toml").write_text(BAD_SPECS[0][0])
    result = run_bot("sweep", "spec.toml", cwd=project)
    assert result.returncode == 2 and result.stderr == f"error: spec.toml: {BAD_SPECS[0][1]}\n"


def test_the_readmes_example_spec_is_valid_on_the_bundled_sample(tmp_path):
    from bot.backtest.loop import span_of
    from bot.venues.history import HistoryMarket

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("```toml\n# sweep.toml\n")[1].split("```")[0]
    spec = _spec(tmp_path, example)
    assert len(points(spec)) == 9 and spec.heatmap == ["risk.max_leverage", "rules.size_pct"]
    start, end = span_of(HistoryMarket(), spec.settings["trading.coins"], start=spec.start, end=spec.end)
    folds = folds_of(spec, start=start, end=end)
    assert [(f.test_start, f.test_end) for f in folds] == [
        (T0 + timedelta(days=1), T0 + timedelta(days=1, hours=11, minutes=57)),
        (T0 + timedelta(days=1, hours=12), T0 + timedelta(days=1, hours=23, minutes=57)),
    ]


def test_the_data_key_changes_with_any_file_a_backtest_reads_and_nothing_else(tmp_path):
    from bot.sweep.cell import data_digest

    for sub in ("3m", "4h", "funding_8h", "intel"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "BTCUSDT.csv").write_text("a")
    first = data_digest(tmp_path)
    (tmp_path / "README.md").write_text("notes")  # not read by a backtest
    (tmp_path / "1m").mkdir()
    (tmp_path / "1m" / "BTCUSDT.csv").write_text("a")
    assert data_digest(tmp_path) == first
    for sub in ("3m", "4h", "funding_8h", "intel"):
        (tmp_path / sub / "BTCUSDT.csv").write_text("b")
        changed = data_digest(tmp_path)
        assert changed != first, sub
        first = changed
