"""`bot tick` (bot/cli/tick.py) as cron runs it: real subprocesses in replay, dry-run and live
against the fake exchange; one-line errors and their exit codes, the lock, backoff, secrets
kept out of files and output, intel, venues."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from bot.config import LIVE_CONFIRMATION, Settings
from bot.models import ReturnStats
from bot.strategies.rules import RulesStrategy
from bot.tick.indicators import compute_features
from bot.tick.portfolio import portfolio_of
from bot.tick.prompt import build_prompt
from bot.venues.history import HistoryMarket
from tests.cli.clikit import _replay_tick
from tests.conftest import NOW, data_dir, run_bot
from tests.fakes.bybit import FakeBybit
from tests.fakes.intel import FakeIntel
from tests.fakes.notify import NotifyEndpoint
from tests.intel.intelkit import _archive, _day
from tests.venues.venuekit import VENUES


def _journal(project, replay=True):
    path = project / "var" / ("replay" if replay else "") / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the CLI, as cron runs it ------------------------------------------------------------------


def _live_env(fake, **extra):
    return {
        "BOT_EXCHANGE__API_URL": fake.url,
        "BOT_ENABLE_TRADING": "true",
        "BOT_LIVE__CONFIRM": LIVE_CONFIRMATION,
        "EXCHANGE_API_KEY": "test-key",
        "EXCHANGE_SECRET": "test-secret",
        **extra,
    }


HEAVY = ("ccxt", "anthropic", "pandas", "ta", "apprise", "feedparser", "aiohttp")


def _env(fake, **extra):
    return {"BOT_EXCHANGE__API_URL": fake.url, **extra}


def _start_tick(project, fake):
    """A `bot tick` in the background, returned once it holds the lock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "tick", "--dry-run"],
        cwd=project,
        env={**env, **_env(fake)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = project / "var" / "tick.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and f"pid {process.pid} " in lock.read_text()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    return process


def _probe(args, *, cwd, env):
    """Run the CLI in-process under a wrapper that reports which heavy modules it imported."""
    code = (
        "import sys, runpy\nsys.argv = ['bot', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit as exit:\n    code = exit.code\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\nsys.exit(code)"
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env={**full, **env}, capture_output=True, text=True, timeout=60
    )


def _expected_decisions(data_time: datetime) -> dict[str, str]:
    """What the rules strategy decides on the same candles, computed in-process from history."""
    snapshot = HistoryMarket(data_dir()).snapshot_at(Settings().trading.coins, data_time)
    features = compute_features(snapshot)
    prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    portfolio = portfolio_of(
        cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    prompt = build_prompt(Settings(), features, portfolio, now=data_time, tick=1)
    decisions = asyncio.run(
        RulesStrategy(Settings().rules).decide(features=features, portfolio=portfolio, prompt=prompt)
    )
    return {decision.coin: decision.action.value for decision in decisions}


def _tick(project, fake, *args):
    return run_bot("tick", "--dry-run", *args, cwd=project, env={"BOT_EXCHANGE__API_URL": fake.url})


def _live_journal(project):
    return [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]


def test_replay_ticks_advance_the_simulated_clock_and_keep_the_paper_account(project):
    first = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("REPLAY (dry-run) tick 1 · 2025-06-02 01:00 UTC · strategy rules")
    assert "coins 6/6 loaded: BTC ETH SOL BNB DOGE XRP" in first.stdout
    assert first.stderr == ""
    second = run_bot("tick", "--replay", "--dry-run", cwd=project)
    assert second.returncode == 0, second.stderr
    assert "tick 2 · 2025-06-02 01:03 UTC" in second.stdout

    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    records = _journal(project)
    assert [record["tick"] for record in records] == [1, 2]
    assert state["tick"] == 2 and state["last_tick_at"] == "2025-06-02T01:03:00Z"
    # The account carried over: the first tick's fills cost fees that the second starts from.
    fees = sum(fill["fee_usd"] for record in records for fill in record["fills"])
    assert state["fees_paid_usd"] > 0 and abs(state["fees_paid_usd"] - fees) < 1e-9
    assert records[1]["account"]["cash_usd"] == records[0]["account"]["cash_usd"]
    assert set(state["positions"]) == {fill["coin"] for fill in records[0]["fills"]}
    # Logs: JSON lines, every tick line bound to its tick id; a replay has its own file.
    lines = [json.loads(line) for line in (project / "var" / "logs" / "replay.log").read_text().splitlines()]
    done = [line for line in lines if line["event"] == "tick_done"]
    assert [line["tick_id"] for line in done] == ["250602T0100", "250602T0103"]


def test_replay_from_a_given_time_and_its_limits(project):
    result = run_bot("tick", "--dry-run", "--replay", "2025-06-04T10:00", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "2025-06-04 10:00 UTC" in result.stdout
    back = run_bot("tick", "--dry-run", "--replay", "2025-06-03T00:00", cwd=project)
    assert back.returncode == 2
    assert back.stderr.startswith("error: the replay in ") and "cannot go back in time" in back.stderr
    too_late = run_bot("tick", "--dry-run", "--replay", "2025-06-09T00:00", cwd=project)
    assert too_late.returncode == 2 and too_late.stderr == (  # a time asked for: nothing to remove, pick another
        "error: --replay 2025-06-09T00:00: past the end of the history (2025-06-05 00:00 UTC); pick an earlier time or "
        "pass --data-dir with more history\n"
    )
    bad = run_bot("tick", "--replay", "yesterday", cwd=project)
    assert (
        bad.returncode == 2
        and bad.stderr.strip()
        == "error: --replay: 'yesterday' is not a time; use ISO format like 2025-06-02T01:00 (UTC)"
    )


def test_config_errors_are_one_line_with_exit_code_2(project):
    (project / "config.toml").write_text('[trading]\ncoins = ["BTC"]\nleverage = 3\n')
    result = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert result.returncode == 2
    assert result.stderr == f"error: {project / 'config.toml'}: unknown setting `trading.leverage`\n"
    assert result.stdout == ""
    missing = run_bot("status", "--config", str(project / "nope.toml"), cwd=project)
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    usage = run_bot("tick", "--bogus", cwd=project)
    assert usage.returncode == 2 and "No such option" in usage.stderr and "Traceback" not in usage.stderr


def test_live_trading_without_keys_stops_with_one_line_and_touches_nothing(project):
    result = run_bot("tick", cwd=project, env={"BOT_ENABLE_TRADING": "true"})
    assert result.returncode == 2
    assert result.stderr == (
        "error: `enable_trading = true` needs EXCHANGE_API_KEY and EXCHANGE_SECRET in the environment or .env beside "
        "the config; "
        "set them or run with --dry-run\n"
    )
    assert not (project / "var" / "state.json").exists()


def test_live_trading_without_the_written_confirmation_is_refused(project):
    result = run_bot(
        "tick",
        cwd=project,
        env={"BOT_ENABLE_TRADING": "true", "EXCHANGE_API_KEY": "key-0001", "EXCHANGE_SECRET": "secret-0002"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        'error: `enable_trading = true` also needs `[live] confirm = "I understand this trades real money"`'
    )
    assert "Traceback" not in result.stderr


def test_corrupt_state_stops_the_tick_and_is_kept(project):
    state = project / "var" / "replay" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 1, "tick": ')
    result = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert result.returncode == 5
    assert result.stderr.startswith(f"error: {state} is corrupt or truncated")
    assert "Traceback" not in result.stderr
    assert state.read_text() == '{"version": 1, "tick": '


def test_bad_exchange_id_names_the_setting(project):
    result = run_bot("tick", "--dry-run", cwd=project, env={"BOT_EXCHANGE__ID": "binanceusd"})
    assert result.returncode == 2
    assert result.stderr == "error: `exchange.id`: unknown ccxt exchange 'binanceusd' — did you mean `binanceusdm`?\n"
    assert not (project / "var" / "state.json").exists()  # not a tick: nothing recorded


def test_replay_reads_another_data_dir(project):
    from tests.conftest import data_dir

    result = run_bot("tick", "--dry-run", "--replay", "--data-dir", str(data_dir()), cwd=project)
    assert result.returncode == 0, result.stderr
    # the test market's 3m candles start 2025-05-29 00:00, so 500 closed ones exist from 01:00 the next day
    assert "tick 1 · 2025-05-30 01:00 UTC" in result.stdout
    missing = run_bot("tick", "--dry-run", "--replay", "--data-dir", str(project / "nowhere"), cwd=project)
    assert missing.returncode == 2 and "has no 3m/ folder" in missing.stderr


def test_a_replay_tick_with_intel_shows_the_context_in_bot_status(project):
    import shutil

    from tests.conftest import SAMPLE

    shutil.copytree(SAMPLE, project / "data")
    _archive(project / "data", minutes=range(-30, 30, 10), points=[_day(2, 55, "Neutral"), _day(3, 61, "Greed")])
    env = {"BOT_INTEL__ENABLED": "true"}
    ticked = run_bot("tick", "--replay", "2025-06-03T12:00", "--data-dir", "data", cwd=project, env=env)
    assert ticked.returncode == 0, ticked.stderr
    status = run_bot("status", "--replay", cwd=project, env=env)
    # headlines at 11:30 .. 12:20 every 10 min; by 12:00 four are out (11:30 .. 12:00), two shown per coin (the default)
    assert (
        'context the model saw: Fear & Greed 61 "Greed" (yesterday 55, +6), 12h old · 2 headlines (all: --json)'
        in status.stdout
    )
    as_json = json.loads(run_bot("status", "--replay", "--json", cwd=project, env=env).stdout)
    assert as_json["last_context"].splitlines()[3:] == [
        'BTC 0m ago [low] source "tape": "Bitcoin tape 12:00"',
        'BTC 10m ago [low] source "tape": "Bitcoin tape 11:50"',
        "== END OF CONTEXT ==",
    ]


def test_a_live_dry_run_tick_asks_the_sources_and_names_the_broken_one(project, live_fake):
    with FakeIntel() as fake:
        env = {
            "BOT_EXCHANGE__API_URL": live_fake.url,
            "BOT_INTEL__ENABLED": "true",
            "BOT_INTEL__FEAR_GREED_URL": f"{fake.url}/fng/",
            "BOT_INTEL__FEEDS": json.dumps(
                [
                    {"name": "coindesk", "url": f"{fake.url}/feeds/coindesk.rss"},
                    {"name": "broken", "url": f"{fake.url}/feeds/broken.rss"},
                ]
            ),
            "CRYPTOPANIC_TOKEN": "cp-T0KEN-s3cret-9f8e7d",
            "BOT_INTEL__CRYPTOPANIC_URL": f"{fake.url}/api/developer/v2/posts/",
        }
        ticked = run_bot("tick", "--dry-run", cwd=project, env=env)
        asked = sorted(fake.paths())
    assert ticked.returncode == 0, ticked.stderr  # a broken source does not degrade the tick
    assert "  intel broken skipped: HTTP 502" in ticked.stdout.splitlines()
    assert asked == ["/api/developer/v2/posts/", "/feeds/broken.rss", "/feeds/coindesk.rss", "/fng/"]
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["outcome"] == "ok" and record["sources_skipped"] == {"broken": "HTTP 502"}
    assert sorted(path.name for path in (project / "var" / "cache" / "intel").iterdir()) == [
        "coindesk.json",
        "cryptopanic.json",
        "fear_greed.json",
    ]
    state = (project / "var" / "state.json").read_text()
    assert json.loads(state)["last_context"].startswith(
        "== CONTEXT: untrusted third-party data (news and sentiment published before this tick) ==\n"
    )
    everything = (
        state
        + ticked.stdout
        + ticked.stderr
        + (project / "var" / "logs" / "bot.log").read_text()
        + (project / "var" / "journal.jsonl").read_text()
    )
    assert "cp-T0KEN-s3cret-9f8e7d" not in everything


def test_cli_live_tick_says_live_first_and_status_shows_the_exchange(project, live_fake):
    result = run_bot("tick", cwd=project, env=_live_env(live_fake))
    assert result.returncode in (0, 4), result.stderr
    assert result.stdout.startswith("LIVE tick 1 · ")
    status = run_bot("status", cwd=project, env=_live_env(live_fake))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("mode LIVE")
    assert "state agrees with the exchange" in status.stdout
    data = json.loads(run_bot("status", "--json", cwd=project, env=_live_env(live_fake)).stdout)
    assert data["disagreements"] == [] and data["pending_orders"] == []
    assert data["exchange"]["cash_usd"] == pytest.approx(live_fake.account.wallet_usd)
    # dry-run always wins: no order is sent, and the live account is not touched by the paper broker
    before = len(live_fake.account.orders)
    dry = run_bot("tick", "--dry-run", cwd=project, env=_live_env(live_fake))
    assert dry.returncode == 2 and "holds the live account" in dry.stderr
    assert len(live_fake.account.orders) == before
    for path in (project / "var").rglob("*"):
        if path.is_file():
            assert "test-secret" not in path.read_text(errors="replace"), path


@pytest.mark.parametrize(
    "env", [{"EXCHANGE_SECRET": "wrong-secret"}, {"EXCHANGE_API_KEY": "wrong-key"}]
)  # -1022, -2015
def test_cli_wrong_keys_stop_with_one_line_and_exit_2(project, live_fake, env):
    result = run_bot("tick", cwd=project, env=_live_env(live_fake, **env))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: the exchange rejected the API keys (AuthenticationError): check EXCHANGE_API_KEY"
    )
    assert "wrong-" not in result.stderr + result.stdout
    assert live_fake.account.orders == []
    assert not (project / "var" / "journal.jsonl").exists()


def test_a_second_tick_while_one_runs_exits_at_once_with_code_7(project, live_fake):
    live_fake.latency_ms = 1500  # the first tick is slow: it holds the lock for seconds
    first = _start_tick(project, live_fake)
    second = run_bot("tick", "--dry-run", cwd=project, env=_env(live_fake))
    assert first.poll() is None  # the second did not wait for the first to release the lock
    assert second.returncode == 7
    assert second.stderr.startswith(
        f"error: another bot process is running on {project / 'var'} (holder: pid {first.pid} since "
    )
    assert second.stderr.endswith(
        "; this run did nothing. It ends on its own; the lock is released even if that process is killed\n"
    )
    assert second.stdout == ""
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    journal = (project / "var" / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 1  # only the first tick ran


def test_a_lock_left_by_a_sigkilled_tick_does_not_block_the_next(project, live_fake):
    live_fake.latency_ms = 1500
    holder = _start_tick(project, live_fake)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert holder.returncode == -signal.SIGKILL
    assert f"pid {holder.pid} " in (project / "var" / "tick.lock").read_text()  # the file stays behind ...
    live_fake.latency_ms = 0
    result = run_bot("tick", "--dry-run", cwd=project, env=_env(live_fake))
    assert result.returncode == 0, result.stderr  # ... but not the lock
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["tick"] == 1  # the killed tick saved nothing


def test_a_failed_tick_backs_off_without_network_until_resume(project, live_fake):
    live_fake.inject("503")
    failed = run_bot("tick", "--dry-run", cwd=project, env=_env(live_fake))
    assert failed.returncode == 3
    requests = len(live_fake.requests)
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["consecutive_errors"] == 1
    backoff_until = datetime.fromisoformat(state["backoff_until"])
    assert 59 <= (backoff_until - datetime.fromisoformat(state["last_tick_at"])).total_seconds() <= 60

    skipped = _probe(["tick", "--dry-run"], cwd=project, env=_env(live_fake))
    assert skipped.returncode == 6, skipped.stderr
    assert skipped.stdout.startswith("PAPER (dry-run) run at ")
    assert (
        f"skipped: backing off after 1 failed tick(s) in a row until {backoff_until:%Y-%m-%d %H:%M:%S} UTC"
        in skipped.stdout
    )
    assert "HEAVY []" in skipped.stderr  # decided before the market: no ccxt, no pandas
    assert len(live_fake.requests) == requests  # and no network call

    status = json.loads(run_bot("status", "--json", cwd=project).stdout)
    assert status["consecutive_errors"] == 1 and status["backoff_seconds"] == 60
    assert status["backoff_until"] == state["backoff_until"].replace("+00:00", "Z") and status["last_skipped_at"]

    resumed = run_bot("resume", cwd=project)
    assert resumed.returncode == 0 and resumed.stdout == "resumed: lifted backoff after 1 failed tick(s)\n"
    live_fake.clear_faults()
    again = run_bot("tick", "--dry-run", cwd=project, env=_env(live_fake))
    assert again.returncode == 0, again.stderr
    assert len(live_fake.requests) > requests
    assert json.loads((project / "var" / "state.json").read_text())["consecutive_errors"] == 0


def test_secrets_and_notification_tokens_never_reach_files_or_output(project, live_fake):
    """Keys and a notification token set; ticks that trade, fail, notify (to an endpoint that
    also fails) and every read command: none of them may show up anywhere the bot writes."""
    token = "hooktoken-N0T1FY-s3cr3t"
    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-SECRET-0001",
        "EXCHANGE_API_KEY": "KEY-SECRET-0002",
        "EXCHANGE_SECRET": "SECRET-0003",
    }
    with NotifyEndpoint(token=token) as good, NotifyEndpoint(token=token, status=500) as bad:
        (project / ".env").write_text(
            f"BOT_NOTIFY__URLS='{json.dumps([good.url, bad.url])}'\nEXCHANGE_SECRET=SECRET-0003\n"
        )
        # rules decide: with strategy "auto" the key would send the tick to Anthropic
        env = {
            **_env(live_fake),
            "BOT_STRATEGY__NAME": "rules",
            "BOT_LOG__CONSOLE_LEVEL": "DEBUG",
            "BOT_LOG__LEVEL": "DEBUG",
            **secrets,
        }
        outputs = [run_bot("tick", "--dry-run", cwd=project, env=env)]
        live_fake.inject("503")
        for _ in range(2):
            outputs.append(run_bot("tick", "--dry-run", cwd=project, env=env))  # failed, then skipped by the backoff
        outputs += [
            run_bot(*args, cwd=project, env=env)
            for args in (["status", "--json"], ["status"], ["journal", "--trades"], ["notify-summary"])
        ]
        outputs.append(
            run_bot("tick", "--dry-run", cwd=project, env={**env, "BOT_OPS__MAX_CONSECUTIVE_ERRORS": "0"})
        )  # a config error
    assert [result.returncode for result in outputs] == [0, 3, 6, 0, 0, 0, 0, 2]
    titles = [body["title"] for body in good.messages()]
    assert "bot paper: tick failed" in titles and any(title.startswith("bot paper: daily summary ") for title in titles)
    written = [path for path in project.rglob("*") if path.is_file() and path.name != ".env"]
    assert {"bot.log", "state.json", "journal.jsonl"} <= {path.name for path in written}
    for secret in [*secrets.values(), token, good.url, bad.url]:
        for result in outputs:
            assert secret not in result.stdout + result.stderr, secret
        for path in written:
            assert secret not in path.read_text(errors="replace"), (secret, path)
    log = (project / "var" / "logs" / "bot.log").read_text()
    assert '"notify_failed"' in log and '"notified"' in log


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
        f"error: {journal}: cannot append (Is a directory); nothing ran, the state is unchanged: make it writable by "
        f"this user "
        f"(`sudo chown $USER {journal}`) or free disk space, then run again\n"
    )
    assert (var / "state.json").read_bytes() == state  # state and journal still agree: one tick in each
    journal.rmdir()
    (var / "kept.jsonl").rename(journal)
    assert _replay_tick(project).returncode == 0
    assert journal.read_bytes().startswith(first)
    assert [json.loads(line)["tick"] for line in journal.read_text().splitlines()] == [1, 2]
    assert json.loads((var / "state.json").read_text())["tick"] == 2


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
        "warning: EXCHANGE_API_KEY is only 1 characters long, too short to be a real key: check .env and the "
        "environment"
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


def test_the_first_run_without_a_config_says_which_defaults_and_where_var_is_once(tmp_path):
    first = run_bot("tick", "--dry-run", "--replay", cwd=tmp_path)
    assert first.returncode == 0
    assert (
        first.stderr
        == f"note: no config.toml in {tmp_path}: using the defaults (paper trading); var/ will be {tmp_path / 'var'}\n"
    )
    assert run_bot("tick", "--dry-run", "--replay", cwd=tmp_path).stderr == ""  # once


def test_the_log_rotates_at_its_size_with_the_standard_handler(project):
    from bot.log import LOG_MAX_BYTES

    log = project / "var" / "logs" / "replay.log"
    log.parent.mkdir(parents=True)
    with open(log, "wb") as handle:
        handle.truncate(LOG_MAX_BYTES)  # a full log (sparse: no 5 MB written)
    assert _replay_tick(project).returncode == 0
    assert (log.parent / "replay.log.1").stat().st_size == LOG_MAX_BYTES
    assert 0 < log.stat().st_size < 100_000 and '"event": "tick_done"' in log.read_text()


def test_dry_run_tick_trades_the_rules_decisions_and_a_second_tick_continues(project, live_fake):
    result = _tick(project, live_fake)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PAPER (dry-run) tick 1 · ")
    assert "coins 6/6 loaded: BTC ETH SOL BNB DOGE XRP" in result.stdout

    [record] = _live_journal(project)
    data_time = live_fake.data_time(datetime.fromisoformat(record["as_of"]))
    expected = _expected_decisions(data_time)
    assert {d["coin"]: d["action"] for d in record["decisions"]} == expected
    assert record["outcome"] == "ok" and record["errors"] == {}
    assert {fill["coin"] for fill in record["fills"]} == {
        coin for coin, verdict in ((v["coin"], v["verdict"]) for v in record["verdicts"]) if verdict != "rejected"
    }

    state = json.loads((project / "var" / "state.json").read_text())
    assert state["tick"] == 1 and state["mode"] == "paper"
    assert state["cash_usd"] == pytest.approx(10_000 - sum(f["fee_usd"] for f in record["fills"]))

    second = _tick(project, live_fake)
    assert second.returncode == 0, second.stderr
    assert "tick 2 · " in second.stdout
    records = _live_journal(project)
    assert [r["tick"] for r in records] == [1, 2]
    # The account carried over: tick 2 starts from tick 1's cash and books only its own fills and
    # funding. (The fake's data follows the wall clock, so a second tick that lands in the next
    # 3-minute window sees a new candle and may trade: the books must balance either way.)
    booked = sum(f["realized_pnl_usd"] - f["fee_usd"] for f in records[1]["fills"])
    booked += sum(payment["amount_usd"] for payment in records[1]["funding"])
    assert records[1]["account"]["cash_usd"] == pytest.approx(records[0]["account"]["cash_usd"] + booked, abs=1e-6)


def test_one_coin_failing_skips_only_that_coin(project, live_fake):
    live_fake.inject("500", symbol="SOLUSDT")
    result = _tick(project, live_fake)
    assert result.returncode == 4, result.stderr  # degraded
    assert "coins 5/6 loaded: BTC ETH BNB DOGE XRP" in result.stdout
    assert "skipped SOL: OperationFailed" in result.stdout
    [record] = _live_journal(project)
    assert record["outcome"] == "degraded" and set(record["errors"]) == {"SOL"}


def test_exchange_down_fails_the_tick_and_trades_nothing(project, live_fake):
    live_fake.inject("503")
    result = _tick(project, live_fake)
    assert result.returncode == 3
    assert "outcome failed" in result.stdout and "cannot load markets" in result.stdout
    assert "Traceback" not in result.stderr
    [record] = _live_journal(project)
    assert record["outcome"] == "failed" and record["fills"] == []
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["consecutive_errors"] == 1 and state["cash_usd"] == 10_000


def test_secrets_never_reach_files_or_output(project, live_fake, fake_anthropic):
    from tests.fakes.anthropic import error

    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-SECRET-0001",
        "EXCHANGE_API_KEY": "KEY-SECRET-0002",
        "EXCHANGE_SECRET": "SECRET-0003",
    }
    (project / ".env").write_text("EXCHANGE_SECRET=SECRET-0003\n")
    env = {
        "BOT_EXCHANGE__API_URL": live_fake.url,
        "BOT_LLM__BASE_URL": fake_anthropic.url,
        "BOT_LOG__CONSOLE_LEVEL": "DEBUG",
        "BOT_OPS__RECOVERY_BACKOFF_SECONDS": "0",  # a refused key fails the tick (issue 31): no backoff before the next
        **secrets,
    }
    outputs = [run_bot("tick", "--dry-run", cwd=project, env=env)]  # Claude decides (the key is set)
    fake_anthropic.script(error(401))
    outputs.append(run_bot("tick", "--dry-run", cwd=project, env=env))  # the key refused
    live_fake.inject("503")
    outputs.append(run_bot("tick", "--dry-run", cwd=project, env=env))  # a failing tick too
    outputs.append(run_bot("status", cwd=project, env=env))
    outputs.append(run_bot("status", "--json", cwd=project, env=env))
    assert [result.returncode for result in outputs] == [0, 3, 3, 0, 0]
    assert [request.headers["authorization"] for request in fake_anthropic.requests] == [
        "Bearer sk-ant-SECRET-0001"
    ] * 2  # anthropic 2.12 sends the key as a bearer token
    assert any((project / "var" / "llm").iterdir())
    written = [path for path in (project / "var").rglob("*") if path.is_file()]
    assert any(path.name == "bot.log" for path in written)
    for secret in secrets.values():
        for result in outputs:
            assert secret not in result.stdout + result.stderr
        for path in written:
            assert secret not in path.read_text(errors="replace"), path


@pytest.mark.parametrize("venue", list(VENUES))
def test_a_paper_tick_on_the_venues_live_data(project, venue):
    with VENUES[venue][0](data_dir(), now=NOW, follow_wall_clock=True, coins=("BTC", "ETH")) as fake:
        env = {
            "BOT_EXCHANGE__ID": venue,
            "BOT_EXCHANGE__API_URL": fake.url,
            "BOT_TRADING__QUOTE": VENUES[venue][1],
            "BOT_TRADING__COINS": '["BTC", "ETH"]',
        }
        result = run_bot("tick", "--dry-run", cwd=project, env=env)
    assert result.returncode in (0, 4), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["errors"] == {} and record["mode"] == "paper"


def test_hyperliquid_with_a_usdt_quote_stops_in_one_line(project):
    result = run_bot("tick", "--dry-run", cwd=project, env={"BOT_EXCHANGE__ID": "hyperliquid"})
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: `trading.quote` is 'USDT', but hyperliquid settles its perpetuals in USDC: set trading.quote = "
        '"USDC"\n'
    )


def test_live_trading_on_a_bybit_account_in_hedge_mode_is_refused_in_one_line_before_any_order(project):
    from bot.config import LIVE_CONFIRMATION

    with FakeBybit(data_dir(), now=NOW, follow_wall_clock=True, coins=("BTC", "ETH"), hedged=True) as fake:
        fake.account.api_key, fake.account.api_secret = "bybit-key-123", "bybit-secret-456"
        fake.account.open_by_hand("ETH", "BUY", 1.0)  # the owner's own position, listed with positionIdx 1
        env = {
            "BOT_EXCHANGE__ID": "bybit",
            "BOT_EXCHANGE__API_URL": fake.url,
            "BOT_TRADING__COINS": '["BTC", "ETH"]',
            "BOT_ENABLE_TRADING": "true",
            "BOT_LIVE__CONFIRM": LIVE_CONFIRMATION,
            "EXCHANGE_API_KEY": "bybit-key-123",
            "EXCHANGE_SECRET": "bybit-secret-456",
        }
        result = run_bot("tick", cwd=project, env=env)
        sent = [r.path for r in fake.requests if r.method == "POST"]
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        "error: the bybit account is in hedge mode (positionIdx 1 / 2), and the bot trades one-way mode only: "
        "switch the USDT perpetuals to one-way mode in the exchange's position settings, then run again\n"
    )
    assert sent == [] and "bybit-secret-456" not in result.stdout + result.stderr
