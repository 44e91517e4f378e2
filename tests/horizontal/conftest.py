"""Two real web-app instances (uvicorn processes on their own loopback ports) sharing one
database and one Redis, in front of one fake Rasa: what `make cluster` runs behind the load
balancer, without the balancer (each test picks the instance it talks to).

Redis is expected on 127.0.0.1:6379 (``ZHIXUN_TEST_REDIS_URL`` points elsewhere); every run
uses its own key prefix and pub/sub channels, and deletes its keys afterwards.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from argon2 import PasswordHasher
from sqlalchemy import Engine

from bot.apikeys.store import add_key
from bot.channels.api import conversation_of
from bot.handoff.tickets import HandoffRequest, open_ticket
from bot.settings import PROJECT_ROOT
from bot.staff import accounts
from bot.staff.accounts import add_staff
from bot.store import make_engine, upgrade
from tests.channels import peer
from tests.handoff.conftest import postgres_database
from tests.horizontal.fake_rasa import TOKEN, FakeRasa, FakeRasaServer

REDIS_URL = os.environ.get("ZHIXUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery"
ALWAYS_OPEN = "mon-sun 00:00-24:00"
# Only Redis can bring another instance's change to a console this fast: the store is read
# for unannounced changes every FEED_POLL_SECONDS.
FEED_POLL_SECONDS = 5.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not met in {timeout:.0f}s")


def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__})")
    return client


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    """This run's key prefix (and pub/sub channel prefix); its keys are deleted afterwards."""
    client = redis_client()
    prefix = f"zhixun-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_instance(name: str, env: dict[str, str], log_dir: Path) -> Instance:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bot.gateway.app:create_asgi_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **env, "ZHIXUN_WEB_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = Instance(name, port, process, log_file)
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{instance.url}/healthz", timeout=2).status_code == 200:
                return instance
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            instance.stop()
            raise RuntimeError(f"web app {name} did not start:\n{log_file.read_text()[-3000:]}")
        time.sleep(0.2)


@dataclass
class Cluster:
    """Instances ``a`` and ``b``, their shared store and Redis prefix, the fake Rasa."""

    a: Instance
    b: Instance
    engine: Engine
    rasa: FakeRasa
    redis_prefix: str
    api_key: Any
    api_secret: str

    def staff(self, name: str) -> str:
        """A new account (named ``name`` and a random tail); returns its username."""
        username = f"{name}-{secrets.token_hex(3)}"
        add_staff(self.engine, username, PASSWORD, display_name=f"{name}工")
        return username

    def login(self, instance: Instance, username: str) -> dict[str, str]:
        """Headers (cookie + CSRF) of a staff session; valid on every instance."""
        with instance.client() as client:
            response = client.post(
                "/api/session", json={"username": username, "password": PASSWORD}
            )
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("zhixun_staff")
        return {"X-CSRF-Token": response.json()["csrf_token"], "Cookie": f"zhixun_staff={cookie}"}

    def open_ticket(self, conversation_id: str, channel: str) -> int:
        """A citizen asked for a person: what the action server does (the ticket, the paused
        conversation)."""
        request = HandoffRequest(conversation_id, channel, "request_human", "居住证怎么办")
        ticket, created = open_ticket(self.engine, request)
        assert created
        with self.rasa.lock:
            self.rasa.paused.add(conversation_id)
        return ticket.id

    def api(self, instance: Instance) -> httpx.Client:
        return instance.client(headers={"Authorization": f"Bearer {self.api_secret}"})

    def api_conversation(self, sender: str) -> str:
        return conversation_of(self.api_key, sender)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The instances' shared database: one SQLite file, or a scratch PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'zhixun.db'}"
        upgrade(url)
        yield url
        return
    for url in postgres_database():
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_prefix: str, store_url: str
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("horizontal")
    url = store_url
    engine = make_engine(url)
    key, secret = add_key(engine, "horizontal-tests")
    rasa = FakeRasa(resume_delay=0.3)
    server = FakeRasaServer(rasa)
    server.start()
    env = {
        "ZHIXUN_ENVIRONMENT": "development",
        "ZHIXUN_HOST": "127.0.0.1",
        "ZHIXUN_DATABASE_URL": url,
        "ZHIXUN_REDIS_URL": REDIS_URL,
        "ZHIXUN_REDIS_PREFIX": redis_prefix,
        "ZHIXUN_SECRET_KEY": secrets.token_urlsafe(32),
        "ZHIXUN_RASA_URL": server.url,
        "ZHIXUN_RASA_TOKEN": TOKEN,
        "ZHIXUN_GATEWAY_TOKEN": "",
        "ZHIXUN_DEMO_API_KEY": "",
        "ZHIXUN_WORKING_HOURS": ALWAYS_OPEN,
        "ZHIXUN_HANDOFF_SWEEP_SECONDS": "0.05",
        "ZHIXUN_HANDOFF_FEED_POLL_SECONDS": str(FEED_POLL_SECONDS),
        "ZHIXUN_RUN_DIR": str(root / "run"),
        "ZHIXUN_VOICE_MODEL_DIR": str(root / "no-voice-model"),
        "ZHIXUN_STAFF_COOKIE_SECURE": "false",
        "ZHIXUN_WECHAT_TOKEN": peer.TOKEN,
        "ZHIXUN_WECHAT_APP_ID": peer.APP_ID,
        "ZHIXUN_WECHAT_APP_SECRET": peer.APP_SECRET,
        "ZHIXUN_WECHAT_AES_KEY": "",
        "ZHIXUN_WECHAT_ACCOUNT_ID": peer.ACCOUNT,
        # Nothing listens: every WeChat answer here is a passive reply.
        "ZHIXUN_WECHAT_API_BASE": f"http://127.0.0.1:{free_port()}",
    }
    instances: list[Instance] = []
    try:
        for name in ("a", "b"):
            instances.append(start_instance(name, env, root / "logs"))
        yield Cluster(instances[0], instances[1], engine, rasa, redis_prefix, key, secret)
    finally:
        for instance in instances:
            instance.stop()
        server.stop()
        engine.dispose()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts created by the tests hash cheaply; the instances verify whatever they find."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
