"""Control tables of retention in schema ``ops`` (besides the shared ones of ``dagster_project/privacy/ops_tables.py``).

None of them holds a direct identifier of a customer: plans, audit rows, verification results and the DSAR log
are keyed by pseudonym. ``ops.legal_holds`` and ``ops.erasure_requests`` hold a person_id while they are open:
they are instructions about that person. Their declarations (``RETENTION_TABLES``) tell erasure what to do.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb

from dagster_project.privacy.ops_tables import ensure_ops_tables

RETENTION_DDL: dict[str, str] = {
    "legal_holds": """create table if not exists ops.legal_holds (
        person_id varchar not null, reason varchar, held_at timestamptz not null, released_at timestamptz)""",
    "retention_plans": """create table if not exists ops.retention_plans (
        plan_id varchar not null, run_id varchar, as_of date not null, created_at timestamptz not null,
        subjects bigint not null, persons bigint not null, by_reason json, protected json, gates json,
        shorter_policies json, blocked_by varchar[], status varchar not null)""",
    "retention_plan_subjects": """create table if not exists ops.retention_plan_subjects (
        plan_id varchar not null, person_pseudonym varchar not null, reason varchar not null)""",
    "retention_approvals": """create table if not exists ops.retention_approvals (
        plan_id varchar not null, approved_at timestamptz not null, approved_by varchar)""",
    "erasure_audit": """create table if not exists ops.erasure_audit (
        run_id varchar, as_of date not null, person_pseudonym varchar, policy varchar not null,
        table_name varchar not null, action varchar not null, rows bigint not null, executed_at timestamptz not null)""",
    "retention_runs": """create table if not exists ops.retention_runs (
        run_id varchar, as_of date not null, plan_id varchar, status varchar not null, blocked_by varchar[],
        erased_subjects bigint, rows_changed bigint, files_changed bigint, verification varchar not null,
        started_at timestamptz, finished_at timestamptz)""",
    "verification_results": """create table if not exists ops.verification_results (
        run_id varchar, as_of date, checked_at timestamptz not null, subjects bigint, identifiers bigint,
        tables_scanned bigint, table_hits bigint, file_hits bigint, archive_hits bigint, passed boolean not null)""",
    # Keyed fingerprints (HMAC, domain "erased") of the identifiers of an erasure whose verification failed, so
    # that `fleetdw retention verify` can look for them again without the values; dropped once it passes.
    "erasure_fingerprints": """create table if not exists ops.erasure_fingerprints (
        run_id varchar not null, fingerprint varchar not null)""",
    "pending_file_actions": """create table if not exists ops.pending_file_actions (
        run_id varchar not null, path varchar not null, action varchar not null, tmp_path varchar,
        done boolean not null default false)""",
    "dsar_exports": """create table if not exists ops.dsar_exports (
        exported_at timestamptz not null, person_pseudonym varchar not null, as_of date, sections bigint,
        rows bigint)""",
    # Rows an erasure kept for a legal obligation (KYC records, AML Act), with the day their own retention starts
    # from: the subject's CRM row, which held their relationship_end, is gone. Keys of rows, no personal data.
    "legal_retention": """create table if not exists ops.legal_retention (
        relation varchar not null, row_key varchar not null, retention_from date not null, run_id varchar,
        kept_at timestamptz not null)""",
    "quality_results": """create table if not exists ops.quality_results (
        run_id varchar, as_of date, checked_at timestamptz not null, suite varchar not null, rows bigint,
        expectations bigint, failed bigint, failed_rules varchar[], success boolean not null)""",
}

# Personal-data declarations of the retention control tables, in the shape of dagster_project/privacy/ops_tables.py.
_KEY_DELETE = {"personal_data": {"category": "user.unique_id", "subject": "person", "identifier": "key",
                                 "erasure": "delete"}}
_PSEUDO_KEEP = {"personal_data": {"category": "user.unique_id.pseudonymous", "subject": "person",
                                  "identifier": "key", "erasure": "retain_legal",
                                  "legal_basis": "GDPR Art. 5(2) accountability: proof of erasure and access"}}
RETENTION_TABLES: dict[str, dict[str, Any]] = {
    "legal_holds": {"subject_key": ["person_id"], "columns": {"person_id": _KEY_DELETE}},
    "retention_plan_subjects": {"subject_key": ["person_pseudonym"], "columns": {"person_pseudonym": _PSEUDO_KEEP}},
    "erasure_audit": {"subject_key": ["person_pseudonym"], "columns": {"person_pseudonym": _PSEUDO_KEEP}},
    "dsar_exports": {"subject_key": ["person_pseudonym"], "columns": {"person_pseudonym": _PSEUDO_KEEP}},
}


def now() -> datetime:
    return datetime.now(timezone.utc)


def ensure_control_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The shared ops tables (erasure requests, segment exports, reviews) and retention's own."""
    ensure_ops_tables(con)
    for ddl in RETENTION_DDL.values():
        con.execute(ddl)


def person_exists(con: duckdb.DuckDBPyConnection, person_id: str) -> bool:
    """Known to the warehouse: a CRM person (any version) or a contract party."""
    tables = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    if "crm_persons" in tables and con.execute(
            "select count(*) from raw.crm_persons where person_id = ?", [person_id]).fetchall()[0][0]:
        return True
    if "contracts" in tables and con.execute(
            "select count(*) from raw.contracts where customer_person_id = ? or driver_person_id = ?",
            [person_id, person_id]).fetchall()[0][0]:
        return True
    return False


def record_erasure_request(con: duckdb.DuckDBPyConnection, person_id: str, reason: str,
                           at: datetime | None = None) -> None:
    """``at``: when the request counts as made (``settings.as_of_clock``: the as-of day for a run on that day)."""
    ensure_control_tables(con)
    con.execute("insert into ops.erasure_requests (person_id, requested_at, reason) values (?, ?, ?)",
                [person_id, at or now(), reason])


def record_hold(con: duckdb.DuckDBPyConnection, person_id: str, reason: str) -> bool:
    """A new legal hold; False when one is already open."""
    ensure_control_tables(con)
    if con.execute("select count(*) from ops.legal_holds where person_id = ? and released_at is null",
                   [person_id]).fetchall()[0][0]:
        return False
    con.execute("insert into ops.legal_holds values (?, ?, ?, null)", [person_id, reason, now()])
    return True


def release_hold(con: duckdb.DuckDBPyConnection, person_id: str) -> int:
    ensure_control_tables(con)
    n = con.execute("select count(*) from ops.legal_holds where person_id = ? and released_at is null",
                    [person_id]).fetchall()[0][0]
    con.execute("update ops.legal_holds set released_at = ? where person_id = ? and released_at is null",
                [now(), person_id])
    return int(n)


def record_approval(con: duckdb.DuckDBPyConnection, plan_id: str, approved_by: str | None) -> bool:
    ensure_control_tables(con)
    if not con.execute("select count(*) from ops.retention_plans where plan_id = ?", [plan_id]).fetchall()[0][0]:
        return False
    con.execute("insert into ops.retention_approvals values (?, ?, ?)", [plan_id, now(), approved_by])
    return True
