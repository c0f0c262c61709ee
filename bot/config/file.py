"""Reading config.toml, ``.env`` and ``BOT_*`` variables into ``Settings``: every mistake
one line naming the setting and where it came from (the file or the environment)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from bot.config.base import SECRET_KEY
from bot.config.llm import check_instructions
from bot.config.settings import Settings
from bot.errors import ConfigError, did_you_mean


def config_path(cli_value: Path | None) -> Path:
    return Path(cli_value or os.environ.get("BOT_CONFIG") or "config.toml").expanduser()


def load_settings(path: Path, *, explicit: bool = True) -> Settings:
    """Read and validate settings; raise ConfigError with one line naming the setting."""
    path = path.resolve()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: not valid TOML ({exc}); fix the syntax or restore config.toml from the project"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
        _reject_secrets(path, data)
        _reject_unknown_top_level(path, data)
    elif explicit:
        raise ConfigError(f"config file not found: {path} (pass --config PATH or set BOT_CONFIG)")
    base_dir = path.parent
    try:
        return _with_instructions(Settings(_env_file=base_dir / ".env", base_dir=base_dir, **data))
    except ValidationError as exc:
        raise ConfigError(f"{_origin(path, data, exc.errors()[0]['loc'])}: {_describe(exc)}") from None
    except SettingsError as exc:  # a BOT_* variable or .env entry pydantic-settings cannot parse
        raise ConfigError(
            f"{exc} (environment or {base_dir / '.env'}); a list or table in a BOT_* variable must be JSON, "
            """e.g. BOT_TRADING__COINS='["BTC","ETH"]'"""
        ) from None


def _with_instructions(settings: Settings) -> Settings:
    """`llm.instructions_file` read (relative to config.toml's folder) into `llm.instructions`."""
    name = settings.llm.instructions_file
    if not name:
        return settings
    path = settings.resolve(Path(name))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"llm.instructions_file {str(path)!r}: cannot read ({why})") from None
    try:
        text = check_instructions(text, f"llm.instructions_file {str(path)!r}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return settings.model_copy(update={"llm": settings.llm.model_copy(update={"instructions": text})})


def _reject_secrets(path: Path, data: dict[str, Any], prefix: str = "") -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            _reject_secrets(path, value, f"{prefix}{key}.")
        elif SECRET_KEY.search(key):
            raise ConfigError(
                f"{path}: `{prefix}{key}` looks like a secret; secrets belong in the environment or .env "
                "(ANTHROPIC_API_KEY, EXCHANGE_API_KEY, EXCHANGE_SECRET), never in config.toml"
            )


def _reject_unknown_top_level(path: Path, data: dict[str, Any]) -> None:
    # Settings ignores unknown top-level keys (a .env holds unrelated variables), so
    # config.toml's own top level is checked here.
    known = [
        name for name, field in Settings.model_fields.items() if not field.exclude and field.validation_alias is None
    ]
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}: unknown setting `{key}`{did_you_mean(key, known)}")


def _origin(path: Path, data: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """Where the bad value came from: a BOT_* variable (it wins over the file), else
    config.toml if it holds the setting."""
    variable = "BOT_" + "__".join(str(part) for part in loc if not isinstance(part, int)).upper()
    from_env = f"{variable} (environment or {path.parent / '.env'})"
    if variable in os.environ:
        return from_env
    node: Any = data
    for part in loc:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return from_env
    return str(path)


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown setting `{location}`{_suggest(error['loc'])}"
    value = error.get("input")
    shown = "" if isinstance(value, dict) or value is None else f" (got {_cut(repr(value))})"
    message = error["msg"].removeprefix("Value error, ")
    return f"`{location}`: {message}{shown}"


def _cut(text: str, limit: int = 80) -> str:
    """A value quoted in an error, cut so that a long text (`llm.instructions`) keeps the error one short line."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _suggest(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return ""
        model = field.annotation
    return did_you_mean(str(loc[-1]), list(model.model_fields), prefix=".".join(map(str, loc[:-1])))


def with_overrides(base: Settings, overrides: dict[str, Any], *, where: str) -> Settings:
    """``base`` with dotted-name ``overrides``; each changed section validated as config.toml is."""
    changes: dict[str, dict[str, Any]] = {}
    for name, value in overrides.items():
        section, _, field = name.partition(".")
        changes.setdefault(section, {})[field] = value
    update = {}
    for section, fields in changes.items():
        current = getattr(base, section)
        try:
            update[section] = type(current)(**{**current.model_dump(), **fields})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or next(iter(fields))
            shown = overrides.get(f"{section}.{error['loc'][0]}", error.get("input")) if error["loc"] else fields
            raise ConfigError(
                f"{where} `{section}.{field}`: {error['msg'].removeprefix('Value error, ')} (got {shown!r})"
            ) from None
    return base.model_copy(update=update)
