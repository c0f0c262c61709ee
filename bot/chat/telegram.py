"""`bot telegram`: the owner's ``Conversation`` carried over Telegram's Bot API by
python-telegram-bot (imported here only, when the command runs).

Long polling (getUpdates), never a webhook: the process needs no port, no public address,
no TLS certificate, and runs behind any NAT beside cron. ``telegram.api_url`` points the
library at another Bot API server (a self-hosted telegram-bot-api, the tests' fake): the
library builds every method's URL as ``<base_url><token>/<method>``.

Who may talk: only ``telegram.chat_ids``. One gate runs before every other handler and
drops an update from any other chat (its chat id, sender id, the command word and the
text's length are logged; never the text, which may hold anything). Commands that were
queued while the process was down are dropped at start-up (``drop_pending_updates``): a
`/stop` typed an hour ago is not news.

The token never reaches a log: the library's own DEBUG lines (which print the URL) are
held at INFO, and ``bot.log``'s scrubber knows the token and ``bot<token>``.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
from typing import Any

import structlog

from bot.chat.conversation import Command, Conversation, Reply, parse
from bot.config import Settings
from bot.errors import ConfigError, DeliveryError

log = structlog.get_logger("bot.telegram")
# allowed_updates: nothing else is asked for (core.telegram.org/bots/api#update)
UPDATES = ["message", "callback_query"]


def check(settings: Settings) -> str:
    """The token, or the one line that says what is missing."""
    token = settings.telegram.token.get_secret_value() if settings.telegram.token else ""
    if not token:
        raise ConfigError(
            "no Telegram token: set BOT_TELEGRAM__TOKEN (from @BotFather) in the environment or .env beside the config"
        )
    return token


def run(
    settings: Settings,
    *,
    replay: bool,
    clock: Any,
    stop_after: int | None = None,
    nonces: Any = None,
    echo: Any = print,
) -> int:
    """Poll until SIGINT / SIGTERM, or until ``stop_after`` updates were handled (a scripted
    session, the tests); returns how many were handled."""
    from telegram.error import InvalidToken, NetworkError

    token = check(settings)
    conversation = Conversation(settings, replay=replay, clock=clock, nonces=nonces)
    handled = [0]
    application = _application(settings, token, conversation, handled, stop_after)
    logging.getLogger("telegram").setLevel(logging.INFO)  # its DEBUG lines carry the URL, hence the token
    for handler in logging.getLogger().handlers:  # the console: our one-line errors, never the library's tracebacks
        if type(handler) in (logging.StreamHandler, logging.handlers.MemoryHandler):
            handler.addFilter(lambda record: not record.name.startswith("telegram"))
    loop = asyncio.new_event_loop()  # the library runs its own loop; a fresh one each run (it closes it)
    asyncio.set_event_loop(loop)
    chats = len(settings.telegram.chat_ids)
    echo(f"answering {chats} allowed chat(s) through {settings.telegram.api_url} (Ctrl-C stops)")
    if not chats:  # the first run: how the owner learns their chat id
        echo(
            "no chat may talk to the bot yet: every message is ignored, and its chat id shown (telegram_ignored); "
            "put yours in .env as BOT_TELEGRAM__CHAT_IDS='[<chat id>]' and start again"
        )
    try:
        application.run_polling(
            poll_interval=0.0,
            timeout=settings.telegram.poll_timeout_seconds,
            allowed_updates=UPDATES,
            drop_pending_updates=True,
            close_loop=True,
        )
    except InvalidToken:
        raise ConfigError(
            "the Bot API refused the token (401 Unauthorized or 404): check BOT_TELEGRAM__TOKEN (from @BotFather)"
        ) from None
    except NetworkError as exc:
        raise DeliveryError(
            f"the Bot API at {settings.telegram.api_url} did not answer ({exc.message}): check telegram.api_url and "
            "the network, then run again"
        ) from None
    finally:
        asyncio.set_event_loop(None)
    log.info("telegram_stopped", updates=handled[0])
    return handled[0]


def _application(settings: Settings, token: str, conversation: Conversation, handled: list[int], stop_after):
    from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
    from telegram.ext import (
        Application,
        ApplicationHandlerStop,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        TypeHandler,
        filters,
    )

    allowed = frozenset(settings.telegram.chat_ids)
    api = settings.telegram.api_url

    def done(context: ContextTypes.DEFAULT_TYPE) -> None:
        handled[0] += 1
        if stop_after is not None and handled[0] >= stop_after:
            context.application.stop_running()  # run_polling still stops the updater and finishes this update

    def buttons(reply: Reply) -> InlineKeyboardMarkup | None:
        if reply.confirm is None:
            return None
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("YES", callback_data=f"yes:{reply.confirm}"),
                    InlineKeyboardButton("No", callback_data=f"no:{reply.confirm}"),
                ]
            ]
        )

    async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.id in allowed:
            return
        text = (update.message.text or "") if update.message else ""  # a button's query carries no text
        name, _ = parse(text)
        log.warning(
            "telegram_ignored",
            chat_id=chat.id if chat else None,
            user_id=update.effective_user.id if update.effective_user else None,
            update="callback_query" if update.callback_query else "message",
            command=name if name in Command.__members__.values() else ("(other)" if name else ""),
            chars=len(text),
        )
        done(context)
        raise ApplicationHandlerStop

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        try:
            first = (message.text or " ").split()[0] if (message.text or "").strip() else ""
            if (
                first.startswith("/")
                and "@" in first
                and first.partition("@")[2].lower() != context.bot.username.lower()
            ):
                return  # a group's command for another bot
            reply = await asyncio.to_thread(conversation.message, update.effective_chat.id, message.text or "")
            log.info("telegram_command", command=parse(message.text or "")[0] or "(text)", asks=bool(reply.confirm))
            await message.reply_text(reply.text, reply_markup=buttons(reply), do_quote=False)
        finally:
            done(context)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        try:
            reply = await asyncio.to_thread(conversation.button, update.effective_chat.id, query.data or "")
            log.info("telegram_button", answer=(query.data or "").partition(":")[0])
            # a toast of 0-200 characters (core.telegram.org/bots/api#answercallbackquery), then the answer itself
            await query.answer(reply.text[:200])
            await context.bot.send_message(update.effective_chat.id, reply.text)
            if query.message is not None and query.message.is_accessible and query.message.reply_markup:
                try:  # one answer per question: its buttons go
                    await query.edit_message_reply_markup(reply_markup=None)
                except BadRequest as exc:  # already gone: a second press, another client
                    log.info("telegram_buttons_gone", error=exc.message)
        finally:
            done(context)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler that failed (a bug, the Bot API refusing a reply): logged, and the owner told in one line
        when the chat can still be reached; the next update is handled as usual."""
        error = f"{type(context.error).__name__}: {context.error}"
        log.error("telegram_error", error=error)
        chat = update.effective_chat if isinstance(update, Update) else None
        offline = isinstance(context.error, NetworkError) and not isinstance(context.error, BadRequest)
        if chat is None or chat.id not in allowed or offline:  # offline: a reply would not get through either
            return
        try:
            await context.bot.send_message(chat.id, f"internal error: {error} (details in the log; please report it)")
        except TelegramError as exc:
            log.error("telegram_error_not_told", error=f"{type(exc).__name__}: {exc}")

    async def menu(application: Application) -> None:
        """The command list Telegram's clients offer; a server that refuses it (a self-hosted one, an old
        version) costs the menu, not the chat."""
        try:
            await application.bot.set_my_commands(
                [
                    BotCommand(command.value, _MENU[command])
                    for command in Command
                    if command is not Command.START  # Telegram's clients send /start themselves
                ]
            )
        except (BadRequest, Forbidden) as exc:
            log.warning("telegram_menu_not_set", error=exc.message)

    application = (
        Application.builder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .post_init(menu)
        .build()
    )
    application.add_handler(TypeHandler(Update, gate), group=-1)
    application.add_handler(MessageHandler(filters.ALL, on_message))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_error_handler(on_error)
    return application


_MENU = {
    Command.HELP: "what the bot answers",
    Command.STATUS: "mode, pause, last tick, equity",
    Command.PROFIT: "PnL, fees, drawdown, closed trades",
    Command.TRADES: "the last N fills",
    Command.POSITIONS: "open positions",
    Command.PAUSE: "no new positions (asks YES first)",
    Command.RESUME: "trade again (asks YES first)",
    Command.STOP: "close everything at the next tick (asks YES first)",
    Command.CLOSE: "close one position: /close COIN (asks YES first)",
}
