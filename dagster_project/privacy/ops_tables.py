"""The warehouse's own control tables (schema ``ops``), which dbt does not build: their DDL and their
personal-data declarations, in the same shape as the dbt column ``meta.personal_data`` (see
``dagster_project/privacy/declarations.py``), so that erasure and access requests are driven by the same kind of declaration.

* ``ops.erasure_requests`` — Art. 17 requests, recorded by ``fleetdw erase`` and executed by the next run.
  The privacy models read it (``privacy_erased_persons``): a person with a request is never eligible for
  marketing, whether the request is pending or executed.
* ``ops.segment_exports`` — one line per marketing export (RULES.md §1.4). No person identifier is in it; the
  employee who exported is.
* ``ops.review_requests`` — manual reviews of automated decisions demanded by a person (GDPR Art. 22), keyed by
  the person's pseudonym only; a steward's resolution (outcome, when, by whom) stays on the line.
* ``ops.access_requests`` — the register of access requests (GDPR Art. 15, 12(3)): received, due and answered
  dates, keyed by the person's pseudonym only.

:func:`ensure_ops_tables` creates whatever is missing (``create ... if not exists``); every code path that reads
or writes these tables calls it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OPS_SCHEMA = "ops"


def _pd(category: str, subject: str, identifier: str, erasure: str, **extra: str) -> dict[str, Any]:
    return {"personal_data": {"category": category, "subject": subject, "identifier": identifier,
                              "erasure": erasure, **extra}}


@dataclass(frozen=True)
class OpsTable:
    name: str                      # table name inside schema ops
    ddl: str                       # create table if not exists ...
    description: str
    subject_key: list[str]         # columns holding the subject's key (person_id or a person pseudonym)
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)   # column -> meta (personal_data) or {}

    @property
    def relation(self) -> str:
        return f"{OPS_SCHEMA}.{self.name}"


OPS_TABLES: dict[str, OpsTable] = {t.name: t for t in (
    OpsTable(
        name="erasure_requests",
        description="Erasure requests (GDPR Art. 17): recorded by `fleetdw erase`, executed by the next run.",
        ddl="""create table if not exists ops.erasure_requests (
            person_id varchar not null,
            requested_at timestamptz not null,
            reason varchar,
            executed_at timestamptz
        )""",
        subject_key=["person_id"],
        columns={
            # The request itself must outlive the erasure (proof that it was honoured); after execution the
            # retention engineer replaces person_id by the pseudonym (erasure: anonymise).
            "person_id": _pd("user.unique_id", "person", "key", "anonymise"),
            "requested_at": {},
            "reason": _pd("user.content.free_text", "person", "direct", "anonymise"),
            "executed_at": {},
        },
    ),
    OpsTable(
        name="segment_exports",
        description="One line per marketing segment export (RULES.md §1.4): who, when, which segment and "
                    "channel, as of which date, how many rows. Never a person exported.",
        ddl="""create table if not exists ops.segment_exports (
            export_id varchar primary key,
            segment varchar not null,
            channel varchar not null,
            as_of date not null,
            row_count bigint not null,
            exported_at timestamptz not null,
            exported_by varchar
        )""",
        # The subject here is the employee who exported (a person, but not a customer).
        subject_key=["exported_by"],
        columns={
            "export_id": {},
            "segment": {},
            "channel": {},
            "as_of": {},
            "row_count": {},
            "exported_at": {},
            "exported_by": _pd("user.account.username", "person", "direct", "retain_legal",
                               legal_basis="GDPR Art. 5(2) accountability: who exported personal data",
                               role="employee"),
        },
    ),
    OpsTable(
        name="review_requests",
        description="Manual reviews of automated decisions demanded by a person (GDPR Art. 22), keyed by the "
                    "person's pseudonym; the queue a steward works through with the inputs that were used.",
        ddl="""create table if not exists ops.review_requests (
            request_id varchar primary key,
            person_pseudonym varchar not null,
            requested_at timestamptz not null,
            as_of date not null,
            decision varchar,
            model_version varchar,
            inputs_used varchar,
            status varchar not null default 'open',
            outcome varchar,
            resolved_at timestamptz,
            resolved_by varchar
        )""",
        subject_key=["person_pseudonym"],
        columns={
            "request_id": {},
            "person_pseudonym": _pd("user.unique_id.pseudonymous", "person", "key", "delete"),
            "requested_at": {},
            "as_of": {},
            "decision": _pd("user.financial.credit_score", "person", "none", "delete"),
            "model_version": {},
            "inputs_used": _pd("user.derived.profiling", "person", "quasi", "delete"),
            "status": {},
            "outcome": {},
            "resolved_at": {},
            "resolved_by": _pd("user.account.username", "person", "direct", "retain_legal",
                               legal_basis="GDPR Art. 5(2) accountability: who resolved the review",
                               role="employee"),
        },
    ),
    OpsTable(
        name="access_requests",
        description="The register of access requests (GDPR Art. 15): received (the as-of date of `fleetdw dsar "
                    "request`), due one month later (Art. 12(3)) and answered (the `fleetdw dsar export` that "
                    "answered it). Keyed by the person's pseudonym only.",
        ddl="""create table if not exists ops.access_requests (
            request_id varchar primary key,
            person_pseudonym varchar not null,
            received_on date not null,
            due_on date not null,
            registered_at timestamptz not null,
            answered_on date,
            answered_at timestamptz,
            rows_exported bigint
        )""",
        subject_key=["person_pseudonym"],
        columns={
            "request_id": {},
            # the register is the proof that the request was answered: it outlives an erasure, by pseudonym
            "person_pseudonym": _pd("user.unique_id.pseudonymous", "person", "key", "retain_legal",
                                    legal_basis="GDPR Art. 5(2) and 12: proof that access requests were answered"),
            "received_on": {}, "due_on": {}, "registered_at": {}, "answered_on": {}, "answered_at": {},
            "rows_exported": {},
        },
    ),
)}

# Columns added to control tables after their first version: a warehouse created by an older version gets them.
MIGRATIONS: tuple[str, ...] = (
    "alter table ops.review_requests add column if not exists outcome varchar",
    "alter table ops.review_requests add column if not exists resolved_at timestamptz",
    "alter table ops.review_requests add column if not exists resolved_by varchar",
)


def ensure_ops_tables(con: Any) -> None:
    """Create schema ``ops``, every control table that does not exist yet, and the columns of :data:`MIGRATIONS`."""
    con.execute(f"create schema if not exists {OPS_SCHEMA}")
    for table in OPS_TABLES.values():
        con.execute(table.ddl)
    for statement in MIGRATIONS:
        con.execute(statement)


def ops_table_exists(con: Any, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [OPS_SCHEMA, name]).fetchall()[0][0])
