"""Human renderings (rich on stdout) of the tick report, `bot status` and `bot journal`;
imported only by the commands that print them. ``console`` and ``when`` are shared with the
arena's leaderboard (``bot.cli.leaderboard``)."""

from __future__ import annotations

import sys
from datetime import timedelta

from rich.console import Console
from rich.table import Table

from bot.models import Action, Outcome, TickReport, Usage
from bot.tick.status import StatusReport

# Not a terminal (cron's log, a pipe): wide enough that tables keep whole numbers.
console = Console(highlight=False, soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 200)


def money(value: float) -> str:
    return f"{value:,.2f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


_OUTCOME_STYLE = {
    Outcome.OK: "green",
    Outcome.DEGRADED: "yellow",
    Outcome.FAILED: "bold red",
    Outcome.SKIPPED: "yellow",
}
_ACTION_STYLE = {Action.BUY: "green", Action.SELL: "red", Action.CLOSE: "cyan"}
_VERDICT_STYLE = {"approved": "green", "resized": "yellow", "rejected": "red"}
_REASONING_CHARS = 110  # one line of the strategy's reasoning per decision


def _same_rejections(previous: dict | None) -> set[tuple[str, str, str]]:
    """(coin, action, reason) of the rejections the previous journal record holds."""
    verdicts = (previous or {}).get("verdicts", [])
    return {(v.get("coin"), v.get("action"), v.get("reason")) for v in verdicts if v.get("verdict") == "rejected"}


def print_tick(report: TickReport, previous: dict | None = None, *, coins: int = 0, quote: str = "USDT") -> None:
    """The tick's summary; colour only on a terminal (rich leaves cron's log plain).
    ``previous`` is the journal's record of the tick before, so a rejection repeated tick
    after tick says so instead of reading as news. ``coins``: how many were asked for (a
    market that failed as a whole loaded 0 of them, with no per-coin error)."""
    mode = report.mode.upper() + (" (dry-run)" if report.dry_run else "")
    out = console.print
    repeated = _same_rejections(previous)
    if report.outcome is Outcome.SKIPPED:
        out(f"{mode} run at {report.as_of:%Y-%m-%d %H:%M} UTC skipped: {report.message}")
        return
    out(
        f"{mode} tick {report.tick} · {report.as_of:%Y-%m-%d %H:%M} UTC · strategy {report.strategy} · {report.tick_id}"
    )
    total = max(len(report.coins_loaded) + len(report.errors), coins)
    out(f"coins {len(report.coins_loaded)}/{total} loaded: {' '.join(report.coins_loaded) or '-'}")
    for coin, error in report.errors.items():
        out(f"  skipped {coin}: {error}")
    for source, why in report.sources_skipped.items():
        candidate = source.removeprefix("arena:")
        out(
            f"  arena candidate {candidate} failed: {why}"
            if candidate != source
            else f"  intel {source} skipped: {why}",
            markup=False,
        )
    decided = {decision.coin: decision for decision in report.decisions}
    decision_of_llm = f"{report.strategy}'s decision"
    for coin in report.coins_loaded:
        decision = decided.get(coin)
        seen = f" @ {_price(report.prices.get(coin))}"
        if decision is None or decision.action is Action.HOLD:
            refused = f" (refused {decision_of_llm}: {report.invalid[coin]})" if coin in report.invalid else ""
            out(f"  {coin:<5} HOLD {seen}{refused}")
            _reasoning(out, decision)
            continue
        line = f"  {coin:<5} {decision.action:<5}{seen} conf {decision.confidence:.2f}"
        if decision.stop_loss or decision.take_profit:
            line += f" SL {_price(decision.stop_loss)} TP {_price(decision.take_profit)}"
        out(line, style=_ACTION_STYLE.get(decision.action))
        _reasoning(out, decision)
        for verdict in report.verdicts:  # a flip has two: the close, then the new side
            if verdict.coin == coin:
                again = (verdict.coin, str(verdict.action), verdict.reason) in repeated
                why = "(same as last tick)" if again else f"({', '.join(verdict.codes)}): {verdict.reason}"
                out(
                    f"        -> {verdict.verdict} {why}",
                    style=None if again else _VERDICT_STYLE.get(str(verdict.verdict)),
                )
    for coin, reason in report.invalid.items():
        if coin not in report.coins_loaded:
            out(f"  ignored {decision_of_llm} for {coin}: {reason}")
    for payment in report.funding:
        verb = "received" if payment.amount_usd >= 0 else "paid"
        out(
            f"  funding {payment.coin} {payment.side} {payment.at:%H:%M} rate {payment.rate * 100:+.4f}%: {verb} "
            f"{abs(payment.amount_usd):.2f} {quote}"
        )
    for fill in report.fills:
        verb = "closed" if fill.reduce_only else "opened"
        pnl = f" pnl {fill.realized_pnl_usd:+.2f}" if fill.reduce_only else ""
        out(
            f"  {verb} {fill.side} {fill.coin} {fill.amount:g} @ {fill.price:.6g} fee {fill.fee_usd:.2f}{pnl} {quote} "
            f"({fill.reason}, {fill.at:%H:%M}) [{fill.client_order_id}]"
        )
    for correction in report.corrections:
        label = "ALERT" if correction.alert else "reconciled"
        out(f"  {label} {correction.coin or '-'} {correction.kind}: {correction.message}")
    if report.account:
        account = report.account
        out(
            f"equity {money(account.equity_usd)} {quote} ({report.return_pct:+.2f}%) · cash {money(account.cash_usd)} "
            f"· available {money(account.available_usd)} · positions {len(report.positions)}"
        )
    for position in report.positions:
        mark = report.prices.get(position.coin, position.entry_price)
        pnl = position.unrealized_pnl_usd(mark)
        out(
            f"  {position.side} {position.coin} {position.amount:g} @ {position.entry_price:.6g} · mark {mark:.6g} "
            f"· uPnL {pnl:+,.2f} {quote} · SL {_price(position.stop_loss)} TP {_price(position.take_profit)}",
            style="green" if pnl > 0 else "red" if pnl < 0 else None,
        )
    if report.new_positions_blocked:
        out(f"no new positions: {report.new_positions_blocked}")
    if report.usage.calls:
        out(f"llm {_usage(report.usage)}")
    total_ms = report.duration_ms.get("total", 0.0)
    message = f" · {report.message}" if report.message else ""
    out(f"outcome {report.outcome} · {total_ms:.0f} ms{message}", style=_OUTCOME_STYLE.get(report.outcome))
    if report.journal_note:
        out(f"journal: {report.journal_note}", style="yellow")


def _reasoning(out, decision) -> None:
    if decision is not None and decision.reasoning:
        text = " ".join(decision.reasoning.split())
        out(
            f"        why: {text if len(text) <= _REASONING_CHARS else text[: _REASONING_CHARS - 1] + '…'}", style="dim"
        )


_STALE = timedelta(minutes=10)  # cron ticks every 3 minutes; three missed runs is worth a warning


def when(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return f"{value:{fmt}} UTC" if value else "-"


def _usage(usage: Usage) -> str:
    return (
        f"{usage.cost_usd:.4f} USD · {usage.calls} call{'s' if usage.calls != 1 else ''} · tokens in "
        f"{usage.input_tokens:,} "
        f"+ cache write {usage.cache_write_tokens:,} + cache read {usage.cache_read_tokens:,} · out "
        f"{usage.output_tokens:,}" + (f" (thinking {usage.thinking_tokens:,})" if usage.thinking_tokens else "")
    )


def print_status(status: StatusReport) -> None:
    out = console.print
    out(
        f"mode {status.mode.upper()} · {status.ticks} ticks · last "
        f"{when(status.last_tick_at) if status.last_tick_at else 'never'} "
        f"· outcome {status.last_outcome or '-'}"
        + (f" · {status.last_duration_ms:.0f} ms" if status.last_duration_ms is not None else "")
    )
    if status.last_message:
        out(f"last message: {status.last_message}")
    if status.mode != "replay" and status.last_tick_at and status.generated_at - status.last_tick_at > _STALE:
        minutes = (status.generated_at - status.last_tick_at).total_seconds() / 60
        out(f"WARNING: no tick for {minutes:.0f} minutes: is cron running it? (`crontab -l`, `tail var/logs/cron.log`)")
    for coin, why in status.close_requested.items():
        out(f"CLOSING {coin} at the next tick{f': {why}' if why else ''} (`bot close`)")
    if status.stop_requested:
        out(
            f"STOPPING since {when(status.paused_at)}: {status.pause_reason} (every open position closes at the next "
            f"tick; `bot resume` cancels it)"
        )
    elif status.paused:
        out(
            f"PAUSED by {status.paused_by.who if status.paused_by else 'user'} since {when(status.paused_at)}: "
            f"{status.pause_reason} (open positions are still managed; `bot resume` lifts it)"
        )
    elif status.new_positions_blocked:
        out(f"no new positions now: {status.new_positions_blocked}")
    if status.consecutive_errors:
        if status.consecutive_errors < status.max_consecutive_errors:
            out(
                f"failed ticks in a row: {status.consecutive_errors} (the bot pauses itself at "
                f"{status.max_consecutive_errors})"
            )
        else:
            out(
                f"failed ticks in a row: {status.consecutive_errors} (the bot paused itself at "
                f"{status.max_consecutive_errors})"
            )
    if status.backoff_until:
        out(
            f"backing off until {when(status.backoff_until, '%Y-%m-%d %H:%M:%S')} ({status.backoff_seconds} s "
            f"window); runs before then are skipped"
        )
    if status.last_skipped_at:
        out(f"last skipped run: {when(status.last_skipped_at)}")
    out(f"next tick expected {when(status.next_tick_at)}")
    _print_journal_health(status)
    if status.arena_active:
        since = f" since {when(status.arena_since)}" if status.arena_since else ""
        out(
            f"arena: {status.arena_active} runs the account{since}"
            + (" (pinned: `bot arena unpin`)" if status.arena_pinned else "")
            + " · `bot arena` for the leaderboard"
        )
    sharpe = (
        f"{status.sharpe:.2f}"
        if status.sharpe is not None
        else f"n/a (needs {status.sharpe_needs_ticks} more ticks)"
        if status.sharpe_needs_ticks
        else "n/a"
    )
    out(
        f"equity {money(status.equity_usd)} {status.quote} ({status.return_pct:+.2f}%) · cash {money(status.cash_usd)} "
        f"· unrealized {status.unrealized_pnl_usd:+,.2f} · peak {money(status.peak_equity_usd)} · max drawdown "
        f"{status.max_drawdown_pct:.2f}% "
        f"· Sharpe {sharpe} · fees {money(status.fees_paid_usd)} · funding received {status.funding_usd:+,.2f}"
    )
    out(
        f"LLM spend today ({status.generated_at:%Y-%m-%d} UTC): {status.llm_spend_today_usd:.4f} of "
        f"{status.llm_budget_usd:.2f} USD budget · {status.llm_calls_today} calls"
        + (
            f" · cache hits {status.llm_cache_hit_ratio_today:.0%} of prompt tokens, saved "
            f"{status.llm_cache_saved_usd_today:.4f} USD"
            if status.llm_cache_hit_ratio_today is not None
            else ""
        )
        + (f" · thinking {status.llm_thinking_tokens_today:,} tokens" if status.llm_thinking_tokens_today else "")
    )
    if status.llm_model_lifecycle == "deprecated":
        retires = (
            f"{status.llm_model_retires_at:%Y-%m-%d}" if status.llm_model_retires_at else "a date not yet scheduled"
        )
        out(
            f"LLM model {status.llm_model} is DEPRECATED: Anthropic retires it on {retires}; set llm.model to an "
            f"active model"
        )
    if status.llm_profile_of:
        out(
            f"LLM model {status.llm_model}: provider {status.llm_profile_of} serves no Models API; its capabilities "
            'come from the provider\'s profile (README "Other providers")'
        )
    if status.llm_last_refusal:
        out(f"LLM last refusal: {status.llm_last_refusal}")
    if status.llm_last_error:
        out(f"LLM: {status.llm_last_error}")
    if status.llm_instructions:
        out(f"LLM instructions: {status.llm_instructions}")
    if status.llm_request_refused:
        out(f"LLM request refused {status.llm_request_refused}")
    if status.positions:
        table = Table(
            "coin",
            "side",
            "amount",
            "entry",
            "mark",
            "uPnL",
            "lev",
            "SL",
            "TP",
            "liq",
            "opened",
            "invalidation",
            title="open positions",
        )
        for position in status.positions:
            table.add_row(
                position.coin,
                str(position.side),
                f"{position.amount:g}",
                f"{position.entry_price:.6g}",
                f"{position.mark_price:.6g}",
                f"{position.unrealized_pnl_usd:+,.2f}",
                f"{position.leverage:g}x",
                _price(position.stop_loss),
                _price(position.take_profit),
                _price(position.liquidation_price),
                f"{position.opened_at:%m-%d %H:%M}",
                position.invalidation or "-",
            )
        console.print(table)
        for position in status.positions:
            if position.managed_only:
                out(
                    f"{position.coin} is not in `trading.coins`: its position is managed (stop-loss, take-profit, "
                    f"CLOSE), never added to"
                )
    else:
        out("no open positions")
    if status.exchange is not None:
        _print_exchange(status)
    verdicts = {(v.coin, v.action): v for v in status.last_verdicts}
    for decision in status.last_decisions:
        verdict = verdicts.get((decision.coin, decision.action))
        said = f" · {verdict.verdict}: {', '.join(verdict.codes) or verdict.reason}" if verdict else ""
        out(f"last decision {decision.coin} {decision.action} ({decision.confidence:.2f}){said}: {decision.reasoning}")
    # the block: its title, the note that it is data, its lines, its end marker
    if lines := [line for line in status.last_context.splitlines()[2:] if not line.startswith("== ")]:
        out(
            f"context the model saw: {lines[0]} · {sum(' ago [' in line for line in lines)} headlines (all: --json)",
            markup=False,
        )


def _print_journal_health(status: StatusReport) -> None:
    """What the journal holds, when some of it could not be read or was set aside."""
    if not (status.journal_unreadable or status.journal_set_aside):
        return
    out = console.print
    out(f"journal: {status.journal_records} records · {status.journal_unreadable} unreadable line(s)")
    for line in status.journal_unreadable_lines:
        out(f"  unreadable: {line}")
    for side in status.journal_set_aside:
        out(f"  torn line set aside in {side}")


def _print_exchange(status: StatusReport) -> None:
    """The exchange's account as the last live reconciliation saw it, and where the bot differs."""
    view = status.exchange
    out = console.print
    out(
        f"exchange as of {view.as_of:%Y-%m-%d %H:%M} UTC · equity {money(view.equity_usd)} · cash "
        f"{money(view.cash_usd)}"
    )
    table = Table("coin", "side", "amount", "entry", "uPnL", "liq.", title="exchange positions")
    for position in view.positions:
        table.add_row(
            position.coin,
            str(position.side),
            f"{position.amount:g}",
            f"{position.entry_price:.6g}",
            f"{position.unrealized_pnl_usd:+.2f}",
            _price(position.liquidation_price),
        )
    console.print(table) if view.positions else out("exchange positions: none")
    table = Table("client id", "coin", "kind", "side", "amount", "trigger", title="exchange open orders")
    for order in view.open_orders:
        table.add_row(
            order.client_order_id, order.coin, order.kind, order.side, f"{order.amount:g}", _price(order.trigger_price)
        )
    console.print(table) if view.open_orders else out("exchange open orders: none")
    if status.pending_orders:
        out("pending orders (settled next tick): " + ", ".join(status.pending_orders))
    for line in status.disagreements:
        out(f"DISAGREEMENT {line}")
    if not status.disagreements:
        out("state agrees with the exchange")
