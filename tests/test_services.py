"""Process supervision helpers: secrets in .env, endpoints for Rasa, the service commands."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.services import GENERATED_SECRETS, ensure_dotenv, stack_services, write_endpoints
from bot.settings import Settings


def test_dotenv_is_generated_once_and_never_overwritten(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    ensure_dotenv(env)
    first = env.read_text()
    for key in GENERATED_SECRETS:
        assert f"{key}=" in first
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    ensure_dotenv(env)
    assert env.read_text() == first


def test_dotenv_keeps_operator_values_and_adds_missing(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("ZHIXUN_RASA_TOKEN=chosen-by-operator\n")
    ensure_dotenv(env)
    text = env.read_text()
    assert text.count("ZHIXUN_RASA_TOKEN=") == 1 and "chosen-by-operator" in text
    assert "ZHIXUN_SECRET_KEY=" in text


def test_endpoints_follow_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        action_port=6055,
        rasa_tracker_db=tmp_path / "t.db",
        run_dir=tmp_path / "run",
    )
    endpoints = yaml.safe_load(write_endpoints(settings).read_text())
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:6055/webhook"
    assert endpoints["tracker_store"]["db"] == str(tmp_path / "t.db")
    # Rasa fills the action server's secret from its environment when it reads the file.
    headers = endpoints["action_endpoint"]["headers"]
    assert headers == {"X-Zhixun-Action-Token": "${ZHIXUN_ACTION_SERVER_TOKEN}"}


def test_rasa_is_started_with_its_api_token_and_rest_channel(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, rasa_token="s3cret", rasa_max_body_bytes=4096, run_dir=tmp_path
    )
    rasa = next(s for s in stack_services(settings) if s.name == "Rasa server")
    assert rasa.command[1:3] == ["-m", "rasa_components.serve"]
    assert "--enable-api" in rasa.command
    assert "--credentials" in rasa.command
    assert rasa.env["ZHIXUN_RASA_TOKEN"] == "s3cret"
    assert rasa.env["SANIC_REQUEST_MAX_SIZE"] == "4096"
    assert rasa.env["RASA_TELEMETRY_ENABLED"] == "false"


def test_action_server_binds_the_configured_host(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, host="10.1.2.3", action_port=6055, run_dir=tmp_path)
    action = next(s for s in stack_services(settings) if s.name == "action server")
    assert action.command[1:3] == ["-m", "actions.server"]
    assert action.command[action.command.index("--host") + 1] == "10.1.2.3"
    assert action.command[action.command.index("--port") + 1] == "6055"
