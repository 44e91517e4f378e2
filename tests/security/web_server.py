"""The web app alone, a real uvicorn process on a free loopback port, for attacks that need a
real server (chunked bodies, the socket.io handshake, what ends up in the log file).

No Rasa and no action server: the Rasa URL points at a closed port, which the web app survives.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from bot.apikeys.store import generate_key
from bot.services import Stack, free_port, stack_services
from bot.settings import Settings
from bot.store import upgrade

WECHAT_TOKEN = "wechat-test-token"


@dataclass
class WebServer:
    settings: Settings
    stack: Stack
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def api_key(self) -> str:
        return self.settings.demo_api_key

    @property
    def pid(self) -> int:
        return self.stack.processes[0].pid

    def memory_kib(self, field: str = "VmHWM") -> int:
        """From /proc: ``VmHWM`` is the peak resident memory so far, ``VmRSS`` the current."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise LookupError(field)

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.stack.stop()


def start_web_server(root: Path, overrides: dict[str, str] | None = None) -> WebServer:
    values = {
        "ZHIXUN_ENVIRONMENT": "development",
        "ZHIXUN_HOST": "127.0.0.1",
        "ZHIXUN_WEB_PORT": str(free_port()),
        "ZHIXUN_RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ZHIXUN_SECRET_KEY": secrets.token_urlsafe(32),
        "ZHIXUN_DATABASE_URL": f"sqlite:///{root / 'zhixun.db'}",
        "ZHIXUN_RUN_DIR": str(root / "run"),
        "ZHIXUN_DEMO_API_KEY": generate_key(),
        # No speech model to load in the background while memory is measured.
        "ZHIXUN_VOICE_MODEL_DIR": str(root / "no-voice-model"),
        "ZHIXUN_WECHAT_TOKEN": WECHAT_TOKEN,
        "ZHIXUN_WECHAT_APP_ID": "wx0123456789abcdef",
        "ZHIXUN_WECHAT_APP_SECRET": secrets.token_hex(16),
        "ZHIXUN_WECHAT_API_BASE": f"http://127.0.0.1:{free_port()}",
        **(overrides or {}),
    }
    settings = Settings(
        _env_file=None, **{k.removeprefix("ZHIXUN_").lower(): v for k, v in values.items()}
    )
    upgrade(settings.database_url)
    web_app = next(s for s in stack_services(settings) if s.name == "web app")
    stack = Stack([web_app], {**os.environ, **values}, root / "logs")
    stack.start(timeout_seconds=120)
    return WebServer(settings, stack, root / "logs" / "web-app.log")
