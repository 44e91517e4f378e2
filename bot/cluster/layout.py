"""Where every part of a cluster listens and what it connects to, derived from the one settings
object: the single source the Rasa endpoints, the HAProxy configuration and each process's
environment are generated from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from bot.settings import Settings

MAX_INSTANCES = 16
# PostgreSQL identifiers we create ourselves: CREATE DATABASE takes no bound parameters.
DATABASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
LOOPBACK = "127.0.0.1"


class ClusterConfigError(ValueError):
    """A setting the cluster cannot be built from; ``str()`` says which and why."""


@dataclass(frozen=True)
class Instance:
    """One of each service, numbered from 1, on its own loopback ports."""

    number: int
    web_port: int
    rasa_port: int
    action_port: int

    @property
    def web_name(self) -> str:
        return f"web-{self.number}"

    @property
    def rasa_name(self) -> str:
        return f"rasa-{self.number}"

    @property
    def action_name(self) -> str:
        return f"action-{self.number}"


@dataclass(frozen=True)
class Databases:
    """The app's store (its ``events`` table is Rasa's event store: the event broker of
    endpoints.yml writes there, analytics reads it) and Rasa's trackers."""

    app: str
    tracker: str

    @property
    def all(self) -> tuple[str, str]:
        return (self.app, self.tracker)


@dataclass(frozen=True)
class ClusterLayout:
    settings: Settings
    instances: tuple[Instance, ...]
    databases: Databases

    @property
    def postgres(self) -> SplitResult:
        return urlsplit(self.settings.cluster_postgres_url)

    @property
    def redis(self) -> SplitResult:
        return urlsplit(self.settings.cluster_redis_url)

    def database_url(self, name: str) -> str:
        """libpq URL of one cluster database: the app (bot.store) reads it with psycopg 3,
        Rasa's SQLAlchemy with psycopg2."""
        return f"postgresql://{self.postgres.netloc}/{name}"

    def admin_url(self) -> str:
        """libpq URL of the maintenance database, for creating and dropping ours."""
        return f"postgresql://{self.postgres.netloc}/postgres"

    @property
    def rasa_api_url(self) -> str:
        """The whole Rasa HTTP API through the balancer, loopback only: for the web apps."""
        return f"http://{LOOPBACK}:{self.settings.cluster_rasa_api_port}"

    @property
    def action_url(self) -> str:
        return f"http://{LOOPBACK}:{self.settings.action_port}/webhook"

    @property
    def public_origins(self) -> list[str]:
        """Browser origins of the balanced web port (the widget's socket.io checks them)."""
        configured = [o for o in self.settings.allowed_origins.split(",") if o.strip()]
        if configured:
            return [o.strip().rstrip("/") for o in configured]
        port = self.settings.web_port
        hosts = [LOOPBACK, "localhost"]
        if self.settings.host not in (*hosts, "0.0.0.0", "::"):
            hosts.append(self.settings.host)
        return [f"http://{h}:{port}" for h in hosts]


def database_names(prefix: str) -> Databases:
    if not DATABASE_NAME.match(prefix):
        raise ClusterConfigError(
            "ZHIXUN_CLUSTER_DATABASE_PREFIX must be lower-case letters, digits and _ "
            f"(at most 41, starting with a letter), not {prefix[:60]!r}"
        )
    return Databases(app=prefix, tracker=f"{prefix}_tracker")


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ClusterConfigError(f"ZHIXUN_{name} must be a {schemes[0]}:// URL with a host")
    if parts.path.strip("/") and name == "CLUSTER_POSTGRES_URL":
        raise ClusterConfigError(
            "ZHIXUN_CLUSTER_POSTGRES_URL names the server only (no database): the cluster "
            "creates its databases from ZHIXUN_CLUSTER_DATABASE_PREFIX"
        )


def instances_from_base(count: int, base: int) -> tuple[Instance, ...]:
    """Instance n on base+10n (web), +1 (Rasa), +2 (action server)."""
    if base < 1024 or base + 10 * count + 2 > 65535:
        raise ClusterConfigError(
            f"ZHIXUN_CLUSTER_BACKEND_PORT_BASE {base} leaves no room for {count} instances"
        )
    return tuple(
        Instance(n, base + 10 * n, base + 10 * n + 1, base + 10 * n + 2)
        for n in range(1, count + 1)
    )


def check_instance_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int):
        raise ClusterConfigError("the number of instances must be a whole number")
    if not 1 <= count <= MAX_INSTANCES:
        raise ClusterConfigError(f"the number of instances must be 1 to {MAX_INSTANCES}")
    return count


def build_layout(
    settings: Settings, count: int | None = None, instances: tuple[Instance, ...] | None = None
) -> ClusterLayout:
    """The cluster ``settings`` describe; ``instances`` replaces the port arithmetic (tests)."""
    count = check_instance_count(settings.cluster_instances if count is None else count)
    _check_url("CLUSTER_POSTGRES_URL", settings.cluster_postgres_url, ("postgresql",))
    _check_url("CLUSTER_REDIS_URL", settings.cluster_redis_url, ("redis",))
    if instances is None:
        instances = instances_from_base(count, settings.cluster_backend_port_base)
    public = {settings.web_port, settings.rasa_port, settings.cluster_rasa_api_port}
    public.add(settings.action_port)
    if len(public) < 4:
        raise ClusterConfigError("the balancer's four ports must differ")
    backends = {p for i in instances for p in (i.web_port, i.rasa_port, i.action_port)}
    if backends & public:
        raise ClusterConfigError("an instance port collides with a balancer port")
    return ClusterLayout(settings, instances, database_names(settings.cluster_database_prefix))
