"""Retention benchmark (run on demand, not part of the test suite).

Builds the 20,000-person warehouse of the pipeline benchmark (1,000,000 fuel rows, 5,000,000 web events; one
``fleetdw run``), records erasure requests for 100 persons, then times one retention step in this process: plan,
gates, erasure through every layer in one transaction, the rewrite of the database file (COPY FROM DATABASE and
atomic swap), the landing-archive rewrite and the post-deletion verification (tables and file bytes). For
comparison it times, on the same database file before the erasure, a plain copy of the file and a bare
``COPY FROM DATABASE`` into a fresh file (as ``retention/swap.py`` writes it). Prints time and peak memory (VmHWM);
the last line reads ``erase_s=<seconds> copy_s=<seconds> rewrite_s=<seconds>`` (copy_s: plain copy, rewrite_s:
bare ``COPY FROM DATABASE``). First bar: erase_s < 1.5 * rewrite_s + 10; target: erase_s < 3 * copy_s + 10. No
figure, and a non-zero exit, unless the erasure was applied, every subject erased and the verification passed.

    python tests/benchmarks/bench_retention.py [--persons N] [--fuel-rows N] [--web-events N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support import AS_OF  # noqa: E402


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def time_plain_copy(db: Path) -> float:
    """Seconds to copy the database file byte for byte (and sync it to disk)."""
    copy = db.with_name("plain_copy.duckdb")
    t = time.time()
    shutil.copyfile(db, copy)
    os.sync()
    seconds = time.time() - t
    copy.unlink()
    return seconds


def time_bare_rewrite(settings) -> float:
    """Seconds for a bare ``COPY FROM DATABASE`` of the warehouse into a fresh file, the way the erasure writes its
    fresh file (``swap.write_fresh``, whose detach checkpoints the new file), outside any erasure."""
    from dagster_project.retention.swap import write_fresh
    from dagster_project.warehouse import open_warehouse

    fresh = settings.warehouse.with_name("bare_rewrite.duckdb")
    fresh.unlink(missing_ok=True)
    with open_warehouse(settings) as con:
        t = time.time()
        write_fresh(con, fresh)
        seconds = time.time() - t
    fresh.unlink()
    fresh.with_name(fresh.name + ".wal").unlink(missing_ok=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--fuel-rows", type=int, default=1_000_000)
    ap.add_argument("--web-events", type=int, default=5_000_000)
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep a built home here")
    args = ap.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="bench_retention_")) / "home"
    env = {**os.environ, "FLEETDW_HOME": str(home), "FLEETDW_AS_OF": AS_OF.isoformat()}
    env.setdefault("FLEETDW_PSEUDONYM_KEY", "bench-retention-key-0123456789abcdef")
    os.environ.update({k: env[k] for k in ("FLEETDW_HOME", "FLEETDW_AS_OF", "FLEETDW_PSEUDONYM_KEY")})
    if not (home / "warehouse.duckdb").exists():
        t = time.time()
        subprocess.run([sys.executable, "-m", "dagster_project.cli", "generate", "--out", str(home / "landing"),
                        "--persons", str(args.persons), "--fuel-rows", str(args.fuel_rows), "--web-events",
                        str(args.web_events), "--as-of", AS_OF.isoformat()], cwd=REPO, env=env, check=True,
                       capture_output=True)
        print(f"generate: {time.time() - t:.1f} s", flush=True)
        t = time.time()
        run = subprocess.run([sys.executable, "-m", "dagster_project.cli", "run", "--json"], cwd=REPO, env=env,
                             capture_output=True, text=True)
        summary = json.loads(run.stdout) if run.stdout.strip() else {}
        print(f"pipeline run: {time.time() - t:.1f} s, status {summary.get('status')}, "
              f"retention {summary.get('retention')}", flush=True)
        if run.returncode != 0 or summary.get("status") != "success":
            raise SystemExit(f"the pipeline run that builds the warehouse failed (exit {run.returncode}); no figure")

    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_erasure_request
    from dagster_project.manifest import load_manifest
    from dagster_project.retention.erasure import run_retention
    from dagster_project.settings import Settings

    settings = Settings.resolve(str(home), as_of=AS_OF)
    manifest = load_manifest()
    with open_warehouse(settings) as con:
        persons = [r[0] for r in con.execute(
            "select person_id from raw.crm_persons_current order by hash(person_id) limit ?",
            [args.subjects]).fetchall()]
        for p in persons:
            record_erasure_request(con, p, "benchmark")
        con.execute("checkpoint")
    size_mb = settings.warehouse.stat().st_size / 1e6
    copy_s, rewrite_s = time_plain_copy(settings.warehouse), time_bare_rewrite(settings)

    reset_peak()
    t = time.time()
    # a run id of its own for each erasure of a kept home (the ops tables key a run's rows by it)
    outcome = run_retention(settings, f"bench-retention-{uuid.uuid4().hex[:8]}", manifest)
    erase_s = time.time() - t
    erase_peak = peak_mb()
    with open_warehouse(settings, read_only=True) as con:
        left = con.execute("select count(*) from raw.crm_persons where person_id in (select unnest(?::varchar[]))",
                           [persons]).fetchall()[0][0]
    # A figure only for the work it claims: applied, every requested subject erased, verification passed.
    if outcome.status != "applied" or outcome.erased_subjects < len(persons) or left or \
            outcome.verification != "passed":
        raise SystemExit(f"the erasure did not do the work it is timed for (status {outcome.status}, "
                         f"{outcome.erased_subjects} of {len(persons)} subjects, {left} still in raw, blocked by "
                         f"{outcome.blocked_by}, verification {outcome.verification} {outcome.verification_detail})"
                         ": no figure")
    print(f"retention: {outcome.status}, blocked by {outcome.blocked_by}, {outcome.erased_subjects} subjects, "
          f"{outcome.rows_changed} rows changed, {outcome.files_changed} files, verification {outcome.verification} "
          f"{outcome.verification_detail}; phases (s): {outcome.timings}", flush=True)
    print(f"erase incl. rewrite and verification: {erase_s:.1f} s, peak {erase_peak:.0f} MB", flush=True)

    print(f"plain copy of the {size_mb:.0f} MB database file: {copy_s:.2f} s; bare COPY FROM DATABASE of it: "
          f"{rewrite_s:.2f} s", flush=True)
    bar, target = 1.5 * rewrite_s + 10, 3 * copy_s + 10
    print(f"first bar: erase_s < 1.5 * rewrite_s + 10 = {bar:.1f} s: {'met' if erase_s < bar else 'NOT met'}")
    print(f"target: erase_s < 3 * copy_s + 10 = {target:.1f} s: {'met' if erase_s < target else 'NOT met'}")
    if args.keep is None:
        shutil.rmtree(home.parent, ignore_errors=True)
    print(f"erase_s={erase_s:.1f} copy_s={copy_s:.2f} rewrite_s={rewrite_s:.2f}")


if __name__ == "__main__":
    main()
