"""Fuzzing the config loader: any config.toml, .env or BOT_* variable gives either valid
Settings or one ConfigError line naming what is wrong; nothing else may escape to the user.

The keys come from the Settings model itself, so every section added later is fuzzed too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bot.config import Settings
from bot.config.file import load_settings
from bot.errors import ConfigError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _known_keys() -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    for name, field in Settings.model_fields.items():
        if field.exclude or field.validation_alias is not None:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += [(name, sub) for sub in annotation.model_fields]
        else:
            keys.append((name,))
    return keys


KEYS = _known_keys()
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string for these characters
    return str(value)


def _toml(entries: dict[tuple[str, ...], object]) -> str:
    top = [f"{key[0]} = {_toml_value(value)}" for key, value in entries.items() if len(key) == 1]
    sections: dict[str, list[str]] = {}
    for key, value in entries.items():
        if len(key) == 2:
            sections.setdefault(key[0], []).append(f"{key[1]} = {_toml_value(value)}")
    parts = top + [f"[{name}]\n" + "\n".join(lines) for name, lines in sections.items()]
    return "\n".join(parts) + "\n"


def _load_or_explain(folder: Path):
    """The loader's contract: Settings, or a ConfigError whose message is one line."""
    try:
        return load_settings(folder / "config.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message, message
        return exc


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(KEYS + [("trading", "coin"), ("nonsense",), ("risk", "max_leverage_x")]), values, max_size=6
    )
)
def test_any_typed_values_for_any_keys_load_or_fail_with_one_line(tmp_path_factory, entries):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_text(_toml(entries), encoding="utf-8")
    _load_or_explain(folder)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_config_toml_load_or_fail_with_one_line(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_bytes(content)
    _load_or_explain(folder)


@FUZZ
@given(st.sampled_from(KEYS), st.text(max_size=40).filter(lambda text: "\x00" not in text))
def test_any_environment_override_loads_or_fails_with_one_line(tmp_path_factory, key, text):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_text("")
    name = "BOT_" + "__".join(part.upper() for part in key)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, text)
        _load_or_explain(folder)


@FUZZ
@given(st.text(max_size=200).filter(lambda text: "\x00" not in text))
def test_any_dotenv_file_loads_or_fails_with_one_line(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_text("")
    (folder / ".env").write_text(text, encoding="utf-8")
    _load_or_explain(folder)
