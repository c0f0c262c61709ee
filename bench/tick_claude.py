"""What Claude adds to a tick: whole-process time against the fake Messages API, prompt
size for 6 coins, and the cost per tick and per day at the default model's prices.

Time: each run is a cold `bot tick --dry-run --replay` process in a fresh folder (the
market comes from the bundled history, so the only difference between the two is the
strategy), once with the rules and once with Claude behind ANTHROPIC_BASE_URL = the fake
server running in its own process. The fake answers at once (``--latency-ms`` adds a
model's thinking time), so the difference is the bot's own overhead: importing the SDK,
building the request, HTTP, validation, accounting and the audit file. A real Claude
call adds the model's generation time on top (seconds).

Tokens: nothing offline can count Claude's tokens (the tokenizer is not public and the
count_tokens endpoint needs the network), so they are ESTIMATED from characters: 4
characters per token (typical for English) and, as a conservative bound for this
digit-heavy text, 3 characters per token.

    .venv/bin/python bench/tick_claude.py [--runs 5] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICKS_PER_DAY = 480


def _run(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stdout}{result.stderr}")
    journal = cwd / "var" / "replay" / "journal.jsonl"
    record = json.loads(journal.read_text().splitlines()[-1]) if journal.exists() else {}
    return elapsed, record


def _row(name: str, values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    return f"| {name} | {min(values) * scale:.3f} {unit} | {statistics.median(values) * scale:.3f} {unit} |"


def _prompt_and_answer(positions: bool):
    """The 6-coin prompt on real data (with 6 open positions: the largest prompt) and a
    representative answer: two entries with a full exit plan, four holds."""
    from bot.config import Settings
    from bot.models import Position, ReturnStats, Side
    from bot.strategies.capabilities import ModelCaps
    from bot.strategies.request import build_request
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of
    from bot.tick.prompt import build_prompt
    from bot.venues.history import HistoryMarket

    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    settings = Settings()
    snapshot = HistoryMarket().snapshot_at(settings.trading.coins, now)
    prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    held = (
        {
            coin: Position(
                coin=coin,
                symbol=f"{coin}/USDT:USDT",
                side=Side.LONG,
                amount=round(1000 / price, 3) or 0.001,
                entry_price=price * 0.99,
                leverage=3,
                margin_usd=333.0,
                opened_at=now,
                stop_loss=price * 0.97,
                take_profit=price * 1.05,
                invalidation="4h close below the 4h EMA50",
            )
            for coin, price in prices.items()
        }
        if positions
        else {}
    )
    portfolio = portfolio_of(
        cash_usd=10_000, positions=held, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    prompt = build_prompt(settings, compute_features(snapshot), portfolio, now=now, tick=1)
    caps = ModelCaps(
        id=settings.llm.model, lifecycle="active", structured_outputs=True, fetched_at=now
    )  # the default model's shape
    _, request = build_request(
        system=prompt.system, memory=prompt.memory, user=prompt.user, caps=caps, llm=settings.llm
    )
    entry = {
        "coin": "BTC",
        "action": "BUY",
        "confidence": 0.72,
        "size_pct": 10,
        "leverage": 3,
        "stop_loss": 103850.5,
        "take_profit": 108420.0,
        "invalidation": "4h close below the 4h EMA50",
        "reasoning": "4h and 3m trends up, MACD rising, RSI14 58: room well beyond fees",
    }
    hold = {
        "coin": "XRP",
        "action": "HOLD",
        "confidence": 0.5,
        "reasoning": "no edge after costs: range-bound, MACD flat",
    }
    answer = {
        "decisions": [
            entry,
            dict(entry, coin="ETH", stop_loss=2480.1, take_profit=2610.0),
            *[dict(hold, coin=c) for c in ["SOL", "BNB", "DOGE", "XRP"]],
        ]
    }
    return prompt, request, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="the fake's answer delay (a model's generation time)"
    )
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.anthropic", "--port", "0", "--latency-ms", str(args.latency_ms)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
    floor, rules, claude, rules_decide, claude_decide = [], [], [], [], []
    try:
        url = server.stdout.readline().split()[3]
        claude_env = {**base, "ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": url}
        command = [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"]
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                floor.append(_run([sys.executable, "-c", "import anthropic"], cwd=Path(folder), env=base)[0])
            for env, times, decide in ((base, rules, rules_decide), (claude_env, claude, claude_decide)):
                with tempfile.TemporaryDirectory() as folder:
                    Path(folder, "config.toml").write_text("")
                    elapsed, record = _run(command, cwd=Path(folder), env=env)
                    expected = "claude" if env is claude_env else "rules"
                    if record.get("strategy") != expected or record.get("outcome") != "ok":
                        raise SystemExit(
                            f"unexpected tick: {record.get('strategy')} {record.get('outcome')} {record.get('message')}"
                        )
                    times.append(elapsed)
                    decide.append(record["duration_ms"]["decide"] / 1000)
    finally:
        server.terminate()
        server.wait()

    print(
        f"`bot tick --dry-run --replay`, rules vs Claude on the fake Messages API ({args.latency_ms:g} ms answer "
        f"delay), "
        f"{args.runs} cold runs each, {datetime.now(UTC):%Y-%m-%d}"
    )
    print("| figure | min | median |\n|---|---|---|")
    print(_row("`python -c 'import anthropic'`", floor))
    print(_row("whole process, rules", rules))
    print(_row("whole process, Claude", claude))
    print(_row("extra per Claude tick (paired runs)", [c - r for c, r in zip(claude, rules, strict=True)]))
    print(_row("`decide` stage, rules", rules_decide, "ms", 1000))
    print(_row("`decide` stage, Claude (SDK import + call + validation)", claude_decide, "ms", 1000))

    from bot.config import Settings

    price = Settings().llm.price
    model = Settings().llm.model
    print()
    for positions in (False, True):
        prompt, request, answer = _prompt_and_answer(positions)
        tools = json.dumps(request.get("tools") or request["output_config"]["format"]["schema"])  # the answer's schema
        prefix_chars, user_chars, out_chars = len(tools) + len(prompt.system), len(prompt.user), len(json.dumps(answer))
        label = "6 open positions" if positions else "no positions"
        print(
            f"Prompt for 6 coins, {label}: system {len(prompt.system):,} + tool definition {len(tools):,} + user "
            f"{user_chars:,} "
            f"= {prefix_chars + user_chars:,} characters; representative answer {out_chars:,} characters"
        )
        print(
            "| estimate | cached prefix (tools+system) | user | total input | output | $/tick no cache | $/tick cache "
            "hit "
            "| $/day no cache | $/day cache hits |\n|---|---|---|---|---|---|---|---|---|"
        )
        for ratio in (4, 3):
            prefix, user, out = (math.ceil(chars / ratio) for chars in (prefix_chars, user_chars, out_chars))
            miss = ((prefix + user) * price.input_usd_per_mtok + out * price.output_usd_per_mtok) / 1e6
            hit = (
                user * price.input_usd_per_mtok
                + prefix * price.cache_read_usd_per_mtok
                + out * price.output_usd_per_mtok
            ) / 1e6
            write = (
                user * price.input_usd_per_mtok
                + prefix * price.cache_write_usd_per_mtok
                + out * price.output_usd_per_mtok
            ) / 1e6
            day_hits = write + hit * (TICKS_PER_DAY - 1)  # one cache write, then every tick within 5 minutes reads it
            print(
                f"| {ratio} chars/token | {prefix:,} | {user:,} | {prefix + user:,} | {out:,} | {miss:.4f} | {hit:.4f} "
                f"| {miss * TICKS_PER_DAY:.2f} | {day_hits:.2f} |"
            )
        print()
    print(
        f"Prices: {model} at ${price.input_usd_per_mtok:g} in / ${price.output_usd_per_mtok:g} out / "
        f"${price.cache_write_usd_per_mtok:g} cache write / ${price.cache_read_usd_per_mtok:g} cache read per million "
        f"tokens; "
        f"{TICKS_PER_DAY} ticks a day."
    )


if __name__ == "__main__":
    main()
