"""Settings are built once and survive the trip to the pytest plugin: handed over as the object in the
CLI's own process, and as `--scim-*` options (one per field of Settings) where a process cannot be handed
an object (pytest-xdist workers)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from scimconform.cli import main
from scimconform.plugin import settings_from_options
from scimconform.settings import Settings, cli_flag, plugin_args, plugin_option

EVERY_FIELD_CHANGED = Settings(
    url="https://scim.example.com/scim/v2?aadOptscim062020",
    token_env="MY_TOKEN",
    profile="alohi",
    dialect="tutorial",
    seed=42,
    report_dir=Path("out/reports"),
    timeout=7.5,
    users=3,
    workers=3,
    token_file=Path("token.txt"),
    headers={"X-Api-Key": "${API_KEY}", "X-Tenant": "acme # not a comment"},
    oauth_token_url="https://login.example.com/token",
    oauth_revocation_url="https://login.example.com/revoke",
    oauth_client_id="client-1",
    oauth_secret_env="MY_SECRET",
    oauth_scopes="scim.read scim.write",
    oauth_auth_method="both",
    expired_token_env="MY_EXPIRED",
    ca_bundle=Path("ca.pem"),
    insecure=True,
    proxy="http://proxy.example.com:3128",
    rate=12.5,
    throughput_seconds=0.0,
    throughput_p95_ms=900.0,
    sequences=(Path("recording/recorded.yaml"), Path("mine.yaml")),
)


def test_every_field_differs_from_its_default_in_the_sample() -> None:
    default = Settings()
    assert [f.name for f in fields(Settings) if getattr(EVERY_FIELD_CHANGED, f.name) == getattr(default, f.name)] == []


@pytest.mark.parametrize("settings", [Settings(), EVERY_FIELD_CHANGED], ids=["defaults", "every-field"])
def test_settings_survive_the_options(pytester: pytest.Pytester, settings: Settings) -> None:
    """`${VAR}` in a header stays unexpanded on the way: it is read where the request is made."""
    config = pytester.parseconfig(*plugin_args(settings), "--scim-no-config")
    assert settings_from_options(config) == settings


def test_each_setting_has_one_plugin_option_named_after_it(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    for setting in fields(Settings):
        assert plugin_option(setting.name) in help_text, setting.name
    assert plugin_option("token_env") == "--scim-token-env" and plugin_option("headers") == "--scim-header"


def test_the_settings_file_is_read_once_and_only_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", scimconform="users: 5\n")
    assert settings_from_options(pytester.parseconfig()).users == 5
    assert settings_from_options(pytester.parseconfig("--scim-no-config")).users == Settings().users
    assert settings_from_options(pytester.parseconfig("--scim-users", "4")).users == 4, "the option wins over the file"


def test_the_command_line_flags_are_the_settings_under_their_own_names(capsys: pytest.CaptureFixture[str]) -> None:
    """`--token-env` is `token_env`: run takes every setting as a flag, explained by the same help text."""
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for setting in fields(Settings):
        assert cli_flag(setting.name) in shown, setting.name
        assert " ".join(setting.metadata["help"].split()) in shown, setting.name
