"""`bot pause`, `bot stop`, `bot close`, `bot resume` and `bot notify-summary` (bot/cli/control.py) as real
processes over a replay account."""

from __future__ import annotations

import json

import pytest

from tests.cli.clikit import _replay_tick
from tests.conftest import run_bot
from tests.fakes.notify import NotifyEndpoint


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
        == f"stopping: exchange incident. The next tick closes every open position ({', '.join(held)}) and opens none; "
        f"`bot resume` cancels.\n"
    )
    assert json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)["stop_requested"] is True
    run_bot("tick", "--dry-run", "--replay", cwd=project)
    record = json.loads((project / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
    assert sorted(f["coin"] for f in record["fills"]) == held and all(f["reduce_only"] for f in record["fills"])
    assert json.loads(state_file.read_text())["positions"] == {}
    assert run_bot("resume", "--replay", cwd=project).stdout == "resumed: lifted pause (exchange incident)\n"
    assert json.loads(state_file.read_text())["stop_requested"] is False


def test_close_by_hand_closes_one_position_at_the_next_tick_journaled_manual_and_notified(project):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    var = project / "var" / "replay"
    before = json.loads((var / "state.json").read_text())
    assert sorted(before["positions"]) == ["BTC", "DOGE", "XRP"]  # the replay's first tick: three shorts
    closed = run_bot("close", "doge", "--replay", "--reason", "  too   small\n", cwd=project)
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout == (
        "closing short DOGE 14029 at the next tick (too small); `bot status` shows the request until it is done.\n"
    )
    assert json.loads((var / "state.json").read_text())["close_requested"] == {"DOGE": "too small"}
    assert "CLOSING DOGE at the next tick: too small (`bot close`)" in run_bot("status", "--replay", cwd=project).stdout
    with NotifyEndpoint() as endpoint:
        env = {"BOT_NOTIFY__URLS": json.dumps([endpoint.url]), "BOT_NOTIFY__MIN_TRADE_USD": "1000000"}
        assert run_bot("tick", "--dry-run", "--replay", cwd=project, env=env).returncode == 0
        notes = [(body["title"], body["message"]) for body in endpoint.messages()]
    record = json.loads((var / "journal.jsonl").read_text().splitlines()[-1])
    [fill] = record["fills"]
    held = before["positions"]["DOGE"]
    assert (fill["coin"], fill["reason"], fill["reduce_only"], fill["amount"]) == ("DOGE", "manual", True, 14029.0)
    assert fill["client_order_id"] == "bot-250602T0103-DOGE-close"
    # a short's PnL before fees: (entry - exit) x amount, the exit slipped against it
    assert fill["realized_pnl_usd"] == pytest.approx((held["entry_price"] - fill["price"]) * 14029.0, abs=1e-9)
    assert ("DOGE", "CLOSE", "approved") in {(v["coin"], v["action"], v["verdict"]) for v in record["verdicts"]}
    after = json.loads((var / "state.json").read_text())
    assert sorted(after["positions"]) == ["BTC", "XRP"] and after["close_requested"] == {}
    assert after["closed_trades"][-1]["exit_reason"] == "manual" and after["paused"] is False
    # said whatever notify.min_trade_usd (set above every trade here)
    assert notes == [
        (
            "bot replay: DOGE closed by hand",
            f"closed by hand: closed short DOGE 14029 @ {fill['price']:.6g} (fee {fill['fee_usd']:.2f} USDT), PnL "
            f"{fill['realized_pnl_usd']:+.2f} USDT",
        )
    ]
    assert "manual" in run_bot("journal", "--replay", "--trades", cwd=project).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("close", "XRPP"),
            "error: close: unknown coin 'XRPP' (trading.coins: BTC, ETH, SOL, BNB, DOGE, XRP) — did you mean `XRP`?",
        ),
        (("close", "ETH"), "error: close: no open position in ETH (open: BTC, DOGE, XRP); nothing to close"),
        (("close", " "), "error: close: name the coin to close, e.g. `bot close BTC`"),
    ],
)
def test_close_refuses_an_unknown_or_flat_coin_in_one_line_and_records_nothing(project, args, message):
    assert run_bot("tick", "--dry-run", "--replay", cwd=project).returncode == 0
    state_file = project / "var" / "replay" / "state.json"
    before = state_file.read_bytes()
    refused = run_bot(*args, "--replay", cwd=project)
    assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", message + "\n")
    assert state_file.read_bytes() == before


def test_close_before_any_tick_is_one_line_and_writes_nothing(project):
    refused = run_bot("close", "BTC", "--replay", cwd=project)
    assert (refused.returncode, refused.stderr) == (
        2,
        "error: close: no open position in BTC (open: none); nothing to close\n",
    )
    assert not (project / "var" / "replay" / "state.json").exists()


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


def test_gh17_2_a_summary_no_url_accepted_is_not_marked_sent_and_replay_uses_the_simulated_day(project):
    with NotifyEndpoint(status=500) as down:
        env = {"BOT_NOTIFY__URLS": json.dumps([down.url])}
        assert _replay_tick(project, **env).returncode == 0  # at 2025-06-02 01:00, the sample's first replay time
        failed = run_bot("notify-summary", "--replay", cwd=project, env=env)
    assert failed.returncode == 3 and failed.stdout == ""  # never "sent"
    assert failed.stderr.splitlines()[-1] == (
        "error: the summary for 2025-06-02 was not delivered: every URL in notify.urls failed "
        f"(see `notify_failed` in {project / 'var' / 'logs' / 'replay.log'}); it is not marked sent, run the command "
        f"again"
    )
    state = json.loads((project / "var" / "replay" / "state.json").read_text())
    assert "summary:2025-06-02" not in state["notified"]
    with NotifyEndpoint() as up:
        sent = run_bot("notify-summary", "--replay", cwd=project, env={"BOT_NOTIFY__URLS": json.dumps([up.url])})
    assert sent.returncode == 0 and sent.stdout.endswith("\nsent\n")
    assert [body["title"] for body in up.messages()] == ["bot replay: daily summary 2025-06-02"]
