"""Operations as cron sees them: real `bot` processes racing for the lock, killed holders,
backoff without network, pause/resume, status, journal, the daily summary, secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from tests.conftest import run_bot
from tests.fakes.notify import NotifyEndpoint

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


def test_pause_and_resume_by_hand_in_replay(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    paused = run_bot("pause", "--replay", "--reason", "FOMC tonight", cwd=project)
    assert paused.returncode == 0
    assert paused.stdout == "paused: FOMC tonight. Ticks keep managing open positions; `bot resume` trades again.\n"
    status = run_bot("status", "--replay", cwd=project)
    assert (
        "PAUSED by user since " in status.stdout and ": FOMC tonight (open positions are still managed" in status.stdout
    )
    tick = run_bot("tick", "--dry-run", "--replay", cwd=project)
    assert tick.returncode == 6  # ran, managed positions, opened nothing
    assert "no new positions: paused by user: FOMC tonight" in tick.stdout
    record = json.loads((project / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
    assert record["paused"] is True and all(f["reduce_only"] for f in record["fills"])
    assert run_bot("resume", "--replay", cwd=project).stdout == "resumed: lifted pause (FOMC tonight)\n"
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    assert json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)["paused"] is False


def test_stop_by_hand_closes_every_position_at_the_next_tick(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    state_file = project / "var" / "replay" / "state.json"
    held = sorted(json.loads(state_file.read_text())["positions"])
    assert held  # the replay's first tick opens positions (see test_pause_and_resume_by_hand_in_replay)
    stopped = run_bot("stop", "--replay", "--reason", "exchange incident", cwd=project)
    assert stopped.returncode == 0, stopped.stderr
    assert (
        stopped.stdout
        == f"stopping: exchange incident. The next tick closes every open position ({', '.join(held)}) and opens none; `bot resume` cancels.\n"
    )
    assert json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)["stop_requested"] is True
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    record = json.loads((project / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
    assert sorted(f["coin"] for f in record["fills"]) == held and all(f["reduce_only"] for f in record["fills"])
    assert json.loads(state_file.read_text())["positions"] == {}
    assert run_bot("resume", "--replay", cwd=project).stdout == "resumed: lifted pause (exchange incident)\n"
    assert json.loads(state_file.read_text())["stop_requested"] is False


def test_newer_state_stops_tick_and_status_with_code_5(project):
    state = project / "var" / "replay" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"version": 7}')
    for args in (["tick", "--dry-run", "--replay"], ["status", "--replay"], ["pause", "--replay"]):
        result = run_bot(*args, cwd=project)
        assert result.returncode == 5, args
        assert result.stderr.startswith(f"error: {state} has schema version 7, newer than this bot understands (2)")
        assert result.stderr.count("\n") == 1
    assert state.read_text() == '{"version": 7}'


def test_status_json_carries_every_documented_field_and_journal_lists_ticks_and_trades(project):
    for _ in range(2):
        assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    from bot.tick.status import StatusReport

    assert set(status) == set(StatusReport.model_fields)
    assert status["ticks"] == 2 and status["mode"] == "replay" and status["next_tick_at"] == "2025-06-02T01:06:00Z"
    positions = status["positions"]
    assert positions and all(p["stop_loss"] and p["take_profit"] for p in positions)
    for p in positions:
        direction = 1 if p["side"] == "long" else -1
        assert p["unrealized_pnl_usd"] == pytest.approx(
            direction * (p["mark_price"] - p["entry_price"]) * p["amount"], abs=1e-9
        )
    assert status["equity_usd"] == pytest.approx(status["cash_usd"] + status["unrealized_pnl_usd"], abs=1e-6)

    ticks = json.loads(run_bot("journal", "--replay", "-n", "1", "--json", cwd=project).stdout)
    assert [row["tick"] for row in ticks] == [2]
    trades = json.loads(run_bot("journal", "--replay", "--trades", "--json", cwd=project).stdout)
    assert len(trades) == len(positions) and {t["coin"] for t in trades} == {p["coin"] for p in positions}
    table = run_bot("journal", "--replay", cwd=project)
    assert table.returncode == 0 and "last 2 ticks" in table.stdout


def test_daily_summary_is_sent_once(project):
    with NotifyEndpoint() as endpoint:
        env = {"BOT_NOTIFY__URLS": json.dumps([endpoint.url])}
        assert run_bot("tick", "--dry-run", "--replay", cwd=project, env=env).returncode == 0
        opened = len(endpoint.received)
        assert opened >= 1 and all(body["title"].startswith("bot replay: trade opened") for body in endpoint.messages())
        first = run_bot("notify-summary", "--replay", "--day", "2025-06-02", cwd=project, env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("equity ") and first.stdout.endswith("\nsent\n")
        again = run_bot("notify-summary", "--replay", "--day", "2025-06-02", cwd=project, env=env)
        assert again.stdout.endswith("not sent: the summary for 2025-06-02 was already sent\n")
    summary = endpoint.messages()[opened:]
    assert len(summary) == 1 and summary[0]["title"] == "bot replay: daily summary 2025-06-02"
    assert f"ticks: 1 ok; fills: {opened}," in summary[0]["message"]
    none = run_bot("notify-summary", "--replay", cwd=project)
    assert none.returncode == 2 and "no notification URLs" in none.stderr


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


def test_status_warns_when_cron_has_not_ticked_for_a_while(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    # The replayed account as a live one whose last tick was 2025: cron is clearly not running.
    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    (project / "var" / "state.json").write_text(json.dumps({**state, "mode": "paper"}))
    status = run_bot("status", cwd=project)
    assert status.returncode == 0
    assert (
        "WARNING: no tick for " in status.stdout
        and "minutes: is cron running it? (`crontab -l`, `tail var/logs/cron.log`)" in status.stdout
    )
