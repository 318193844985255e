"""Manual review of automated decisions (GDPR Art. 22): a person demands a review; stewards see the queue with
the inputs that were used.

The person id is turned into its pseudonym in this process and only the pseudonym is stored
(``ops.review_requests``); the id is never written to a log, a Dagster run or an error message.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from dagster_project.privacy.ops_tables import ensure_ops_tables, ops_table_exists
from dagster_project.privacy.pseudonym import load_key, pseudonym
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse

QUEUE_COLUMNS = ("request_id", "requested_at", "person_pseudonym", "decision", "model_version", "inputs_used",
                 "status", "outcome", "resolved_at")
OUTCOMES = ("upheld", "changed")


def _decision(con, pseudonym: str) -> tuple[str | None, str | None, str | None]:
    try:
        rows = con.execute("select decision, model_version, inputs_used from profiling.renewal_offer_decisions "
                           "where person_pseudonym = ?", [pseudonym]).fetchall()
    except Exception:
        rows = []
    return rows[0] if rows else (None, None, None)


def request_review(settings: Settings, person_id: str) -> dict[str, Any]:
    """Record a review request for a person; returns the request (pseudonym, decision, inputs)."""
    with open_warehouse(settings) as con:
        try:
            known = con.execute("select count(*) from staging.stg_crm__persons where person_id = ?",
                                [person_id.strip()]).fetchall()[0][0]
        except Exception:
            known = 0
        if not known:
            raise LookupError("no such person in the warehouse (check the id, or run `fleetdw run` first)")
        ensure_ops_tables(con)
        pseudo = pseudonym(load_key(settings.home), "person", person_id.strip())
        decision, version, inputs = _decision(con, pseudo)
        request = {"request_id": uuid.uuid4().hex[:12], "person_pseudonym": pseudo,
                   "requested_at": datetime.now(timezone.utc), "as_of": settings.as_of, "decision": decision,
                   "model_version": version, "inputs_used": inputs}
        con.execute("insert into ops.review_requests (request_id, person_pseudonym, requested_at, as_of, decision, "
                    "model_version, inputs_used) values ($request_id, $person_pseudonym, $requested_at, $as_of, "
                    "$decision, $model_version, $inputs_used)", request)
    return request


def review_queue(settings: Settings, include_closed: bool = False) -> list[tuple]:
    """The review requests (open ones unless ``include_closed``) as :data:`QUEUE_COLUMNS`: open ones first, oldest
    first (a warehouse not yet migrated has no resolutions: NULL)."""
    with open_warehouse(settings, read_only=True) as con:
        if not ops_table_exists(con, "review_requests"):
            return []
        have = {c for (c,) in con.execute("select column_name from information_schema.columns where "
                                          "table_schema = 'ops' and table_name = 'review_requests'").fetchall()}
        cols = ", ".join(c if c in have else f"null as {c}" for c in QUEUE_COLUMNS)
        return con.execute(f"select {cols} from ops.review_requests "
                           + ("" if include_closed else "where status = 'open' ")
                           + "order by status <> 'open', requested_at").fetchall()


def resolve_review(settings: Settings, request_id: str, outcome: str, resolved_by: str | None) -> dict[str, Any]:
    """A steward closes a review: the queue keeps the outcome (``upheld``: the automated decision stands;
    ``changed``: the reviewer changed it), when and by whom. An unknown or already closed id is a user error."""
    if outcome not in OUTCOMES:
        raise LookupError(f"unknown outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
    with open_warehouse(settings) as con:
        ensure_ops_tables(con)
        row = con.execute("select status, person_pseudonym from ops.review_requests where request_id = ?",
                          [request_id.strip()]).fetchall()
        if not row:
            raise LookupError(f"no review request {request_id!r}: see `fleetdw review list --all`")
        if row[0][0] != "open":
            raise LookupError(f"review request {request_id} is already {row[0][0]}")
        at = datetime.now(timezone.utc)
        con.execute("update ops.review_requests set status = 'closed', outcome = ?, resolved_at = ?, resolved_by = ? "
                    "where request_id = ?", [outcome, at, resolved_by, request_id.strip()])
    return {"request_id": request_id.strip(), "outcome": outcome, "resolved_at": at, "person_pseudonym": row[0][1]}
