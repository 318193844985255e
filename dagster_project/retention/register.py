"""The register of data-subject requests (RULES.md §7): access requests (``fleetdw dsar request``, answered by
``fleetdw dsar export``) and erasure requests (``fleetdw erase``, executed by a run under the gates), with the date
received, the date due — one month later, Art. 12(3): the same day of the next calendar month, or its last day
when that month is shorter — and the answer. Stewards list them open and overdue first.

Access requests are keyed by the person's pseudonym only (``ops.access_requests``). An erasure request holds the
person id while it is open (it is an instruction about that person) and the pseudonym once executed; the list shows
pseudonyms only.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import duckdb

from dagster_project.retention.control import ensure_control_tables, person_exists
from dagster_project.settings import HELSINKI, Settings
from dagster_project.warehouse import open_warehouse


def due_date(received: date) -> date:
    """One month after ``received`` (GDPR Art. 12(3)): the same day of the next month, or that month's last day."""
    year, month = received.year + (received.month == 12), received.month % 12 + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(received.day, last))


@dataclass
class Request:
    kind: str                 # access | erasure
    request_id: str
    person_pseudonym: str
    received_on: date
    due_on: date
    answered_on: date | None
    state: str                # open | overdue | answered
    outcome: str              # what answered it, or why it is still open

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}


def record_access_request(settings: Settings, person_id: str, pseudonym: str) -> Request:
    """Register an access request received on the as-of date. An unknown person is a user error."""
    with open_warehouse(settings) as con:
        if not person_exists(con, person_id.strip()):
            raise LookupError("unknown person (no CRM record and no contract refers to that id)")
        ensure_control_tables(con)
        request_id = "A" + uuid.uuid4().hex[:11]
        received = settings.as_of
        con.execute("insert into ops.access_requests (request_id, person_pseudonym, received_on, due_on, registered_at) "
                    "values (?, ?, ?, ?, ?)", [request_id, pseudonym, received, due_date(received),
                                               datetime.now(timezone.utc)])
    return Request("access", request_id, pseudonym, received, due_date(received), None, "open",
                   "waiting for `fleetdw dsar export`")


def answer_access_request(con: duckdb.DuckDBPyConnection, pseudonym: str, answered_on: date, rows: int) -> str | None:
    """Mark the person's oldest open access request answered by an export; returns its id (None: no request was
    open — an export without a registered request is still logged in ``ops.dsar_exports``)."""
    ensure_control_tables(con)
    open_ = con.execute("select request_id from ops.access_requests where person_pseudonym = ? and answered_on is "
                        "null order by received_on, registered_at limit 1", [pseudonym]).fetchall()
    if not open_:
        return None
    con.execute("update ops.access_requests set answered_on = ?, answered_at = ?, rows_exported = ? "
                "where request_id = ?", [answered_on, datetime.now(timezone.utc), rows, open_[0][0]])
    return open_[0][0]


def _state(answered: date | None, due: date, as_of: date) -> str:
    if answered is not None:
        return "answered"
    return "overdue" if as_of > due else "open"


def list_requests(settings: Settings, pseudonymise) -> list[Request]:
    """Every access and erasure request, open and overdue first (oldest due first), then answered ones."""
    out: list[Request] = []
    with open_warehouse(settings, read_only=True) as con:
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'ops'").fetchall()}
        if "access_requests" in tables:
            for rid, pseudo, received, due, answered, rows in con.execute(
                    "select request_id, person_pseudonym, received_on, due_on, answered_on, rows_exported "
                    "from ops.access_requests").fetchall():
                out.append(Request("access", rid, pseudo, received, due, answered,
                                   _state(answered, due, settings.as_of),
                                   f"exported {rows} rows" if answered else "waiting for `fleetdw dsar export`"))
        if "erasure_requests" in tables:
            out += _erasure_requests(con, tables, settings.as_of, pseudonymise)
    order = {"overdue": 0, "open": 1, "answered": 2}
    return sorted(out, key=lambda r: (order[r.state], r.due_on, r.request_id))


def _erasure_requests(con, tables: set[str], as_of: date, pseudonymise) -> list[Request]:
    """Erasure requests with their outcome: executed by which run, or what keeps them open (the gates that blocked
    the last retention run, a legal hold, or no run since)."""
    last = None
    if "retention_runs" in tables:
        rows = con.execute("select run_id, status, blocked_by from ops.retention_runs "
                           "order by finished_at desc nulls last limit 1").fetchall()
        last = rows[0] if rows else None
    held = set()
    if "legal_holds" in tables:
        held = {p for (p,) in con.execute("select person_id from ops.legal_holds where released_at is null").fetchall()}
    # a request is answered on the as-of day of the run that executed it: the run's clock, as for every rule
    run_days: dict[str, date] = {}
    if "retention_runs" in tables:
        run_days = dict(con.execute("select run_id, as_of from ops.retention_runs where status = 'applied'").fetchall())
    executed_by: dict[str, str] = {}
    if "erasure_audit" in tables:
        executed_by = dict(con.execute("select person_pseudonym, min(run_id) from ops.erasure_audit where policy = "
                                       "'erasure_request' and person_pseudonym is not null group by all").fetchall())
    out = []
    for i, (person, requested_at, executed_at) in enumerate(con.execute(
            "select person_id, requested_at, executed_at from ops.erasure_requests order by requested_at").fetchall()):
        # the days of the company's calendar (as the as-of date and the privacy models' local_date): a request
        # recorded at 00:30 in Helsinki is received that day, not on the day before as in UTC
        received = requested_at.astimezone(HELSINKI).date()
        # executed: the key column already holds the pseudonym (erasure pseudonymises it)
        pseudo = person if executed_at is not None else pseudonymise(person)
        answered = None
        if executed_at is not None:
            run = executed_by.get(pseudo)
            answered = run_days.get(run) or executed_at.astimezone(HELSINKI).date()
            outcome = f"executed by run {run or '?'}"
        elif person in held:
            outcome = "kept: a legal hold is in place"
        elif last and last[1] == "blocked":
            outcome = f"blocked by gate(s) {', '.join(last[2])} (run {last[0]})"
        else:
            outcome = "waiting for the next run"
        out.append(Request("erasure", f"E{received:%Y%m%d}-{i + 1}", pseudo, received, due_date(received), answered,
                           _state(answered, due_date(received), as_of), outcome))
    return out
