"""`bot sweep`'s run in process: Dask worker processes or an existing cluster give what `bot
backtest` gives, cell by cell; reruns, walk-forward and bad specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config.file import load_settings
from bot.sweep.command import Options, sweep_command
from tests.conftest import run_bot
from tests.sweep.sweepkit import BAD_SPECS, GRID, ROW_FIELDS, _folder, _rows


def _in_process(folder: Path, **options):
    settings = load_settings(folder / "config.toml")
    return sweep_command(settings, folder / "spec.toml", Options(workers=0, **options), notify=lambda _line: None)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    folder = _folder(tmp_path_factory.mktemp("sweep"), "inproc", GRID)
    return json.loads(_in_process(folder).model_dump_json())


WALK_FORWARD = (
    GRID.replace('to = "2025-06-02T07:00"', 'to = "2025-06-03T01:00"')
    + '\n[walk_forward]\ntrain = "12h"\ntest = "6h"\nfolds = 2\n'
)


def test_two_worker_processes_and_in_process_give_what_bot_backtest_gives_cell_by_cell(tmp_path, in_process):
    folder = _folder(tmp_path, "procs", GRID)
    result = run_bot("sweep", "spec.toml", "--workers", "2", "--json", cwd=folder, timeout=180)
    assert result.returncode == 0, result.stderr
    procs = json.loads(result.stdout)
    assert (procs["computed"], procs["cached"], procs["failed"]) == (4, 0, 0)
    assert _rows(procs) == _rows(in_process)
    # each cell alone through `bot backtest`, its settings in a config file
    for cell in in_process["cells"]:
        size, leverage = cell["values"]["rules.size_pct"], cell["values"]["risk.max_leverage"]
        alone = _folder(tmp_path, f"alone-{size}-{leverage}", "")
        (alone / "config.toml").write_text(
            f"[trading]\ncoins = ['BTC', 'ETH']\n[rules]\nsize_pct = {size}\n[risk]\nmax_leverage = {leverage}\n"
        )
        backtest = run_bot("backtest", "--from", "2025-06-02T01:00", "--to", "2025-06-02T07:00", "--json", cwd=alone)
        assert backtest.returncode == 0, backtest.stderr
        report = json.loads(backtest.stdout)
        expected = {
            **{
                k: report["strategy_metrics"][k]
                for k in ("total_return_pct", "sharpe", "sortino", "max_drawdown_pct", "final_equity_usd")
            },
            "trades": report["trade_metrics"]["trades"],
            "fees_usd": report["fees_usd"],
            "exposure_pct": report["exposure_pct"],
            "ticks": report["ticks"],
        }
        assert {k: cell["row"][k] for k in ROW_FIELDS} == expected
    assert {cell["row"]["ticks"] for cell in in_process["cells"]} == {121}  # 01:00 to 07:00 inclusive, every 3 minutes
    assert len({cell["row"]["fees_usd"] for cell in in_process["cells"]}) == 4  # the axes did change the cells
    assert (folder / "var" / "sweeps" / "spec" / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_existing_cluster_is_reached_by_its_scheduler_address(tmp_path, in_process):
    from distributed import LocalCluster

    folder = _folder(tmp_path, "remote", GRID)
    with LocalCluster(
        n_workers=1, processes=False, threads_per_worker=1, protocol="tcp", dashboard_address=None
    ) as cluster:
        result = run_bot(
            "sweep", "spec.toml", "--scheduler", cluster.scheduler_address, "--json", cwd=folder, timeout=120
        )
    assert result.returncode == 0, result.stderr
    assert _rows(json.loads(result.stdout)) == _rows(in_process)


def test_a_rerun_computes_only_the_missing_cells(tmp_path):
    folder = _folder(tmp_path, "cache", GRID)
    first = _in_process(folder)
    assert (first.computed, first.cached) == (4, 0)
    again = _in_process(folder)
    assert (again.computed, again.cached) == (0, 4)
    assert [c.row for c in again.cells] == [c.row for c in first.cells]
    (folder / "spec.toml").write_text(GRID.replace('"risk.max_leverage" = [2, 5]', '"risk.max_leverage" = [2, 5, 8]'))
    grown = _in_process(folder)
    assert (grown.computed, grown.cached) == (2, 4)  # only leverage 8 x the two sizes


def test_walk_forward_tests_each_folds_in_sample_winner_on_the_window_after_it(tmp_path):
    folder = _folder(tmp_path, "wf", WALK_FORWARD)
    report = _in_process(folder)
    assert report.computed == 4 * 2 + 2 and [f.fold for f in report.folds] == [0, 1]
    for fold in report.folds:
        train = [c for c in report.cells if c.window == "train" and c.fold == fold.fold]
        assert len(train) == 4 and all(c.end == fold.train_end for c in train)
        winner = max(train, key=lambda c: c.row.sharpe)
        assert fold.winner == winner.values and fold.in_sample == winner.row.sharpe
        test = [c for c in report.cells if c.window == "test" and c.fold == fold.fold]
        assert len(test) == 1 and test[0].values == winner.values
        assert (
            test[0].start > fold.train_end and test[0].start == fold.test_start and test[0].row.ticks == 120
        )  # 6 h of ticks
        assert fold.out_of_sample == test[0].row.sharpe
    assert [s.name for s in report.selections] == ["fold 0", "fold 1"] and all(s.trials == 4 for s in report.selections)


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
