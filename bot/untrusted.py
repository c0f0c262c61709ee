"""Text from outside the owner's config (headlines, feed and source names, CryptoPanic
fields, the model's own free text): cleaned before it is stored, shown or sent, and
quoted when it enters a prompt. Pure.

``clean`` removes what a terminal, a log viewer or a model could read as something other
than the words shown: ANSI escape sequences, control characters (NUL, BEL, ESC, ...),
bidirectional overrides and isolates, zero-width and other invisible format characters,
private-use code points; every kind of whitespace and line break becomes one space (so a
text is always one line and can never start one), and the length is capped. ``quoted``
is the prompt's form: a JSON string (quotes and backslashes escaped), with runs of ``=``
shortened so no text can look like a ``== SECTION ==`` marker even inside its quotes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

TITLE_CHARS = 300  # a headline: the longest real ones are under 200 characters
NAME_CHARS = 60  # a source's name, a sentiment label
URL_CHARS = 500
REASONING_CHARS = 160  # the entry reasoning the trade memory shows back

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_DROPPED = {"Cc", "Cf", "Co", "Cs", "Cn"}  # control, format (bidi, zero-width), private use, surrogate, unassigned
_SPACES = {"Zs", "Zl", "Zp"}
_MARKER = re.compile(r"={2,}")


def _char(char: str) -> str:
    if char in "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85":
        return " "
    category = unicodedata.category(char)
    if category in _SPACES:
        return " "
    return "" if category in _DROPPED else char


def clean(text: object, *, limit: int) -> str:
    """One line of visible characters, at most ``limit`` long (cut with "…")."""
    text = _ANSI.sub("", unicodedata.normalize("NFC", str(text)))
    text = " ".join("".join(_char(char) for char in text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quoted(text: str) -> str:
    """``text`` as a JSON string for a prompt's data block (already clean: this only quotes)."""
    return json.dumps(_MARKER.sub("=", text), ensure_ascii=False)


def web_url(text: object) -> str:
    """An http(s) link, cleaned and capped; anything else (javascript:, data:, ...) is ""."""
    url = clean(text, limit=URL_CHARS)
    return url if re.match(r"https?://[^\s]+$", url, re.IGNORECASE) else ""


Title = Annotated[str, AfterValidator(lambda text: clean(text, limit=TITLE_CHARS))]
Name = Annotated[str, AfterValidator(lambda text: clean(text, limit=NAME_CHARS))]
Url = Annotated[str, AfterValidator(web_url)]
Reasoning = Annotated[str, AfterValidator(lambda text: clean(text, limit=REASONING_CHARS))]
