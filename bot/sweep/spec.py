"""A sweep's spec (SPEC.toml) and its cells: grid, seeded random samples, walk-forward folds.

The spec is data, checked before anything runs; every mistake is one line naming the
key (``ConfigError``, exit 2)::

    [sweep]
    from = "2025-06-02T01:00"    # the span (default: all the history can show)
    to = "2025-06-03T01:00"
    metric = "sharpe"            # ranks the cells: sharpe | sortino | return | calmar
    decide_every = 1             # as `bot backtest --decide-every`
    samples = 8                  # draw this many cells at random instead of the full grid
    seed = 1                     # ... reproducibly
    heatmap = ["risk.max_leverage", "rules.size_pct"]   # default: the first two axes

    [settings]                   # every cell: any setting by its dotted name
    "trading.coins" = ["BTC", "ETH"]

    [axes]                       # one value of each per cell (over [settings])
    "risk.max_leverage" = [2, 3, 5]
    "rules.size_pct" = [5, 10, 20]
    "strategy.name" = ["rules", "claude"]
    # random samples only: a range, drawn uniformly (integers when both ends are)
    # "rules.stop_atr" = { low = 1.0, high = 3.0 }

    [walk_forward]               # optional: pick the best cell on `train`, score it on `test`
    train = "12h"
    test = "6h"
    folds = 2
    anchored = false             # true: every train window starts at the span's start

A cell's settings are the loaded config with ``[settings]`` and its axis values applied,
each section validated as config.toml is: a setting that does not exist, a value of the
wrong type or out of range is refused here, not in a worker an hour later.
"""

from __future__ import annotations

import itertools
import random
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.clock import TICK
from bot.config import Section, Settings
from bot.config.file import with_overrides as cell_settings  # noqa: F401 (the sweep's name for it)
from bot.errors import ConfigError, did_you_mean

METRICS = {"sharpe": "sharpe", "sortino": "sortino", "return": "total_return_pct", "calmar": "calmar"}
_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")
_SWEEP_KEYS = {"from", "to", "metric", "decide_every", "samples", "seed", "heatmap"}
_FOLD_KEYS = {"train", "test", "folds", "anchored"}


class Fold(BaseModel):
    """One walk-forward fold: pick on [train_start, train_end], score on [test_start, test_end] (ticks, inclusive)."""

    index: int
    train_start: datetime
    train_end: datetime
    test_start: datetime
    test_end: datetime


class Spec(BaseModel):
    """A parsed spec: what every cell shares and what varies."""

    path: Path
    start: datetime | None
    end: datetime | None
    metric: str
    decide_every: int
    settings: dict[str, Any]  # dotted name -> value, every cell
    axes: dict[str, list[Any] | dict[str, int | float]]  # dotted name -> values (or a range, random only)
    samples: int | None
    seed: int
    heatmap: list[str]
    train: timedelta | None
    test: timedelta | None
    folds: int
    anchored: bool


def load_spec(path: Path) -> Spec:
    """Read and check SPEC.toml (names and shapes; values are checked in ``cell_settings``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sweep spec not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    for table in data:
        if table not in ("sweep", "settings", "axes", "walk_forward"):
            raise ConfigError(
                f"{path}: unknown table [{table}]{did_you_mean(table, ['sweep', 'settings', 'axes', 'walk_forward'])}"
            )
    sweep, folds = _table(path, data, "sweep", _SWEEP_KEYS), _table(path, data, "walk_forward", _FOLD_KEYS)
    settings = {name: value for name, value in _dotted(path, "settings", data.get("settings", {}))}
    axes = {name: value for name, value in _dotted(path, "axes", data.get("axes", {}))}
    samples = _int(path, "sweep.samples", sweep.get("samples"), minimum=1)
    for name, values in axes.items():
        if isinstance(values, dict):
            if (
                samples is None
                or set(values) != {"low", "high"}
                or not all(isinstance(v, int | float) for v in values.values())
            ):
                raise ConfigError(
                    f"{path}: axis `{name}`: a range is {{ low = A, high = B }} and needs `samples` in [sweep]; "
                    "or give a list of values"
                )
            if values["low"] > values["high"]:
                raise ConfigError(f"{path}: axis `{name}`: low {values['low']} is above high {values['high']}")
        elif not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: axis `{name}` is empty; give it a list of at least one value, e.g. [2, 3, 5]")
    metric = sweep.get("metric", "sharpe")
    if metric not in METRICS:
        raise ConfigError(f"{path}: sweep.metric {metric!r}: use one of {', '.join(METRICS)}")
    heatmap = sweep.get(
        "heatmap", [name for name, values in axes.items() if isinstance(values, dict) or len(values) > 1][:2]
    )
    if (
        not isinstance(heatmap, list)
        or len(heatmap) != 2
        or any(name not in axes for name in heatmap)
        or heatmap[0] == heatmap[1]
    ):
        if "heatmap" in sweep:
            raise ConfigError(f"{path}: sweep.heatmap must name two different axes of [axes] (got {heatmap!r})")
        heatmap = []
    train, test = (_duration(path, f"walk_forward.{key}", folds.get(key)) for key in ("train", "test"))
    if folds and (train is None or test is None):
        raise ConfigError(
            f'{path}: [walk_forward] needs both `train` and `test` durations, e.g. train = "12h", test = "6h"'
        )
    return Spec(
        path=path,
        start=_time(path, "sweep.from", sweep.get("from")),
        end=_time(path, "sweep.to", sweep.get("to")),
        metric=metric,
        decide_every=_int(path, "sweep.decide_every", sweep.get("decide_every", 1), minimum=1),
        settings=settings,
        axes=axes,
        samples=samples,
        seed=_int(path, "sweep.seed", sweep.get("seed", 0), minimum=0),
        heatmap=heatmap,
        train=train,
        test=test,
        folds=_int(path, "walk_forward.folds", folds.get("folds", 1 if folds else 0), minimum=1 if folds else 0),
        anchored=_bool(path, "walk_forward.anchored", folds.get("anchored", False)),
    )


def _table(path: Path, data: dict, name: str, keys: set[str]) -> dict:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `{name}` must be a table [{name}]")
    for key in table:
        if key not in keys:
            raise ConfigError(f"{path}: unknown key `{name}.{key}`{did_you_mean(key, sorted(keys), prefix=name)}")
    return table


def _dotted(path: Path, table: str, values: dict) -> list[tuple[str, Any]]:
    """`"risk.max_leverage" = …` or `[axes.risk] max_leverage = …`: the same dotted name, checked against Settings."""
    found = []
    for key, value in values.items():
        if "." not in key and isinstance(value, dict):  # a nested table: one section
            found += [(f"{key}.{field}", inner) for field, inner in value.items()]
        else:
            found.append((key, value))
    for name, _ in found:
        section, _, field = name.partition(".")
        model = Settings.model_fields.get(section)
        kind = model.annotation if model is not None else None
        sections = [
            name
            for name, info in Settings.model_fields.items()
            if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
        ]
        if not (isinstance(kind, type) and issubclass(kind, Section)):
            raise ConfigError(
                f"{path}: [{table}] `{name}`: unknown setting{did_you_mean(section, sections)}; "
                "name a setting as section.key, e.g. risk.max_leverage"
            )
        if field not in kind.model_fields:
            raise ConfigError(
                f"{path}: [{table}] `{name}`: unknown setting"
                f"{did_you_mean(field, list(kind.model_fields), prefix=section)}"
            )
    return found


def _int(path: Path, name: str, value: Any, *, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{path}: `{name}` must be a whole number >= {minimum} (got {value!r})")
    return value


def _bool(path: Path, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: `{name}` must be true or false (got {value!r})")
    return value


def _time(path: Path, name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(
                f'{path}: `{name}` {value!r} is not a time; use ISO format like "2025-06-02T01:00" (UTC)'
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _duration(path: Path, name: str, value: Any) -> timedelta | None:
    if value is None:
        return None
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ConfigError(f'{path}: `{name}` {value!r} is not a duration; write e.g. "90m", "12h" or "2d"')
    span = timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[match[2]]: int(match[1])})
    if span < TICK or span % TICK:
        raise ConfigError(f"{path}: `{name}` {value!r} must be a positive multiple of 3 minutes (one tick)")
    return span


# ----- cells --------------------------------------------------------------------------------


def points(spec: Spec) -> list[dict[str, Any]]:
    """The axis values of each cell: the full grid in spec order, or ``samples`` distinct random draws."""
    if spec.samples is None:
        names = list(spec.axes)
        return [dict(zip(names, combination, strict=True)) for combination in itertools.product(*spec.axes.values())]
    rng = random.Random(spec.seed)
    drawn: list[dict[str, Any]] = []
    for _ in range(spec.samples * 20):  # bounded: a small grid may hold fewer distinct points than asked
        point = {name: _draw(rng, values) for name, values in spec.axes.items()}
        if point not in drawn:
            drawn.append(point)
        if len(drawn) == spec.samples:
            break
    return drawn


def _draw(rng: random.Random, values: list[Any] | dict[str, float]) -> Any:
    if isinstance(values, list):
        return values[rng.randrange(len(values))]
    low, high = values["low"], values["high"]
    return rng.randint(low, high) if isinstance(low, int) and isinstance(high, int) else rng.uniform(low, high)


def folds_of(spec: Spec, *, start: datetime, end: datetime) -> list[Fold]:
    """Walk-forward windows over [start, end]: test windows follow each other, each right after its train window.

    Fold i tests [start + train + i*test, start + train + (i+1)*test) and trains on the
    ``train`` before it (from ``start`` when anchored): a test window never holds a tick
    of its own training window, and nothing after the test window is used.
    """
    if spec.train is None or spec.test is None:
        return []
    last_end = start + spec.train + spec.folds * spec.test - TICK
    if last_end > end:
        fits = max(0, (end + TICK - start - spec.train) // spec.test)
        raise ConfigError(
            f"{spec.path}: [walk_forward] {spec.folds} folds of train {_show(spec.train)} + test {_show(spec.test)} "
            f"need until {last_end:%Y-%m-%dT%H:%M}, but the span ends at {end:%Y-%m-%dT%H:%M}; "
            f"use at most {fits} folds, shorter windows or more history"
        )
    folds = []
    for index in range(spec.folds):
        test_start = start + spec.train + index * spec.test
        train_start = start if spec.anchored else test_start - spec.train
        folds.append(
            Fold(
                index=index,
                train_start=train_start,
                train_end=test_start - TICK,
                test_start=test_start,
                test_end=test_start + spec.test - TICK,
            )
        )
    return folds


def _show(span: timedelta) -> str:
    hours = span / timedelta(hours=1)
    return f"{hours:g}h"
