"""A Telegram session against the fake Bot API, written out as a transcript (docs/telegram-session.txt).

In a fresh folder: two `bot tick --dry-run --replay` processes (the bundled sample: real
positions and fills), then `bot telegram --replay --max-updates N` as a real process pointed
at tests/fakes/telegram.py on 127.0.0.1, and a scripted owner (plus one stranger) typing and
pressing buttons. Bounded by updates, not seconds. Run from the project root:

    .venv/bin/python bench/telegram_session.py [--out docs/telegram-session.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram import TOKEN, FakeTelegram, press, say  # noqa: E402

OWNER, STRANGER = 111_222_333, 444_555_666


def bot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_", "EXCHANGE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "telegram-session.txt")
    out = parser.parse_args().out
    with tempfile.TemporaryDirectory() as folder, FakeTelegram() as fake:
        project = Path(folder)
        (project / "config.toml").write_text(
            f'[telegram]\napi_url = "{fake.url}"\nchat_ids = [{OWNER}]\npoll_timeout_seconds = 1\n'
        )
        for _ in range(2):
            assert bot("tick", "--dry-run", "--replay", cwd=project).returncode in (0, 4)
        held = sorted(json.loads((project / "var" / "replay" / "state.json").read_text())["positions"])
        coin = held[0] if held else "BTC"
        steps = [
            (say(OWNER, "/help"), 1),
            (say(OWNER, "/status"), 1),
            (say(OWNER, "/positions"), 1),
            (say(OWNER, "/profit"), 1),
            (say(OWNER, "/trades 5"), 1),
            (say(STRANGER, "/stop", name="Mallory"), 0),
            (say(STRANGER, "YES", name="Mallory"), 0),
            (say(OWNER, "/close PEPE"), 1),
            (say(OWNER, "/close"), 1),
            (say(OWNER, f"/close {coin} taking profit"), 1),
            (press(OWNER, "YES"), 2),
            (say(OWNER, "/pause FOMC tonight"), 1),
            (say(OWNER, "YES"), 1),
            (say(OWNER, "/status"), 1),
            (say(OWNER, "/resume"), 1),
            (press(OWNER, "No"), 2),
        ]
        fake.script(*steps)
        ran = bot(
            "telegram", "--replay", "--max-updates", str(len(steps)), cwd=project, env={"BOT_TELEGRAM__TOKEN": TOKEN}
        )
        assert ran.returncode == 0, ran.stderr
        log = (project / "var" / "logs" / "replay.log").read_text()
        ignored = [json.loads(line) for line in log.splitlines() if '"telegram_ignored"' in line]
        assert TOKEN.split(":")[1] not in log + ran.stdout + ran.stderr
        status = json.loads(bot("status", "--replay", "--json", cwd=project).stdout)
        tick = bot("tick", "--dry-run", "--replay", cwd=project)  # paused: only managing, and the close asked for
        record = json.loads((project / "var" / "replay" / "journal.jsonl").read_text().splitlines()[-1])
        after = json.loads(bot("status", "--replay", "--json", cwd=project).stdout)
    lines = [
        "A Telegram session against the fake Bot API (tests/fakes/telegram.py), written by bench/telegram_session.py",
        f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: two replay ticks on the bundled sample, then `bot telegram "
        f"--replay --max-updates {len(steps)}` as a process; the owner is chat {OWNER}, a stranger {STRANGER}.",
        "",
        *fake.transcript,
        "",
        f"`bot telegram` printed: {ran.stdout.strip()!r}",
        "logged for the stranger (var/logs/replay.log, event telegram_ignored; never the text):",
        *("  " + json.dumps({k: e[k] for k in ("chat_id", "user_id", "update", "command", "chars")}) for e in ignored),
        f"after the session, `bot status --replay --json`: paused={status['paused']}, "
        f"close_requested={status.get('close_requested')}, stop_requested={status['stop_requested']}",
        f"the next `bot tick --dry-run --replay` (exit {tick.returncode}): "
        + (
            "; ".join(
                f"{'closed' if f['reduce_only'] else 'opened'} {f['side']} {f['coin']} {f['amount']:g} @ "
                f"{f['price']:.6g} (reason {f['reason']})"
                for f in record["fills"]
            )
            or "no fill"
        )
        + f"; open after it: {', '.join(p['coin'] for p in after['positions']) or 'none'}, "
        f"close_requested={after.get('close_requested')}",
        f"Bot API calls: {', '.join(f'{m} x{fake.methods().count(m)}' for m in dict.fromkeys(fake.methods()))}",
    ]
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
