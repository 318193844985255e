"""Erasure: apply a plan through every layer, rewrite the database file, verify, and only then swap it in.

Crash safety: the live warehouse file is never modified in place. The erasing step

1. checkpoints the live file and, holding its write lock, copies it byte for byte into a work directory next to it;
2. applies every table change (raw, history, incremental models, marts, profiling, control tables, quarantine,
   the shorter policies), the audit rows and the list of pending file actions in **one transaction** on the copy;
3. writes a fresh file with ``COPY FROM DATABASE`` (freed blocks of the copy hold the deleted values; the fresh
   file holds only live rows);
4. verifies the fresh file (every text column of every table, then its bytes) and the rewritten landing-archive
   files against the erased identifiers, which exist only in this process's memory;
5. swaps the fresh file in with ``os.replace`` (atomic) and removes the work directory and any WAL;
6. completes the file actions recorded in step 2 (rewritten archive files replace the old ones, expired ones are
   deleted). A crash before step 5 leaves the old state; after it, the next run finishes the recorded file
   actions before anything else. Never a mix.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.manifest import load_manifest
from dagster_project.warehouse import open_warehouse
from dagster_project.retention import policy as P
from dagster_project.retention.control import ensure_control_tables, now
from dagster_project.retention.plan import Plan, blocked_by, compute_plan, evaluate_gates, save_plan
from dagster_project.retention.targets import Target, all_targets
from dagster_project.settings import Settings
from ingest.lines import numbered_lines_sql

CRASH_ENV = "FLEETDW_RETENTION_CRASH_AT"   # tests only: exit hard at a named point
WORK_PREFIX = ".retention-"
ERASING_SUFFIX = ".erasing-"


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


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(71)


# --- recovery of an interrupted erasure ------------------------------------------------------------------------

def recover(settings: Settings) -> int:
    """Finish file actions of a swapped-in erasure; drop leftovers of one that never swapped. Returns actions done."""
    done = 0
    for work in settings.warehouse.parent.glob(f"{WORK_PREFIX}*"):
        shutil.rmtree(work, ignore_errors=True)
    if not settings.warehouse.exists():
        return 0
    with open_warehouse(settings) as con:
        ensure_control_tables(con)
        pending = con.execute("select run_id, path, action, tmp_path from ops.pending_file_actions "
                              "where not done").fetchall()
        for run_id, path, action, tmp in pending:
            if action == "replace" and tmp and Path(tmp).exists():
                os.replace(tmp, path)
            elif action == "delete" and Path(path).exists():
                Path(path).unlink()
            con.execute("update ops.pending_file_actions set done = true where run_id = ? and path = ?", [run_id, path])
            done += 1
    # Whatever rewritten file is still lying around belongs to an erasure that never swapped in: an orphan.
    archive = settings.home / "archive"
    if archive.exists():
        for leftover in archive.rglob(f"*{ERASING_SUFFIX}*"):
            leftover.unlink(missing_ok=True)
    return done


# --- the step the pipeline runs --------------------------------------------------------------------------------

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


# --- identifiers of the subjects (memory only) -----------------------------------------------------------------

def _values(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> set[str]:
    return {str(v) for (v,) in con.execute(sql, params or []).fetchall() if v is not None and len(str(v)) >= 5}


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and "
                            "table_name = ?", [schema, name]).fetchall()[0][0])


def subject_identifiers(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Identifiers of the persons in temp table ``_erase_persons`` that no other person shares."""
    ids: dict[str, set[str]] = {"person_id": _values(con, "select person_id from _erase_persons")}
    ids["pseudonym"] = set()  # pseudonyms are allowed to stay (audit trail)
    others = "person_id not in (select person_id from _erase_persons)"
    for col in ("ssn", "email", "phone"):
        ids[col] = _values(con, f"select {col} from raw.crm_persons where person_id in "
                                f"(select person_id from _erase_persons) except select {col} from raw.crm_persons "
                                f"where {others}")
    if _exists(con, "staging.stg_crm__persons"):
        ids["phone"] |= _values(con, "select phone from staging.stg_crm__persons where person_id in "
                                     "(select person_id from _erase_persons) except select phone from "
                                     f"staging.stg_crm__persons where {others}")
    ids["plate"] = _values(con, "select registration_number from raw.contracts where customer_person_id in "
                                "(select person_id from _erase_persons) or driver_person_id in "
                                "(select person_id from _erase_persons)")
    ids["vin"] = _values(con, "select vin from raw.contracts where customer_person_id in "
                              "(select person_id from _erase_persons) or driver_person_id in "
                              "(select person_id from _erase_persons)")
    ids["cookie"] = _values(con, "select cookie_id from raw.web where user_id in (select person_id from _erase_persons)"
                            ) if _exists(con, "raw.web") else set()
    return ids


def _regex(values: set[str]) -> str | None:
    return "|".join(re.escape(v) for v in sorted(values)) if values else None


class PrivateQueryError(RuntimeError):
    """A query that carried identifiers failed; DuckDB's message could quote them, so it is withheld."""


def _private(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise PrivateQueryError(f"an identifier scan failed ({type(exc).__name__}; message withheld)") from None


def _literal(text: str) -> str:
    """A SQL string literal. Patterns are inlined, not bound: DuckDB compiles a constant regex once, a bound
    parameter once per row."""
    return "'" + text.replace("'", "''") + "'"


# --- selection and application --------------------------------------------------------------------------------

def _select(con: duckdb.DuckDBPyConnection, target: Target, columns: dict[str, str]) -> None:
    """Insert the rows of ``target`` that belong to the subjects into temp table ``_sel``."""
    rel = target.relation
    for m in target.matches:
        if m.kind == "person":
            source = f"select t.rowid, s.person_id from {rel} t join _erase_persons s on t.\"{m.column}\" = s.person_id"
        elif m.kind == "pseudonym":
            source = f"select t.rowid, s.person_id from {rel} t join _erase_persons s on t.\"{m.column}\" = s.pseudonym"
        elif m.kind == "cookie":
            source = (f"select t.rowid, c.person_id from {rel} t join _erase_cookies c "
                      f"on t.\"{m.column}\" = c.cookie_id")
        elif m.kind.startswith("event_key:"):
            source = (f"select t.rowid, e.person_id from {rel} t join _erase_events e "
                      f"on e.source = '{m.kind.split(':')[1]}' and t.\"{m.column}\" = e.key")
        elif m.kind == "path":
            target_rel, key, via = m.extra["relation"], m.extra["key"], m.column
            tcols = _columns(con, target_rel)
            tvia = via if via in tcols else next((c for c in tcols if via.endswith(c) and c.endswith("_id")), None)
            if not tvia or key not in tcols:
                continue
            source = (f"select t.rowid, s.person_id from {rel} t join (select distinct \"{tvia}\" as v, \"{key}\" as p "
                      f"from {target_rel}) x on t.\"{via}\" = x.v join _erase_persons s on x.p = s.person_id")
        elif m.kind == "staging_phone":
            staging = m.extra["staging"]
            scols = _columns(con, staging)
            if not {"_load_id", "_line", "phone"} <= set(scols):
                continue
            name_match = ""
            if {"first_name", "last_name", "street_address"} <= set(scols):
                name_match = (" or exists (select 1 from staging.stg_crm__persons p join _erase_persons e using "
                              "(person_id) where lower(p.first_name) = lower(v.first_name) and lower(p.last_name) = "
                              "lower(v.last_name) and lower(p.street_address) = lower(v.street_address))")
            source = (f"select t.rowid, null from {rel} t join (select _load_id, _line from {staging} v where "
                      f"v.phone in (select phone from _erase_phones){name_match}) x "
                      f"on t._load_id = x._load_id and t._line = x._line")
        else:
            continue
        if m.action == "delete":
            action = "delete"
        else:
            cleared = [c for c in [m.column if m.column in target.key_columns else None, *target.anonymise_columns]
                       if c and c in columns]
            if not cleared:
                continue
            action = "set:" + ",".join(cleared)
        con.execute(f"insert into _sel select ?, ?, r.* from ({source}) r", [rel, action])


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    schema, name = relation.split(".")
    return dict(con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                            "and table_name = ? and table_catalog = current_database()", [schema, name]).fetchall())


def _apply_target(con: duckdb.DuckDBPyConnection, target: Target, columns: dict[str, str], audit: list) -> int:
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
        if rule.action == "delete_files" or not _exists(con, rule.relation):
            continue
        n = con.execute(rule.apply_sql(), [rule.policy.cutoff(plan.as_of)]).fetchall()[0][0]
        if n:
            audit.append((None, rule.relation, rule.policy.name, "delete_or_null", int(n)))
            total += int(n)
    return total


def _event_links(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    """Temp table ``_erase_events(source, key, person_id)``: event rows linked to a subject by a table of the
    warehouse (the fuel and wash marts resolve refueller and driver) or by the subject's phone (staging)."""
    from dagster_project.retention.targets import EVENT_KEYS, base_tables

    con.execute("create temp table _erase_events (source varchar, key varchar, person_id varchar)")
    tables = base_tables(con)
    for source, key in EVENT_KEYS.items():
        for rel, cols in tables.items():
            if not rel.startswith(("marts.", "intermediate.")) or key not in cols:
                continue
            for col in [c for c in cols if c.endswith("person_id") or c == "user_id"]:
                con.execute(f"insert into _erase_events select '{source}', t.\"{key}\", s.person_id from {rel} t "
                            f"join _erase_persons s on t.\"{col}\" = s.person_id")
        staging = {"fuel": "staging.stg_fuel__transactions", "wash": "staging.stg_wash__washes"}.get(source)
        if staging and _exists(con, staging):
            con.execute(f"insert into _erase_events select '{source}', v.\"{key}\", null from {staging} v "
                        f"where v.phone in (select phone from _erase_phones)")


def matching_lines(path: Path, needle: str, numbers: set[int] | None = None) -> set[str] | None:
    """The text of the lines of a landing file that hold a needle or whose number is in ``numbers`` (kept in
    memory only). None when the file cannot be read as lines."""
    scan = duckdb.connect()
    try:
        scan.execute("create temp table _n as select unnest(?::bigint[]) as n", [sorted(numbers or [])])
        return {line for (line,) in _private(scan, f"""
            select line from ({numbered_lines_sql(path, 'n')})
            where n in (select n from _n) or regexp_matches(line, {_literal(needle)})""")}
    except PrivateQueryError:
        return None
    finally:
        scan.close()


def file_holds(path: Path, needles: set[str]) -> bool:
    """Whether a file's lines (or, for a file that is no text, its bytes) hold any needle."""
    if not needles:
        return False
    lines = matching_lines(path, _regex(needles))
    if lines is not None:
        return bool(lines)
    data = _file_text(path)
    return any(n.encode() in data for n in needles)


def _rewrite_without(src: Path, tmp: Path, drop: set[str]) -> None:
    """Stream ``src`` into ``tmp`` without the lines whose text is in ``drop`` (matched by content, so blank
    lines the reader skips cannot shift anything; gzip in, gzip out at a fast level)."""
    gz = src.name.endswith(".gz")
    encoded = {d.encode("utf-8") for d in drop}
    opener = (lambda p, m: gzip.open(p, m, compresslevel=1)) if gz else (lambda p, m: open(p, m))
    with (gzip.open(src, "rb") if gz else open(src, "rb")) as fin, opener(tmp, "wb") as fout:
        for line in fin:
            if line.rstrip(b"\r\n") not in encoded:
                fout.write(line)


def _archive_rewrites(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, needles: set[str]
                      ) -> list[tuple[str, str, str | None]]:
    """Write the landing-archive files of the loads the subjects appear in without their lines; returns file
    actions ``(path, action, tmp_path)``. Lines are found by lineage (load id and line) and by identifier."""
    from concurrent.futures import ThreadPoolExecutor

    needle = _regex(needles)
    loads = con.execute("""select m.load_id, m.archive_path, list(distinct l.line) from _archive_lines l
                           join raw.file_manifest m using (load_id) where m.status = 'loaded'
                           and m.archive_path is not null group by all""").fetchall()

    def one(item: tuple) -> tuple[str, str, str | None] | None:
        _, path, lines = item
        src = Path(path)
        if not src.exists():
            return None
        drop = matching_lines(src, needle or "$^", set(lines)) or set()
        tmp = src.with_name(src.name + ERASING_SUFFIX + run_id[:8])
        _rewrite_without(src, tmp, drop)
        return (str(src), "replace", str(tmp))

    with ThreadPoolExecutor(max_workers=2) as pool:
        actions = [a for a in pool.map(one, loads) if a]
    for folder in ("rejected", "duplicates"):
        root = settings.home / folder
        if root.exists():
            actions += [(str(f), "delete", None) for f in root.rglob("*") if f.is_file() and file_holds(f, needles)]
    for rule in P.SHORTER_RULES:
        if rule.action != "delete_files":
            continue
        for (path,) in con.execute(rule.apply_sql(), [rule.policy.cutoff(settings.as_of)]).fetchall():
            if Path(path).exists() and not any(a[0] == path for a in actions):
                actions.append((path, "delete", None))
    return actions


def _file_text(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError):
            return data
    return data


def apply_plan(settings: Settings, plan: Plan, run_id: str | None, manifest: dict[str, Any], started=None
               ) -> Outcome:
    run_id = run_id or "manual"
    live = settings.warehouse
    work_dir = live.parent / f"{WORK_PREFIX}{run_id[:8]}"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    work, fresh = work_dir / live.name, work_dir / ("fresh_" + live.name)
    outcome = Outcome("applied", plan_id=plan.plan_id, erased_subjects=len(plan.subjects))
    t = time.monotonic()
    with open_warehouse(settings) as lock:                 # hold the write lock until the swap
        lock.execute("checkpoint")
        shutil.copyfile(live, work)
        t = outcome.lap("work_copy", t)
        con = duckdb.connect(str(work))
        try:
            con.execute("set TimeZone = 'UTC'")
            final_needles, archive_actions = _erase_in(con, settings, plan, run_id, manifest, outcome)
            t = time.monotonic()
            _crash_point("after_commit")
            catalog = con.execute("select current_database()").fetchall()[0][0]
            con.execute(f"attach '{fresh}' as fresh_db")
            con.execute(f"copy from database \"{catalog}\" to fresh_db")
            con.execute("detach fresh_db")
        finally:
            con.close()
        t = outcome.lap("copy_from_database", t)
        _crash_point("after_copy")
        detail = verify(fresh, final_needles, [Path(t) for _, a, t in archive_actions if a == "replace"],
                        [Path(p) for p, a, _ in archive_actions if a == "delete"])
        t = outcome.lap("verification", t)
        outcome.verification = "passed" if detail["passed"] else "failed"
        outcome.verification_detail = {k: int(v) for k, v in detail.items()}
        con = duckdb.connect(str(fresh))
        try:
            con.execute("insert into ops.verification_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, plan.as_of, now(), len(plan.subjects), detail["identifiers"],
                         detail["tables_scanned"], detail["table_hits"], detail["file_hits"], detail["archive_hits"],
                         bool(detail["passed"])])
            con.execute("insert into ops.retention_runs values (?, ?, ?, 'applied', [], ?, ?, ?, ?, ?, ?)",
                        [run_id, plan.as_of, plan.plan_id, len(plan.subjects), outcome.rows_changed,
                         len(archive_actions), outcome.verification, started or now(), now()])
            con.execute("checkpoint")
        finally:
            con.close()
    # The write lock is released: swap at once.
    os.replace(fresh, live)
    for leftover in (live.with_name(live.name + ".wal"),):
        leftover.unlink(missing_ok=True)
    _fsync_dir(live.parent)
    _crash_point("after_swap")
    shutil.rmtree(work_dir, ignore_errors=True)
    outcome.files_changed = len(archive_actions)
    recover(settings)
    return outcome


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _erase_in(con: duckdb.DuckDBPyConnection, settings: Settings, plan: Plan, run_id: str,
              manifest: dict[str, Any], outcome: Outcome) -> tuple[set[str], list]:
    """All table changes in one transaction on the work copy. Returns the identifiers to verify and the file
    actions recorded in that transaction."""
    clock = time.monotonic()
    ensure_control_tables(con)
    con.execute("create temp table _erase_persons (person_id varchar, pseudonym varchar, reason varchar)")
    con.executemany("insert into _erase_persons values (?, ?, ?)",
                    [(p, plan.pseudonyms[p], r) for p, r in plan.subjects.items()])
    ids = subject_identifiers(con)
    con.execute("create temp table _erase_phones as select distinct unnest(?::varchar[]) as phone", [list(ids["phone"])])
    con.execute("create temp table _erase_cookies as select distinct w.cookie_id, w.user_id as person_id from raw.web w "
                "join _erase_persons s on w.user_id = s.person_id where w.cookie_id is not null"
                if _exists(con, "raw.web") else "create temp table _erase_cookies (cookie_id varchar, person_id varchar)")
    _event_links(con, manifest)
    con.execute("create temp table _sel (tbl varchar, action varchar, rid bigint, person_id varchar)")
    targets = all_targets(con, manifest)
    cols = {t.relation: _columns(con, t.relation) for t in targets}
    for t in targets:
        _select(con, t, cols[t.relation])
    # Quarantined records that mention a subject, and the archive lines of every raw row touched.
    broad = _regex(ids["person_id"] | ids["ssn"] | ids["email"] | ids["phone"] | ids["cookie"] | ids["plate"] | ids["vin"])
    con.execute("create temp table _archive_lines (load_id bigint, line bigint)")
    if broad:
        _private(con, "insert into _sel select 'raw.quarantine', 'delete', rowid, null from raw.quarantine "
                      f"where regexp_matches(raw_record, {_literal(broad)})")
        con.execute("insert into _archive_lines select load_id, line from raw.quarantine where rowid in "
                    "(select rid from _sel where tbl = 'raw.quarantine')")
    for t in targets:
        if t.layer == "raw" and {"_load_id", "_line"} <= set(cols[t.relation]):
            con.execute(f"insert into _archive_lines select _load_id, _line from {t.relation} where rowid in "
                        f"(select rid from _sel where tbl = ?)", [t.relation])
    clock = outcome.lap("select_rows", clock)
    line_needles = ids["person_id"] | ids["ssn"] | ids["email"] | ids["phone"] | ids["cookie"]
    archive_actions = _archive_rewrites(con, settings, run_id, line_needles)
    clock = outcome.lap("archive_rewrite", clock)

    audit: list[tuple] = []
    _crash_point("before_transaction")
    con.execute("begin transaction")
    quarantine = Target("raw.quarantine", "raw", [], [])
    for t in [*targets, quarantine]:
        outcome.rows_changed += _apply_target(con, t, cols.get(t.relation, {}), audit)
    outcome.rows_changed += _shorter_policies(con, plan, audit)
    con.execute("update raw.file_manifest set archive_path = null where archive_path in (select unnest(?::varchar[]))",
                [[p for p, a, _ in archive_actions if a == "delete" and "/archive/" in p]])
    pseudo = dict(con.execute("select person_id, pseudonym from _erase_persons").fetchall())
    reason = dict(con.execute("select person_id, reason from _erase_persons").fetchall())
    ts = now()
    def policy_of(person_id: str | None, policy: str | None) -> str:
        if policy:
            return policy
        if person_id is None:
            return "linked_to_subject"   # rows found by phone or name and address, not by person id
        return P.ERASURE_REQUEST.name if reason.get(person_id) == "erasure_request" else P.PERSON.name

    con.executemany("insert into ops.erasure_audit values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, plan.as_of, pseudo.get(p) if p else None, policy_of(p, pol), rel, action, n, ts)
                     for p, rel, pol, action, n in audit])
    con.executemany("insert into ops.pending_file_actions values (?, ?, ?, ?, false)",
                    [(run_id, p, a, t) for p, a, t in archive_actions])
    _crash_point("before_commit")
    con.execute("commit")
    outcome.lap("transaction", clock)

    # What must be gone now: the subject's own identifiers, and plates/VINs no other row still refers to.
    final = ids["person_id"] | ids["ssn"] | ids["email"] | ids["phone"] | ids["cookie"]
    for kind, cols_ in (("plate", ("registration_number",)), ("vin", ("vin",))):
        still = set()
        for rel in ("raw.contracts", "raw.fuel", "raw.wash"):
            for c in cols_:
                if _exists(con, rel) and c in _columns(con, rel) and ids[kind]:
                    still |= _values(con, f"select distinct \"{c}\" from {rel} where \"{c}\" in "
                                          f"(select unnest(?::varchar[]))", [list(ids[kind])])
        final |= ids[kind] - still
    return final, archive_actions


# --- verification ----------------------------------------------------------------------------------------------

TEXT_TYPES = ("VARCHAR", "JSON")


def scan_tables(db: Path, needles: set[str]) -> tuple[int, int]:
    """(tables scanned, rows holding any needle in any text column), inside DuckDB (counts only)."""
    pattern = _regex(needles)
    con = duckdb.connect(str(db), read_only=True)
    try:
        from dagster_project.retention.targets import base_tables

        tables = base_tables(con)
        hits = 0
        for rel, cols in tables.items():
            text = [c for c, t in cols.items() if t.upper().startswith(TEXT_TYPES) or t.upper().endswith("[]")]
            if not text or not pattern:
                continue
            cond = " or ".join(f"regexp_matches(cast(\"{c}\" as varchar), {_literal(pattern)})" for c in text)
            hits += _private(con, f"select count(*) from {rel} where {cond}")[0][0]
        return len(tables), int(hits)
    finally:
        con.close()


def grep_bytes(paths: list[Path], needles: set[str]) -> int:
    """Occurrences of any needle in the raw bytes of files (GNU grep -F, patterns on stdin, output kept in memory)."""
    existing = [str(p) for p in paths if p.exists()]
    if not needles or not existing:
        return 0
    proc = subprocess.run(["grep", "-a", "-o", "-F", "-c", "-f", "-", *existing], input="\n".join(sorted(needles)),
                          capture_output=True, text=True)
    total = 0
    for line in proc.stdout.splitlines():
        count = line.rsplit(":", 1)[-1]
        total += int(count) if count.isdigit() else 0
    return total


def verify(db: Path, needles: set[str], rewritten: list[Path], deleted: list[Path]) -> dict[str, int]:
    tables_scanned, table_hits = scan_tables(db, needles)
    file_hits = grep_bytes([db, db.with_name(db.name + ".wal")], needles)
    archive_hits = sum(1 for f in rewritten if f.exists() and file_holds(f, needles))
    return {"identifiers": len(needles), "tables_scanned": tables_scanned, "table_hits": table_hits,
            "file_hits": file_hits, "archive_hits": archive_hits, "deleted_files": len(deleted),
            "passed": int(table_hits == 0 and file_hits == 0 and archive_hits == 0)}
