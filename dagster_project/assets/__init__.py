"""Asset modules. Each module of this package may define any of these module-level names, which
``dagster_project.definitions`` collects: ``ASSETS``, ``ASSET_CHECKS``, ``JOBS``, ``SENSORS``, ``SCHEDULES``
(lists) and ``RESOURCES`` (a dict), and ``summarise(settings, run_id) -> dict`` whose keys join the run summary
of ``fleetdw run``. A new concern is a new module; no central list to edit."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def asset_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{m.name}") for m in sorted(pkgutil.iter_modules(__path__),
                                                                           key=lambda m: m.name)]


def collect(name: str) -> list:
    out: list = []
    for module in asset_modules():
        out.extend(getattr(module, name, []))
    return out


def collect_resources() -> dict:
    out: dict = {}
    for module in asset_modules():
        out.update(getattr(module, "RESOURCES", {}))
    return out
