"""`bot serve` end to end: a real server process over a replay account made by real
ticks; every endpoint with and without the token, bad input, control requests honoured
by the next `bot tick --dry-run --replay`, reads while ticks run, no secret anywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from tests.cli.servekit import TOKEN, Server, copy_account, replay_account
from tests.conftest import ROOT, run_bot

ENDPOINTS = [
    "/api/v1/status",
    "/api/v1/positions",
    "/api/v1/journal",
    "/api/v1/trades",
    "/api/v1/decisions",
    "/api/v1/metrics",
    "/api/v1/equity",
    "/api/v1/trades/closed",
    "/api/v1/profit",
    "/api/v1/openapi.json",
    "/metrics",
]
CONTROLS = [
    "/api/v1/control/pause",
    "/api/v1/control/stop",
    "/api/v1/control/resume",
    "/api/v1/control/start",
    "/api/v1/control/close",
]


@pytest.fixture(scope="module")
def one_tick(tmp_path_factory):
    """After one replay tick: shorts in BTC, DOGE and XRP opened at 2025-06-02 01:00."""
    return replay_account(tmp_path_factory.mktemp("serve") / "account", ticks=1)


@pytest.fixture
def account(one_tick, tmp_path):
    return copy_account(one_tick, tmp_path / "account")


BAD_INPUT = [
    ("/api/v1/journal?n=0", "GET", None, "query.n: Input should be greater than or equal to 1"),
    (
        "/api/v1/journal?n=abc",
        "GET",
        None,
        "query.n: Input should be a valid integer, unable to parse string as an integer",
    ),
    ("/api/v1/journal?before=0", "GET", None, "query.before: Input should be greater than or equal to 1"),
    ("/api/v1/trades?n=1001", "GET", None, "query.n: Input should be less than or equal to 1000"),
    ("/api/v1/equity?points=1", "GET", None, "query.points: Input should be greater than or equal to 2"),
    ("/api/v1/control/pause", "POST", {"reason": 5}, "body.reason: Input should be a valid string"),
    ("/api/v1/control/pause", "POST", {"reason": "x" * 201}, "body.reason: String should have at most 200 characters"),
    ("/api/v1/control/stop", "POST", {"why": "typo"}, "body.why: Extra inputs are not permitted"),
    ("/api/v1/control/stop", "POST", b"{not json", "body.1: JSON decode error"),
    ("/api/v1/control/close", "POST", {"reason": "x"}, "body.coin: Field required"),
    ("/api/v1/control/close", "POST", {"coin": "BTC", "side": "long"}, "body.side: Extra inputs are not permitted"),
]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "var" / "artifacts"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no system Chromium (`apt-get install chromium`; .ci/run installs it)"
)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def money(value: float, *, sign: bool = False) -> str:
    return f"{value:+,.2f}" if sign else f"{value:,.2f}"


def test_every_endpoint_but_health_needs_the_token(account):
    with Server(account, env={"BOT_SERVE__MAX_AUTH_FAILURES": "100"}) as server:
        assert server.request("/api/v1/health", token=None).status == 200
        for path in ENDPOINTS:
            assert server.request(path, token=None).status == 401, path
            assert server.request(path, token="nope").status == 401, path
            assert server.request(path).status == 200, path
        for path in CONTROLS:
            assert server.request(path, token=None, method="POST", body={}).status == 401, path
        assert (
            json.loads(account.joinpath("var/replay/state.json").read_text())["paused"] is False
        )  # no control got through
        assert server.request("/api/v1/arena", token=None).status == 401
        no_arena = server.request("/api/v1/arena")  # the config has no [arena]
        assert (no_arena.status, no_arena.json()["detail"]) == (
            404,
            "no [arena] candidates in the config: the account runs one strategy",
        )
        schema = server.request("/api/v1/openapi.json").json()
        assert {path.split("?")[0] for path in ENDPOINTS + CONTROLS if "openapi" not in path} | {
            "/api/v1/health",
            "/api/v1/arena",
        } == set(schema["paths"])
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        page = server.request("/", token=None)
        assert page.status == 200 and '<svg id="equity-chart"' in page.text
        assert (
            not re.search(r"<(script|link|img|iframe)[^>]*(src|href)=", page.text) and "url(" not in page.text
        )  # self-contained: no CDN
        assert (
            page.headers["content-security-policy"].startswith("default-src 'none';")
            and "connect-src 'self'" in page.headers["content-security-policy"]
        )
        assert "set-cookie" not in {key.lower() for key in page.headers}


def test_wrong_tokens_are_rate_limited_and_logged_but_never_lock_out_the_right_token(account):
    with Server(account) as server:
        answers = [server.request("/api/v1/status", token=f"guess-{n}").status for n in range(6)]
        assert answers == [401] * 5 + [429]  # serve.max_auth_failures = 5 a minute
        assert server.request("/api/v1/status", token=None).status == 429  # no token at all: refused too
        assert server.request("/api/v1/status").status == 200  # the right token always passes
        stopped = server.request("/api/v1/control/pause", method="POST", body={"reason": "owner"})
        assert stopped.status == 200
        locked = server.request("/api/v1/status", token="guess-7")
        assert locked.status == 429 and 1 <= int(locked.headers["retry-after"]) <= 61
    log = (account / "var" / "logs" / "bot.log").read_text()
    failures = [json.loads(line) for line in log.splitlines() if "serve_auth_failed" in line]
    assert [f["failures_last_minute"] for f in failures] == [1, 2, 3, 4, 5] and {f["client"] for f in failures} == {
        "127.0.0.1"
    }
    assert "guess-" not in log and TOKEN not in log


def test_status_is_bot_status_json_and_positions_carry_their_pnl(account):
    with Server(account) as server:
        api = server.request("/api/v1/status").json()
        positions = server.request("/api/v1/positions").json()
    cli = json.loads(run_bot("status", "--replay", "--json", cwd=account).stdout)
    assert api["state_file"] == "var/replay/state.json"  # never an absolute path
    assert api == cli | {"state_file": "var/replay/state.json"}
    assert cli["state_file"] == str((account / "var" / "replay" / "state.json").resolve())
    state = json.loads((account / "var" / "replay" / "state.json").read_text())
    assert sorted(p["coin"] for p in positions) == ["BTC", "DOGE", "XRP"]
    for shown in positions:
        held, mark = state["positions"][shown["coin"]], state["last_prices"][shown["coin"]]
        assert (
            shown["side"] == held["side"] == "short"
            and shown["amount"] == held["amount"]
            and shown["mark_price"] == mark
        )
        assert shown["unrealized_pnl_usd"] == pytest.approx(
            (held["entry_price"] - mark) * held["amount"], abs=1e-9
        )  # a short gains as the price falls


def test_journal_pages_and_the_curve_follow_the_journal(account):
    run_bot("tick", "--dry-run", "--replay", cwd=account)
    run_bot("tick", "--dry-run", "--replay", cwd=account)
    records = [json.loads(line) for line in (account / "var" / "replay" / "journal.jsonl").read_text().splitlines()]
    with Server(account) as server:
        newest = server.request("/api/v1/journal?n=2").json()
        older = server.request(f"/api/v1/journal?n=2&before={newest['next_before']}").json()
        curve = server.request("/api/v1/equity").json()
        trades = server.request("/api/v1/trades?n=10").json()
        decisions = server.request("/api/v1/decisions?n=1").json()
        metrics = server.request("/api/v1/metrics").json()
    assert [row["tick"] for row in newest["ticks"]] == [2, 3] and newest["next_before"] == 2
    assert [row["tick"] for row in older["ticks"]] == [1] and older["next_before"] is None
    equities = [r["account"]["equity_usd"] for r in records]
    assert [p["equity_usd"] for p in curve["points"]] == equities
    peak = max(10_000.0, equities[0])
    assert curve["points"][0]["drawdown_pct"] == pytest.approx((1 - equities[0] / peak) * 100)
    first, last = records[0]["prices"], records[-1]["prices"]
    basket = equities[0] * sum(last[coin] / first[coin] for coin in first) / len(first)
    assert curve["buy_hold_coins"] == sorted(first) and curve["points"][-1]["buy_hold_usd"] == pytest.approx(basket)
    assert [t["client_order_id"] for t in trades] == [f["client_order_id"] for r in records for f in r["fills"]]
    assert decisions[0]["tick_id"] == records[-1]["tick_id"] and decisions[0]["decisions"] == records[-1]["decisions"]
    assert metrics["ticks_by_outcome"] == {"ok": 3} and metrics["open_positions"] == len(records[-1]["positions"])


def test_bad_input_is_a_422_naming_the_field(account):
    with Server(account) as server:
        for path, method, body, message in BAD_INPUT:
            answer = server.request(path, method=method, body=body)
            assert (answer.status, answer.json()["message"]) == (422, message), path
    assert json.loads((account / "var" / "replay" / "state.json").read_text())["paused"] is False


def test_pause_is_journaled_and_honoured_by_the_next_tick(account):
    with Server(account) as server:
        answer = server.request("/api/v1/control/pause", method="POST", body={"reason": "checking the model"})
        status = server.request("/api/v1/status").json()
    assert answer.status == 200 and answer.json()["paused"] is True
    assert (
        status["paused"]
        and status["paused_by"] == "user"
        and status["pause_reason"] == "checking the model (API, from 127.0.0.1)"
    )
    control = [json.loads(line) for line in (account / "var" / "replay" / "control.jsonl").read_text().splitlines()]
    assert [(c["action"], c["reason"], c["client"], c["ok"]) for c in control] == [
        ("pause", "checking the model", "127.0.0.1", True)
    ]
    tick = run_bot("tick", "--dry-run", "--replay", cwd=account)
    assert tick.returncode == 6  # ran paused
    record = json.loads((account / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
    assert record["paused"] and sorted(p["coin"] for p in record["positions"]) == [
        "BTC",
        "DOGE",
        "XRP",
    ]  # still held, still managed


def test_stop_closes_every_position_at_the_next_tick_and_resume_cancels_it(account):
    with Server(account) as server:
        stopped = server.request("/api/v1/control/stop", method="POST")
        status = server.request("/api/v1/status").json()
        assert stopped.status == 200 and stopped.json()["stop_requested"] is True
        assert (
            status["stop_requested"] and status["paused"] and status["pause_reason"] == "stopped (API, from 127.0.0.1)"
        )
        shown = run_bot("status", "--replay", cwd=account).stdout
        assert (
            "STOPPING since 2025-06-02 01:00 UTC: stopped (API, from 127.0.0.1) (every open position closes at the "
            "next tick" in shown
        )
        tick = run_bot("tick", "--dry-run", "--replay", cwd=account)
        assert tick.returncode == 6
        record = json.loads((account / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
        assert record["positions"] == [] and sorted((f["coin"], f["reduce_only"]) for f in record["fills"]) == [
            ("BTC", True),
            ("DOGE", True),
            ("XRP", True),
        ]
        assert {(v["coin"], v["action"], v["verdict"]) for v in record["verdicts"]} == {
            (c, "CLOSE", "approved") for c in ("BTC", "DOGE", "XRP")
        }
        assert server.request("/api/v1/positions").json() == []
        started = server.request("/api/v1/control/start", method="POST").json()
        assert started["paused"] is False and started["stop_requested"] is False
    state = json.loads((account / "var" / "replay" / "state.json").read_text())
    assert not state["paused"] and not state["stop_requested"]


def test_close_refuses_without_the_token_json_or_host_and_closes_one_position_at_the_next_tick(account):
    state_file = account / "var" / "replay" / "state.json"
    before = state_file.read_bytes()
    path, body = "/api/v1/control/close", {"coin": "XRP", "reason": "from the phone"}
    with Server(account) as server:
        assert server.request(path, token=None, method="POST", body=body).status == 401
        assert server.request(path, token="nope", method="POST", body=body).status == 401
        assert server.request(path, method="POST", body=b'{"coin": "XRP"}', content_type="text/plain").status == 415
        foreign = server.request(path, method="POST", body=body, headers={"Host": "rebound.example"})
        assert foreign.status == 421
        for coin, message in [
            ("ETH", "close: no open position in ETH (open: BTC, DOGE, XRP); nothing to close"),
            ("PEPE", "close: unknown coin 'PEPE' (trading.coins: BTC, ETH, SOL, BNB, DOGE, XRP)"),
        ]:
            refused = server.request(path, method="POST", body={"coin": coin})
            assert (refused.status, refused.json()["detail"]) == (400, message)
        assert state_file.read_bytes() == before  # nothing got through
        answer = server.request(path, method="POST", body=body)
        assert answer.status == 200, answer.text
        assert answer.json() == {
            "action": "close",
            "paused": False,
            "stop_requested": False,
            "close_requested": {"XRP": "from the phone (API, from 127.0.0.1)"},
            "message": "closing XRP at the next tick: from the phone (API, from 127.0.0.1)",
        }
        assert server.request("/api/v1/status").json()["close_requested"] == {
            "XRP": "from the phone (API, from 127.0.0.1)"
        }
        assert run_bot("tick", "--dry-run", "--replay", cwd=account).returncode == 0
        assert [p["coin"] for p in server.request("/api/v1/positions").json()] == ["BTC", "DOGE"]
        [trade] = server.request("/api/v1/trades?n=1").json()
    assert (trade["coin"], trade["reason"], trade["action"]) == ("XRP", "manual", "close")
    control = [json.loads(line) for line in (account / "var" / "replay" / "control.jsonl").read_text().splitlines()]
    assert [(c["action"], c["ok"]) for c in control] == [("close", False), ("close", False), ("close", True)]


def test_reads_never_fail_while_ticks_replace_the_files(account):
    """Four real ticks rewrite state.json and append the journal while requests run."""
    done = threading.Event()
    codes: list[int] = []

    def ticks():
        try:
            for _ in range(4):
                run_bot("tick", "--dry-run", "--replay", cwd=account)
        finally:
            done.set()

    with Server(account) as server:
        runner = threading.Thread(target=ticks)
        runner.start()
        seen = []
        while not done.is_set() or len(codes) < 50:
            for path in (
                "/api/v1/status",
                "/api/v1/equity",
                "/api/v1/journal?n=5",
                "/api/v1/health",
                "/metrics",
                "/api/v1/decisions",
            ):
                answer = server.request(path)
                codes.append(answer.status)
                if path == "/api/v1/equity":
                    seen.append(len(answer.json()["points"]))
        runner.join()
        final = server.request("/api/v1/equity").json()
    assert set(codes) == {200}, sorted(set(codes))
    assert seen == sorted(seen) and len(final["points"]) == 5  # the curve only grows, to the 1 + 4 ticks


def test_refuses_a_short_token_beyond_loopback_and_a_busy_port(account):
    short = "s" * 31
    public = run_bot("serve", "--host", "0.0.0.0", "--port", "0", cwd=account, env={"BOT_SERVE__TOKEN": short})
    assert public.returncode == 2 and public.stderr.startswith(
        "error: --host 0.0.0.0: the token has 31 characters; listening beyond this machine needs at least 32"
    )
    assert short not in public.stderr + public.stdout
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = run_bot("serve", "--port", str(busy.getsockname()[1]), cwd=account)
    assert (
        taken.returncode == 2
        and "cannot listen on 127.0.0.1:" in taken.stderr
        and "pick another --port" in taken.stderr
    )
    assert "Traceback" not in public.stderr + taken.stderr
    token_in_file = account / "config.toml"
    token_in_file.write_text('[serve]\ntoken = "abc"\n')
    refused = run_bot("serve", cwd=account)
    assert refused.returncode == 2 and "`serve.token` looks like a secret" in refused.stderr


def test_no_secret_in_any_response_page_or_log(account):
    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-test-9b8c7d6e5f4a3b2c",
        "EXCHANGE_API_KEY": "exkey-0f1e2d3c4b5a6978",
        "EXCHANGE_SECRET": "exsecret-a1b2c3d4e5f6",
    }
    with Server(account, env=secrets) as server:
        texts = []
        for path in ["/", "/api/v1/health", *ENDPOINTS]:
            answer = server.request(path)
            texts.append(answer.text + json.dumps(answer.headers))
        for path in CONTROLS:
            texts.append(server.request(path, method="POST", body={"reason": "r"}).text)
        texts.append(server.request("/api/v1/status", token="wrong-" + TOKEN).text)
        texts.append(server.first_line + server.stop())
    texts.append((account / "var" / "logs" / "bot.log").read_text())
    texts += [path.read_text() for path in (account / "var" / "replay").glob("*.json*")]
    for secret in [TOKEN, *secrets.values()]:
        assert not any(secret in text for text in texts), secret


def test_help_and_status_do_not_load_the_server(account):
    probe = (
        "import sys, runpy; sys.argv = ['bot', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('SERVER', [m for m in ('fastapi', 'starlette', 'uvicorn', 'prometheus_client') if m in sys.modules])"
    )
    for args in (["--help"], ["status", "--replay"], ["serve", "--help"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], cwd=account, capture_output=True, text=True, timeout=60
        )
        assert "SERVER []" in result.stdout, (args, result.stdout, result.stderr)


def test_the_token_can_come_from_dotenv_beside_the_config(account):
    (account / ".env").write_text("BOT_SERVE__TOKEN=from-dotenv-7c1d9e2f\n")
    with Server(account, token=None) as server:
        assert "token required" in server.first_line
        assert server.request("/api/v1/status", token=None).status == 401
        assert server.request("/api/v1/status", token="from-dotenv-7c1d9e2f").status == 200


def test_without_an_env_token_the_first_start_makes_one_and_shows_it_once(account):
    token_file = account / "var" / "serve.token"
    with Server(account, token=None) as first:
        assert first.first_line.endswith("(token required); Ctrl-C stops\n")
        link = first.token_line
        assert link.startswith(f"open {first.url}/#token={first.token} (a new token, kept in ")
        assert len(first.token) == 43 and token_file.read_text() == first.token + "\n"
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert first.request("/api/v1/status", token=None).status == 401
        assert first.request("/api/v1/control/stop", token=None, method="POST", body={}).status == 401
        assert first.request("/api/v1/status").status == 200
    with Server(account, token=None) as second:
        assert first.token not in second.first_line + second.token_line  # shown once, at its making
        assert second.token_line.startswith(f"the token is in {token_file}: open {second.url}/#token=<its content>")
        assert second.request("/api/v1/status", token=first.token).status == 200
    with Server(account) as env:  # BOT_SERVE__TOKEN wins over the file
        assert env.request("/api/v1/status", token=first.token).status == 401
        assert env.request("/api/v1/status").status == 200
    log = (account / "var" / "logs" / "bot.log").read_text()
    assert first.token not in log
    assert json.loads((account / "var" / "replay" / "state.json").read_text())["paused"] is False


def test_a_foreign_host_header_is_refused_and_changes_need_json(account):
    """DNS rebinding sends the attacker's name as Host; a cross-origin page can POST only
    form or text/plain bodies without a preflight, and the server grants no preflight."""
    state_file = account / "var" / "replay" / "state.json"
    before = state_file.read_bytes()
    with Server(account) as server:
        for path in ["/", "/api/v1/health", "/api/v1/status", "/api/v1/control/stop"]:
            method = "POST" if "control" in path else "GET"
            answer = server.request(path, method=method, body={}, headers={"Host": "rebound.example:8080"})
            assert answer.status == 421, path
            assert answer.json()["message"] == (
                "Host 'rebound.example' is not a name of this server; add it to serve.allowed_hosts if so"
            )
        for host in ("localhost:1", "127.0.0.1", "[::1]:80"):
            assert server.request("/api/v1/status", headers={"Host": host}).status == 200, host
        for kind, body in [("text/plain", b'{"reason": "x"}'), ("application/x-www-form-urlencoded", b"reason=x")]:
            for path in CONTROLS:
                answer = server.request(path, method="POST", body=body, content_type=kind)
                assert answer.status == 415, (kind, path)  # even with the right token
        assert server.request(CONTROLS[1], method="POST", content_type=None).status == 415
        preflight = server.request(
            CONTROLS[1],
            method="OPTIONS",
            content_type=None,
            token=None,
            headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status == 415 and not any(key.startswith("access-control") for key in preflight.headers)
        health = server.request("/api/v1/health", token=None).json()
        assert set(health) == {
            "ok", "status", "mode", "last_tick_at", "last_tick_age_seconds", "cadence_seconds",
            "stale_after_seconds", "last_outcome", "consecutive_errors", "paused", "tick_running", "message",
        }  # fmt: skip
        assert str(account) not in json.dumps(health) and "pid" not in json.dumps(health)
    assert state_file.read_bytes() == before
    with Server(account, env={"BOT_SERVE__ALLOWED_HOSTS": '["bot.example.org"]'}) as proxied:
        assert proxied.request("/api/v1/status", headers={"Host": "bot.example.org"}).status == 200
        assert proxied.request("/api/v1/status", headers={"Host": "other.example.org"}).status == 421


def test_prometheus_metrics_are_the_state_and_the_journal(account):
    from prometheus_client.parser import text_string_to_metric_families

    def scrape(server) -> dict[tuple[str, tuple], float]:
        text = server.request("/metrics").text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    state = json.loads((account / "var" / "replay" / "state.json").read_text())
    exposure = sum(p["amount"] * state["last_prices"][coin] for coin, p in state["positions"].items())
    mode = (("mode", "replay"),)
    with Server(account) as server:
        before = scrape(server)
        server.request("/api/v1/control/pause", method="POST")
        after = scrape(server)
    assert before[("bot_equity_usd", mode)] == state["last_equity_usd"]
    assert before[("bot_open_positions", mode)] == 3 and before[("bot_exposure_usd", mode)] == pytest.approx(exposure)
    assert before[("bot_ticks_total", (("mode", "replay"), ("outcome", "ok")))] == 1
    assert before[("bot_ticks_total", (("mode", "replay"), ("outcome", "failed")))] == 0
    assert before[("bot_last_tick_timestamp_seconds", mode)] == 1748826000  # 2025-06-02 01:00 UTC
    assert before[("bot_last_tick_duration_seconds", mode)] == state["last_duration_ms"] / 1000
    assert before[("bot_llm_cost_usd_total", mode)] == 0 and before[("bot_state_readable", ())] == 1
    assert (before[("bot_paused", mode)], after[("bot_paused", mode)]) == (0, 1)


def test_dashboard_shows_the_replayed_account_and_pauses_it(tmp_path, browser):
    account = replay_account(tmp_path / "account", ticks=3)
    var = account / "var" / "replay"
    state = json.loads((var / "state.json").read_text())
    records = [json.loads(line) for line in (var / "journal.jsonl").read_text().splitlines()]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Server(account) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{server.url}/#token={urllib.parse.quote(TOKEN)}")
        page.wait_for_selector("body[data-updated]")
        assert page.url == f"{server.url}/"  # the token left the address bar (kept in sessionStorage)

        # the equity curve: one vertex per tick, the last value labelled, the basket drawn
        equities = [r["account"]["equity_usd"] for r in records]
        vertices = page.get_attribute("#equity-line", "points").split()
        assert len(vertices) == len(records) == 3
        assert page.text_content("#equity-last") == money(equities[-1])
        assert page.locator("#buyhold-line").count() == 1 and page.locator("#drawdown-area").count() == 1
        assert page.text_content("text.axis-max") == money(
            max(equities + [p["buy_hold_usd"] for p in server.request("/api/v1/equity").json()["points"]])
        )
        assert page.inner_text("#equity") == money(state["last_equity_usd"])
        # three ticks are far from a day of returns (24 h x 20 ticks = 480): no Sharpe yet, and how long to wait
        assert page.inner_text("#sharpe") == f"n/a (needs {480 - state['return_stats']['count']} more ticks)"

        # open positions with their unrealized PnL from state.json: a short gains (entry - mark) x amount
        rows = page.locator("#positions tr.position")
        assert rows.count() == len(state["positions"]) == 3
        for coin, held in state["positions"].items():
            cells = page.locator(f"#position-{coin} td").all_inner_texts()
            mark = state["last_prices"][coin]
            assert cells[:3] == [coin, "short", f"{held['amount']:g}"]
            assert cells[5] == money((held["entry_price"] - mark) * held["amount"], sign=True)
            assert cells[6] == f"{held['stop_loss']:.6g}" and cells[7] == f"{held['take_profit']:.6g}"
        assert "SELL" in page.inner_text("#decisions") and "approved" in page.inner_text("#decisions")
        assert page.inner_text("#state-chip") == "RUNNING" and not page.is_visible("#banner")
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone.goto(f"{server.url}/#token={urllib.parse.quote(TOKEN)}")
        phone.wait_for_selector("body[data-updated]")
        assert (
            phone.evaluate("document.documentElement.scrollWidth") <= 390
        )  # no sideways scrolling: tables scroll in their boxes
        phone.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

        # pause from the page: the prompt's reason reaches the state
        page.once("dialog", lambda dialog: dialog.accept("checked from the browser"))
        page.click("#pause")
        page.locator(
            "#state-chip", has_text="PAUSED"
        ).wait_for()  # (the page's CSP forbids eval, so no wait_for_function)
        status = server.request("/api/v1/status").json()
        assert status["paused"] and status["pause_reason"] == "checked from the browser (API, from 127.0.0.1)"
        assert page.inner_text("#banner") == "PAUSED by user: checked from the browser (API, from 127.0.0.1)"

        # a journal untouched for 10 minutes: the next refresh shows the stale banner
        old = time.time() - 600
        os.utime(var / "journal.jsonl", (old, old))
        page.reload()
        page.wait_for_selector("body[data-updated]")
        assert page.inner_text("#banner").startswith("STALE: no tick for 6")
        page.screenshot(path=str(ARTIFACTS / "dashboard-stale.png"))


def _gapped_sample(folder):
    """The bundled sample with the 3-minute candle that opens at 01:12 removed from every coin: the
    replay tick at 2025-06-02 01:15 finds no candle that just closed, so every coin fails and the
    tick is recorded as failed ("no market data"), as a live tick is when the exchange is down."""
    import gzip

    from bot.venues.history import SAMPLE_DIR

    shutil.copytree(SAMPLE_DIR, folder)
    gap = "1748826720000,"  # 2025-06-02 01:12 UTC in ms
    for path in (folder / "3m").glob("*.csv.gz"):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith(gap)]
        assert len(kept) == len(lines) - 1, path
        path.write_bytes(gzip.compress("".join(kept).encode()))
    return folder


def test_dashboard_shows_closed_trades_profit_and_the_failure_and_closes_a_position(tmp_path, browser):
    account = tmp_path / "account"
    account.mkdir()
    (account / "config.toml").write_text("[exchange]\ntimeout_ms = 2000\nretries = 1\n")
    data = str(_gapped_sample(tmp_path / "data"))
    tick = ("tick", "--dry-run", "--replay", "--data-dir", data)
    assert run_bot(*tick, cwd=account).returncode == 0  # 01:00: shorts in BTC, DOGE, XRP
    assert run_bot("close", "DOGE", "--replay", "--reason", "too small", cwd=account).returncode == 0
    for _ in range(4):  # 01:03 closes DOGE by hand ... 01:12 the rules close XRP
        assert run_bot(*tick, cwd=account).returncode == 0
    failed = run_bot(*tick, cwd=account)  # 01:15: the gap
    assert failed.returncode == 3 and "no market data: every coin failed" in failed.stdout
    var = account / "var" / "replay"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {name: ARTIFACTS / f"dashboard-{name}.png" for name in ("trades-1280", "trades-390", "stale-reason")}
    with Server(account) as server:
        closed = server.request("/api/v1/trades/closed").json()
        assert [(t["coin"], t["exit_reason"]) for t in closed["trades"]] == [("XRP", "decision"), ("DOGE", "manual")]
        profit = server.request("/api/v1/profit").json()
        state = json.loads((var / "state.json").read_text())
        assert list(state["positions"]) == ["BTC"]

        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{server.url}/#token={urllib.parse.quote(TOKEN)}")
        page.wait_for_selector("body[data-updated]")
        assert page.inner_text("#state-chip") == "FAILED"
        assert page.inner_text("#banner") == "FAILED: no market data: every coin failed"
        rows = page.locator("#trades tr.trade")
        assert rows.count() == 2 and page.inner_text("#trades-count") == "(2)"
        for index, trade in enumerate(closed["trades"]):
            cells = rows.nth(index).locator("td").all_inner_texts()
            assert cells[1:3] == [trade["coin"], trade["side"]] and cells[6] == trade["exit_reason"]
            assert cells[7:] == [money(trade["fees_usd"]), money(trade["pnl_usd"], sign=True)]
        assert page.inner_text("#trades-page") == "page 1 of 1" and page.is_disabled("#older")
        for coin in profit["by_coin"]:
            cells = page.locator(f"#profit-{coin['coin']} td").all_inner_texts()
            assert cells == [coin["coin"], "1", "0", money(coin["fees_usd"]), money(coin["net_pnl_usd"], sign=True)]
        assert page.locator("#profit-days tbody tr td").first.inner_text() == "2025-06-02"
        assert not page.is_visible("#arena")  # no [arena] in the config
        assert page.get_attribute("#equity-chart", "data-points") == "5"  # the failed tick valued nothing
        page.screenshot(path=str(shots["trades-1280"]), full_page=True)

        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone.goto(f"{server.url}/#token={urllib.parse.quote(TOKEN)}")
        phone.wait_for_selector("body[data-updated]")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        for cell in ["#position-BTC td.upnl", "#position-BTC td.sl", "#position-BTC td.tp", "#trades td.reason"]:
            box = phone.locator(cell).first.bounding_box()  # on screen without scrolling sideways
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (cell, box)
        assert phone.locator("#trades tr.trade").first.locator("td").last.bounding_box()["x"] < 390  # net PnL
        label = phone.locator("text.axis-max").bounding_box()  # one SVG unit per pixel: a 12 px label stays ~12 px
        assert label["height"] >= 11, label
        assert phone.inner_text("#banner") == "FAILED: no market data: every coin failed"
        phone.screenshot(path=str(shots["trades-390"]), full_page=True)

        # the Close button asks first; confirmed, the request is recorded for the next tick
        questions = []
        page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        page.click("#position-BTC button.close")
        page.locator("#position-BTC button.close", has_text="closing…").wait_for()
        assert questions[0].startswith("Close the short BTC 0.028 at the next tick (a market order; uPnL now ")
        assert server.request("/api/v1/status").json()["close_requested"] == {
            "BTC": "closed from the dashboard (API, from 127.0.0.1)"
        }

        old = time.time() - 600  # a journal untouched for 10 minutes: stale, and why the last tick failed
        os.utime(var / "journal.jsonl", (old, old))
        page.reload()
        page.wait_for_selector("body[data-updated]")
        shown = page.inner_text("#banner")
        assert shown.startswith("STALE: no tick for 6") and shown.endswith(
            " · last tick failed: no market data: every coin failed"
        )
        page.screenshot(path=str(shots["stale-reason"]))
    print("dashboard screenshots:", *shots.values())
    assert all(path.stat().st_size > 10_000 for path in shots.values())
