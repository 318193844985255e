"""The raw layer as Parquet, for engines other than DuckDB (Spark): ``<home>/lake/<schema>/<table>/``.

DuckDB stays the loader and the embedded warehouse; the lake is a copy of what the dbt models read as sources,
kept in sync by the pipeline when ``FLEETDW_ENGINE=spark`` (the end of each raw step, and after retention changed
rows). Every ``raw.<source>`` (all versions, lineage ``_load_id, _file, _line, _loaded_at``) is written by
DuckDB's own ``COPY … (FORMAT parquet, PARTITION_BY (_load_id))``, one directory per load, so a later erasure or
a shorter retention policy rewrites only the loads whose rows changed. The small control tables the models read
(``raw.file_manifest``, ``raw.anonymised_events``, ``ops.erasure_requests``) are one file each.

Sync, not append: a load's partition is rewritten when its rows' fingerprint (count and sum of row hashes,
computed in DuckDB) differs from the one recorded at the last sync, and removed when the load is gone from
DuckDB. Erased personal data therefore does not survive in the lake (tests/test_lake.py). The fingerprints are
kept in ``_fleetdw_sync.json`` beside the partitions (a name Spark's file listing ignores). Files are the
owner's only (0600, directories 0700).

No Dagster import: the raw and retention assets, the tests and ``python -m dagster_project.lake`` call
:func:`sync_lake` / :func:`export_lake`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest.contracts import SOURCES

SYNC_STATE = "_fleetdw_sync.json"
# The lake's tables and their DuckDB column types (no data), for registering the lake on another engine.
TABLES_FILE = "_fleetdw_tables.json"
PARTITION = "_load_id"
# Control tables the dbt models read (dbt/models/staging/__sources.yml, macro erasure_requests_relation).
CONTROL_TABLES = ("raw.file_manifest", "raw.anonymised_events", "ops.erasure_requests")


def lake_dir(home: str | Path) -> Path:
    return Path(home) / "lake"


def source_tables() -> list[str]:
    return [f"raw.{name}" for name in SOURCES]


def all_tables() -> list[str]:
    return [*source_tables(), *CONTROL_TABLES]


@dataclass
class SyncOutcome:
    """What a sync did, in counts (never a value)."""

    tables: int = 0
    partitions_written: int = 0
    partitions_removed: int = 0
    partitions_kept: int = 0
    files_written: int = 0
    seconds: float = 0.0
    missing: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, int | float]:
        return {"lake_tables": self.tables, "lake_partitions_written": self.partitions_written,
                "lake_partitions_removed": self.partitions_removed, "lake_partitions_kept": self.partitions_kept,
                "lake_files_written": self.files_written, "lake_seconds": round(self.seconds, 2)}


def table_path(lake: Path, table: str) -> Path:
    schema, name = table.split(".")
    return lake / schema / name


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]] | None:
    schema, name = table.split(".")
    rows = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                       "and table_name = ? order by ordinal_position", [schema, name]).fetchall()
    return rows or None


def _fingerprint_sql(table: str, columns: list[tuple[str, str]], by_load: bool) -> str:
    cols = ", ".join(f'"{c}"' for c, _ in columns)
    select = f"count(*), sum(hash({cols})::hugeint)::varchar"
    if by_load:
        return f"select {PARTITION}, {select} from {table} group by {PARTITION}"
    return f"select {select} from {table}"


def _read_state(path: Path) -> dict[str, str]:
    try:
        return json.loads((path / SYNC_STATE).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_state(path: Path, state: dict[str, str]) -> None:
    tmp = path / (SYNC_STATE + ".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path / SYNC_STATE)


def _owner_only(root: Path) -> None:
    os.chmod(root, 0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o700)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o600)


def _mkdir_owner_only(path: Path) -> None:
    for p in reversed([path, *path.parents]):
        if not p.exists():
            p.mkdir(mode=0o700)
            os.chmod(p, 0o700)


def _sync_partitioned(con: duckdb.DuckDBPyConnection, table: str, columns, path: Path, out: SyncOutcome) -> None:
    state = _read_state(path)
    current = {str(load): f"{n}:{h}" for load, n, h in con.execute(_fingerprint_sql(table, columns, True)).fetchall()}
    on_disk = {p.name.split("=", 1)[1] for p in path.glob(f"{PARTITION}=*") if p.is_dir()}
    changed = sorted((k for k, v in current.items() if state.get(k) != v or k not in on_disk), key=int)
    gone = sorted(on_disk - current.keys(), key=int)
    out.partitions_kept += len(current) - len(changed)
    if changed:
        staging = path / f"_staging_{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        # in chunks, so that one statement's IN list stays short on a warehouse with thousands of loads
        for i in range(0, len(changed), 500):
            ids = ", ".join(changed[i:i + 500])
            con.execute(f"copy (select * from {table} where {PARTITION} in ({ids})) to '{staging}' "
                        f"(format parquet, partition_by ({PARTITION}), write_partition_columns true, "
                        f"overwrite_or_ignore true)")
        _owner_only(staging)
        for load in changed:
            target = path / f"{PARTITION}={load}"
            trash = path / f"_old_{PARTITION}={load}"
            if target.exists():
                os.replace(target, trash)
            os.replace(staging / f"{PARTITION}={load}", target)
            shutil.rmtree(trash, ignore_errors=True)
            out.files_written += sum(1 for _ in target.iterdir())
        shutil.rmtree(staging, ignore_errors=True)
        out.partitions_written += len(changed)
    for load in gone:
        shutil.rmtree(path / f"{PARTITION}={load}")
    out.partitions_removed += len(gone)
    if changed or gone or state != current:
        _write_state(path, current)


def _sync_whole(con: duckdb.DuckDBPyConnection, table: str, columns, path: Path, out: SyncOutcome) -> None:
    state = _read_state(path)
    n, h = con.execute(_fingerprint_sql(table, columns, False)).fetchone()
    current = {"table": f"{n}:{h}"}
    data = path / "data.parquet"
    if state == current and data.exists():
        out.partitions_kept += 1
        return
    tmp = path / "_data.parquet.tmp"
    con.execute(f"copy (select * from {table}) to '{tmp}' (format parquet)")
    os.chmod(tmp, 0o600)
    os.replace(tmp, data)
    out.partitions_written += 1
    out.files_written += 1
    _write_state(path, current)


def sync_lake(con: duckdb.DuckDBPyConnection, home: str | Path, tables: list[str] | None = None) -> SyncOutcome:
    """Bring ``<home>/lake`` in line with the warehouse on ``con`` for ``tables`` (default: every table the dbt
    models read). A table missing from the warehouse (an ops table not created yet) is exported as soon as it
    exists; until then the lake has none (Spark's registration then gives the models no rows, like DuckDB)."""
    t = time.monotonic()
    old_umask = os.umask(0o077)
    out = SyncOutcome()
    try:
        lake = lake_dir(home)
        _mkdir_owner_only(lake)
        for table in tables or all_tables():
            columns = _columns(con, table)
            path = table_path(lake, table)
            if columns is None:
                out.missing.append(table)
                shutil.rmtree(path, ignore_errors=True)
                continue
            _mkdir_owner_only(path)
            if any(c == PARTITION for c, _ in columns):
                _sync_partitioned(con, table, columns, path, out)
            else:
                _sync_whole(con, table, columns, path, out)
            out.tables += 1
        _write_tables_file(con, lake)
    finally:
        os.umask(old_umask)
    out.seconds = time.monotonic() - t
    return out


def _write_tables_file(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    """Merge the schemas of the tables present into ``<lake>/_fleetdw_tables.json`` (names and types only)."""
    schemas = {t: [list(c) for c in cols] for t, cols in table_schemas(con).items()
               if (table_path(lake, t)).exists()}
    tmp = lake / (TABLES_FILE + ".tmp")
    tmp.write_text(json.dumps(schemas, indent=1, sort_keys=True))
    os.chmod(tmp, 0o600)
    os.replace(tmp, lake / TABLES_FILE)


def read_tables_file(lake: Path) -> dict[str, list[tuple[str, str]]]:
    try:
        return {t: [tuple(c) for c in cols] for t, cols in json.loads((lake / TABLES_FILE).read_text()).items()}
    except FileNotFoundError:
        raise LakeError(f"no lake at {lake}: run the pipeline with FLEETDW_ENGINE=spark, or "
                        "`python -m dagster_project.lake export`") from None


class LakeError(RuntimeError):
    """A missing or unusable lake (a one-line user-facing message)."""


def sync_if_spark(settings, tables: list[str] | None = None) -> SyncOutcome | None:
    """The pipeline's hook: sync the lake of ``settings``' home when the engine is spark (else do nothing)."""
    if settings.engine != "spark":
        return None
    from dagster_project.warehouse import open_warehouse

    with open_warehouse(settings) as con:
        return sync_lake(con, settings.home, tables)


def export_lake(settings) -> SyncOutcome:
    """The whole lake of a home, from its warehouse (``settings``: :class:`dagster_project.settings.Settings`)."""
    from dagster_project.warehouse import open_warehouse

    with open_warehouse(settings, read_only=True) as con:
        return sync_lake(con, settings.home)


def table_schemas(con: duckdb.DuckDBPyConnection, tables: list[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """DuckDB column names and types of the lake's tables (those that exist)."""
    out = {}
    for table in tables or all_tables():
        columns = _columns(con, table)
        if columns is not None:
            out[table] = columns
    return out
