"""Issue 8, item 7 (secrets at rest): no service gets a secret on its command line (``ps`` shows
it to every user of the machine), ``.env`` is never readable by others, not even for a moment,
and the endpoints file Rasa reads holds no secret."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services import GENERATED_SECRETS, ensure_dotenv, stack_services, write_endpoints
from bot.settings import Settings
from rasa_components.serve import rasa_argv


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        rasa_token=secrets.token_urlsafe(32),
        secret_key=secrets.token_urlsafe(32),
        action_server_token=secrets.token_urlsafe(32),
        gateway_token=secrets.token_urlsafe(32),
        run_dir=tmp_path / "run",
        rasa_tracker_db=tmp_path / "tracker.db",
    )


def _secrets_of(settings: Settings) -> list[str]:
    return [
        settings.rasa_token,
        settings.secret_key,
        settings.action_server_token,
        settings.gateway_token,
    ]


def test_no_service_is_started_with_a_secret_on_its_command_line(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    services = stack_services(settings)
    assert {s.name for s in services} == {"action server", "Rasa server", "web app"}
    for service in services:
        command_line = " ".join(service.command)
        for secret in _secrets_of(settings):
            assert secret not in command_line, service.name
        assert not any(arg.startswith("--auth-token") for arg in service.command), service.name
    by_name = {s.name: s for s in services}
    # ... they reach the processes that need them through the environment instead.
    assert by_name["Rasa server"].env["ZHIXUN_RASA_TOKEN"] == settings.rasa_token
    for name in ("Rasa server", "action server"):
        env = by_name[name].env
        assert env["ZHIXUN_ACTION_SERVER_TOKEN"] == settings.action_server_token
    assert by_name["Rasa server"].env["ZHIXUN_GATEWAY_TOKEN"] == settings.gateway_token


def test_the_rasa_launcher_takes_the_token_from_the_environment_only() -> None:
    assert rasa_argv(["--enable-api", "--port", "5005"], "tok") == [
        "rasa",
        "run",
        "--auth-token",
        "tok",
        "--enable-api",
        "--port",
        "5005",
    ]
    with pytest.raises(SystemExit, match="ZHIXUN_RASA_TOKEN"):
        rasa_argv(["--auth-token", "visible-in-ps"], "tok")
    with pytest.raises(SystemExit, match="ZHIXUN_RASA_TOKEN"):
        rasa_argv(["--auth-token=visible-in-ps"], "tok")
    with pytest.raises(SystemExit, match="empty"):
        rasa_argv(["--enable-api"], "")


def test_endpoints_file_refers_to_the_action_server_secret_without_holding_it(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    text = write_endpoints(settings).read_text(encoding="utf-8")
    assert settings.action_server_token not in text
    # Unquoted, or Rasa would send the literal text instead of the secret.
    assert "X-Zhixun-Action-Token: ${ZHIXUN_ACTION_SERVER_TOKEN}\n" in text


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dotenv_is_created_owner_only_whatever_the_umask(
    tmp_path: Path, permissive_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Created 0600 by the open itself: with every later chmod disabled, the file must still
    be private, so there is no moment in which another user could read the secrets."""
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    monkeypatch.setattr(os, "fchmod", lambda *args, **kwargs: None)
    env = tmp_path / ".env"
    ensure_dotenv(env)
    assert _mode(env) == 0o600
    for key in GENERATED_SECRETS:
        assert f"{key}=" in env.read_text(encoding="utf-8")


def test_an_existing_readable_dotenv_is_made_private(
    tmp_path: Path, permissive_umask: None
) -> None:
    """Even when nothing is missing from it: an operator's copy made readable by others."""
    env = tmp_path / ".env"
    chosen = "".join(f"{key}=chosen-by-operator-{n}\n" for n, key in enumerate(GENERATED_SECRETS))
    env.write_text(chosen, encoding="utf-8")
    env.chmod(0o644)
    ensure_dotenv(env)
    assert _mode(env) == 0o600
    assert env.read_text(encoding="utf-8").startswith(chosen)
