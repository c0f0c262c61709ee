"""The owner's chat: commands answered from the same status model and journal the CLI reads,
control commands through the same locked paths (``conversation.py``), carried over Telegram
(``telegram.py``, python-telegram-bot, imported only by `bot telegram`)."""
