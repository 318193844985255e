"""Marketing segments (RULES.md §1.4): declared once, as dbt models with ``meta.segment``
(``dbt/models/privacy/segments/segments.yml``), exported per channel to CSV and logged in ``ops.segment_exports``.

An export holds only persons eligible on that channel and only that channel's contact detail; the log line holds
the segment, channel, as-of, row count and the employee, never a person.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.manifest import load_manifest
from dagster_project.privacy.declarations import model_meta, relation_nodes
from dagster_project.privacy.ops_tables import ensure_ops_tables

PRIVACY_SCHEMA = "privacy"
CHANNELS = ("email", "sms", "phone", "post")


class ExportRefused(ValueError):
    """The export cannot be made as asked (unknown segment or channel, warehouse built for another day)."""


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    model: str
    columns: tuple[str, ...]      # segment-specific columns exported after person_id, channel, contact


def segments(manifest: dict[str, Any] | None = None) -> dict[str, Segment]:
    manifest = manifest or load_manifest()
    out: dict[str, Segment] = {}
    for node in relation_nodes(manifest):
        seg = model_meta(node).get("segment")
        if isinstance(seg, dict) and seg.get("name"):
            cols = tuple(c for c in node.get("columns", {}) if c != "person_id")
            out[seg["name"]] = Segment(seg["name"], seg.get("description", ""), node["name"], cols)
    return dict(sorted(out.items()))


# OWASP CSV injection: a cell beginning with one of these is a formula to a spreadsheet.
FORMULA_START = r"^[=+\-@\t\r]"


def spreadsheet_safe(expr: str) -> str:
    """The SQL of a text value a spreadsheet shows as text: one beginning with =, +, -, @, a tab or a carriage
    return gets a leading apostrophe, so no spreadsheet evaluates it."""
    text = f"cast({expr} as varchar)"
    return f"(case when regexp_matches({text}, '{FORMULA_START}') then chr(39) || {text} else {text} end)"


def spreadsheet_text(value: object) -> object:
    """The Python twin of :func:`spreadsheet_safe`, for files fleetdw writes itself (the DSAR export)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_sql(segment: Segment, channel: str) -> str:
    extra = "".join(", " + spreadsheet_safe(f's."{c}"') + f' as "{c}"' for c in segment.columns)
    return (
        f"select s.person_id, e.channel, {spreadsheet_safe('e.contact')} as contact{extra} "
        f"from {PRIVACY_SCHEMA}.{segment.model} as s "
        f"join {PRIVACY_SCHEMA}.marketing_eligibility as e on e.person_id = s.person_id "
        f"where e.channel = '{channel}' and e.eligible and e.contact is not null "
        # a request recorded after the last build still stops the export at once
        f"and s.person_id not in (select person_id from ops.erasure_requests where person_id is not null) "
        f"order by s.person_id"
    )


def built_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as-of date the privacy models were last built for (None when they are not built)."""
    try:
        row = con.execute(f"select max(as_of) from {PRIVACY_SCHEMA}.marketing_eligibility").fetchall()
    except duckdb.CatalogException:
        return None
    return row[0][0] if row else None


def actor() -> str:
    return os.environ.get("USER") or getpass.getuser()


def export_segment(con: duckdb.DuckDBPyConnection, segment_name: str, channel: str, as_of: date, out: Path,
                   export_id: str) -> int:
    """Write the segment's eligible persons on ``channel`` to ``out`` (CSV, renamed into place) and log the
    export. Returns the number of persons exported."""
    if channel not in CHANNELS:
        raise ExportRefused(f"unknown channel {channel}")
    segment = segments().get(segment_name)
    if segment is None:
        raise ExportRefused(f"unknown segment {segment_name}")
    ensure_ops_tables(con)
    built = built_as_of(con)
    if built != as_of:
        raise ExportRefused(f"the warehouse was built as of {built}, not {as_of}: run fleetdw run first")
    tmp = out.with_name(out.name + ".part")
    path_sql = str(tmp).replace("'", "''")
    con.execute(f"copy ({export_sql(segment, channel)}) to '{path_sql}' (format csv, header)")
    rows = int(con.execute(f"select count(*) from ({export_sql(segment, channel)})").fetchall()[0][0])
    os.replace(tmp, out)
    con.execute(
        "insert into ops.segment_exports (export_id, segment, channel, as_of, row_count, exported_at, "
        "exported_by) values (?, ?, ?, ?, ?, ?, ?)",
        [export_id, segment_name, channel, as_of, rows, datetime.now(timezone.utc), actor()])
    return rows
