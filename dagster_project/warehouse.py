"""Connections to the DuckDB warehouse. DuckDB allows one writing process, so every caller opens a short-lived
connection and never holds it across steps; readers open it read-only."""

from __future__ import annotations

import os
import re
from pathlib import Path
from contextlib import contextmanager
from typing import Iterator

import duckdb

from dagster_project.settings import Settings


class WarehouseLocked(RuntimeError):
    """Another process holds the DuckDB write lock."""


_PID = re.compile(r"PID (\d+)")


def locked_error(settings: Settings, exc: Exception) -> WarehouseLocked | None:
    """The user-facing error for a lock conflict, or None when ``exc`` is something else."""
    if "lock" not in str(exc).lower():
        return None
    pid = _PID.search(str(exc))
    holder = f" (PID {pid.group(1)})" if pid else ""
    return WarehouseLocked(f"the warehouse {settings.warehouse} is locked by another process{holder}")


def restrict_to_owner(database: Path) -> None:
    """The warehouse holds henkilötunnus and contacts: the file and its WAL are the owner's only, also when an
    older version created them readable by others."""
    for path in (database, database.with_name(database.name + ".wal")):
        if path.exists() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


@contextmanager
def open_warehouse(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection in UTC; a lock held by another process becomes :class:`WarehouseLocked`."""
    if read_only and not settings.warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}: run `fleetdw run` first")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    if not read_only:
        restrict_to_owner(settings.warehouse)
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=read_only)
    except duckdb.IOException as exc:
        locked = locked_error(settings, exc)
        if locked:
            raise locked from None
        raise
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
