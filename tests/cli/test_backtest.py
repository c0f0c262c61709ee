"""`bot backtest` and `bot download` (bot/cli/backtest.py) as real processes: offline on the
bundled sample, with Claude, with intel and with the arena; one-line errors with exit code 2."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.venues.history import SAMPLE_DIR, _read_csv
from tests.conftest import NOW, data_dir, run_bot
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.intel import FakeIntel
from tests.intel.intelkit import _archive, _day

KEY = "sk-ant-test-backtest-0123456789"
SPAN = ("--coins", "BTC", "ETH", "--to", "2025-06-02T02:00")  # 21 ticks from the sample's first


@pytest.fixture
def anthropic_fake():
    with FakeAnthropic() as fake:
        yield fake


def _env(fake) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": KEY,
        "BOT_LLM__BASE_URL": fake.url,
        "BOT_LLM__MODEL": "claude-sonnet-4-6",
    }  # its cutoff and prices


def test_an_out_folder_that_cannot_be_written_is_one_line_and_exit_2(project):
    taken = project / "taken"
    taken.write_text("a file the user keeps\n")
    result = run_bot(
        "backtest", "--coins", "BTC", "--to", "2025-06-02T06:00", "--out", str(taken), cwd=project, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr == f"error: --out {taken}: cannot write the report (File exists); pick a writable folder\n"
    assert taken.read_text() == "a file the user keeps\n"  # nothing lost


def test_backtest_command_runs_offline_on_the_bundled_sample_and_writes_its_report(project):
    out = project / "report"
    result = run_bot(
        "backtest", "--coins", "BTC", "ETH", "--to", "2025-06-03", "--json", "--out", str(out), cwd=project, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["coins"] == ["BTC", "ETH"] and report["strategy"] == "rules"
    assert report["start"] == "2025-06-02T01:00:00Z" and report["end"] == "2025-06-03T00:00:00Z"
    assert report["ticks"] == 461 and report["outcomes"] == {"ok": 461}
    assert report["trade_metrics"]["trades"] == sum(group["trades"] for group in report["by_coin"])
    for name in ("trades.csv", "equity.csv", "report.json"):
        assert (out / name).stat().st_size > 0
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    equity_rows = (out / "equity.csv").read_text().splitlines()
    assert equity_rows[0] == "time,equity_usd,drawdown_pct,buy_and_hold_usd,exposed" and len(equity_rows) == 462
    trade_rows = (out / "trades.csv").read_text().splitlines()
    assert len(trade_rows) == report["trade_metrics"]["trades"] + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coins", "BTX"], "error: --coins: no history for BTX in"),
        (["--from", "yesterday"], "error: --from: 'yesterday' is not a date; use ISO format like 2025-06-01"),
        (["--fee", "7"], "error: --fee: Input should be less than or equal to 1 (got 7.0)"),
        (["--strategy", "magic"], "error: --strategy 'magic': use one of rules, claude"),
        (
            ["--from", "2025-06-04", "--to", "2025-06-03"],
            "error: --to 2025-06-03T00:00 is before --from 2025-06-04T00:00",
        ),
    ],
)
def test_backtest_command_errors_are_one_line_with_exit_code_2(project, args, message):
    result = run_bot("backtest", *args, cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_backtest_command_reads_a_data_dir_laid_out_like_the_sample(project, tmp_path):
    folder = tmp_path / "history"
    shutil.copytree(SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("*DOGE*", "*XRP*", "*SOL*", "*BNB*", "*ETH*"))
    result = run_bot(
        "backtest", "--data-dir", str(folder), "--coins", "BTC", "--to", "2025-06-02T06:00", "--json", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ticks"] == 101
    missing = run_bot("backtest", "--data-dir", str(folder), "--coins", "ETH", cwd=project)
    assert missing.returncode == 2 and "no history for ETH" in missing.stderr and "(available: BTC)" in missing.stderr


def test_backtest_arena_command_prints_the_leaderboard_and_writes_the_chart(project):
    (project / "config.toml").write_text(
        '[strategy]\nname = "rules"\n[trading]\ncoins = ["BTC"]\n[[arena.candidates]]\nname = "small"\nstrategy = '
        '"rules"\n'
        '[[arena.candidates]]\nname = "big"\nstrategy = "rules"\nrules = { size_pct = 20 }\n'
    )
    out = project / "report"
    result = run_bot(
        "backtest",
        "--arena",
        "--from",
        "2025-06-02T01:00",
        "--to",
        "2025-06-02T04:00",
        "--out",
        str(out),
        "--json",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {s["name"] for s in shown["leaderboard"]["standings"]} == {"small", "big"} and shown["leaderboard"][
        "active"
    ] == "small"
    assert (
        shown["account"]["strategy"] == "arena (small)" and shown["account"]["ticks"] == 61
    )  # 3 hours of 3-minute ticks, both ends
    assert {s["ticks"] for s in shown["leaderboard"]["standings"]} == {61}
    assert json.loads((out / "leaderboard.json").read_text()) == shown["leaderboard"]
    assert (out / "arena.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_claude_backtest_asks_once_per_tick_and_a_rerun_asks_nothing(project, anthropic_fake):
    first = run_bot("backtest", "--strategy", "claude", *SPAN, "--json", "--yes", cwd=project, env=_env(anthropic_fake))
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert len(anthropic_fake.requests) == 21 and report["ticks"] == 21
    assert report["cache"] == {"hits": 0, "misses": 21} and report["llm_cost_usd"] > 0
    assert report["warnings"][0].startswith("LOOK-AHEAD: claude-sonnet-4-6 was trained on data up to 2025-08-31")
    second = run_bot("backtest", "--strategy", "claude", *SPAN, "--json", cwd=project, env=_env(anthropic_fake))
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert len(anthropic_fake.requests) == 21  # nothing asked
    assert again["cache"] == {"hits": 21, "misses": 0} and again["llm_cost_usd"] == 0.0
    assert again["strategy_metrics"] == report["strategy_metrics"] and again["trade_metrics"] == report["trade_metrics"]
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert KEY not in output


def test_a_claude_backtest_above_max_cost_stops_before_asking(project, anthropic_fake):
    result = run_bot(
        "backtest", "--strategy", "claude", *SPAN, "--max-cost", "0.001", cwd=project, env=_env(anthropic_fake)
    )
    assert result.returncode == 2
    assert (
        "error: stopped at 2025-06-02 01:00 UTC (1 of 21 ticks): --strategy claude: the 21 uncached calls ahead are "
        "estimated at up to" in result.stderr
    )
    assert "above --max-cost 0.001 USD; raise --max-cost" in result.stderr
    assert anthropic_fake.requests == []


def test_claude_without_a_key_is_a_one_line_usage_error(project):
    result = run_bot("backtest", "--strategy", "claude", cwd=project)
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: --strategy claude needs ANTHROPIC_API_KEY in the environment or in .env beside config.toml (or use "
        "--strategy rules)\n"
    )


def test_download_command_errors_are_one_line_with_exit_code_2(project):
    bad_frame = run_bot("download", "--since", "2025-06-01", "--timeframes", "3m", "5m", cwd=project)
    assert bad_frame.returncode == 2 and bad_frame.stderr == "error: --timeframes '5m': use some of 1m, 3m, 1h, 4h\n"
    backwards = run_bot("download", "--since", "2025-06-02", "--until", "2025-06-01", cwd=project)
    assert (
        backwards.returncode == 2
        and backwards.stderr == "error: --until 2025-06-01T00:00 must be after --since 2025-06-02\n"
    )
    assert not (project / "var" / "data").exists()


def test_download_command_fetches_into_the_data_dir(project, tmp_path):
    from tests.fakes.exchange import FakeExchange

    with FakeExchange(data_dir(), now=NOW, follow_wall_clock=True) as fake:
        now = datetime.now(UTC)
        since = datetime.fromtimestamp(now.timestamp() - 86_400, tz=UTC).strftime("%Y-%m-%dT%H:%M")
        result = run_bot(
            "download",
            "--coins",
            "ETH",
            "--since",
            since,
            "--data-dir",
            "hist",
            cwd=project,
            env={"BOT_EXCHANGE__API_URL": fake.url},
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        len(lines) == 3
        and lines[0].startswith("hist/3m/ETHUSDT-3m.csv: +")
        and "funding_8h/ETHUSDT-funding-8h.csv" in lines[2]
    )
    rows = _read_csv(project / "hist" / "3m", "ETHUSDT-3m")
    assert 478 <= len(rows) <= 480 and (np.diff(rows[:, 0]) == 180_000).all()


def test_bot_download_intel_archives_what_answers_and_names_what_does_not(project):
    with FakeIntel() as fake:
        env = {
            "BOT_INTEL__FEAR_GREED_URL": f"{fake.url}/fng/",
            "BOT_INTEL__FEEDS": json.dumps(
                [
                    {"name": "coindesk", "url": f"{fake.url}/feeds/coindesk.rss"},
                    {"name": "broken", "url": f"{fake.url}/feeds/broken.rss"},
                ]
            ),
        }
        downloaded = run_bot("download", "--intel", "--data-dir", "data", cwd=project, env=env)
        assert (
            "/fng/",
            {"limit": "0"},
        ) in fake.requests  # the whole history (the sources are asked at once, in any order)
    intel = Path("data") / "intel"  # as --data-dir was given
    assert downloaded.returncode == 4, downloaded.stderr  # one source failed, the rest is archived: exit "degraded"
    assert (
        downloaded.stdout.strip() == f"{intel}: Fear & Greed 6 days, +5 headlines"
    )  # coindesk's 5 dated items, future ones too
    assert downloaded.stderr.strip() == "intel source broken skipped: HTTP 502"
    # the sources gone: nothing archived is lost, the failure is named
    again = run_bot("download", "--intel", "--data-dir", "data", cwd=project, env={**env, "BOT_INTEL__FEEDS": "[]"})
    assert (again.returncode, again.stdout.strip()) == (4, f"{intel}: Fear & Greed 6 days, +0 headlines")
    assert again.stderr.strip() == "intel source fear_greed skipped: connection failed (ClientConnectorError)"
    assert len((project / intel / "headlines.jsonl").read_text().splitlines()) == 5


def test_bot_backtest_with_intel_reports_the_archives_coverage(project):
    import shutil

    from tests.conftest import SAMPLE

    shutil.copytree(SAMPLE, project / "data")
    _archive(project / "data", minutes=range(0, 1), points=[_day(3, 61, "Greed")])  # one headline, at 12:00
    env = {"BOT_INTEL__ENABLED": "true", "BOT_INTEL__MAX_AGE_HOURS": "1"}
    args = [
        "backtest",
        "--data-dir",
        "data",
        "--coins",
        "BTC",
        "--from",
        "2025-06-03T12:00",
        "--to",
        "2025-06-03T14:00",
    ]
    text = run_bot(*args, cwd=project, env=env)
    assert text.returncode == 0, text.stderr
    # 41 ticks; the headline is in the 1 h window of 21 of them (12:00 .. 13:00): 51.2 %
    assert "intel coverage: 100 % of the ticks (Fear & Greed 100 %, headlines 51.2 %)" in text.stdout
    report = json.loads(run_bot(*args, "--json", cwd=project, env=env).stdout)
    assert report["intel_coverage"] == {"sentiment_pct": 100.0, "headlines_pct": 51.2, "any_pct": 100.0}
    without = json.loads(run_bot(*args, "--json", cwd=project).stdout)
    assert without["intel_coverage"] == {}


def test_gh17_6_backtest_writes_nothing_under_var_and_runs_when_var_cannot_be_created(project):
    (project / "var").write_text("not a folder")  # nothing can be created under var/, as when it is read-only
    result = run_bot("backtest", "--coins", "BTC", "--to", "2025-06-02T02:00", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ticks"] == 21  # 01:00 .. 02:00, every 3 minutes
    assert (project / "var").read_text() == "not a folder"


def test_gh17_10_download_of_an_empty_span_and_a_failing_exchange_are_one_line_errors(project):
    from tests.conftest import NOW, data_dir
    from tests.fakes.exchange import FakeExchange

    with FakeExchange(data_dir(), now=NOW) as fake:
        env = {"BOT_EXCHANGE__API_URL": fake.url}
        empty = run_bot(
            "download", "--coins", "BTC", "--since", "2020-01-01", "--until", "2020-01-02", cwd=project, env=env
        )
        fake.inject("503")
        down = run_bot(
            "download", "--coins", "BTC", "--since", "2025-06-01", "--until", "2025-06-02", cwd=project, env=env
        )
    assert empty.returncode == 2 and empty.stdout == ""
    assert (
        empty.stderr
        == "error: --since/--until: binanceusdm has no candles for BTC in 2020-01-01 00:00 → 2020-01-02 00:00 UTC; "
        "pick a span when they traded\n"
    )
    assert down.returncode == 3 and down.stdout == ""
    assert (
        down.stderr
        == "error: binanceusdm: cannot load markets (ExchangeNotAvailable); check the network or `exchange.api_url`\n"
    )  # no blank line first


def test_gh37_1_no_skip_prints_and_writes_the_same_report(project):
    """`--no-skip` runs every tick; by default the rules' quiet ticks are booked without
    running (bot/backtest/skip.py): the printed report and the --out files are the same."""
    printed, folders = [], []
    for extra in ([], ["--no-skip"]):
        out = project / f"report{len(folders)}"
        args = ("backtest", "--coins", "BTC", "ETH", "--to", "2025-06-03", "--json", "--out", str(out), *extra)
        result = run_bot(*args, cwd=project, timeout=120)
        assert result.returncode == 0, result.stderr
        printed.append(result.stdout)
        folders.append(out)
    assert printed[0] == printed[1] and json.loads(printed[0])["ticks"] == 461
    for name in ("trades.csv", "equity.csv", "report.json"):
        assert (folders[0] / name).read_text() == (folders[1] / name).read_text()
