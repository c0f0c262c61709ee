"""`bot sweep` end to end on the bundled sample: Dask (worker processes, an existing
cluster, in-process) gives exactly what `bot backtest` gives cell by cell; the cache
skips finished cells; a failing cell is reported and the sweep goes on; walk-forward
scores each fold's winner on a window it was not chosen on.

Spans are short (the sample holds ~3 days of ticks) so the suite stays fast.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from bot.config.file import load_settings
from bot.sweep.command import Options, sweep_command
from bot.venues.history import SAMPLE_DIR
from tests.conftest import run_bot

GRID = """
[sweep]
from = "2025-06-02T01:00"
to = "2025-06-02T07:00"

[settings]
"trading.coins" = ["BTC", "ETH"]

[axes]
"rules.size_pct" = [5, 20]
"risk.max_leverage" = [2, 5]
"""
ROW_FIELDS = [
    "total_return_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "trades",
    "fees_usd",
    "exposure_pct",
    "final_equity_usd",
    "ticks",
]


def _folder(tmp_path: Path, name: str, spec: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.toml").write_text("")
    (folder / "spec.toml").write_text(spec)
    return folder


def _in_process(folder: Path, **options):
    settings = load_settings(folder / "config.toml")
    return sweep_command(settings, folder / "spec.toml", Options(workers=0, **options), notify=lambda _line: None)


def _rows(report) -> dict[str, dict]:
    """Axis values -> the row's numbers, whatever the order the cells finished in."""
    return {
        json.dumps(cell["values"], sort_keys=True): {k: cell["row"][k] for k in ROW_FIELDS} for cell in report["cells"]
    }


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    folder = _folder(tmp_path_factory.mktemp("sweep"), "inproc", GRID)
    return json.loads(_in_process(folder).model_dump_json())


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


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    folder = _folder(tmp_path, "nowhere", GRID)
    result = run_bot("sweep", "spec.toml", "--scheduler", "tcp://127.0.0.1:9", cwd=folder, timeout=60)
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: --scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler there")
        and result.stderr.count("\n") == 1
    )


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


def test_a_failing_cell_is_reported_and_the_sweep_goes_on(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, data)
    (data / "3m" / "ETHUSDT-3m.csv.gz").write_bytes(
        gzip.compress(b"timestamp,open\n1,2\n")[:20]
    )  # cut short: not readable
    spec = (
        '[sweep]\nfrom = "2025-06-02T01:00"\nto = "2025-06-02T07:00"\n[settings]\n"trading.coins" = ["BTC"]\n'
        '[axes]\n"trading.coins" = [["BTC"], ["ETH"], ["NOPE"]]\n'
    )
    folder = _folder(tmp_path, "failing", spec)
    result = run_bot("sweep", "spec.toml", "--workers", "0", "--data-dir", str(data), "--json", cwd=folder, timeout=120)
    assert result.returncode == 4, result.stderr  # DEGRADED: a cell failed, the others are there
    report = json.loads(result.stdout)
    assert (report["computed"], report["failed"]) == (1, 2)
    by_coins = {cell["values"]["trading.coins"][0]: cell for cell in report["cells"]}
    assert by_coins["BTC"]["row"]["ok"] and by_coins["BTC"]["rank"] == 1 and by_coins["BTC"]["row"]["ticks"] == 121
    assert by_coins["ETH"]["source"] == "failed" and by_coins["ETH"]["row"]["error"].startswith(
        ("EOFError", "BadGzipFile")
    )
    assert by_coins["NOPE"]["row"]["error"].startswith("--coins: no history for NOPE in ")
    assert "Traceback" not in result.stderr
    again = run_bot("sweep", "spec.toml", "--workers", "0", "--data-dir", str(data), "--json", cwd=folder, timeout=120)
    rerun = json.loads(again.stdout)
    assert (rerun["cached"], rerun["failed"], rerun["computed"]) == (1, 2, 0)  # failures are tried again, never cached


WALK_FORWARD = (
    GRID.replace('to = "2025-06-02T07:00"', 'to = "2025-06-03T01:00"')
    + '\n[walk_forward]\ntrain = "12h"\ntest = "6h"\nfolds = 2\n'
)


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


def test_without_dask_the_sweep_says_how_to_install_it(tmp_path):
    folder = _folder(tmp_path, "nodask", GRID)
    blocker = tmp_path / "blocker" / "distributed"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed (blocked by the test)')\n")
    result = run_bot("sweep", "spec.toml", cwd=folder, env={"PYTHONPATH": str(blocker.parent)})
    assert (result.returncode, result.stderr) == (
        2,
        "error: `bot sweep` needs Dask: pip install 'bot[sweep]' (or pip install 'dask[distributed]')\n",
    )


def test_claude_cells_without_a_key_or_above_max_cost_stop_before_anything_runs(tmp_path):
    folder = _folder(
        tmp_path, "claude", GRID.replace('"rules.size_pct" = [5, 20]', '"strategy.name" = ["rules", "claude"]')
    )
    result = run_bot("sweep", "spec.toml", "--workers", "0", cwd=folder)
    assert (result.returncode, result.stderr) == (
        2,
        'error: strategy.name = "claude" cells need ANTHROPIC_API_KEY in the environment or in .env beside config.toml\n',
    )
    key = "sk-ant-test-sweep-0123456789"
    result = run_bot(
        "sweep",
        "spec.toml",
        "--workers",
        "0",
        "--max-cost",
        "0.01",
        cwd=folder,
        env={"ANTHROPIC_API_KEY": key, "BOT_LLM__BASE_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "Claude cells: 2 not yet in the sweep cache, 242 decisions; estimated at up to "
    )  # 2 leverages x 121 ticks
    assert lines[1].startswith("error: the sweep's uncached Claude cells are estimated at up to ") and lines[
        1
    ].endswith(
        "above --max-cost 0.01 USD; raise --max-cost, shrink the grid or the span, raise sweep.decide_every, or pass --yes"
    )
    assert (
        key not in result.stderr
        and not (folder / "var" / "cache" / "sweep").exists()
        or not any((folder / "var" / "cache" / "sweep").iterdir())
    )


CLAUDE = """
[sweep]
from = "2025-06-02T01:00"
to = "2025-06-02T01:30"

[settings]
"trading.coins" = ["BTC", "ETH"]

[axes]
"strategy.name" = ["claude"]
"paper.initial_balance_usd" = [5000, 10000]
"""


def test_claude_cells_ask_the_real_sdk_once_per_decision_and_a_rerun_is_served_from_the_caches(tmp_path):
    from tests.fakes.anthropic import FakeAnthropic

    key = "sk-ant-test-sweep-0123456789"
    folder = _folder(tmp_path, "claude-run", CLAUDE)
    with FakeAnthropic() as fake:
        env = {"ANTHROPIC_API_KEY": key, "BOT_LLM__BASE_URL": fake.url}
        first = run_bot("sweep", "spec.toml", "--workers", "0", "--yes", "--json", cwd=folder, env=env, timeout=120)
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert len(fake.requests) == 2 * 11  # two cells x 11 ticks (01:00 to 01:30), each asked once
        assert [cell["row"]["cache"] for cell in report["cells"]] == [{"hits": 0, "misses": 11}] * 2
        assert report["llm_cost_usd"] > 0 and report["computed"] == 2
        shutil.rmtree(folder / "var" / "cache" / "sweep")  # forget the rows: the decisions are still cached
        second = run_bot("sweep", "spec.toml", "--workers", "0", "--json", cwd=folder, env=env, timeout=120)
        assert second.returncode == 0, second.stderr
        again = json.loads(second.stdout)
        assert len(fake.requests) == 22  # nothing asked again
        assert [cell["row"]["cache"] for cell in again["cells"]] == [{"hits": 11, "misses": 0}] * 2 and again[
            "llm_cost_usd"
        ] == 0.0
        assert _rows(again) == _rows(report)
        third = run_bot("sweep", "spec.toml", "--workers", "0", "--json", cwd=folder, env=env, timeout=120)
        assert json.loads(third.stdout)["cached"] == 2 and "Claude cells" not in third.stderr  # nothing left to price
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert key not in output
