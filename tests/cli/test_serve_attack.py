"""Another web page the owner opens attacks `bot serve` through a real headless Chromium.

The attack page is served from another origin (another port on 127.0.0.1) and sends what
a page may send cross-origin without asking: ``no-cors`` POSTs with a ``text/plain``, a
form-encoded, a multipart and a JSON-labelled body (the browser drops that label in
``no-cors`` mode), a real ``<form>`` submission into an iframe, and a ``cors`` POST
carrying a bearer header (which needs a preflight the server never grants), to every
control endpoint. A second page plays DNS rebinding: its own name (``rebound.test``,
mapped to 127.0.0.1 by Chromium's resolver rules) on the server's port, so its requests
are same-origin and can read the answers, which the Host check refuses. Both run with
``BOT_SERVE__TOKEN`` set and with the token `bot serve` made itself. Nothing may change:
state.json, the journal and control.jsonl byte for byte. The attack page's table, with the
server's answer to each request as Chromium saw it on the wire, is the screenshot artifact.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from tests.cli.servekit import Server, copy_account, replay_account
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "var" / "artifacts"
CONTROLS = ["pause", "stop", "resume", "start", "close"]
REBOUND = "rebound.test"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no system Chromium (`apt-get install chromium`; .ci/run installs it)"
)

# The attack: each row is one request; `mode` says what the browser lets the page see.
ATTACK_PAGE = Path(__file__).with_name("attack_page.html")


def _page(target: str, rebound: str) -> bytes:
    text = (
        ATTACK_PAGE.read_text()
        .replace("REBOUND_HOST", REBOUND)
        .replace("REBOUND_URL", rebound)
        .replace("TARGET", target)
        .replace("CONTROLS", json.dumps(CONTROLS))
    )
    return text.encode()


class _AttackSite:
    """The attacker's origin: one page on another port of 127.0.0.1."""

    def __init__(self, body: bytes) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _AttackSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def one_tick(tmp_path_factory):
    return replay_account(tmp_path_factory.mktemp("attack") / "account", ticks=1)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Chromium's own private-network guard would block the rebinding frame before the server
            # sees it; Firefox and Safari have none, so it is turned off: the server must refuse by itself
            args=[
                f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1",
                "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests",
            ],
        )
        yield chromium
        chromium.close()


def _files(var: Path) -> dict[str, bytes | None]:
    return {
        name: (var / name).read_bytes() if (var / name).exists() else None
        for name in ("state.json", "journal.jsonl", "control.jsonl")
    }


EXPECTED_SERVER = {"no-cors": "415", "cors": "not sent (preflight refused)", "navigation": "415", "same-origin": "421"}


@pytest.mark.parametrize("token_from", ["env", "file"])
def test_another_page_in_chromium_changes_nothing(one_tick, tmp_path, browser, token_from):
    account = copy_account(one_tick, tmp_path / "account")
    var = account / "var" / "replay"
    before = _files(var)
    assert before["control.jsonl"] is None and json.loads(before["state.json"])["paused"] is False
    with Server(account, token=None if token_from == "file" else "attack-test-token-0123456789abcdef") as server:
        assert server.token  # the env's, or the one this start made
        port = server.url.rsplit(":", 1)[1]
        rebound = f"http://{REBOUND}:{port}"
        with _AttackSite(_page(server.url, rebound)) as site:
            page = browser.new_page(viewport={"width": 1200, "height": 1100})
            answered: dict[int, str] = {}

            def seen(response) -> None:
                if "attack=" in response.url:
                    answered[int(response.url.rsplit("attack=", 1)[1])] = str(response.status)

            page.on("response", seen)
            # the rebinding frame: its document comes from the attacker, its later requests reach the bot
            body = _page(server.url, rebound)
            page.route(f"{rebound}/evil*", lambda route: route.fulfill(status=200, body=body, content_type="text/html"))
            page.goto(f"{site.url}/attack.html")
            page.evaluate("attack()")
            page.wait_for_selector("body[data-done]")
            total = int(page.get_attribute("body", "data-done"))
            rows = []
            for index in range(1, total + 1):
                cells = page.locator(f"#row-{index} td").all_inner_texts()
                server_said = answered.get(index, "not sent (preflight refused)")
                page.evaluate(f"document.querySelector('#row-{index} td:last-child').textContent = {server_said!r}")
                rows.append((cells[1], cells[2], cells[3], cells[4], server_said))
            shot = ARTIFACTS / f"serve-attack-{token_from}.png"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nattack page screenshot: {shot}")
            for request, kind, mode, saw, server_said in rows:
                print(f"  {request:32} {kind:24} {mode:12} page saw: {saw[:40]:40} server: {server_said}")
        assert server.request("/api/v1/status").json()["paused"] is False  # the owner's token still works
    assert len(rows) == 5 * 5 + 5 + 3
    for request, kind, mode, saw, server_said in rows:
        assert server_said == EXPECTED_SERVER[mode], (request, kind, mode, server_said)
        if mode == "cors":
            assert saw.startswith("blocked:"), (request, kind)
        if mode == "same-origin":
            assert saw.startswith("HTTP 421 "), (request, saw)
    assert _files(var) == before  # state, journal and control log unchanged, byte for byte
