"""Rasa's endpoints for a cluster, from the committed endpoints.yml: the same tracker store
class (rasa_components/cluster_store.py replaces cut connections first) on PostgreSQL,
conversation locks in Redis, actions through the balancer. The event broker stays as committed:
it writes to the app database named by ZHIXUN_DATABASE_URL, which the cluster points at
PostgreSQL; without one, Rasa's SQL event broker writes there.

Passwords stay out of the file: ``${…}`` references Rasa fills from its environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.cluster.layout import ClusterLayout
from bot.settings import PROJECT_ROOT

POSTGRES_PASSWORD_ENV = "ZHIXUN_CLUSTER_POSTGRES_PASSWORD"
REDIS_PASSWORD_ENV = "ZHIXUN_CLUSTER_REDIS_PASSWORD"
# Rasa's lock store keys: "lock:<prefix>:<conversation>"; the prefix must be alphanumeric.
LOCK_KEY_PREFIX = "zhixunlock"
CLUSTER_TRACKER_STORE = "rasa_components.cluster_store.ClusterTrackerStore"
# Rasa's Redis lock store, riding out a Redis restart (rasa_components/cluster_store.py).
CLUSTER_LOCK_STORE = "rasa_components.cluster_store.ClusterLockStore"


def _postgres(layout: ClusterLayout, db: str) -> dict[str, Any]:
    pg = layout.postgres
    config: dict[str, Any] = {
        "dialect": "postgresql",
        "url": pg.hostname,
        "port": pg.port or 5432,
        "db": db,
    }
    if pg.username:
        config["username"] = pg.username
    if pg.password:
        config["password"] = f"${{{POSTGRES_PASSWORD_ENV}}}"
    return config


def _redis_db(layout: ClusterLayout) -> int:
    path = layout.redis.path.strip("/")
    return int(path) if path.isdigit() else 0


def cluster_endpoints(layout: ClusterLayout) -> dict[str, Any]:
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = layout.action_url
    committed = endpoints.get("tracker_store") or {}
    endpoints["tracker_store"] = {
        "type": CLUSTER_TRACKER_STORE,
        # Not "store_type": Rasa's EndpointConfig reads that key as "type".
        "base_store": committed.get("type") or "SQL",
        **_postgres(layout, layout.databases.tracker),
    }
    redis = layout.redis
    lock_store: dict[str, Any] = {
        "type": CLUSTER_LOCK_STORE,
        "url": redis.hostname,
        "port": redis.port or 6379,
        "db": _redis_db(layout),
        "key_prefix": LOCK_KEY_PREFIX,
    }
    if redis.password:
        lock_store["password"] = f"${{{REDIS_PASSWORD_ENV}}}"
    endpoints["lock_store"] = lock_store
    if not endpoints.get("event_broker"):
        endpoints["event_broker"] = {"type": "SQL", **_postgres(layout, layout.databases.app)}
    return endpoints


def password_env(layout: ClusterLayout) -> dict[str, str]:
    """The passwords the endpoints file refers to, for Rasa's environment."""
    env = {}
    if layout.postgres.password:
        env[POSTGRES_PASSWORD_ENV] = layout.postgres.password
    if layout.redis.password:
        env[REDIS_PASSWORD_ENV] = layout.redis.password
    return env


def write_cluster_endpoints(layout: ClusterLayout, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "endpoints.yml"
    text = yaml.safe_dump(cluster_endpoints(layout), allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path
