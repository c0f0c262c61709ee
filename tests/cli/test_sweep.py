"""`bot sweep` as a real process: an unreachable scheduler, a failing cell, no Dask, Claude cells
without a key or above max cost, and with the real SDK."""

from __future__ import annotations

import gzip
import json
import shutil

from bot.venues.history import SAMPLE_DIR
from tests.conftest import run_bot
from tests.sweep.sweepkit import BAD_SPECS, GRID, _folder, _rows

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


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    folder = _folder(tmp_path, "nowhere", GRID)
    result = run_bot("sweep", "spec.toml", "--scheduler", "tcp://127.0.0.1:9", cwd=folder, timeout=60)
    assert result.returncode == 2
    assert (
        result.stderr.startswith("error: --scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler there")
        and result.stderr.count("\n") == 1
    )


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
        'error: strategy.name = "claude" cells need ANTHROPIC_API_KEY in the environment or in .env beside '
        "config.toml\n",
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
        "above --max-cost 0.01 USD; raise --max-cost, shrink the grid or the span, raise sweep.decide_every, or pass "
        "--yes"
    )
    assert (
        key not in result.stderr
        and not (folder / "var" / "cache" / "sweep").exists()
        or not any((folder / "var" / "cache" / "sweep").iterdir())
    )


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


def test_a_bad_spec_in_a_real_run_is_one_line_and_exit_2(project):
    result = run_bot("sweep", "nowhere.toml", cwd=project)
    assert (result.returncode, result.stderr, result.stdout) == (2, "error: sweep spec not found: nowhere.toml\n", "")
    (project / "spec.toml").write_text(BAD_SPECS[0][0])
    result = run_bot("sweep", "spec.toml", cwd=project)
    assert result.returncode == 2 and result.stderr == f"error: spec.toml: {BAD_SPECS[0][1]}\n"
