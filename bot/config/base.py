"""What every settings section shares: the one ``Section`` base (unknown keys are errors,
values frozen) and the validators more than one section uses."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

URL = r"^https?://[^/]+"  # scheme and host at least: every URL setting is checked against it
# Whole-word endings only: `telegram_token` is a secret, `max_tokens` is not.
SECRET_KEY = re.compile(r"(^|_)(api_?key|secret|password|token)$", re.IGNORECASE)


class Section(BaseModel):
    """One `[section]` of config.toml: a key it does not know is a mistake, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def optional_url(value: str | None) -> str | None:
    """An optional URL setting: empty means unset; anything else needs a scheme and a host."""
    if value in (None, ""):
        return None
    if not re.match(URL, value):
        raise ValueError(f"must look like http://host:port, got {value!r}")
    return value
