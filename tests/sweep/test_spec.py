"""`bot sweep`'s spec: the grid, random samples, walk-forward folds, the README's example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.sweep.spec import Spec, folds_of, load_spec, points

T0 = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the sample's first tick with 500 closed candles


def _spec(tmp_path: Path, text: str) -> Spec:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def _ticks(first: datetime, last: datetime) -> list[datetime]:
    return [first + timedelta(minutes=3 * i) for i in range(int((last - first) / timedelta(minutes=3)) + 1)]


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
    text = (
        '[sweep]\nsamples = 6\nseed = {seed}\n[axes]\n"risk.max_leverage" = [2, 3, 5, 8]\n"rules.stop_atr" = {{ low '
        '= 1.0, high = 3.0 }}\n"rules.size_pct" = {{ low = 5, high = 20 }}\n'
    )
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


def test_the_readmes_example_spec_is_valid_on_the_bundled_sample(tmp_path):
    from bot.backtest.loop import span_of
    from bot.venues.history import HistoryMarket

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```toml\n# sweep.toml\n")[1].split("```")[0]
    spec = _spec(tmp_path, example)
    assert len(points(spec)) == 9 and spec.heatmap == ["risk.max_leverage", "rules.size_pct"]
    start, end = span_of(HistoryMarket(), spec.settings["trading.coins"], start=spec.start, end=spec.end)
    folds = folds_of(spec, start=start, end=end)
    assert [(f.test_start, f.test_end) for f in folds] == [
        (T0 + timedelta(days=1), T0 + timedelta(days=1, hours=11, minutes=57)),
        (T0 + timedelta(days=1, hours=12), T0 + timedelta(days=1, hours=23, minutes=57)),
    ]
