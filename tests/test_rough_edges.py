"""Issue 17's bugs, each as a new user hit it: real `bot` processes, exact lines and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from tests.conftest import run_bot
from tests.fakes.notify import NotifyEndpoint


def _replay_tick(project, **env):
    return run_bot("tick", "--dry-run", "--replay", cwd=project, env=env)


def test_gh17_1_an_unwritable_journal_stops_with_exit_5_before_the_tick_runs(project):
    var = project / "var" / "replay"
    assert _replay_tick(project).returncode == 0
    journal = var / "journal.jsonl"
    first = journal.read_bytes()
    state = (var / "state.json").read_bytes()
    journal.rename(var / "kept.jsonl")
    journal.mkdir()  # cannot be appended to, as after a `sudo bot tick` (root ignores chmod)
    result = _replay_tick(project)
    assert result.returncode == 5 and result.stdout == ""
    assert result.stderr == (
        f"error: {journal}: cannot append (Is a directory); nothing ran, the state is unchanged: make it writable by this user "
        f"(`sudo chown $USER {journal}`) or free disk space, then run again\n"
    )
    assert (var / "state.json").read_bytes() == state  # state and journal still agree: one tick in each
    journal.rmdir()
    (var / "kept.jsonl").rename(journal)
    assert _replay_tick(project).returncode == 0
    assert journal.read_bytes().startswith(first)
    assert [json.loads(line)["tick"] for line in journal.read_text().splitlines()] == [1, 2]
    assert json.loads((var / "state.json").read_text())["tick"] == 2


def test_gh17_2_a_summary_no_url_accepted_is_not_marked_sent_and_replay_uses_the_simulated_day(project):
    with NotifyEndpoint(status=500) as down:
        env = {"BOT_NOTIFY__URLS": json.dumps([down.url])}
        assert _replay_tick(project, **env).returncode == 0  # at 2025-06-02 01:00, the sample's first replay time
        failed = run_bot("notify-summary", "--replay", cwd=project, env=env)
    assert failed.returncode == 3 and failed.stdout == ""  # never "sent"
    assert failed.stderr.splitlines()[-1] == (
        "error: the summary for 2025-06-02 was not delivered: every URL in notify.urls failed "
        f"(see `notify_failed` in {project / 'var' / 'logs' / 'replay.log'}); it is not marked sent, run the command again"
    )
    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    assert "summary:2025-06-02" not in state["notified"]
    with NotifyEndpoint() as up:
        sent = run_bot("notify-summary", "--replay", cwd=project, env={"BOT_NOTIFY__URLS": json.dumps([up.url])})
    assert sent.returncode == 0 and sent.stdout.endswith("\nsent\n")
    assert [body["title"] for body in up.messages()] == ["bot replay: daily summary 2025-06-02"]


def test_gh17_3_a_short_secret_is_scrubbed_as_a_whole_token_and_warned_about(project):
    from bot.log import configure_logging, scrub

    configure_logging(log_file=None, secrets=["k", "sk-live-0123456789"])
    try:
        assert scrub("var/state.json: key k refused") == "var/state.json: key *** refused"
        assert scrub("Authorization: sk-live-0123456789, k=1") == "Authorization: ***, ***=1"
        assert scrub("task-k") == "task-***"  # a hyphen ends a token: a key quoted after one is still scrubbed
    finally:
        configure_logging(log_file=None, secrets=[])
    result = run_bot("status", "--replay", cwd=project, env={"EXCHANGE_API_KEY": "k"})
    assert result.stderr.splitlines()[0] == (
        "warning: EXCHANGE_API_KEY is only 1 characters long, too short to be a real key: check .env and the environment"
    )
    assert "***" not in result.stderr


def test_gh17_4_an_unknown_coin_in_replay_is_skipped_with_did_you_mean(project):
    from bot.venues.history import SAMPLE_DIR

    result = _replay_tick(project, BOT_TRADING__COINS='["BTX", "ETH"]')
    assert result.returncode == 4, result.stderr  # degraded, as a live tick with an unknown coin
    lines = result.stdout.splitlines()
    assert lines[1] == "coins 1/2 loaded: ETH"
    assert lines[2] == f"  skipped BTX: unknown coin 'BTX' in {SAMPLE_DIR}: fix `trading.coins` — did you mean `BTC`?"


def test_gh17_5_an_unwritable_log_file_is_exit_5_with_a_fix(project):
    log = project / "var" / "logs" / "replay.log"  # a replay's own log, beside the live ticks' bot.log
    log.mkdir(parents=True)
    result = _replay_tick(project)
    assert result.returncode == 5 and result.stdout == ""
    assert result.stderr == (
        f"error: {log}: cannot open the log (Is a directory); nothing ran: make {log.parent} writable by this user "
        f"(`sudo chown -R $USER {log.parent}`), then run again\n"
    )
    assert not (project / "var" / "replay" / "state.json").exists()


def test_gh17_6_backtest_writes_nothing_under_var_and_runs_when_var_cannot_be_created(project):
    (project / "var").write_text("not a folder")  # nothing can be created under var/, as when it is read-only
    result = run_bot("backtest", "--coins", "BTC", "--to", "2025-06-02T02:00", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ticks"] == 21  # 01:00 .. 02:00, every 3 minutes
    assert (project / "var").read_text() == "not a folder"


def test_gh17_8_the_equity_chart_labels_each_date_once(project):
    import matplotlib.pyplot as plt

    from bot.backtest.report import _figure, build_report
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.config import Settings

    request = BacktestRequest(
        coins=["BTC"],
        start=datetime(2025, 6, 2, 1, 0, tzinfo=UTC),
        end=datetime(2025, 6, 4, 23, 0, tzinfo=UTC),
        decide_every=20,
    )
    result = backtest_command(Settings(base_dir=project), request, progress=False, notify=lambda line: None)
    figure = _figure(result, build_report(result))
    figure.canvas.draw()
    labels = [label.get_text() for label in figure.axes[1].get_xticklabels() if label.get_text()]
    plt.close(figure)
    days = [label for label in labels if ":" not in label]  # between two days a tick may show the hour
    assert days == ["Jun-02", "Jun-03", "Jun-04", "Jun-05"], labels  # "%m-%d" every 12 h gave 06-02, 06-02, 06-03 ...


def test_gh17_9_output_into_a_closed_pipe_is_not_a_bug(project):
    assert _replay_tick(project).returncode == 0
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    for args in (["journal", "--replay"], ["status", "--replay"], ["--help"]):
        reader_gone = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        reader_gone.stdout.close()  # before the command prints anything: its first write meets a closed pipe
        assert reader_gone.wait(timeout=60) == 0, args
        assert reader_gone.stderr.read() == b"", args
        reader_gone.stderr.close()


def test_gh17_10_a_failed_market_says_0_of_6_and_a_backoff_is_said_once(project, live_fake):
    live_fake.inject("503")
    env = {"BOT_EXCHANGE__API_URL": live_fake.url}
    failed = run_bot("tick", "--dry-run", cwd=project, env=env)
    assert failed.returncode == 3
    lines = failed.stdout.splitlines()
    assert lines[1] == "coins 0/6 loaded: -"  # was 0/0
    assert (
        lines[2].startswith("outcome failed · ")
        and " ms · no market data: binanceusdm: cannot load markets (ExchangeNotAvailable" in lines[2]
    )
    skipped = run_bot("tick", "--dry-run", cwd=project, env=env)  # inside the 60 s backoff window
    assert skipped.returncode == 6 and skipped.stderr == ""  # said once, on stdout (cron.log gets both streams)
    assert (
        skipped.stdout.startswith("PAPER (dry-run) run at ")
        and " skipped: backing off after 1 failed tick(s) in a row" in skipped.stdout
    )


def test_gh17_10_when_claude_fails_the_tick_header_comes_first(project, fake_anthropic):
    from tests.fakes.anthropic import error

    fake_anthropic.script(error(401))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    env.update({"ANTHROPIC_API_KEY": "sk-test-0001", "ANTHROPIC_BASE_URL": fake_anthropic.url, "BOT_LLM__RETRIES": "0"})
    both = subprocess.run(  # one stream, as a terminal shows it
        [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert both.returncode == 4
    lines = both.stdout.splitlines()
    assert lines[0] == "REPLAY (dry-run) tick 1 · 2025-06-02 01:00 UTC · strategy claude · 250602T0100"
    logged = [index for index, line in enumerate(lines) if "llm_unavailable" in line]
    outcome = next(index for index, line in enumerate(lines) if line.startswith("outcome degraded"))
    assert logged and min(logged) > outcome  # the warning still shows, after the summary


def test_gh17_10_a_corrupt_state_names_the_json_error_once(tmp_path):
    import pytest

    from bot.errors import StateError
    from bot.ops.state import StateStore

    (tmp_path / "state.json").write_text('{"tick": ')
    with pytest.raises(StateError) as caught:
        StateStore(tmp_path / "state.json").load()
    assert str(caught.value) == (
        f"{tmp_path / 'state.json'} is corrupt or truncated (Expecting value: line 1 column 10 (char 9)); move it away to start a fresh account"
    )


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
        == "error: --since/--until: binanceusdm has no candles for BTC in 2020-01-01 00:00 → 2020-01-02 00:00 UTC; pick a span when they traded\n"
    )
    assert down.returncode == 3 and down.stdout == ""
    assert (
        down.stderr
        == "error: binanceusdm: cannot load markets (ExchangeNotAvailable); check the network or `exchange.api_url`\n"
    )  # no blank line first


def test_gh17_7_restoring_the_backup_runs_the_last_tick_again_as_documented(project):
    import shutil

    var = project / "var" / "replay"
    assert _replay_tick(project).returncode == 0 and _replay_tick(project).returncode == 0
    shutil.copy(var / "state.json.bak", var / "state.json")  # what the exit-5 message tells the user to run
    assert _replay_tick(project).returncode == 0
    records = [json.loads(line) for line in (var / "journal.jsonl").read_text().splitlines()]
    assert [(r["tick"], r["tick_id"]) for r in records] == [(1, "250602T0100"), (2, "250602T0103"), (2, "250602T0103")]
    state = json.loads((var / "state.json").read_text())
    assert state["tick"] == 2 and state["last_tick_id"] == "250602T0103"  # the later record is the account's


def test_version_short_help_and_help_without_type_noise(project):
    from importlib.metadata import version

    assert run_bot("--version", cwd=project).stdout == f"bot {version('bot')}\n"
    short, long = run_bot("tick", "-h", cwd=project), run_bot("tick", "--help", cwd=project)
    assert short.returncode == 0 and short.stdout == long.stdout
    assert (
        "  --dry-run  " in short.stdout
        and "<bool>" not in short.stdout
        and "<bool>" not in run_bot("-h", cwd=project).stdout
    )


def test_the_first_run_without_a_config_says_which_defaults_and_where_var_is_once(tmp_path):
    first = run_bot("tick", "--dry-run", "--replay", cwd=tmp_path)
    assert first.returncode == 0
    assert (
        first.stderr
        == f"note: no config.toml in {tmp_path}: using the defaults (paper trading); var/ will be {tmp_path / 'var'}\n"
    )
    assert run_bot("tick", "--dry-run", "--replay", cwd=tmp_path).stderr == ""  # once


def test_after_the_quick_start_status_and_journal_point_to_the_replay_account(project):
    fresh = run_bot("status", cwd=project)
    assert fresh.returncode == 2 and fresh.stderr == (
        f"error: no state in {project / 'var'} yet: run `bot tick --dry-run --replay` first (offline, on the bundled sample), "
        "or `bot tick --dry-run` on live data\n"
    )
    assert _replay_tick(project).returncode == 0
    status, journal = run_bot("status", cwd=project), run_bot("journal", cwd=project)
    assert status.stderr == (
        f"error: no state in {project / 'var'} yet: the replay ticks are in the replay account: `bot status --replay` "
        "(`bot tick --dry-run` ticks on live data)\n"
    )
    assert journal.returncode == 2 and "`bot journal --replay`" in journal.stderr


def test_the_log_rotates_at_its_size_with_the_standard_handler(project):
    from bot.log import LOG_MAX_BYTES

    log = project / "var" / "logs" / "replay.log"
    log.parent.mkdir(parents=True)
    with open(log, "wb") as handle:
        handle.truncate(LOG_MAX_BYTES)  # a full log (sparse: no 5 MB written)
    assert _replay_tick(project).returncode == 0
    assert (log.parent / "replay.log.1").stat().st_size == LOG_MAX_BYTES
    assert 0 < log.stat().st_size < 100_000 and '"event": "tick_done"' in log.read_text()
