"""Starts and supervises the three services: action server, Rasa server, web app.

``python -m bot.services run`` is what ``make run`` calls; the end-to-end tests start the same
stack on free loopback ports with their own settings.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT, Settings, get_settings

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
# Known-harmless warnings of Rasa 3.6 and its pinned dependencies — deprecations inside them, the
# extractor-overlap note (DIET's entity recognition is off, so it does not apply), responses sent
# by actions rather than stories — silenced wherever Rasa runs, so real problems stand out.
RASA_WARNING_FILTERS = ",".join(
    (
        "ignore::DeprecationWarning",
        "ignore::PendingDeprecationWarning",
        "ignore::FutureWarning",
        "ignore:You have an overlap:UserWarning",
        "ignore:The utterance:UserWarning",
    )
)
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"


@dataclass
class Service:
    name: str
    command: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)


GENERATED_SECRETS = (
    "ZHIXUN_RASA_TOKEN",
    "ZHIXUN_SECRET_KEY",
    "ZHIXUN_ACTION_SERVER_TOKEN",
    "ZHIXUN_GATEWAY_TOKEN",
)


def ensure_dotenv(path: Path = PROJECT_ROOT / ".env") -> None:
    """Generate the git-ignored .env with fresh secrets on first run; never overwrite it."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = []
    for key in GENERATED_SECRETS:
        if f"{key}=" not in existing:
            lines.append(f"{key}={secrets.token_urlsafe(32)}")
    # Outside production, a demo key for /api/chat (the README's curl); the web app registers it.
    if "ZHIXUN_DEMO_API_KEY=" not in existing and not Settings(_env_file=path).is_production:
        from bot.apikeys.store import generate_key

        lines.append(f"ZHIXUN_DEMO_API_KEY={generate_key()}")
    append_private(path, "".join(f"{line}\n" for line in lines))


def append_private(path: Path, text: str) -> None:
    """Append to a file only its owner may read: created 0600 (never readable by others, not
    even for a moment), and an existing file is tightened to 0600 before anything is added."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        os.fchmod(fd, 0o600)
        handle.write(text)


def write_endpoints(settings: Settings) -> Path:
    """The committed endpoints.yml with this deployment's action URL and tracker database.

    The action server's secret stays a ``${ZHIXUN_ACTION_SERVER_TOKEN}`` reference that Rasa
    fills from its environment: the file holds no secret."""
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = f"http://{settings.host}:{settings.action_port}/webhook"
    if endpoints.get("tracker_store", {}).get("dialect") == "sqlite":
        settings.rasa_tracker_db.parent.mkdir(parents=True, exist_ok=True)
        endpoints["tracker_store"]["db"] = str(settings.rasa_tracker_db)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
    return path


def service_secrets(settings: Settings) -> dict[str, str]:
    """What Rasa and the action server need to trust each other and the web app, handed over in
    their environment (``ps`` shows the command line to everyone on the machine)."""
    return {
        "ZHIXUN_RASA_TOKEN": settings.rasa_token,
        "ZHIXUN_ACTION_SERVER_TOKEN": settings.action_server_token,
        "ZHIXUN_GATEWAY_TOKEN": settings.gateway_token,
    }


ACTION_SERVER_MAX_BODY_BYTES = 8 * 1024 * 1024


def stack_services(settings: Settings, endpoints: Path | None = None) -> list[Service]:
    """The three services; ``endpoints`` (a cluster's Rasa endpoints file) or the one
    ``write_endpoints`` makes for this single stack."""
    host = settings.host
    secrets_env = service_secrets(settings)
    common_env = {
        "RASA_TELEMETRY_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    # Rasa and the action server answer many conversations at once, each turn in one thread:
    # OpenMP teams (faiss, the e5 engine) only wake extra threads that then spin (measured:
    # ~100 ms of CPU a policy question in the action server with them, ~7 ms without).
    one_thread = {"OMP_NUM_THREADS": "1"}
    return [
        Service(
            "action server",
            [
                str(APP_PYTHON),
                "-m",
                "actions.server",
                "--host",
                host,
                "--port",
                str(settings.action_port),
            ],
            f"http://{host}:{settings.action_port}/health",
            {
                **common_env,
                **one_thread,
                **secrets_env,
                # Rasa posts the whole tracker; a long conversation stays far below this, and an
                # unauthenticated caller cannot make the server buffer Sanic's default 100 MB.
                "SANIC_REQUEST_MAX_SIZE": str(ACTION_SERVER_MAX_BODY_BYTES),
            },
        ),
        Service(
            "Rasa server",
            [
                # `rasa run`, its API token taken from the environment (rasa_components/serve.py)
                str(RASA_PYTHON),
                "-m",
                "rasa_components.serve",
                "--enable-api",
                "--interface",
                host,
                "--port",
                str(settings.rasa_port),
                "--model",
                str(settings.rasa_model_dir),
                "--endpoints",
                str(endpoints or write_endpoints(settings)),
                "--credentials",
                str(PROJECT_ROOT / "credentials.yml"),
            ],
            f"http://{host}:{settings.rasa_port}/status?token={settings.rasa_token}",
            {
                **common_env,
                **one_thread,
                **secrets_env,
                "PYTHONWARNINGS": RASA_WARNING_FILTERS,
                # The event broker writes into the app database (endpoints.yml: url_env).
                "ZHIXUN_DATABASE_URL": settings.database_url,
                # Sanic counts the bytes it actually reads, chunked bodies included.
                "SANIC_REQUEST_MAX_SIZE": str(settings.rasa_max_body_bytes),
            },
        ),
        Service(
            "web app",
            [
                str(APP_PYTHON),
                "-m",
                "uvicorn",
                "--factory",
                "bot.gateway.app:create_asgi_app",
                "--host",
                host,
                "--port",
                str(settings.web_port),
                # One websocket frame may otherwise be 16 MiB; the chat needs a few KB.
                "--ws-max-size",
                str(settings.max_body_bytes),
            ],
            f"http://{host}:{settings.web_port}/healthz",
            {**common_env, **secrets_env},
        ),
    ]


def _is_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Stack:
    """The running services; stops every child on exit, whatever happens."""

    def __init__(self, services: list[Service], env: dict[str, str], log_dir: Path) -> None:
        self.services = services
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, timeout_seconds: float = 300) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            log = (self.log_dir / f"{service.name.replace(' ', '-')}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    service.command,
                    cwd=PROJECT_ROOT,
                    env={**self.env, **service.env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout_seconds
        for service, process in zip(self.services, self.processes, strict=True):
            while not _is_ready(service.ready_url):
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"{service.name} exited with {process.returncode}; "
                        f"see {self.log_dir}/{service.name.replace(' ', '-')}.log"
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"{service.name} not ready after {timeout_seconds:.0f}s")
                time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def start_stack(settings: Settings, env: dict[str, str], log_dir: Path) -> Stack:
    stack = Stack(stack_services(settings), env, log_dir)
    stack.start()
    return stack


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_scratch_stack(
    root: Path, overrides: dict[str, str] | None = None
) -> tuple[Settings, dict[str, str], Stack]:
    """The whole stack on free loopback ports with a throwaway SQLite store (migrated, seeded
    with the demo records) and tracker database under ``root``: for end-to-end tests and
    benchmarks, never touching the developer's own data. ``overrides``: more ``ZHIXUN_*``."""
    from bot.apikeys.store import generate_key

    values = {
        "ZHIXUN_WEB_PORT": str(free_port()),
        "ZHIXUN_RASA_PORT": str(free_port()),
        "ZHIXUN_ACTION_PORT": str(free_port()),
        **{key: secrets.token_urlsafe(32) for key in GENERATED_SECRETS},
        "ZHIXUN_DATABASE_URL": f"sqlite:///{root / 'zhixun.db'}",
        "ZHIXUN_RASA_TRACKER_DB": str(root / "rasa_tracker.db"),
        "ZHIXUN_RUN_DIR": str(root / "run"),
        "ZHIXUN_RASA_URL": "",
        # Registered by the web app on start: the tests' and benchmarks' key for /api/chat.
        "ZHIXUN_DEMO_API_KEY": generate_key(),
        **(overrides or {}),
    }
    env = {**os.environ, **values}
    settings = Settings(
        _env_file=None, **{k.removeprefix("ZHIXUN_").lower(): v for k, v in values.items()}
    )
    for module, command in (("bot.store", "upgrade"), ("bot.status", "seed")):
        subprocess.run(
            [sys.executable, "-m", module, command], cwd=PROJECT_ROOT, env=env, check=True
        )
    return settings, env, start_stack(settings, env, root / "logs")


def run() -> None:
    ensure_dotenv()
    get_settings.cache_clear()
    settings = get_settings()
    stack = Stack(stack_services(settings), dict(os.environ), settings.run_dir / "logs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("Starting the action server, the Rasa server and the web app …", flush=True)
    try:
        stack.start()
        base = f"http://{settings.host}"
        print(
            "\n智询 is running:\n"
            f"  citizen portal + chat widget  {base}:{settings.web_port}/\n"
            f"  chat API for integrations     {base}:{settings.web_port}/api/chat\n"
            f"  staff console (sign in)       {base}:{settings.web_port}/console\n"
            f"  analytics (admins)            {base}:{settings.web_port}/console/analytics\n"
            f"  API docs                      {base}:{settings.web_port}/docs\n"
            f"  Rasa REST channel             {base}:{settings.rasa_port}/webhooks/rest/webhook\n"
            f"  Rasa HTTP API (token in .env) {base}:{settings.rasa_port}/model/parse?token=…\n"
            f"  action server                 {base}:{settings.action_port}/health\n"
            f"  logs                          {settings.run_dir / 'logs'}\n"
            "Terminal chat: make chat.  Stop: Ctrl-C.",
            flush=True,
        )
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        print("A service stopped unexpectedly; shutting down the others.", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nStopping …", flush=True)
    finally:
        stack.stop()
