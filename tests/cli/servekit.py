"""`bot serve` as cron's neighbour runs it: a real subprocess on 127.0.0.1 (port 0, the
bound URL read from its first line) over a replay account made by real `bot tick`
runs; requests through urllib, the way a monitoring script would send them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import run_bot

TOKEN = "serve-test-token-3f9a1c7e5b2d"


def replay_account(folder: Path, ticks: int) -> Path:
    """A project folder whose replay account ran ``ticks`` rules-strategy ticks (the first
    opens three shorts: BTC, DOGE, XRP)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text("[exchange]\ntimeout_ms = 2000\nretries = 1\n")
    for _ in range(ticks):
        result = run_bot("tick", "--dry-run", "--replay", cwd=folder)
        assert result.returncode in (0, 6), result.stderr
    return folder


def copy_account(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("logs"))
    return target


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self):
        return json.loads(self.text)


class Server:
    """`bot serve --replay --port 0` in ``folder``; stopped on exit (SIGTERM, then kill)."""

    def __init__(
        self, folder: Path, *, token: str | None = TOKEN, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        full_env = {
            key: value for key, value in os.environ.items() if not key.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))
        }
        full_env |= ({"BOT_SERVE__TOKEN": token} if token else {}) | (env or {})
        self.folder, self.token = folder, token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--replay", "--port", "0", *args],
            cwd=folder,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if " at http://" not in line:
            self.stop()
            raise AssertionError(f"bot serve did not start: {line!r} {self.process.stderr.read()!r}")
        self.first_line = line
        self.url = line.split(" at ", 1)[1].split(" ", 1)[0].rstrip("/")
        self.token_line = self.process.stdout.readline()
        if token is None and "#token=" in self.token_line:  # made at this first start, shown this once
            self.token = self.token_line.split("#token=", 1)[1].split(" ", 1)[0]

    def request(
        self,
        path: str,
        *,
        token: str | None = "default",
        method: str = "GET",
        body: bytes | dict | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; a POST carries ``content_type`` (JSON unless told), as the dashboard sends it."""
        token = self.token if token == "default" else token
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if content_type and (data is not None or method != "GET"):
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(
                    response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
                )
        except urllib.error.HTTPError as error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode())

    def stop(self) -> str:
        """Stop the server (once); what it wrote on stderr."""
        if self.process.stderr.closed:
            return self._stderr
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return self._stderr

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
