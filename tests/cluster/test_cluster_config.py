"""The cluster's generated configuration and its command line, without starting anything
(the live cluster: test_cluster_live.py, ``make test-cluster``)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import psycopg
import pytest
import yaml

from bot.cluster.endpoints import cluster_endpoints, write_cluster_endpoints
from bot.cluster.haproxy import INSTANCE_HEADER, RETRY_TEXT, render_haproxy, write_haproxy
from bot.cluster.launcher import cluster_env, instance_processes, main
from bot.cluster.layout import ClusterConfigError, Instance, build_layout, database_names
from bot.cluster.postgres import (
    create_missing_databases,
    drop_databases,
    terminate_connections,
)
from bot.settings import PROJECT_ROOT, Settings

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, rasa_token="t-rasa", action_server_token="t-action", **values)


def test_default_layout_ports_and_databases() -> None:
    layout = build_layout(settings())
    assert [(i.web_port, i.rasa_port, i.action_port) for i in layout.instances] == [
        (18010, 18011, 18012),
        (18020, 18021, 18022),
    ]
    assert layout.databases.all == ("zhixun", "zhixun_tracker")
    assert layout.database_url("zhixun") == "postgresql://postgres@127.0.0.1:5432/zhixun"
    assert layout.public_origins[0] == "http://127.0.0.1:8000"


@pytest.mark.parametrize("count", [0, -1, 17, 10**12, True, "2", 2.0])
def test_instance_count_out_of_range_is_refused(count: object) -> None:
    with pytest.raises(ClusterConfigError, match="instances"):
        build_layout(settings(), count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "prefix",
    ["", "Zhixun", "zhixun; DROP DATABASE test", 'x"y', "1abc", "z" * 60, "智询", "a-b", "a\nb"],
)
def test_hostile_database_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ClusterConfigError, match="PREFIX"):
        database_names(prefix)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cluster_postgres_url", "mysql://127.0.0.1/x"),
        ("cluster_postgres_url", "postgresql://postgres@127.0.0.1:5432/zhixun"),
        ("cluster_postgres_url", "not a url"),
        ("cluster_redis_url", "http://127.0.0.1:6379"),
        ("cluster_backend_port_base", 65530),
        ("cluster_backend_port_base", 80),
        ("cluster_rasa_api_port", 8000),
    ],
)
def test_bad_cluster_settings_say_which(name: str, value: object) -> None:
    with pytest.raises(ClusterConfigError):
        build_layout(settings(**{name: value}))


def test_instance_port_colliding_with_the_balancer_is_refused() -> None:
    with pytest.raises(ClusterConfigError, match="collides"):
        build_layout(settings(), 1, (Instance(1, 8000, 18001, 18002),))


def test_endpoints_put_trackers_in_postgres_locks_in_redis_and_no_password_in_the_file(
    tmp_path,
) -> None:
    layout = build_layout(
        settings(
            cluster_postgres_url="postgresql://zx:pg-secret-1@db.internal:6543",
            cluster_redis_url="redis://:redis-secret-2@cache.internal:6380/3",
        )
    )
    endpoints = cluster_endpoints(layout)
    committed = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["tracker_store"] == {
        "type": "rasa_components.cluster_store.ClusterTrackerStore",
        # Whatever store class the committed endpoints name, now on PostgreSQL.
        "base_store": committed["tracker_store"]["type"],
        "dialect": "postgresql",
        "url": "db.internal",
        "port": 6543,
        "db": "zhixun_tracker",
        "username": "zx",
        "password": "${ZHIXUN_CLUSTER_POSTGRES_PASSWORD}",
    }
    assert endpoints["lock_store"]["type"] == "rasa_components.cluster_store.ClusterLockStore"
    assert endpoints["lock_store"]["db"] == 3 and endpoints["lock_store"]["port"] == 6380
    # The committed event broker writes to ZHIXUN_DATABASE_URL: the cluster's app database.
    assert endpoints["event_broker"] == committed.get("event_broker") or {
        "type": "SQL",
        **{k: v for k, v in endpoints["tracker_store"].items() if k not in ("type", "base_store")},
        "db": "zhixun",
    }
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"
    text = write_cluster_endpoints(layout, tmp_path).read_text(encoding="utf-8")
    assert "pg-secret-1" not in text and "redis-secret-2" not in text
    # Unquoted, so that Rasa expands it from the environment.
    assert "password: ${ZHIXUN_CLUSTER_POSTGRES_PASSWORD}" in text
    rasa = next(
        p
        for p in instance_processes(layout, layout.instances[0], tmp_path / "endpoints.yml")
        if p.name == "rasa-1"
    )
    assert rasa.env["ZHIXUN_CLUSTER_POSTGRES_PASSWORD"] == "pg-secret-1"
    assert not any("secret" in part for part in rasa.command)


def test_every_process_gets_its_secrets_in_the_environment_not_the_command_line(
    tmp_path,
) -> None:
    layout = build_layout(settings(gateway_token="t-gateway"))
    processes = [
        p
        for i in layout.instances
        for p in instance_processes(layout, i, tmp_path / "endpoints.yml")
    ]
    assert sorted(p.name for p in processes) == [
        "action-1",
        "action-2",
        "rasa-1",
        "rasa-2",
        "web-1",
        "web-2",
    ]
    for process in processes:
        assert not {"t-rasa", "t-action", "t-gateway"} & set(process.command)
        # Nothing a single stack would say (its SQLite file) reaches a cluster process.
        assert "sqlite" not in " ".join([*process.command, *process.env.values()])
        assert process.env["ZHIXUN_ACTION_SERVER_TOKEN"] == "t-action"
    shared = cluster_env(layout)
    assert shared["ZHIXUN_DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5432/zhixun"
    assert shared["ZHIXUN_RASA_URL"] == "http://127.0.0.1:5006"
    assert shared["ZHIXUN_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    # `python -m bot.privacy purge` anonymizes the cluster's trackers too.
    assert (
        shared["ZHIXUN_RASA_TRACKER_URL"] == "postgresql://postgres@127.0.0.1:5432/zhixun_tracker"
    )


@pytest.mark.parametrize("pinning", [False, True])
def test_haproxy_accepts_the_generated_configuration(tmp_path, pinning: bool) -> None:
    if shutil.which("haproxy") is None:
        pytest.fail("HAProxy is not installed: `make system-deps` installs it.")
    layout = build_layout(settings(cluster_instance_pinning=pinning), 3)
    config = write_haproxy(layout, tmp_path)
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = config.read_text(encoding="utf-8")
    assert text.count("    server rasa-") == 3 and text.count("    server web-") == 3
    assert ("use-server rasa-2" in text) is pinning
    assert "t-rasa" not in text and "t-action" not in text
    assert RETRY_TEXT in text


def test_balancer_shows_only_the_rest_channel_publicly() -> None:
    text = render_haproxy(build_layout(settings(host="0.0.0.0")), PROJECT_ROOT / "x.sock")
    public_rest = text.split("frontend rasa_rest", 1)[1].split("frontend", 1)[0]
    assert "bind 0.0.0.0:5005" in public_rest
    assert "deny deny_status 404 unless { path / } || { path_beg /webhooks/ }" in public_rest
    # The whole Rasa API and the action servers listen on loopback only.
    assert "bind 127.0.0.1:5006" in text and "bind 127.0.0.1:5055" in text
    # Only idempotent requests are retried once a server has seen them.
    assert text.count("disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS") == 2
    actions = text.split("\nbackend actions", 1)[1]
    assert "retry-on conn-failure empty-response" in actions and "disable-l7" not in actions
    assert f"set-header {INSTANCE_HEADER} %s" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--instances", "0"], "1 to 16"),
        (["--instances", "17"], "1 to 16"),
        (["--instances", "-3"], "1 to 16"),
    ],
)
def test_cli_refuses_a_bad_instance_count(argv: list[str], message: str, capsys) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--instances", "two"], ["--instances", "1e9"], ["--instances"], ["--bogus"]]
)
def test_cli_refuses_malformed_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_services_command_line_names_both_modes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.services", "cluster-nonsense"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "cluster [--instances N]" in result.stderr


@pytest.mark.parametrize("name", ["postgres; DROP DATABASE test", "Test", "", "template1 "])
def test_database_helpers_refuse_names_they_did_not_make(name: str) -> None:
    for helper in (create_missing_databases, drop_databases, terminate_connections):
        with pytest.raises(ClusterConfigError):
            helper(ADMIN_URL, [name])


@pytest.mark.postgres
def test_databases_created_once_cut_and_dropped() -> None:
    names = list(database_names(f"zhixun_test_{secrets.token_hex(4)}").all)
    try:
        assert create_missing_databases(ADMIN_URL, names) == names
        assert create_missing_databases(ADMIN_URL, names) == []
        url = f"postgresql://postgres@127.0.0.1:5432/{names[0]}"
        with (
            psycopg.connect(url) as ours,
            psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as other,
        ):
            assert terminate_connections(ADMIN_URL, names) == 1
            with pytest.raises(psycopg.OperationalError):
                ours.execute("SELECT 1")
            assert other.execute("SELECT 1").fetchone() == (1,)
    finally:
        drop_databases(ADMIN_URL, names)
    with psycopg.connect(ADMIN_URL) as admin:
        left = admin.execute(
            "SELECT count(*) FROM pg_database WHERE datname = ANY(%s)", (names,)
        ).fetchone()
    assert left == (0,)


def test_generated_endpoints_are_valid_yaml_for_rasa(tmp_path) -> None:
    path = write_cluster_endpoints(build_layout(settings()), tmp_path)
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(loaded) >= {"action_endpoint", "tracker_store", "lock_store", "event_broker"}
    assert loaded["lock_store"]["key_prefix"].isalnum()


RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
# Runs inside Rasa's environment: the store the cluster names, a connection cut while pooled.
CUT_CONNECTION_SCRIPT = """
import sys
import psycopg2
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
import asyncio
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.utils.endpoints import EndpointConfig

try:
    TrackerStore.create(EndpointConfig(
        type="rasa_components.cluster_store.ClusterTrackerStore",
        base_store="rasa.core.tracker_store.InMemoryTrackerStore",
    ))
except TypeError:
    print("refused in-memory")
# Loaded the way Rasa loads the cluster's endpoints file.
config = read_endpoints_from_path(sys.argv[2]).tracker_store
config.kwargs["db"] = sys.argv[1]
store = TrackerStore.create(config, Domain.empty())
print(type(store).__module__)
tracker = DialogueStateTracker.from_events("cut", [UserUttered("第一句")])
asyncio.run(store.save(tracker))
with store.engine.connect() as connection:
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
admin = psycopg2.connect("postgresql://postgres@127.0.0.1:5432/postgres")
admin.autocommit = True
admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
tracker.update(UserUttered("第二句"))
asyncio.run(store.save(tracker))
again = asyncio.run(store.retrieve("cut"))
print([e.text for e in again.events if isinstance(e, UserUttered)])
"""


@pytest.mark.postgres
def test_rasa_tracker_store_survives_a_cut_connection_and_refuses_other_stores(
    tmp_path,
) -> None:
    name = f"zhixun_test_{secrets.token_hex(4)}"
    endpoints = write_cluster_endpoints(build_layout(settings()), tmp_path)
    create_missing_databases(ADMIN_URL, [name])
    try:
        result = subprocess.run(
            [str(RASA_PYTHON), "-W", "ignore", "-c", CUT_CONNECTION_SCRIPT, name, str(endpoints)],
            cwd=PROJECT_ROOT,
            env={
                **os.environ,
                "ZHIXUN_ACTION_SERVER_TOKEN": "t-action",
                "ZHIXUN_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            },
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        drop_databases(ADMIN_URL, [name])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "refused in-memory"
    # Rasa built the cluster's store (the retrying subclass), not the bare committed class.
    assert "rasa_components.cluster_store" in lines, result.stdout
    # Both messages in PostgreSQL, once each: nothing fell back to Rasa's in-memory store.
    assert lines[-1] == "['第一句', '第二句']", result.stdout + result.stderr[-2000:]


# A turn waits in line for a conversation's lock while Redis restarts (its queue is lost).
REDIS_RESTART_SCRIPT = """
import asyncio, subprocess, sys, time
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

port, directory = sys.argv[1], sys.argv[2]
command = ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", directory]
redis = subprocess.Popen(command, stdout=subprocess.DEVNULL)
time.sleep(0.5)
store = LockStore.create(EndpointConfig(
    type="rasa_components.cluster_store.ClusterLockStore", url="127.0.0.1", port=int(port),
    db=0, key_prefix="zhixunlock",
))

async def first_turn():
    async with store.lock("c1"):
        await asyncio.sleep(2)  # Redis restarts meanwhile

async def second_turn():
    await asyncio.sleep(0.3)
    async with store.lock("c1"):
        return "served"

async def restart_redis():
    global redis
    await asyncio.sleep(0.8)
    redis.terminate(); redis.wait()
    await asyncio.sleep(0.5)
    redis = subprocess.Popen(command, stdout=subprocess.DEVNULL)

async def main():
    results = await asyncio.gather(first_turn(), second_turn(), restart_redis())
    print(results[1])

try:
    asyncio.run(main())
finally:
    redis.terminate()
"""


def test_rasa_lock_store_rides_out_a_redis_restart(tmp_path) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian package redis-server).")
    from bot.services import free_port

    result = subprocess.run(
        [
            str(RASA_PYTHON),
            "-W",
            "ignore",
            "-c",
            REDIS_RESTART_SCRIPT,
            str(free_port()),
            str(tmp_path),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "served", result.stdout
