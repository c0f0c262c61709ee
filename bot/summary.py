"""Human renderings of a tick report and of the saved state (rich on stdout)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bot.models import Action, TickReport
from bot.state import BotState

_console = Console(highlight=False, soft_wrap=True, markup=False)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def print_tick(report: TickReport) -> None:
    mode = report.mode.upper() + (" (dry-run)" if report.dry_run else "")
    out = _console.print
    out(f"{mode} tick {report.tick} · {report.as_of:%Y-%m-%d %H:%M} UTC · strategy {report.strategy} · {report.tick_id}")
    total = len(report.coins_loaded) + len(report.errors)
    out(f"coins {len(report.coins_loaded)}/{total} loaded: {' '.join(report.coins_loaded) or '-'}")
    for coin, error in report.errors.items():
        out(f"  skipped {coin}: {error}")
    verdicts = {verdict.coin: verdict for verdict in report.verdicts}
    decided = {decision.coin: decision for decision in report.decisions}
    for coin in report.coins_loaded:
        decision, verdict = decided.get(coin), verdicts.get(coin)
        if decision is None or decision.action is Action.HOLD:
            out(f"  {coin:<5} HOLD")
            continue
        line = f"  {coin:<5} {decision.action:<5} conf {decision.confidence:.2f}"
        if decision.stop_loss or decision.take_profit:
            line += f" SL {_price(decision.stop_loss)} TP {_price(decision.take_profit)}"
        if verdict:
            line += f" -> {verdict.verdict}: {verdict.reason}"
        out(line)
    for fill in report.fills:
        verb = "closed" if fill.reduce_only else "opened"
        pnl = f" pnl {fill.realized_pnl_usd:+.2f}" if fill.reduce_only else ""
        out(f"  {verb} {fill.side} {fill.coin} {fill.amount:g} @ {fill.price:.6g} fee {fill.fee_usd:.2f}{pnl} USDT [{fill.client_order_id}]")
    for correction in report.corrections:
        label = "ALERT" if correction.alert else "reconciled"
        out(f"  {label} {correction.coin or '-'} {correction.kind}: {correction.message}")
    if report.account:
        account = report.account
        out(
            f"equity {_money(account.equity_usd)} USDT ({report.return_pct:+.2f}%) · cash {_money(account.cash_usd)} "
            f"· available {_money(account.available_usd)} · positions {len(report.positions)}"
        )
    total_ms = report.duration_ms.get("total", 0.0)
    message = f" · {report.message}" if report.message else ""
    out(f"outcome {report.outcome} · {total_ms:.0f} ms{message}")


def print_status(state: BotState, last: dict[str, Any] | None) -> None:
    out = _console.print
    when = f"{state.last_tick_at:%Y-%m-%d %H:%M} UTC" if state.last_tick_at else "never"
    out(f"mode {state.mode.upper()} · {state.tick} ticks · last {when} · outcome {state.last_outcome or '-'}")
    if state.consecutive_errors:
        out(f"consecutive failed ticks: {state.consecutive_errors}")
    if state.paused:
        out(f"PAUSED: {state.pause_reason}")
    ret = (state.last_equity_usd / state.initial_equity_usd - 1) * 100
    out(
        f"equity {_money(state.last_equity_usd)} USDT ({ret:+.2f}%) · cash {_money(state.cash_usd)} "
        f"· peak {_money(state.peak_equity_usd)} · fees {_money(state.fees_paid_usd)}"
    )
    if state.positions:
        table = Table("coin", "side", "amount", "entry", "lev", "SL", "TP", "opened", title="open positions")
        for position in state.positions.values():
            table.add_row(
                position.coin,
                str(position.side),
                f"{position.amount:g}",
                f"{position.entry_price:.6g}",
                f"{position.leverage:g}x",
                _price(position.stop_loss),
                _price(position.take_profit),
                f"{position.opened_at:%m-%d %H:%M}",
            )
        _console.print(table)
    else:
        out("no open positions")
    if state.exchange is not None:
        _print_exchange(state)
    for decision in state.last_decisions:
        out(f"last decision {decision.coin} {decision.action} ({decision.confidence:.2f}): {decision.reasoning}")
    if last and last.get("message"):
        out(f"last message: {last['message']}")


def _print_exchange(state: BotState) -> None:
    """The exchange's account as the last live reconciliation saw it, and where the bot differs."""
    view = state.exchange
    out = _console.print
    out(f"exchange as of {view.as_of:%Y-%m-%d %H:%M} UTC · equity {_money(view.equity_usd)} · cash {_money(view.cash_usd)}")
    table = Table("coin", "side", "amount", "entry", "uPnL", "liq.", title="exchange positions")
    for position in view.positions:
        table.add_row(position.coin, str(position.side), f"{position.amount:g}", f"{position.entry_price:.6g}",
                      f"{position.unrealized_pnl_usd:+.2f}", _price(position.liquidation_price))
    _console.print(table) if view.positions else out("exchange positions: none")
    table = Table("client id", "coin", "kind", "side", "amount", "trigger", title="exchange open orders")
    for order in view.open_orders:
        table.add_row(order.client_order_id, order.coin, order.kind, order.side, f"{order.amount:g}", _price(order.trigger_price))
    _console.print(table) if view.open_orders else out("exchange open orders: none")
    if state.pending_intents:
        out("pending orders (settled next tick): " + ", ".join(intent.client_order_id for intent in state.pending_intents))
    lines = view.disagreements(state.positions)
    for line in lines:
        out(f"DISAGREEMENT {line}")
    if not lines:
        out("state agrees with the exchange")
