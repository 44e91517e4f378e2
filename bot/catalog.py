"""The district's service catalogue: 40 services with stable ids (a contract)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.settings import get_settings


@dataclass(frozen=True)
class Service:
    id: str
    title: str
    department: str


@dataclass(frozen=True)
class Catalog:
    jurisdiction: str
    services: tuple[Service, ...]

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(s.id for s in self.services)


def load_catalog(path: Path) -> Catalog:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = tuple(Service(**entry) for entry in raw["services"])
    return Catalog(jurisdiction=raw["jurisdiction"], services=services)


@lru_cache
def get_catalog() -> Catalog:
    return load_catalog(get_settings().catalog_path)
