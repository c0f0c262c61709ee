"""One owner's conversation with the bot: commands in, replies out, and the confirmation a
control command waits for. No Telegram here (``bot.chat.telegram`` carries the messages):
the same turns drive the fake-server session, the tests and any other chat later.

Reading commands build the same ``StatusReport`` `bot status` prints and read the journal
as `bot journal` does; control commands go through ``bot.ops.control``'s functions, which
take the tick lock (waiting up to ``ops.lock_wait_seconds`` for a running tick), exactly as
`bot pause` / `bot stop` / `bot resume` / `bot close` do. A control command only asks
first: it acts on a YES (typed, or the button) that comes next, from the same chat,
within ``telegram.confirm_seconds``; anything else cancels it, so a stale or stray YES
never acts.

Every method is blocking (the lock, the files): the Telegram side calls them in a worker
thread, one update at a time.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.chat import replies
from bot.config import Settings
from bot.errors import BotError, ConfigError
from bot.untrusted import clean

REASON_CHARS = 200  # a pause or close reason typed in the chat, as stored in the state
PROFIT_FILLS = 500  # the journal fills /profit reads: a bound on the work of one question
READ_TICKS = 4_800  # and the journal records any question reads at most (10 days of ticks), fills or not


class Command(StrEnum):
    START = "start"
    HELP = "help"
    STATUS = "status"
    PROFIT = "profit"
    TRADES = "trades"
    POSITIONS = "positions"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    CLOSE = "close"


CONTROLS = frozenset({Command.PAUSE, Command.RESUME, Command.STOP, Command.CLOSE})
_COIN = re.compile(r"^[A-Za-z0-9]{1,20}$")
_YES = {"yes", "y"}


@dataclass(frozen=True)
class Reply:
    text: str
    confirm: str | None = None  # a control command asks first: its YES / NO buttons carry this nonce


@dataclass(frozen=True)
class _Pending:
    command: Command
    coin: str
    reason: str
    nonce: str
    asked_at: datetime

    @property
    def what(self) -> str:
        return f"/{self.command}" + (f" {self.coin}" if self.coin else "")


def parse(text: str) -> tuple[str, list[str]]:
    """``"/Close@MyBot btc now"`` -> ``("close", ["btc", "now"])``; ``("", words)`` for plain text."""
    words = text.split()
    if not words or not words[0].startswith("/"):
        return "", words
    return words[0][1:].split("@", 1)[0].lower(), words[1:]


def _random_nonces() -> Iterator[str]:
    while True:
        yield secrets.token_hex(4)


class Conversation:
    """The chats' pending confirmations (one per chat) and what each command does."""

    def __init__(
        self,
        settings: Settings,
        *,
        replay: bool,
        clock: Callable[[], datetime],
        nonces: Iterator[str] | None = None,
    ) -> None:
        self.settings = settings
        self.replay = replay
        self.clock = clock
        self._nonces = nonces or _random_nonces()
        self._pending: dict[int, _Pending] = {}

    def message(self, chat_id: int, text: str) -> Reply:
        """A text from an allowed chat. A pending control command acts only on a YES as the next message."""
        name, args = parse(text)
        pending = self._pending.pop(chat_id, None)
        if pending and not name and len(args) == 1 and args[0].lower() in _YES:
            return self._confirmed(pending)
        if not name:
            return Reply(f"cancelled {pending.what}" if pending else f"send a command:\n{replies.HELP}")
        note = f"(not confirmed: {pending.what} cancelled)\n" if pending else ""
        try:
            command = Command(name)
        except ValueError:
            return Reply(f"{note}unknown command /{clean(name, limit=30)}; /help lists them")
        try:
            reply = self._ask(chat_id, command, args) if command in CONTROLS else self._read(command, args)
        except BotError as exc:  # no state yet, a lock held too long: one line, nothing changed
            reply = Reply(self._error(exc))
        return Reply(note + reply.text, reply.confirm)

    def button(self, chat_id: int, data: str) -> Reply:
        """A YES / NO button pressed under a confirmation question (``yes:<nonce>`` / ``no:<nonce>``)."""
        answer, _, nonce = data.partition(":")
        pending = self._pending.get(chat_id)
        if pending is None or pending.nonce != nonce:
            return Reply("this question is no longer open: send the command again")
        del self._pending[chat_id]
        if answer != "yes":
            return Reply(f"cancelled {pending.what}")
        return self._confirmed(pending)

    # -- reading --------------------------------------------------------------------------------------

    def _read(self, command: Command, args: list[str]) -> Reply:
        if command in (Command.START, Command.HELP):
            return Reply(replies.HELP)
        if command is Command.TRADES:
            count = _count(args)
            if isinstance(count, str):
                return Reply(count)
            return Reply(replies.trades_text(self._fills(count)))
        if args:
            return Reply(f"/{command} takes no argument; /help lists the commands")
        report = self._status()
        if command is Command.STATUS:
            return Reply(replies.status_text(report))
        if command is Command.POSITIONS:
            return Reply(replies.positions_text(report))
        return Reply(replies.profit_text(report, self._fills(PROFIT_FILLS)))

    def _status(self):
        from bot.ops.state import StateStore
        from bot.tick.status import build_status, status_time

        var = self.settings.run_dir(replay=self.replay)
        store = StateStore(var / "state.json")
        state = store.load()
        if state is None:
            raise ConfigError(f"no state in {var} yet: run `bot tick{' --dry-run --replay' if self.replay else ''}`")
        now = status_time(state, self.clock(), replay=self.replay)
        return build_status(state, settings=self.settings, state_file=store.path, now=now)

    def _fills(self, count: int) -> list[dict[str, Any]]:
        """The last ``count`` fills among the journal's last ``READ_TICKS`` records: a quiet month of ticks without
        fills must not make a question read the whole journal and its parts."""
        from itertools import islice

        from bot.ops.journal import Journal
        from bot.tick.status import journal_rows

        journal = Journal(self.settings.run_dir(replay=self.replay) / "journal.jsonl")
        return journal_rows(islice(journal.newest_first(), READ_TICKS), count=count, trades=True)

    # -- control --------------------------------------------------------------------------------------

    def _ask(self, chat_id: int, command: Command, args: list[str]) -> Reply:
        coin = ""
        if command is Command.CLOSE:
            if not args:
                return Reply(f"/close needs a coin: /close COIN; open: {self._held() or 'none'}")
            if not _COIN.match(args[0]):
                return Reply(f"/close: {clean(args[0], limit=30)!r} is not a coin; open: {self._held() or 'none'}")
            coin, args = args[0].upper(), args[1:]
            held = self._held()
            if coin not in held.split(", "):
                return Reply(f"/close {coin}: no open {coin} position; open: {held or 'none'}")
        elif command is Command.RESUME and args:
            return Reply("/resume takes no argument")
        reason = clean(" ".join(args), limit=REASON_CHARS)
        pending = _Pending(command, coin, reason, next(self._nonces), self.clock())
        self._pending[chat_id] = pending
        question = _QUESTION[command].format(coin=coin)
        return Reply(f"{question} Reply YES to confirm (anything else cancels).", pending.nonce)

    def _held(self) -> str:
        from bot.ops.state import StateStore

        state = StateStore(self.settings.run_dir(replay=self.replay) / "state.json").load()
        return ", ".join(sorted(state.positions)) if state else ""

    def _confirmed(self, pending: _Pending) -> Reply:
        now = self.clock()
        waited = (now - pending.asked_at).total_seconds()
        if waited > self.settings.telegram.confirm_seconds:
            return Reply(
                f"{pending.what} lapsed: the YES came {waited:.0f} s after the question (telegram.confirm_seconds = "
                f"{self.settings.telegram.confirm_seconds}); send it again"
            )
        try:
            return Reply(self._act(pending, now))
        except BotError as exc:
            return Reply(self._error(exc))

    def _error(self, exc: BotError) -> str:
        """One line for the chat: secrets scrubbed, paths relative to the project folder (as `bot serve` shows
        them): the text leaves the machine."""
        from bot.log import scrub

        return "error: " + scrub(str(exc)).replace(f"{self.settings.base_dir.resolve()}/", "")

    def _act(self, pending: _Pending, now: datetime) -> str:
        from bot.ops import control

        settings, replay = self.settings, self.replay
        if pending.command is Command.PAUSE:
            state = control.pause_bot(settings, replay=replay, reason=pending.reason or "paused from Telegram", now=now)
            return f"paused: {state.pause_reason}. Ticks keep managing open positions; /resume trades again."
        if pending.command is Command.STOP:
            state = control.stop_bot(settings, replay=replay, reason=pending.reason or "stopped from Telegram", now=now)
            held = ", ".join(sorted(state.positions)) or "none open now"
            return f"stopping: the next tick closes every open position ({held}) and opens none; /resume cancels."
        if pending.command is Command.RESUME:
            _, lifted = control.resume_bot(settings, replay=replay, now=now)
            return f"resumed: lifted {lifted}"
        state = control.request_close(
            settings, replay=replay, coin=pending.coin, reason=pending.reason or "closed from Telegram", now=now
        )
        position, why = state.positions[pending.coin], state.close_requested[pending.coin]
        return (
            f"closing {position.side} {pending.coin} {position.amount:g} at the next tick ({why}); /status shows the "
            "request until it is done."
        )


_QUESTION = {
    Command.PAUSE: "Pause the bot? No new positions until /resume; open ones are still managed.",
    Command.STOP: "Stop the bot? The next tick closes EVERY open position and opens none.",
    Command.RESUME: "Resume trading? Lifts the pause and any backoff.",
    Command.CLOSE: "Close the {coin} position at the next tick (market order)?",
}


def _count(args: list[str]) -> int | str:
    """/trades' N, or the one line saying why it is not one."""
    if not args:
        return replies.TRADES_DEFAULT
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= replies.TRADES_MAX:
        return f"/trades N: N is a number from 1 to {replies.TRADES_MAX}, got {clean(' '.join(args), limit=30)!r}"
    return int(args[0])
