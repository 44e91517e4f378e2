"""The live cluster (test_cluster_live.py) runs with ``make test-cluster`` only: it starts two
of every service on PostgreSQL, a scratch Redis and HAProxy, minutes of CPU on two cores."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cluster.scratch import ScratchCluster, start_scratch_cluster
from bot.settings import PROJECT_ROOT

LIVE_ENV = "ZHIXUN_CLUSTER_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(LIVE_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"the live cluster runs with `make test-cluster` ({LIVE_ENV}=1)")
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: starts a whole cluster (make test-cluster)")


@pytest.fixture(scope="module")
def cluster() -> Iterator[ScratchCluster]:
    if not any((PROJECT_ROOT / "models").glob("*.tar.gz")):
        pytest.fail("No trained Rasa model in models/: run `make model` first.")
    scratch = start_scratch_cluster(
        Path(tempfile.mkdtemp(prefix="zhixun-cluster-")),
        2,
        {
            # The acceptance test steers each turn to an instance (from loopback only).
            "ZHIXUN_CLUSTER_INSTANCE_PINNING": "true",
            "ZHIXUN_WORKING_HOURS": "mon-sun 00:00-24:00",
            "ZHIXUN_HOLIDAYS": "",
        },
    )
    try:
        yield scratch
    finally:
        scratch.close()
