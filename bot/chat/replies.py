"""What the chat says: plain text drawn from the same models `bot status` and `bot journal`
print (``StatusReport``, the journal's rows), short enough for a phone's screen.

Pure functions: no files, no clock. Plain text, never Telegram's Markdown or HTML: a coin,
a reason or an error message with a `_` or a `<` in it must not break a reply (the Bot API
refuses a message whose markup does not parse).
"""

from __future__ import annotations

from typing import Any

from bot.tick.status import StatusReport

MAX_CHARS = 4096  # the Bot API's limit on one message's text (core.telegram.org/bots/api#sendmessage)
TRADES_DEFAULT = 10
TRADES_MAX = 50

HELP = (
    "/status: mode, pause, last tick, equity\n"
    "/profit: PnL, fees, drawdown, closed trades\n"
    "/trades [N]: the last N fills (default 10, at most 50)\n"
    "/positions: open positions\n"
    "/pause, /resume, /stop, /close COIN: asked to confirm (YES) first"
)


def _when(value: Any) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def status_text(report: StatusReport) -> str:
    """The lines an owner checks first: is it running, when did it last tick, how is the account."""
    if report.stop_requested:
        state = f"STOPPING: every position closes at the next tick ({report.pause_reason})"
    elif report.paused:
        who = "the bot itself" if report.paused_by and report.paused_by.value == "auto" else "user"
        state = f"PAUSED by {who}: {report.pause_reason}"
    elif report.backoff_until:
        state = f"BACKING OFF until {_when(report.backoff_until)} after {report.consecutive_errors} failed tick(s)"
    else:
        state = "running"
    lines = [f"bot {report.mode}: {state}"]
    if report.last_tick_at:
        outcome = report.last_outcome.value if report.last_outcome else "-"
        message = f": {report.last_message}" if report.last_message else ""
        lines.append(f"last tick {report.ticks} at {_when(report.last_tick_at)}, {outcome}{message}")
    else:
        lines.append("no tick yet")
    if report.next_tick_at:
        lines.append(f"next tick {_when(report.next_tick_at)}")
    if report.close_requested:
        asked = ", ".join(f"{coin} ({why})" if why else coin for coin, why in sorted(report.close_requested.items()))
        lines.append(f"closing at the next tick: {asked}")
    if report.new_positions_blocked:
        lines.append(f"no new positions: {report.new_positions_blocked}")
    lines.append(
        f"equity {_money(report.equity_usd)} USDT ({report.return_pct:+.2f}%), uPnL "
        f"{report.unrealized_pnl_usd:+,.2f}, {len(report.positions)} position(s)"
    )
    lines.append(f"LLM today {report.llm_spend_today_usd:.2f} of {report.llm_budget_usd:.2f} USD")
    if report.journal_unreadable:
        lines.append(f"journal: {report.journal_unreadable} unreadable line(s), see `bot status`")
    return "\n".join(lines)


def positions_text(report: StatusReport) -> str:
    if not report.positions:
        return "no open positions"
    lines = []
    for position in report.positions:
        exits = f"SL {position.stop_loss:.6g}" if position.stop_loss else "no SL"
        exits += f" TP {position.take_profit:.6g}" if position.take_profit else ""
        lines.append(
            f"{position.coin} {position.side.value} {position.amount:g} @ {position.entry_price:.6g}, mark "
            f"{position.mark_price:.6g}, uPnL {position.unrealized_pnl_usd:+,.2f} USDT, {position.leverage:g}x, {exits}"
        )
    return "\n".join(lines)


def profit_text(report: StatusReport, fills: list[dict[str, Any]]) -> str:
    """All-time figures from the state; closed trades from the journal's last ``fills`` (oldest first, as
    ``journal_rows`` gives them; the reader bounds how far back it looks)."""
    lines = [
        f"equity {_money(report.equity_usd)} USDT, {report.return_pct:+.2f}% since the start "
        f"({_money(report.initial_equity_usd)})",
        f"realized {report.realized_pnl_usd:+,.2f} · fees {_money(report.fees_paid_usd)} · funding "
        f"{report.funding_usd:+,.2f} · unrealized {report.unrealized_pnl_usd:+,.2f} USDT",
        f"max drawdown {report.max_drawdown_pct:.2f}% · Sharpe "
        + (f"{report.sharpe:.2f}" if report.sharpe is not None else f"needs {report.sharpe_needs_ticks} more ticks"),
    ]
    closes = [fill for fill in fills if fill.get("action") == "close"]
    if not closes:
        lines.append(f"closed trades: none in the last {len(fills)} fill(s)" if fills else "closed trades: none yet")
        return "\n".join(lines)
    pnl = [fill.get("realized_pnl_usd") or 0.0 for fill in closes]
    won = sum(1 for value in pnl if value > 0)
    by_coin: dict[str, float] = {}
    for fill, value in zip(closes, pnl, strict=True):
        by_coin[fill.get("coin") or "?"] = by_coin.get(fill.get("coin") or "?", 0.0) + value
    best = max(by_coin.items(), key=lambda item: item[1])
    worst = min(by_coin.items(), key=lambda item: item[1])
    lines.append(
        f"closes in the last {len(fills)} fill(s): {len(closes)}, {won} won / {len(closes) - won} lost, net "
        f"{sum(pnl):+,.2f} USDT"
    )
    lines.append(f"best {best[0]} {best[1]:+,.2f} · worst {worst[0]} {worst[1]:+,.2f} USDT")
    return "\n".join(lines)


def trades_text(rows: list[dict[str, Any]]) -> str:
    """``journal_rows(..., trades=True)``: one line per fill, oldest first."""
    if not rows:
        return "no trades yet"
    lines = []
    for row in rows:
        pnl = f" pnl {row.get('realized_pnl_usd') or 0.0:+,.2f}" if row.get("action") == "close" else ""
        at = str(row.get("at") or "")[:16].replace("T", " ")
        lines.append(
            f"{at} {row.get('action')} {row.get('side')} {row.get('coin')} {row.get('amount') or 0:g} @ "
            f"{row.get('price') or 0:.6g} fee {row.get('fee_usd') or 0:.2f}{pnl} ({row.get('reason') or '-'})"
        )
    return cut(lines)


def cut(lines: list[str]) -> str:
    """Lines joined, the oldest dropped (and counted) past one message's ``MAX_CHARS``."""
    dropped = 0
    while len(lines) > 1 and len("\n".join(lines)) > MAX_CHARS - 40:
        lines = lines[1:]
        dropped += 1
    text = "\n".join(lines)[: MAX_CHARS - 40]
    return f"({dropped} older not shown)\n{text}" if dropped else text
