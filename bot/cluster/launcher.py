"""Starts, supervises and stops a cluster: ``python -m bot.services cluster --instances N``.

Order: databases (created, migrated), then N action servers, N Rasa servers and N web apps on
loopback ports, then HAProxy in front. Every secret travels in a process's environment, never
on a command line. The supervisor restarts a process that dies (as systemd would in
production, docs/deploy.md) and stops everything on Ctrl-C."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from bot.cluster.endpoints import password_env, write_cluster_endpoints
from bot.cluster.haproxy import write_haproxy
from bot.cluster.layout import (
    LOOPBACK,
    MAX_INSTANCES,
    ClusterConfigError,
    ClusterLayout,
    Instance,
    build_layout,
    check_instance_count,
)
from bot.cluster.postgres import create_missing_databases, migrate_store
from bot.services import ensure_dotenv, stack_services
from bot.settings import PROJECT_ROOT, Settings, get_settings

READY_TIMEOUT_SECONDS = 600.0
# Rasa's PostgreSQL pools per engine (its default, 50 + 100, would let two servers alone exceed
# PostgreSQL's 100 connections); one event loop seldom holds more than a few at once.
RASA_POOL = {
    "SQL_POOL_SIZE": os.environ.get("SQL_POOL_SIZE", "5"),
    "SQL_MAX_OVERFLOW": os.environ.get("SQL_MAX_OVERFLOW", "10"),
}
# A process that dies more often than this within a minute is not restarted again.
MAX_RESTARTS_PER_MINUTE = 5


def http_ok(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return ready


def tcp_open(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return True
        except OSError:
            return False

    return ready


@dataclass
class Managed:
    name: str
    command: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]


def cluster_env(layout: ClusterLayout) -> dict[str, str]:
    """What every cluster process is told about where the shared state lives."""
    return {
        "ZHIXUN_HOST": LOOPBACK,
        "ZHIXUN_DATABASE_URL": layout.database_url(layout.databases.app),
        "ZHIXUN_RASA_TRACKER_URL": layout.database_url(layout.databases.tracker),
        "ZHIXUN_REDIS_URL": layout.settings.cluster_redis_url,
        "ZHIXUN_RASA_URL": layout.rasa_api_url,
        "ZHIXUN_ALLOWED_ORIGINS": ",".join(layout.public_origins),
    }


def instance_processes(layout: ClusterLayout, instance: Instance, endpoints: Path) -> list[Managed]:
    """The single stack's three services (bot/services/), on this instance's ports."""
    settings = layout.settings.model_copy(
        update={
            "host": LOOPBACK,
            "web_port": instance.web_port,
            "rasa_port": instance.rasa_port,
            "action_port": instance.action_port,
            "database_url": layout.database_url(layout.databases.app),
            "redis_url": layout.settings.cluster_redis_url,
            "rasa_url": layout.rasa_api_url,
        }
    )
    own = {
        "ZHIXUN_WEB_PORT": str(instance.web_port),
        "ZHIXUN_RASA_PORT": str(instance.rasa_port),
        "ZHIXUN_ACTION_PORT": str(instance.action_port),
        "ZHIXUN_INSTANCE_NAME": f"instance-{instance.number}",
    }
    names = {
        "action server": instance.action_name,
        "Rasa server": instance.rasa_name,
        "web app": instance.web_name,
    }
    processes = []
    for service in stack_services(settings, endpoints):
        extra = {**RASA_POOL, **password_env(layout)} if service.name == "Rasa server" else {}
        processes.append(
            Managed(
                names[service.name],
                service.command,
                {**service.env, **own, **extra},
                http_ok(service.ready_url),
            )
        )
    return processes


def haproxy_process(config: Path, layout: ClusterLayout) -> Managed:
    settings = layout.settings
    host = LOOPBACK if settings.host in ("0.0.0.0", "::") else settings.host
    return Managed(
        "haproxy",
        ["haproxy", "-db", "-f", str(config)],
        {},
        # Ready once the balancer has a healthy Rasa server and a healthy web app behind it.
        lambda: (
            http_ok(f"http://{host}:{settings.rasa_port}/")()
            and http_ok(f"http://{host}:{settings.web_port}/healthz")()
        ),
    )


@dataclass
class Step:
    """Processes started together, then waited for: until ``ready`` ones answer their health
    check and ``condition`` (if any) holds."""

    spawn: list[str]
    ready: list[str]
    condition: Callable[[], bool] | None = None


def rasa_tables_exist(layout: ClusterLayout) -> Callable[[], bool]:
    """Rasa creates its tracker table when it starts; two servers doing so at once collide on
    a fresh database, so the first one goes alone until it exists."""

    def exist() -> bool:
        url = layout.database_url(layout.databases.tracker)
        try:
            with psycopg.connect(url, connect_timeout=5) as connection:
                row = connection.execute("SELECT to_regclass('public.events')").fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] is not None

    return exist


class Cluster:
    """Named processes, each in its own session (its children die with it)."""

    def __init__(self, processes: list[Managed], base_env: dict[str, str], log_dir: Path) -> None:
        self.managed = {p.name: p for p in processes}
        self.base_env = base_env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str) -> None:
        managed = self.managed[name]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                managed.command,
                cwd=PROJECT_ROOT,
                env={**self.base_env, **managed.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(
        self,
        names: list[str],
        condition: Callable[[], bool] | None = None,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> None:
        deadline = time.monotonic() + timeout
        pending = list(names)
        waiting = condition is not None
        while pending or waiting:
            for name in self.processes:
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {process.returncode}; see {self.log_dir}/{name}.log"
                    )
            pending = [name for name in pending if not self.managed[name].ready()]
            waiting = waiting and not (condition is not None and condition())
            if (pending or waiting) and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending or waiting:
                time.sleep(0.5)

    def start(self, steps: list[Step]) -> None:
        try:
            for step in steps:
                for name in step.spawn:
                    self.spawn(name)
                self.wait_ready(step.ready, step.condition)
        except BaseException:
            self.stop()
            raise

    def send_signal(self, name: str, signum: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signum)
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self._reap(process)

    def restart(self, name: str, signum: int = signal.SIGTERM) -> None:
        self.send_signal(name, signum)
        self.spawn(name)
        self.wait_ready([name])

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            self._reap(process)

    @staticmethod
    def _reap(process: subprocess.Popen[bytes]) -> None:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def prepare(layout: ClusterLayout, env: dict[str, str]) -> tuple[Cluster, list[Step]]:
    """Databases created and migrated, configuration written: the cluster, ready to start."""
    settings = layout.settings
    create_missing_databases(layout.admin_url(), layout.databases.all)
    child_env = {**env, **cluster_env(layout)}
    migrate_store(child_env, seed_demo=not settings.is_production)
    directory = settings.cluster_dir
    endpoints = write_cluster_endpoints(layout, directory)
    processes = [
        p for instance in layout.instances for p in instance_processes(layout, instance, endpoints)
    ]
    processes.append(haproxy_process(write_haproxy(layout, directory), layout))
    rasa = [i.rasa_name for i in layout.instances]
    order = [
        Step([i.action_name for i in layout.instances], [i.action_name for i in layout.instances]),
        Step(rasa[:1], [], rasa_tables_exist(layout)),
        Step(rasa[1:], rasa),
        Step([i.web_name for i in layout.instances], [i.web_name for i in layout.instances]),
        Step(["haproxy"], ["haproxy"]),
    ]
    return Cluster(processes, child_env, directory / "logs"), order


def preflight(layout: ClusterLayout) -> None:
    """What the cluster needs from the machine, each missing piece said plainly."""
    if shutil.which("haproxy") is None:
        raise ClusterConfigError("haproxy is not installed: run `make system-deps`")
    model_dir = layout.settings.rasa_model_dir
    if not (model_dir.is_file() or any(model_dir.glob("*.tar.gz"))):
        raise ClusterConfigError(f"no trained Rasa model in {model_dir}: run `make model`")
    try:
        psycopg.connect(layout.admin_url(), connect_timeout=5).close()
    except psycopg.Error as error:
        raise ClusterConfigError(
            f"PostgreSQL at {layout.postgres.hostname}:{layout.postgres.port or 5432} "
            f"refused the connection ({type(error).__name__})"
        ) from None
    try:
        redis.Redis.from_url(layout.settings.cluster_redis_url, socket_timeout=5).ping()
    except redis.RedisError as error:
        raise ClusterConfigError(
            f"Redis at {layout.redis.hostname}:{layout.redis.port or 6379} does not answer "
            f"({type(error).__name__})"
        ) from None


def supervise(cluster: Cluster) -> None:
    """Restart whatever dies; give up on a process that keeps dying."""
    restarts: dict[str, list[float]] = {}
    while True:
        time.sleep(1)
        for name in list(cluster.processes):
            if cluster.alive(name):
                continue
            recent = [t for t in restarts.get(name, []) if time.monotonic() - t < 60]
            if len(recent) >= MAX_RESTARTS_PER_MINUTE:
                raise RuntimeError(f"{name} keeps exiting; see {cluster.log_dir}/{name}.log")
            print(f"{name} exited ({cluster.processes[name].returncode}); restarting", flush=True)
            restarts[name] = [*recent, time.monotonic()]
            cluster.spawn(name)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.services cluster",
        description="N instances of every service behind HAProxy, on PostgreSQL and Redis.",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=None,
        help=f"instances of each service, 1 to {MAX_INSTANCES} "
        "(default: ZHIXUN_CLUSTER_INSTANCES, 2)",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="create and migrate the databases, write the Rasa endpoints and the HAProxy "
        "configuration to ZHIXUN_CLUSTER_DIR, start nothing (for servers run by systemd)",
    )
    return parser.parse_args(argv)


def create_demo_staff(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "bot.staff", "demo"], cwd=PROJECT_ROOT, env=env)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        if args.instances is not None:
            check_instance_count(args.instances)
    except ClusterConfigError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 2
    ensure_dotenv()
    get_settings.cache_clear()
    settings: Settings = get_settings()
    try:
        layout = build_layout(settings, args.instances)
        preflight(layout)
    except ClusterConfigError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 2
    print(f"Preparing {len(layout.instances)} instance(s) of each service …", flush=True)
    cluster, order = prepare(layout, dict(os.environ))
    if args.prepare_only:
        print(f"Databases ready; configuration written to {settings.cluster_dir}", flush=True)
        return 0
    if not settings.is_production:
        create_demo_staff(cluster.base_env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start(order)
        base = f"http://{settings.host}"
        print(
            f"\n智询 cluster is running ({len(layout.instances)} of each service):\n"
            f"  citizen portal + chat widget  {base}:{settings.web_port}/\n"
            f"  Rasa REST channel             {base}:{settings.rasa_port}/webhooks/rest/webhook\n"
            f"  databases (PostgreSQL)        {', '.join(layout.databases.all)}\n"
            f"  generated configuration       {settings.cluster_dir}\n"
            f"  logs                          {cluster.log_dir}\n"
            "Stop: Ctrl-C.",
            flush=True,
        )
        supervise(cluster)
    except KeyboardInterrupt:
        print("\nStopping …", flush=True)
    except RuntimeError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0
