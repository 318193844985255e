"""Who is due for erasure as of a date, and the gates (RULES.md §6) that decide whether deletion may run.

A :class:`Plan` holds person ids in memory only; what is persisted (``ops.retention_plans`` and
``ops.retention_plan_subjects``) are pseudonyms and counts. The plan id is a hash of the subjects' pseudonyms and
reasons, so a steward's approval applies to exactly that set of subjects, whatever day the run happens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.retention import policy as P
from dagster_project.retention.archive import expired_files
from dagster_project.retention.control import ensure_control_tables, now
from dagster_project.retention.selection import relation_exists
from ingest.bulk import insert_many


class WarehouseNotBuilt(FileNotFoundError):
    """The raw layer does not exist yet (no run so far)."""


@dataclass
class Plan:
    as_of: date
    persons: int                                   # persons in the CRM (current state)
    subjects: dict[str, str]                       # person_id -> reason (in memory only)
    pseudonyms: dict[str, str]                     # person_id -> pseudonym
    protected: dict[str, int] = field(default_factory=dict)   # why due persons are kept, counts
    shorter: dict[str, int] = field(default_factory=dict)     # rows/files due under the shorter policies

    @property
    def plan_id(self) -> str:
        body = "\n".join(sorted(f"{self.pseudonyms[p]}:{r}" for p, r in self.subjects.items()))
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    @property
    def by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for reason in self.subjects.values():
            out[reason] = out.get(reason, 0) + 1
        return dict(sorted(out.items()))

    @property
    def nothing_due(self) -> bool:
        return not self.subjects and not any(self.shorter.values())


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    metadata: dict[str, Any]
    description: str = ""


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    return con.execute(sql, params or []).fetchall()[0][0]


def pseudonymiser(home: Path):
    """``f(person_id) -> pseudonym`` under the warehouse's pseudonym key (``dagster_project.privacy.pseudonym``)."""
    from dagster_project.privacy.pseudonym import load_key, pseudonym

    key = load_key(home)
    return lambda person_id: pseudonym(key, "person", person_id)


def compute_plan(con: duckdb.DuckDBPyConnection, as_of: date, home: Path) -> Plan:
    """The subjects due as of ``as_of``: relationship ended before the cutoff and not protected, plus pending
    erasure requests of persons without a legal hold; and what the shorter policies would remove."""
    if not relation_exists(con, "raw.crm_persons"):
        raise WarehouseNotBuilt("the warehouse has no raw layer yet: run `fleetdw run` first")
    ensure_control_tables(con)
    cutoff = P.PERSON.cutoff(as_of)
    states = list(P.PROTECTING_CONTRACT_STATES)
    rows = con.execute(
        """
        with persons as (select person_id, relationship_end from raw.crm_persons_current),
        protecting as (
            select customer_person_id as person_id from raw.contracts_current where status in (select unnest(?))
            union select driver_person_id from raw.contracts_current where status in (select unnest(?))),
        held as (select distinct person_id from ops.legal_holds where released_at is null),
        requested as (select distinct person_id from ops.erasure_requests where executed_at is null)
        select p.person_id,
               p.relationship_end is not null and p.relationship_end < ? as due,
               p.person_id in (select person_id from protecting where person_id is not null) as has_contract,
               p.person_id in (select person_id from held) as held,
               p.person_id in (select person_id from requested) as requested
        from persons p
        """, [states, states, cutoff]).fetchall()
    persons = len(rows)
    # A request for a person who exists only as a contract party (no CRM row) is honoured too.
    known = {r[0] for r in rows}
    extra = con.execute(
        """select distinct r.person_id,
                  r.person_id in (select person_id from ops.legal_holds where released_at is null)
           from ops.erasure_requests r where r.executed_at is null""").fetchall()
    subjects: dict[str, str] = {}
    protected = {"active_or_ordered_contract": 0, "legal_hold": 0, "request_on_hold": 0}
    for person_id, due, has_contract, held, requested in rows:
        if requested:
            if held:
                protected["request_on_hold"] += 1
            else:
                subjects[person_id] = "erasure_request"
            continue
        if due:
            if held:
                protected["legal_hold"] += 1
            elif has_contract:
                protected["active_or_ordered_contract"] += 1
            else:
                subjects[person_id] = "retention_period"
    for person_id, held in extra:
        if person_id not in known:
            if held:
                protected["request_on_hold"] += 1
            else:
                subjects[person_id] = "erasure_request"
    pseudo = pseudonymiser(home)
    plan = Plan(as_of, persons, subjects, {p: pseudo(p) for p in subjects}, protected)
    plan.shorter = shorter_policy_counts(con, as_of)
    return plan


def shorter_policy_counts(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, int]:
    """Rows (or files) due under each shorter policy, counted by its planned rules (``policy.SHORTER_RULES``)."""
    out = {rule.policy.name: 0 for rule in P.SHORTER_RULES if rule.planned}
    for rule in P.SHORTER_RULES:
        if not rule.planned or not relation_exists(con, rule.relation):
            continue
        if rule.action == "delete_files":
            out[rule.policy.name] += len(expired_files(con, rule, as_of))
        else:
            out[rule.policy.name] += int(_scalar(con, rule.count_sql(), [rule.policy.cutoff(as_of)]))
    return out


# --- gates ----------------------------------------------------------------------------------------------------

def _gate(name: str, passed: bool, **metadata: Any) -> Gate:
    return Gate(name, bool(passed), metadata, dict(P.GATES)[name])


def gate_sources_fresh(con: duckdb.DuckDBPyConnection, as_of: date) -> Gate:
    meta: dict[str, Any] = {}
    ok = True
    for source in P.LIMITS.freshness_sources:
        last_loaded, latest_status = con.execute(
            """select max(as_of) filter (where status = 'loaded'),
                      arg_max(status, load_id)
               from raw.file_manifest where source = ?""", [source]).fetchall()[0]
        age = (as_of - last_loaded).days if last_loaded else None
        fresh = age is not None and 0 <= age <= P.LIMITS.freshness_days
        meta[f"{source}_days_since_load"] = -1 if age is None else age
        meta[f"{source}_latest_file_rejected"] = int(latest_status == "rejected")
        ok = ok and fresh and latest_status != "rejected"
    meta["freshness_days"] = P.LIMITS.freshness_days
    return _gate("sources_fresh", ok, **meta)


def gate_relationship_end_plausible(con: duckdb.DuckDBPyConnection, as_of: date) -> Gate:
    after, before_start, too_early = con.execute(
        """select count(*) filter (where relationship_end > ?),
                  count(*) filter (where relationship_end < relationship_start),
                  count(*) filter (where relationship_end < ?)
           from raw.crm_persons_current""", [as_of, P.LIMITS.earliest_relationship_end]).fetchall()[0]
    return _gate("relationship_end_plausible", after + before_start + too_early == 0,
                 end_after_as_of=int(after), end_before_start=int(before_start),
                 **{f"end_before_{P.LIMITS.earliest_relationship_end.year}": int(too_early)})


def gate_contract_persons_exist(con: duckdb.DuckDBPyConnection) -> Gate:
    customer, driver = con.execute(
        """select count(*) filter (where customer_person_id is not null and customer_person_id not in
                                   (select person_id from raw.crm_persons_current)),
                  count(*) filter (where driver_person_id is not null and driver_person_id not in
                                   (select person_id from raw.crm_persons_current))
           from raw.contracts_current""").fetchall()[0]
    return _gate("contract_persons_exist", customer + driver == 0, missing_customer_persons=int(customer),
                 missing_driver_persons=int(driver))


def gate_no_protected_subject(con: duckdb.DuckDBPyConnection, plan: Plan) -> Gate:
    """Re-checks the plan against the data (independently of how the plan was computed)."""
    states = list(P.PROTECTING_CONTRACT_STATES)
    timed = [p for p, r in plan.subjects.items() if r == "retention_period"]
    with_contract = _scalar(
        con, """select count(distinct p) from (select unnest(?) as p) s join raw.contracts_current c
                on c.status in (select unnest(?)) and (c.customer_person_id = s.p or c.driver_person_id = s.p)""",
        [timed or [""], states]) if timed else 0
    held = _scalar(
        con, """select count(distinct p) from (select unnest(?) as p) s join ops.legal_holds h
                on h.person_id = s.p and h.released_at is null""", [list(plan.subjects)]) if plan.subjects else 0
    return _gate("no_protected_subject_due", with_contract + held == 0, due_with_active_contract=int(with_contract),
                 due_with_legal_hold=int(held))


def volume_limit(persons: int) -> int:
    """2 % of persons, at most 500; at least one, so that a small register can erase a single subject."""
    return max(1, min(int(persons * P.LIMITS.max_share), P.LIMITS.max_subjects))


def gate_volume(con: duckdb.DuckDBPyConnection, plan: Plan) -> Gate:
    """The subjects a steward has not approved yet stay within the limit. A steward approves a plan (its exact
    subjects); a later plan that adds a few newly due subjects to an approved backlog — the run after the approval
    is a day later, and the cutoff moved — needs no second approval unless the additions exceed the limit."""
    limit = volume_limit(plan.persons)
    n = len(plan.subjects)
    approved = bool(_scalar(con, "select count(*) from ops.retention_approvals where plan_id = ?", [plan.plan_id]))
    approved_before = {p for (p,) in con.execute(
        """select distinct s.person_pseudonym from ops.retention_plan_subjects s
           join ops.retention_approvals a using (plan_id)""").fetchall()}
    unapproved = sum(1 for p in plan.subjects if plan.pseudonyms[p] not in approved_before)
    return _gate("volume_within_limit", unapproved <= limit or approved, subjects=n, unapproved=unapproved,
                 persons=plan.persons, limit=limit, approved=approved, plan_id=plan.plan_id)


def gate_previous_verification(con: duckdb.DuckDBPyConnection) -> Gate:
    last = con.execute("select passed from ops.verification_results order by checked_at desc limit 1").fetchall()
    return _gate("previous_verification_passed", not last or bool(last[0][0]),
                 previous_verification="none" if not last else ("passed" if last[0][0] else "failed"))


def evaluate_gates(con: duckdb.DuckDBPyConnection, plan: Plan) -> list[Gate]:
    ensure_control_tables(con)
    return [
        gate_sources_fresh(con, plan.as_of),
        gate_relationship_end_plausible(con, plan.as_of),
        gate_contract_persons_exist(con),
        gate_no_protected_subject(con, plan),
        gate_volume(con, plan),
        gate_previous_verification(con),
    ]


def blocked_by(gates: list[Gate]) -> list[str]:
    return [g.name for g in gates if not g.passed]


def save_plan(con: duckdb.DuckDBPyConnection, plan: Plan, gates: list[Gate], run_id: str | None) -> str:
    """Persist the plan (pseudonyms and counts) and the gate states; returns the plan id."""
    ensure_control_tables(con)
    blocked = blocked_by(gates)
    status = "nothing_due" if plan.nothing_due else ("blocked" if blocked else "ready")
    con.execute(
        "insert into ops.retention_plans values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [plan.plan_id, run_id, plan.as_of, now(), len(plan.subjects), plan.persons, json.dumps(plan.by_reason),
         json.dumps(plan.protected), json.dumps({g.name: {"passed": g.passed, **g.metadata} for g in gates}),
         json.dumps(plan.shorter), blocked, status])
    con.execute("delete from ops.retention_plan_subjects where plan_id = ?", [plan.plan_id])
    if plan.subjects:
        insert_many(con, "insert into ops.retention_plan_subjects values (?, ?, ?)",
                        [(plan.plan_id, plan.pseudonyms[p], r) for p, r in sorted(plan.subjects.items())])
    return plan.plan_id
