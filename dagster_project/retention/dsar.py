"""Access requests (GDPR Art. 15): everything held on one person, found the same way erasure finds it.

The export walks the same declaration-driven targets as erasure (raw tables, dbt tables: history, incremental
models, marts, privacy and profiling tables keyed by pseudonym, control tables) plus every dbt view that names
the person in its ``subject_key``, and adds the purposes and legal bases of the privacy statement. The export is
logged in ``ops.dsar_exports`` by pseudonym with counts, never its content.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.retention import selection as S
from dagster_project.retention.control import ensure_control_tables, now, person_exists
from dagster_project.warehouse import open_warehouse
from dagster_project.settings import Settings

PURPOSES = [
    {"purpose": "customer relationship and contracts", "legal_basis": "contract (private customers); legitimate "
     "interest (contact persons of business customers)"},
    {"purpose": "targeting offers and analysis, profiling for pricing and campaign offers",
     "legal_basis": "legitimate interest; you may object at any time (GDPR Art. 21)"},
    {"purpose": "electronic direct marketing to private persons", "legal_basis": "your prior consent"},
    {"purpose": "direct marketing by phone and post, and to business contacts",
     "legal_basis": "legitimate interest unless you object; the Robinson list is respected"},
    {"purpose": "automated decisions (pricing, campaign offers, credit assessment of new customers)",
     "legal_basis": "contract and legitimate interest; you may always demand a manual review (GDPR Art. 22)"},
    {"purpose": "bookkeeping and anti-money-laundering obligations",
     "legal_basis": "legal obligation (Accounting Act 1336/1997, Anti-Money-Laundering Act 444/2017)"},
    {"purpose": "web analytics (cookies)", "legal_basis": "consent for analytics cookies"},
]
RETENTION = ("processed for the duration of the relationship; deleted or anonymised 10 years after it ends "
             "(bookkeeping 10 years, customer due diligence 5 years after the relationship ends)")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [{n: _jsonable(v) for n, v in zip(names, row) if not n.startswith("_") or n in ("_file", "_line")}
            for row in cur.fetchall()]


def collect(con: duckdb.DuckDBPyConnection, person_id: str, pseudonym: str, manifest: dict[str, Any]
            ) -> dict[str, list[dict[str, Any]]]:
    targets = S.all_targets(con, manifest)
    S.stage_subjects(con, [(person_id, pseudonym, "access")], targets)
    S.stage_links(con, manifest, S.crm_phones(con))
    sections: dict[str, list[dict[str, Any]]] = {}
    for t in targets:
        S.select_rows(con, t)
        rows = _rows(con, S.selected_rows_sql(t.relation), [t.relation])
        if rows:
            sections[t.relation] = rows
    for relation, keys in S.subject_views(con, manifest).items():
        if relation in sections:
            continue
        values = [pseudonym if "pseudonym" in k else person_id for k in keys]
        cond = " or ".join(f'"{k}" = ?' for k in keys)
        rows = _rows(con, f"select * from {relation} where {cond}", values)
        if rows:
            sections[relation] = rows
    return sections


def export_person(settings: Settings, person_id: str, out: Path, force: bool = False) -> dict[str, int]:
    """Write everything held on the person to ``out`` (JSON; cells a spreadsheet would evaluate are written as
    text, see ``privacy.segments.spreadsheet_text``). An existing file is replaced only with ``force``."""
    from dagster_project.manifest import load_manifest
    from dagster_project.privacy.segments import spreadsheet_text
    from dagster_project.retention.plan import pseudonymiser

    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force to replace it)")

    manifest = load_manifest()
    pseudonym = pseudonymiser(settings.home)(person_id)
    with open_warehouse(settings) as con:
        if not person_exists(con, person_id):
            raise LookupError("unknown person (no CRM record and no contract refers to that id)")
        sections = collect(con, person_id, pseudonym, manifest)
        rows = sum(len(v) for v in sections.values())
        ensure_control_tables(con)
        con.execute("insert into ops.dsar_exports values (?, ?, ?, ?, ?)",
                    [now(), pseudonym, settings.as_of, len(sections), rows])
        from dagster_project.retention.register import answer_access_request
        answered = answer_access_request(con, pseudonym, settings.as_of, rows)
    document = {
        "subject": {"person_id": person_id, "pseudonym": pseudonym},
        "exported_at": now().isoformat(), "as_of": settings.as_of.isoformat(),
        "controller_statement": {"purposes": PURPOSES, "retention": RETENTION,
                                 "rights": ["access", "rectification", "erasure", "objection to direct marketing "
                                            "and profiling", "manual review of automated decisions"]},
        "sources": sorted({rel.split(".")[1].removesuffix("_current") for rel in sections if rel.startswith("raw.")}),
        "data": {rel: [{k: spreadsheet_text(v) for k, v in row.items()} for row in rows]
                 for rel, rows in sections.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str))
    os.replace(tmp, out)
    return {"sections": len(sections), "rows": rows, "answered": answered}
