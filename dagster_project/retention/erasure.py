"""Erasure: apply a plan through every layer, rewrite the database file, verify, and only then swap it in.

The step the pipeline runs, :func:`run_retention`, plans, re-verifies every gate and erases only when all pass.
:func:`apply_plan` then

1. checkpoints the live file and, holding its write lock, copies it into a work directory (``swap.py``);
2. selects the subjects' rows of every relation the declarations name (``selection.py``) and starts writing the
   landing-archive files they came from without their lines (``archive.py``) on a thread of its own;
3. meanwhile applies every table change (raw, history, incremental models, marts, profiling, control tables,
   quarantine, the shorter policies of ``policy.SHORTER_RULES``), the audit rows and the pending file actions in
   **one transaction** on the copy;
4. writes a fresh file with ``COPY FROM DATABASE``, waits for the archive files, and verifies them and the fresh
   file against the erased identifiers, which exist only in this process's memory (``verify.py``);
5. swaps the fresh file in and completes the file actions (``swap.py``). A crash at any point leaves the old or
   the new state, never a mix.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.manifest import load_manifest
from dagster_project.retention import policy as P
from dagster_project.retention import selection as S
from dagster_project.retention.archive import BackgroundRewrite, FileAction, plan_archive
from dagster_project.retention.control import ensure_control_tables, now
from dagster_project.retention.needles import pattern
from dagster_project.retention.plan import Plan, blocked_by, compute_plan, evaluate_gates, save_plan
from dagster_project.retention.swap import (copy_live, crash_point, record_file_actions, recover, swap_in,
                                            work_files, write_fresh)
from dagster_project.privacy.pseudonym import load_key
from dagster_project.retention.verify import (fingerprints, needles_to_verify, record_fingerprints,
                                              record_verification, verify)
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse
from ingest.contracts import SOURCES
from ingest.raw_schema import ensure_raw_schema
from ingest.bulk import insert_many


@dataclass
class Outcome:
    status: str                       # applied | blocked | nothing_due
    blocked_by: list[str] = field(default_factory=list)
    erased_subjects: int = 0
    rows_changed: int = 0
    files_changed: int = 0
    verification: str = "not_run"     # passed | failed | not_run
    plan_id: str | None = None
    verification_detail: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)   # seconds per phase (benchmark)

    def lap(self, phase: str, since: float) -> float:
        t = time.monotonic()
        self.timings[phase] = round(t - since, 2)
        return t


def run_retention(settings: Settings, run_id: str | None, manifest: dict[str, Any] | None = None) -> Outcome:
    """Plan, re-verify every gate, and erase only when all pass. Records the outcome in ``ops.retention_runs``."""
    recover(settings)
    started = now()
    with open_warehouse(settings) as con:
        plan = compute_plan(con, settings.as_of, settings.home)
        gates = evaluate_gates(con, plan)
        plan_id = save_plan(con, plan, gates, run_id)
        blocked = blocked_by(gates)
        if blocked or plan.nothing_due:
            outcome = Outcome("blocked" if blocked else "nothing_due", blocked, plan_id=plan_id)
            con.execute("insert into ops.retention_runs values (?, ?, ?, ?, ?, 0, 0, 0, 'not_run', ?, ?)",
                        [run_id, settings.as_of, plan_id, outcome.status, blocked, started, now()])
            return outcome
    return apply_plan(settings, plan, run_id, manifest or load_manifest(), started)


def apply_plan(settings: Settings, plan: Plan, run_id: str | None, manifest: dict[str, Any], started=None
               ) -> Outcome:
    run_id = run_id or "manual"
    live = settings.warehouse
    work_dir, work, fresh = work_files(live, run_id)
    outcome = Outcome("applied", plan_id=plan.plan_id, erased_subjects=len(plan.subjects))
    t = time.monotonic()
    with open_warehouse(settings) as lock, ExitStack() as rewriting:   # hold the write lock until the swap
        copy_live(lock, live, work)
        t = outcome.lap("work_copy", t)
        con = duckdb.connect(str(work))
        try:
            con.execute("set TimeZone = 'UTC'")
            final_needles, archive, retained = _erase_in(con, settings, plan, run_id, manifest, outcome, rewriting)
            archive_actions = archive.work.actions
            archive.check(final_needles)                    # the archive part of the verification, queued
            t = time.monotonic()
            crash_point("after_commit")
            write_fresh(con, fresh)
        finally:
            con.close()
        t = outcome.lap("copy_from_database", t)
        archive.wait()                                      # every rewritten file is complete before it is read
        outcome.timings["archive_rewrite"] = archive.seconds
        t = outcome.lap("archive_wait", t)
        crash_point("after_copy")
        lake = _sync_lake_from(fresh, settings)
        detail, kept = verify(fresh, final_needles, [Path(t) for _, a, t in archive_actions if a == "replace"],
                              [Path(p) for p, a, _ in archive_actions if a == "delete"], retained,
                              archive_hits=archive.archive_hits(), lake=lake)
        t = outcome.lap("verification", t)
        outcome.verification = "passed" if detail["passed"] else "failed"
        outcome.verification_detail = {k: int(v) for k, v in detail.items()}
        con = duckdb.connect(str(fresh))
        try:
            record_verification(con, run_id, plan.as_of, len(plan.subjects), detail)
            if not detail["passed"]:
                # keyed fingerprints only, so that `fleetdw retention verify` can show a fix without the values
                # (not of what a legal obligation keeps: those values stay, in their places only)
                record_fingerprints(con, run_id, fingerprints(load_key(settings.home), final_needles - kept))
            con.execute("insert into ops.retention_runs values (?, ?, ?, 'applied', [], ?, ?, ?, ?, ?, ?)",
                        [run_id, plan.as_of, plan.plan_id, len(plan.subjects), outcome.rows_changed,
                         len(archive_actions), outcome.verification, started or now(), now()])
            con.execute("checkpoint")
        finally:
            con.close()
    # The write lock is released: swap at once.
    swap_in(fresh, live, work_dir)
    outcome.files_changed = len(archive_actions)
    recover(settings)
    return outcome


def _sync_lake_from(fresh: Path, settings: Settings) -> Path | None:
    """With the Spark engine, the Parquet lake follows the erased database before it is verified (so that the
    verification covers it); None otherwise."""
    if settings.engine != "spark":
        return None
    from dagster_project.lake import sync_lake

    con = duckdb.connect(str(fresh), read_only=True)
    try:
        sync_lake(con, settings.home)
    finally:
        con.close()
    return settings.lake


def _erase_in(con: duckdb.DuckDBPyConnection, settings: Settings, plan: Plan, run_id: str,
              manifest: dict[str, Any], outcome: Outcome, rewriting: ExitStack
              ) -> tuple[set[str], BackgroundRewrite, dict[str, list[str]]]:
    """All table changes in one transaction on the work copy, while the archive files are written beside it (the
    writer is entered into ``rewriting``, which stops it if anything fails). Returns the identifiers to verify,
    the archive writer (its file actions are recorded in that transaction) and the places a legal obligation
    keeps (``selection.retained_places``)."""
    clock = time.monotonic()
    ensure_control_tables(con)
    every = S.all_targets(con, manifest)
    retained = [t for t in every if t.retained]
    targets = [t for t in every if not t.retained]
    S.stage_subjects(con, [(p, plan.pseudonyms[p], r) for p, r in plan.subjects.items()], targets)
    ids = S.subject_identifiers(con)
    S.stage_links(con, manifest, S.linking_phones(con))
    cols = {t.relation: S.relation_columns(con, t.relation) for t in targets}
    for t in targets:
        S.select_rows(con, t, cols[t.relation])
    # Quarantined records that mention a subject, and the archive lines of every raw row touched.
    every_id = set().union(*ids.values())
    S.select_quarantined(con, pattern(every_id))
    S.select_archive_lines(con, targets, cols)
    _policy_archive_lines(con, plan)
    clock = outcome.lap("select_rows", clock)
    # Lines holding a subject's own identifier are blanked; the written files are scanned for every identifier
    # (what the verification will look for is a subset of them, known once the transaction committed: the plates
    # and VINs nobody else still has).
    archive = rewriting.enter_context(BackgroundRewrite(plan_archive(con, settings, run_id,
                                                                     S.own_identifiers(ids), every_id)))
    archive_actions = archive.work.actions
    clock = outcome.lap("archive_plan", clock)

    audit: list[tuple] = []
    crash_point("before_transaction")
    con.execute("begin transaction")
    _keep_event_contracts(con)
    _keep_legal_retention(con, plan, run_id, retained)
    for t in [*targets, S.QUARANTINE]:
        outcome.rows_changed += _apply_target(con, t, cols.get(t.relation, {}), audit)
    outcome.rows_changed += _shorter_policies(con, plan, audit)
    con.execute("update raw.file_manifest set archive_path = null where archive_path in (select unnest(?::varchar[]))",
                [[p for p, a, _ in archive_actions if a == "delete" and "/archive/" in p]])
    _record_audit(con, run_id, plan, audit)
    record_file_actions(con, run_id, archive_actions)
    crash_point("before_commit")
    con.execute("commit")
    outcome.lap("transaction", clock)
    return needles_to_verify(con, ids), archive, S.retained_places(every)


def _policy_archive_lines(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Add to ``_archive_lines`` the lines of the raw rows that this run's shorter rules delete or null (a
    withdrawn person's pings, KYC records past their five years, expired quarantine; raw IPs, trip points, the
    personal fields of contracts ten years after their end): their archived copy, kept for 30 days after the load,
    would otherwise outlive what the rule removed from the row. An Art. 17 erasure later finds no lineage that
    leads to those lines: ``fleetdw retention verify`` reported an archived KYC line of an erased person whose
    record the KYC rule had deleted, and an erasure's own verification failed on the plate of a contract whose
    personal fields the contract rule had nulled, once the plate's last other holder was erased."""
    for rule in P.SHORTER_RULES:
        if rule.action not in ("delete", "null") or not rule.relation.startswith("raw.") or \
                not S.relation_exists(con, rule.relation):
            continue
        have = S.relation_columns(con, rule.relation)
        load, line = ("load_id", "line") if rule.relation == S.QUARANTINE.relation else ("_load_id", "_line")
        if {load, line} <= set(have):
            con.execute(f"insert into _archive_lines select {load}, {line} from {rule.relation} "
                        f"where {rule.where()}", [rule.policy.cutoff(plan.as_of)])


def _keep_legal_retention(con: duckdb.DuckDBPyConnection, plan: Plan, run_id: str, retained: list[S.Target]) -> None:
    """The subjects' rows a legal obligation keeps (KYC records) outlive their CRM row, which held the
    relationship_end their own retention counts from: record, by row key, the day it starts from (the
    relationship_end, or today when the relationship had not ended)."""
    for t in retained:
        source = SOURCES.get(t.relation.removeprefix("raw.")) if t.layer == "raw" else None
        if not source or len(source.key) != 1:
            continue
        key = source.key[0]
        for m in t.matches:
            con.execute(f"""
                insert into ops.legal_retention
                select distinct ?, cast(r."{key}" as varchar), coalesce(p.relationship_end, ?), ?, now()
                from {t.relation} r join _erase_persons s on r."{m.column}" = s.person_id
                left join raw.crm_persons_current p on p.person_id = s.person_id""",
                        [t.relation, plan.as_of, run_id])


# The company's record of each vehicle event: the mart that holds the event's contract.
EVENT_FACTS = {"fuel": "marts.fct_fuel_transactions", "wash": "marts.fct_washes"}


def _keep_event_contracts(con: duckdb.DuckDBPyConnection) -> None:
    """Before a subject's fuel and wash events lose their plate (the link to the contract), record the contract
    each belonged to in ``raw.anonymised_events``, so a later build keeps counting them in the company's costs."""
    ensure_raw_schema(con)   # a warehouse loaded by an older version lacks the table until its next load
    for source, facts in EVENT_FACTS.items():
        key = S.EVENT_KEYS[source]
        if not (S.relation_exists(con, facts) and S.relation_exists(con, f"raw.{source}")):
            continue
        con.execute(f"""
            insert into raw.anonymised_events (source, event_id, contract_id, anonymised_at)
            select distinct ?, f."{key}", f.contract_id, now()
            from raw.{source} as r
            join _sel as s on s.tbl = ? and s.rid = r.rowid and s.action <> 'delete'
            join {facts} as f on f."{key}" = r."{key}"
            where f.contract_id is not null
              and f."{key}" not in (select event_id from raw.anonymised_events where source = ?)""",
                    [source, f"raw.{source}", source])


def _apply_target(con: duckdb.DuckDBPyConnection, target: S.Target, columns: dict[str, str], audit: list) -> int:
    """Carry out the selection of one target (``_sel``): delete rows, or null (or pseudonymise) columns."""
    rel = target.relation
    changed = 0
    per_subject = con.execute("select person_id, action, count(distinct rid) from _sel where tbl = ? group by all",
                              [rel]).fetchall()
    actions = [a for (a,) in con.execute("select distinct action from _sel where tbl = ? order by 1", [rel]).fetchall()]
    deleted = "(select rid from _sel where tbl = ? and action = 'delete')"
    for action in actions:
        if action == "delete":
            continue
        cols = action.removeprefix("set:").split(",")
        sets = []
        for c in cols:
            if target.pseudonymise_keys and c in target.key_columns:
                sets.append(f'"{c}" = (select min(s.pseudonym) from _sel x join _erase_persons s using (person_id) '
                            f'where x.tbl = ? and x.rid = t.rowid)')
            else:
                sets.append(f'"{c}" = null')
        params = [rel] * sum(1 for c in cols if target.pseudonymise_keys and c in target.key_columns)
        # An executed request keeps its (pseudonymised) line and is marked executed: the one control table whose
        # row is itself the record that the erasure happened.
        if target.relation == "ops.erasure_requests" and "executed_at" in columns:
            sets.append("executed_at = coalesce(executed_at, now())")
        con.execute(f"update {rel} as t set {', '.join(sets)} where rowid in "
                    f"(select rid from _sel where tbl = ? and action = ?) and rowid not in {deleted}",
                    [*params, rel, action, rel])
    if "delete" in actions:
        con.execute(f"delete from {rel} where rowid in {deleted}", [rel])
    for person_id, action, n in per_subject:
        changed += n
        audit.append((person_id, rel, None, "delete" if action == "delete" else "anonymise", n))
    return changed


def _shorter_policies(con: duckdb.DuckDBPyConnection, plan: Plan, audit: list) -> int:
    """The row rules of ``policy.SHORTER_RULES`` (files are the archive's). Counted per table under the policy's
    name (no subject)."""
    total = 0
    for rule in P.SHORTER_RULES:
        if rule.action == "delete_files" or not S.relation_exists(con, rule.relation):
            continue
        n = con.execute(rule.apply_sql(), [rule.policy.cutoff(plan.as_of)]).fetchall()[0][0]
        if n:
            audit.append((None, rule.relation, rule.policy.name, "delete_or_null", int(n)))
            total += int(n)
    return total


def _record_audit(con: duckdb.DuckDBPyConnection, run_id: str, plan: Plan, audit: list[tuple]) -> None:
    """``ops.erasure_audit``: one row per subject (by pseudonym), table and action, and per shorter policy."""
    pseudo = dict(con.execute("select person_id, pseudonym from _erase_persons").fetchall())
    reason = dict(con.execute("select person_id, reason from _erase_persons").fetchall())
    ts = now()

    def policy_of(person_id: str | None, policy: str | None) -> str:
        if policy:
            return policy
        if person_id is None:
            return "linked_to_subject"   # rows found by phone or name and address, not by person id
        if reason.get(person_id) == "erased_before":
            return "erased_before"       # an erased person a later delivery brought back (``reappeared.py``)
        return P.ERASURE_REQUEST.name if reason.get(person_id) == "erasure_request" else P.PERSON.name

    insert_many(con, "insert into ops.erasure_audit values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, plan.as_of, pseudo.get(p) if p else None, policy_of(p, pol), rel, action, n, ts)
                     for p, rel, pol, action, n in audit])
