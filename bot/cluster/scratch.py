"""A throwaway cluster for the cluster tests and the cluster bench: free loopback ports, its own
``zhixun_test_<random>`` databases (dropped on close) and its own redis-server on a scratch
port, so nothing touches the developer's data or the machine's Redis."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.apikeys.store import generate_key
from bot.cluster.launcher import Cluster, Managed, Step, prepare, tcp_open
from bot.cluster.layout import ClusterLayout, Instance, build_layout
from bot.cluster.postgres import drop_databases
from bot.services import GENERATED_SECRETS, free_port
from bot.settings import Settings

REDIS = "redis"


@dataclass
class ScratchCluster:
    layout: ClusterLayout
    cluster: Cluster
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return self.layout.settings

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}/webhooks/rest/webhook"

    def close(self) -> None:
        try:
            self.cluster.stop()
        finally:
            drop_databases(self.layout.admin_url(), self.layout.databases.all)


def redis_process(port: int, directory: Path) -> Managed:
    directory.mkdir(parents=True, exist_ok=True)
    return Managed(
        REDIS,
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        {},
        tcp_open(port),
    )


def start_scratch_cluster(
    root: Path, instances: int = 2, overrides: dict[str, str] | None = None
) -> ScratchCluster:
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    redis_port = free_port()
    values = {
        "ZHIXUN_WEB_PORT": str(free_port()),
        "ZHIXUN_RASA_PORT": str(free_port()),
        "ZHIXUN_ACTION_PORT": str(free_port()),
        "ZHIXUN_CLUSTER_RASA_API_PORT": str(free_port()),
        "ZHIXUN_CLUSTER_DATABASE_PREFIX": f"zhixun_test_{secrets.token_hex(4)}",
        "ZHIXUN_CLUSTER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ZHIXUN_CLUSTER_DIR": str(root / "cluster"),
        "ZHIXUN_RUN_DIR": str(root / "run"),
        **{key: secrets.token_urlsafe(32) for key in GENERATED_SECRETS},
        "ZHIXUN_DEMO_API_KEY": generate_key(),
        **(overrides or {}),
    }
    settings = Settings(
        _env_file=None, **{k.removeprefix("ZHIXUN_").lower(): v for k, v in values.items()}
    )
    ports = [free_port() for _ in range(3 * instances)]
    layout = build_layout(
        settings,
        instances,
        tuple(Instance(n + 1, *ports[3 * n : 3 * n + 3]) for n in range(instances)),
    )
    cluster, order = prepare_with_redis(layout, {**os.environ, **values}, redis_port, root)
    scratch = ScratchCluster(layout, cluster, cluster.base_env)
    try:
        cluster.start(order)
    except BaseException:
        drop_databases(layout.admin_url(), layout.databases.all)
        raise
    return scratch


def prepare_with_redis(
    layout: ClusterLayout, env: dict[str, str], redis_port: int, root: Path
) -> tuple[Cluster, list[Step]]:
    redis = redis_process(redis_port, root / "redis")
    scratch_redis = Cluster([redis], {}, root / "cluster" / "logs")
    scratch_redis.start([Step([REDIS], [REDIS])])
    try:
        cluster, order = prepare(layout, env)
    except BaseException:
        scratch_redis.stop()
        drop_databases(layout.admin_url(), layout.databases.all)
        raise
    # One cluster object owns every process, the scratch Redis included.
    cluster.managed[REDIS] = redis
    cluster.processes[REDIS] = scratch_redis.processes[REDIS]
    return cluster, order
