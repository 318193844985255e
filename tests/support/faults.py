"""kill -9 of ``fleetdw run`` at a step, and the tables to compare afterwards (``tests/test_faults.py``, on demand
``tests/long/test_faults_isolated.py``).

Every case starts from a copy of the same home after its first run (``day_one``), receives the same next-day
deliveries (the generator is deterministic) and the same erasure request, so the run has something to do in every
step. The kill is a real SIGKILL of the ``fleetdw`` process, sent when the run's own event log (Dagster's storage
under the home) shows the step has started; the caller then checks from that log that the kill landed in the step.
Tables are compared by a hash per table over every column but the clock's and the run's own (timestamps of
loading, run ids), with the home's path taken out of stored paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from dagster_project.synthetic import generate_landing
from tests.support import AS_OF
from tests.support.cli import FLEETDW, cli_env, fleetdw
from tests.support.retention import copy_home
from tests.support.shared import build_once

NEXT_DAY = AS_OF + timedelta(days=1)
# Columns that record when or in which run something happened, not what the warehouse holds.
CLOCK_COLUMNS = {"_loaded_at", "loaded_at", "quarantined_at", "seen_at", "anonymised_at", "requested_at",
                 "executed_at", "created_at", "checked_at", "started_at", "finished_at", "approved_at", "held_at",
                 "released_at", "run_id", "_run_id", "validated_at", "built_at", "_built_at", "kept_at", "registered_at"}
# Logs with one row per run (a killed run may or may not have written its row): compared by their last state only
# through the tables they describe, not row by row.
RUN_LOGS = {"ops.retention_plans", "ops.retention_plan_subjects", "ops.retention_runs", "ops.quality_results",
            "ops.verification_results", "ops.pending_file_actions", "raw.duplicate_deliveries"}
# Where the kill lands: the step whose start triggers it, and how long after that start.
KILL_POINTS = {
    "ingestion": ("raw__", 0.05),
    "dbt": ("warehouse_dbt", 6.0),
    "quality": ("quality__expectations", 0.1),
    "erasure": ("retention__erasure", 0.4),
}


def prepare(day_one: Path, dst: Path) -> Path:
    home = copy_home(day_one / "home", dst).path
    generate_landing(home / "landing", persons=150, seed=7, as_of=NEXT_DAY, days=1, master=False, start=AS_OF)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    person = con.execute("""select e.person_id from privacy.marketing_eligibility e
                            join raw.crm_persons_current p using (person_id)
                            where e.channel = 'email' and e.eligible and p.relationship_end is null
                            order by 1 limit 1""").fetchall()[0][0]
    con.close()
    fleetdw(home, "erase", person, "--reason", "fault test")
    return home


def run(home: Path) -> dict:
    result = fleetdw(home, "run", "--json", "--as-of", NEXT_DAY.isoformat(), check=False)
    assert result.returncode == 0, result.stderr[-500:]
    return json.loads(result.stdout)


def table_hashes(home: Path) -> dict[str, str]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        tables = con.execute("""select table_schema || '.' || table_name from information_schema.tables
                                where table_type = 'BASE TABLE' and table_catalog = current_database()
                                order by 1""").fetchall()
        for (relation,) in tables:
            if relation in RUN_LOGS:
                continue
            schema, table = relation.split(".")
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall() if c not in CLOCK_COLUMNS]
            if not cols:
                continue
            exprs = ", ".join(f"replace(coalesce(cast(\"{c}\" as varchar), '<null>'), ?, '<home>')" for c in cols)
            rows = con.execute(f"select {exprs} from {relation}", [str(home)] * len(cols)).fetchall()
            digest = hashlib.sha256("\n".join(sorted("\x1f".join(r) for r in rows)).encode()).hexdigest()
            out[relation] = f"{len(rows)}:{digest[:16]}"
        return out
    finally:
        con.close()


def uninterrupted(day_one: Path, shared: Path) -> dict[str, str]:
    """The tables after the same next-day run, not interrupted (built once under ``shared``).

    One run, not two: the run after a kill must itself end where the uninterrupted run ends. A reference of two
    runs would hide a recovery run that leaves out something a further run then mends (the erasure's rebuild, for
    one, builds what the erasure made stale, so that a second run has nothing left to do)."""
    def build(shared: Path) -> None:
        home = prepare(day_one, shared / "home")
        first = run(home)
        assert first["status"] == "success" and first["retention"]["status"] == "applied"
        (shared / "hashes.json").write_text(json.dumps(table_hashes(home)))

    return json.loads((build_once(shared, build) / "hashes.json").read_text())


def steps_started(home: Path) -> list[str]:
    runs = home / "dagster" / "history" / "runs"
    dbs = sorted((p for p in runs.glob("*-*-*.db")), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    if not dbs:
        return []
    try:
        con = sqlite3.connect(f"file:{dbs[-1]}?mode=ro", uri=True, timeout=0.5)
        try:
            return [s for (s,) in con.execute("select step_key from event_logs where dagster_event_type = "
                                              "'STEP_START' order by id").fetchall()]
        finally:
            con.close()
    except sqlite3.Error:
        return []


def kill_during(home: Path, step_prefix: str, delay: float, as_of=NEXT_DAY) -> list[str]:
    """Start ``fleetdw run`` and SIGKILL it ``delay`` seconds after the step starts; the steps it had started."""
    before = {p.name for p in (home / "dagster" / "history" / "runs").glob("*.db")}
    proc = subprocess.Popen([FLEETDW, "run", "--json", "--as-of", as_of.isoformat()], env=cli_env(home),
                            cwd=str(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)   # its own process group: its children can be waited for
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = {p.name for p in (home / "dagster" / "history" / "runs").glob("*.db")} - before
            if fresh and any(s.startswith(step_prefix) for s in steps_started(home)):
                time.sleep(delay)
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        # Only the fleetdw process is killed: dbt runs on its threads (``defs/dbt_runner.py``); any child it has
        # (a ``fleetdw-dbt`` with FLEETDW_DBT_SUBPROCESS=1: ``dbt_child``, PR_SET_PDEATHSIG) dies with it a few
        # milliseconds later. The next run starts once it is gone, as a user's would.
        deadline = time.monotonic() + 20
        while _live_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _live_members(proc.pid), "a child of the killed run outlived it"
    finally:
        if proc.poll() is None:
            proc.kill()
    return steps_started(home)


def _live_members(group: int) -> list[int]:
    """The processes of a process group that are alive (a zombie is dead: nothing may reap it in a container)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":   # state, ppid, pgrp
            members.append(int(stat.parent.name))
    return members


def differing_tables(home: Path, reference: dict[str, str]) -> list[str]:
    got = table_hashes(home)
    return sorted(t for t in set(got) | set(reference) if got.get(t) != reference.get(t))
