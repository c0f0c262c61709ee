"""`bot serve` response times and memory: p50 / p99 over N requests per endpoint to a real
server on 127.0.0.1 (one keep-alive connection, bearer token, as a monitoring client),
and the server's resident memory (VmRSS now, VmHWM peak) read from /proc.

Two accounts: a replay account of a few real rules ticks, and the same account with its
journal grown to --journal-ticks lines (copies of the real ones), the size of a month or
two of cron ticks, to show what the equity curve and the counters cost on a long journal.

    .venv/bin/python bench/serve.py [--requests 1000] [--ticks 5] [--journal-ticks 20000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"
ENDPOINTS = [
    "/api/v1/health",
    "/api/v1/status",
    "/api/v1/positions",
    "/api/v1/journal?n=20",
    "/api/v1/decisions?n=20",
    "/api/v1/equity?points=800",
    "/api/v1/trades/closed?n=10",
    "/api/v1/profit",
    "/api/v1/metrics",
    "/metrics",
    "/",
]


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    return base | {"BOT_SERVE__TOKEN": TOKEN}


def make_account(folder: Path, ticks: int) -> None:
    (folder / "config.toml").write_text("")
    for _ in range(ticks):
        subprocess.run(
            [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
            cwd=folder,
            env=env(),
            capture_output=True,
            check=False,
        )


def grow_journal(folder: Path, lines: int) -> None:
    journal = folder / "var" / "replay" / "journal.jsonl"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    with open(journal, "w") as handle:
        for n in range(1, lines + 1):
            record = dict(records[(n - 1) % len(records)], tick=n)
            handle.write(json.dumps(record) + "\n")


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def measure(folder: Path, requests: int) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--replay", "--port", "0"],
        cwd=folder,
        env=env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        host, port = line.split("http://", 1)[1].split("/", 1)[0].rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        print(f"  server RSS after start: {rss_kib(server.pid)['VmRSS'] / 1024:.1f} MiB")
        print(f"  {'endpoint':<28} {'first ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  bytes")
        for path in ENDPOINTS:
            times = []
            size = 0
            for _ in range(requests + 1):
                started = time.perf_counter()
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                times.append((time.perf_counter() - started) * 1000)
                assert response.status in (200, 503), (path, response.status, body[:200])
                size = len(body)
            first, rest = times[0], sorted(times[1:])
            p99 = rest[min(len(rest) - 1, int(len(rest) * 0.99))]
            print(f"  {path:<28} {first:9.2f} {statistics.median(rest):8.2f} {p99:8.2f} {rest[-1]:8.2f}  {size}")
        memory = rss_kib(server.pid)
        print(
            f"  server RSS after {requests * len(ENDPOINTS):,} requests: {memory['VmRSS'] / 1024:.1f} MiB (peak "
            f"{memory['VmHWM'] / 1024:.1f} MiB)"
        )
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--journal-ticks", type=int, default=20_000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"bot serve, {args.requests} requests per endpoint, one keep-alive connection; load average {load:.1f}, "
        f"{os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_account(folder, args.ticks)
        print(f"replay account, {args.ticks} ticks:")
        measure(folder, args.requests)
        grow_journal(folder, args.journal_ticks)
        size = (folder / "var" / "replay" / "journal.jsonl").stat().st_size
        print(f"the same account, journal grown to {args.journal_ticks:,} ticks ({size / 1e6:.1f} MB):")
        measure(folder, args.requests)


if __name__ == "__main__":
    main()
