"""Whether the warehouse's dbt layer is up to date with its inputs, so that a run with nothing new does no dbt work.

What dbt builds from is: the raw layer (it changes only by a load or an erasure), the as-of date (ages, active
contracts, eligibility, segments) and one control table (``ops.erasure_requests``: a person with a request is never
eligible). The dbt step records, after a build that succeeded with every data test passing, the state of those
inputs it built from (``ops.dbt_builds``: counts and a load id, no personal data). Before a run the CLI compares the
current state with the last record; when they agree and no landing file is waiting, the run is launched without the
dbt assets (Dagster's asset selection: the run shows honestly that nothing was built), and everything else — raw
assets, privacy measurements, quality, retention plan and erasure — runs as always. A failed data test is never
recorded as up to date: the next run builds and tests again, so a finding cannot hide behind a skipped build.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone

import duckdb

from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse
from ingest.contracts import SOURCES
from ingest.loader import landing_files

DDL = """create table if not exists ops.dbt_builds (
    run_id varchar, as_of date not null, load_watermark bigint not null, erasure_requests bigint not null,
    erasure_runs bigint not null, built_at timestamptz not null)"""


@dataclass(frozen=True)
class InputState:
    as_of: date
    load_watermark: int      # the newest load in raw.file_manifest
    erasure_requests: int    # rows of ops.erasure_requests
    erasure_runs: int        # applied erasures (ops.retention_runs): each one changed the raw layer


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables "
                                               "where table_catalog = current_database()").fetchall()}


def _count(con: duckdb.DuckDBPyConnection, tables: set[str], relation: str, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0] or 0) if relation in tables else 0


def input_state(con: duckdb.DuckDBPyConnection, as_of: date) -> InputState:
    t = _tables(con)
    return InputState(
        as_of,
        _count(con, t, "raw.file_manifest", "select max(load_id) from raw.file_manifest"),
        _count(con, t, "ops.erasure_requests", "select count(*) from ops.erasure_requests"),
        _count(con, t, "ops.retention_runs", "select count(*) from ops.retention_runs where status = 'applied'"))


def record_build(con: duckdb.DuckDBPyConnection, run_id: str, state: InputState) -> None:
    con.execute("create schema if not exists ops")
    con.execute(DDL)
    con.execute("insert into ops.dbt_builds values (?, ?, ?, ?, ?, ?)",
                [run_id, state.as_of, state.load_watermark, state.erasure_requests, state.erasure_runs,
                 datetime.now(timezone.utc)])


def last_build(con: duckdb.DuckDBPyConnection) -> InputState | None:
    if "ops.dbt_builds" not in _tables(con):
        return None
    rows = con.execute("select as_of, load_watermark, erasure_requests, erasure_runs from ops.dbt_builds "
                       "order by built_at desc limit 1").fetchall()
    return InputState(*rows[0]) if rows else None


def files_waiting(settings: Settings) -> int:
    return sum(len(landing_files(settings.landing, s)) for s in SOURCES.values())


def up_to_date(settings: Settings) -> bool:
    """No landing file waiting, and the last successful build saw exactly the inputs the warehouse has now."""
    if not settings.warehouse.exists() or files_waiting(settings):
        return False
    with open_warehouse(settings, read_only=True) as con:
        last = last_build(con)
        return last is not None and last == input_state(con, settings.as_of)


def describe(state: InputState) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(state).items()}
