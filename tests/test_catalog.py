"""The project's copy of the service catalogue is the shared contract, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import get_catalog
from bot.settings import PROJECT_ROOT

SHARED_CATALOG = PROJECT_ROOT.parent / "shared" / "catalog" / "services.yaml"


def test_catalogue_has_forty_unique_services() -> None:
    catalog = get_catalog()
    assert len(catalog.services) == 40 == len(catalog.ids)
    assert catalog.get("residence-permit").department == "区公安分局户政科"


@pytest.mark.skipif(not SHARED_CATALOG.exists(), reason="no ../shared beside this checkout")
def test_catalogue_copy_equals_the_shared_contract() -> None:
    ours = (PROJECT_ROOT / "catalog" / "services.yaml").read_bytes()
    assert ours == Path(SHARED_CATALOG).read_bytes()
