"""DDL of the ``raw`` schema: one table per source, the quarantine, the file manifest and current-state views.

``raw.<source>`` keeps every accepted version of every row with its lineage (``_load_id``, ``_file``, ``_line``,
``_loaded_at``). ``raw.<source>_current`` is the state by key under the source's loading semantics:

* delta (CRM persons, companies, contracts, KYC): per key the greatest ``updated_at`` wins, ties go to the later file;
* event (fuel, wash, web, consents, drive log, location): per id the latest delivered version wins (a correction
  replaces it);
* full list (Robinson): the rows of the newest loaded file only.
"""

from __future__ import annotations

import duckdb

from ingest.contracts import SOURCES, Source
from ingest.validation import SQL_TYPES

CONTROL_DDL = """
create schema if not exists raw;
create table if not exists raw.file_manifest (
    load_id bigint primary key,
    source varchar not null,
    file_name varchar not null,
    content_hash varchar not null,
    size_bytes bigint,
    status varchar not null,            -- loaded | rejected
    reason varchar,                     -- why a file was rejected
    rows_in bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    drift_columns varchar[],
    run_id varchar,
    as_of date,
    loaded_at timestamptz,
    archive_path varchar
);
-- rows deliberately not stored (location pings without consent, RULES.md §2); added after the first release
alter table raw.file_manifest add column if not exists rows_withheld bigint default 0;
create table if not exists raw.duplicate_deliveries (
    source varchar not null,
    file_name varchar not null,
    content_hash varchar not null,
    duplicate_of_load_id bigint,
    run_id varchar,
    as_of date,
    seen_at timestamptz
);
create table if not exists raw.quarantine (
    load_id bigint not null,
    source varchar not null,
    file_name varchar not null,
    line bigint,
    reason varchar not null,
    raw_record varchar,
    quarantined_at timestamptz,
    as_of date
);
-- Vehicle events (fuel, wash) whose subject was erased keep counting in the company's costs: erasure clears the
-- plate and phone that linked them, and records here the contract the event belonged to (no personal data).
create table if not exists raw.anonymised_events (
    source varchar not null,
    event_id varchar not null,
    contract_id varchar not null,
    anonymised_at timestamptz not null
);
"""


def table_ddl(source: Source) -> str:
    cols = ",\n    ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in source.columns)
    return (
        f"create table if not exists raw.{source.name} (\n    {cols},\n"
        "    _load_id bigint not null,\n    _file varchar not null,\n    _line bigint not null,\n"
        "    _loaded_at timestamptz not null\n)"
    )


def current_view_ddl(source: Source) -> str:
    name = f"raw.{source.name}_current"
    if source.semantics == "full_list":
        return (
            f"create or replace view {name} as select * from raw.{source.name} where _load_id = "
            f"(select max(load_id) from raw.file_manifest where source = '{source.name}' and status = 'loaded')"
        )
    keys = ", ".join(f'"{k}"' for k in source.key)
    order = "_load_id desc, _line desc"
    if source.semantics == "delta":
        order = f'"{source.order_by}" desc, ' + order
    return (
        f"create or replace view {name} as select * from raw.{source.name} "
        f"qualify row_number() over (partition by {keys} order by {order}) = 1"
    )


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema, its control tables, one table per source and the current-state views."""
    con.execute(CONTROL_DDL)
    for source in SOURCES.values():
        con.execute(table_ddl(source))
        con.execute(current_view_ddl(source))


def portable_current_view_select(source: Source) -> str:
    """The SELECT of ``raw.<source>_current`` without DuckDB's QUALIFY (a ``row_number()`` subquery), for engines
    that read the raw layer from the Parquet lake (``dagster_project/lake``). Same rows as
    :func:`current_view_ddl`; NULL ordering is spelt out (DuckDB puts NULLs last either way)."""
    columns = ", ".join(f"`{c}`" for c in [*source.column_names, "_load_id", "_file", "_line", "_loaded_at"])
    if source.semantics == "full_list":
        return (f"select {columns} from raw.{source.name} where _load_id = (select max(load_id) from "
                f"raw.file_manifest where source = '{source.name}' and status = 'loaded')")
    keys = ", ".join(f"`{k}`" for k in source.key)
    order = "_load_id desc, _line desc"
    if source.semantics == "delta":
        order = f"`{source.order_by}` desc nulls last, " + order
    return (f"select {columns} from (select *, row_number() over (partition by {keys} order by {order}) "
            f"as _fleetdw_version_rank from raw.{source.name}) as versions where _fleetdw_version_rank = 1")
