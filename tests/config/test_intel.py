"""The intel settings: every one in config.toml with its default, feeds' names unique."""

from __future__ import annotations

import pytest

from bot.config.intel import IntelSettings


def test_config_toml_lists_every_intel_setting_with_its_default():
    import tomllib

    from tests.conftest import ROOT

    listed = tomllib.loads((ROOT / "config.toml").read_text())["intel"]
    defaults = IntelSettings().model_dump(mode="json")
    shown_in_comments = {"feeds", "coin_names"}  # lists of tables: written out as comments
    assert {key: defaults[key] for key in defaults if key not in shown_in_comments} == listed
    body = (ROOT / "config.toml").read_text().split("\n[intel]")[1]
    assert all(f"# {key} = " in body for key in shown_in_comments)


def test_two_feeds_of_one_name_are_refused_in_one_line(tmp_path):
    from bot.config.file import load_settings
    from bot.errors import ConfigError

    (tmp_path / "config.toml").write_text(
        '[intel]\nfeeds = [{name = "news", url = "https://a.example/rss"}, {name = "news", url = '
        '"https://b.example/rss"}]\n'
    )
    with pytest.raises(
        ConfigError, match=r"`intel.feeds`: feed name 'news' is listed twice: give each feed its own name"
    ):
        load_settings(tmp_path / "config.toml")
