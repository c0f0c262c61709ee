"""The dashboard in a real browser: Debian's headless Chromium driven by playwright (its
own browser download is never used: ``executable_path`` is the system one), against a
real `bot serve` over a replay account made by three real ticks. Screenshots are kept
in var/artifacts/ (dashboard.png, dashboard-phone.png) for a person to look at."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse

import pytest

from tests.conftest import ROOT
from tests.servekit import TOKEN, Server, replay_account

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
