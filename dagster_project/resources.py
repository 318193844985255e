"""Dagster resources: the DuckDB warehouse, configured from the environment (no path hard-coded)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import dagster as dg
import duckdb

from dagster_project.settings import Settings


class WarehouseLocked(RuntimeError):
    """Another process holds the DuckDB write lock."""


_PID = re.compile(r"PID (\d+)")


@contextmanager
def open_warehouse(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection; DuckDB allows one writing process, so callers never hold it across steps."""
    if read_only and not settings.warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}: run `fleetdw run` first")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            pid = _PID.search(str(exc))
            holder = f" (PID {pid.group(1)})" if pid else ""
            raise WarehouseLocked(f"the warehouse {settings.warehouse} is locked by another process{holder}") from None
        raise
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


class WarehouseResource(dg.ConfigurableResource):
    """The fleetdw home, warehouse file, landing zone and as-of date. Empty fields fall back to ``FLEETDW_*``."""

    home: str = ""
    warehouse: str = ""
    landing: str = ""
    as_of: str = ""

    def settings(self) -> Settings:
        return Settings.resolve(self.home or None, self.warehouse or None, self.landing or None, self.as_of or None)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.settings(), read_only=read_only) as con:
            yield con
