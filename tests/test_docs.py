"""The README documents every command, exit code and journal field (a spec, checked)."""

from __future__ import annotations

from bot.cli import app
from bot.errors import ExitCode
from bot.models import TickReport
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_the_offline_tick_and_the_test_command():
    blocks = README.split("```sh\n")
    assert blocks[1].startswith(
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/bot tick --dry-run --replay\n"
    )
    assert blocks[2].startswith(".venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest\n")
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest" in ci


def test_every_command_is_documented():
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"`bot {name}" in README, name


def test_every_tick_report_field_is_documented():
    for field in TickReport.model_fields:
        assert f"| `{field}` |" in README, field


def test_every_status_json_field_is_documented():
    from bot.tick.status import StatusReport

    for field in StatusReport.model_fields:
        assert f"| `{field}` |" in README.split("## `bot status --json`")[1], field


def test_every_ops_and_notify_setting_is_in_config_toml():
    from bot.config import NotifySettings, OpsSettings

    config = (ROOT / "config.toml").read_text()
    for section, model in (("ops", OpsSettings), ("notify", NotifySettings)):
        body = config.split(f"[{section}]")[1].split("\n[")[0]
        for field in model.model_fields:
            assert f"\n{field} = " in body, (section, field)


def test_every_exit_code_is_documented():
    for code in ExitCode:
        assert f"| {code.value} |" in README, code


def test_config_toml_lists_every_risk_and_paper_setting_with_its_default():
    import tomllib

    from bot.config import PaperSettings, RiskSettings

    config = tomllib.loads((ROOT / "config.toml").read_text())
    for section, model in (("risk", RiskSettings), ("paper", PaperSettings)):
        defaults = model().model_dump(mode="json")
        assert config[section] == defaults, section


def test_the_risk_and_broker_doc_names_every_limit_and_code():
    from bot.config import RiskSettings
    from bot.models import FillReason, RiskCode

    doc = (ROOT / "docs" / "paper-broker.md").read_text()
    assert "docs/paper-broker.md" in README
    for name in RiskSettings.model_fields:
        assert f"`{name}`" in doc, name
    for code in [*RiskCode, *FillReason]:
        live = code in (FillReason.RECONCILE, FillReason.STOP_FAILED)  # live trading's: in the README's "Live trading"
        assert f"`{code.value}`" in (README.split("## Live trading")[1] if live else doc), code
