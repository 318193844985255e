"""Pipeline benchmark (run on demand, not part of the test suite).

A full ``fleetdw run`` on a generated landing zone of 20,000 persons, 1,000,000 fuel rows and 5,000,000 web
events (its own erasure builds what it made stale); the run after it and a no-op run (same as-of, nothing new,
both build nothing); a run after one fuel file of the next day (same as-of); then the incremental run of the next
day (as-of + 1, the rest of that day's files, the daily shorter retention policies). Prints wall time and peak
memory (RSS of the fleetdw process and its dbt subprocess, sampled every 0.1 s) of each stage (Dagster step) and
of each run, and exits non-zero without a figure when a run did not do the work it is timed for.
Last line: ``full_s=<seconds> incremental_s=<seconds> noop_s=<seconds> peak_mb=<MB>``.
Targets: full run under 3 minutes and 4 GB on 2 cores; the one-day incremental run under 10 % of the full run;
the no-op run under 10 s.

    python tests/benchmarks/bench_pipeline.py [--persons N] [--fuel-rows N] [--web-events N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support import AS_OF  # noqa: E402


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def run_measured(home: Path, as_of: date) -> tuple[float, list[tuple[float, float]], dict]:
    env = {**os.environ, "FLEETDW_HOME": str(home)}
    samples: list[tuple[float, float]] = []
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "dagster_project.cli", "run", "--json", "--as-of",
                             as_of.isoformat()], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def sample() -> None:
        while proc.poll() is None:
            samples.append((time.time(), tree_rss_mb(proc.pid)))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    wall = time.time() - start
    if proc.returncode != 0:
        raise SystemExit(f"fleetdw run failed (exit {proc.returncode}):\n{err.decode()[-3000:]}")
    return wall, samples, json.loads(out)


def stage_windows(home: Path, run_id: str) -> list[tuple[str, float, float]]:
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    with dg.DagsterInstance.get() as instance:
        records = instance.all_logs(run_id)
    starts: dict[str, float] = {}
    windows = []
    for r in records:
        ev = r.dagster_event
        if ev is None or not r.step_key:
            continue
        if ev.event_type_value == "STEP_START":
            starts[r.step_key] = r.timestamp
        elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and r.step_key in starts:
            windows.append((r.step_key, starts[r.step_key], r.timestamp))
    return windows


def report(label: str, home: Path, wall: float, samples: list[tuple[float, float]], summary: dict) -> float:
    peak = max((m for _, m in samples), default=0.0)
    print(f"{label}: {wall:.1f} s, peak {peak:.0f} MB, status {summary['status']}, "
          f"ingested {sum(summary['ingested'].values()):,} rows, models {summary.get('models_built')}")
    for step, t0, t1 in stage_windows(home, summary["run_id"]):
        stage_peak = max((m for t, m in samples if t0 - 0.1 <= t <= t1 + 0.1), default=0.0)
        print(f"  {step:40s} {t1 - t0:7.1f} s  peak {stage_peak:6.0f} MB")
    return peak


def require(summary: dict, what: str, ok: bool) -> None:
    """A figure only for the work it claims: the run succeeded and did what the benchmark times."""
    if summary["status"] != "success" or not ok:
        raise SystemExit(f"benchmark run did not do its work ({what}): status {summary['status']}, "
                         f"build {summary.get('build')}, errors {summary.get('errors')}: no figure")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--fuel-rows", type=int, default=1_000_000)
    ap.add_argument("--web-events", type=int, default=5_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--keep", type=Path, default=None, help="work directory to keep (and reuse its landing zone)")
    args = ap.parse_args()

    from dagster_project.synthetic import generate_landing

    work = args.keep or Path(tempfile.mkdtemp(prefix="fleetdw-pipeline-"))
    source = work / "generated"
    try:
        if not source.is_dir():
            t = time.time()
            generate_landing(source, persons=args.persons, seed=42, as_of=AS_OF, days=args.days,
                             fuel_rows=args.fuel_rows, web_events=args.web_events)
            print(f"generate: {time.time() - t:.1f} s")
        home = work / "home"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(source, home / "landing")

        full_s, samples, summary = run_measured(home, AS_OF)
        peak_full = report("full run", home, full_s, samples, summary)
        require(summary, "the full run builds every model", summary["build"]["complete"] and summary["models_built"] > 40)

        settle_s, samples, summary = run_measured(home, AS_OF)
        report("run after the full run's erasure", home, settle_s, samples, summary)
        noop_s, samples, summary = run_measured(home, AS_OF)
        peak_noop = report("no-op run (same as-of, nothing new)", home, noop_s, samples, summary)
        require(summary, "the no-op run builds nothing", summary["warehouse"] == "unchanged")

        next_day = AS_OF + timedelta(days=1)
        delivery = work / "next_day"
        shutil.rmtree(delivery, ignore_errors=True)
        generate_landing(delivery, persons=args.persons, seed=42, as_of=next_day, days=1, master=False)
        for f in (delivery / "fuel").iterdir():
            shutil.move(str(f), home / "landing" / "fuel" / f.name)
        fuel_s, samples, summary = run_measured(home, AS_OF)
        peak_fuel = report("one fuel file (same as-of)", home, fuel_s, samples, summary)
        require(summary, "the fuel file is loaded and only fuel's descendants are built",
                summary["ingested"]["fuel"] > 0 and summary["build"]["changed"] == ["source:fuel"])

        for folder in delivery.iterdir():
            for f in folder.iterdir():
                (home / "landing" / folder.name).mkdir(parents=True, exist_ok=True)
                shutil.move(str(f), home / "landing" / folder.name / f.name)
        inc_s, samples, summary = run_measured(home, next_day)
        peak_inc = report("incremental run (+1 day)", home, inc_s, samples, summary)
        require(summary, "the next day's files are loaded", sum(summary["ingested"].values()) > 0)

        peak = max(peak_full, peak_noop, peak_fuel, peak_inc)
        ok = full_s < 180 and peak < 4096 and inc_s < 0.1 * full_s and noop_s < 10
        print(f"targets: full < 180 s, peak < 4096 MB, incremental < 10 % of full, no-op < 10 s -> "
              f"{'met' if ok else 'NOT met'} (incremental = {100 * inc_s / full_s:.0f} % of full; one fuel file "
              f"{fuel_s:.1f} s)")
        print(f"full_s={full_s:.1f} incremental_s={inc_s:.1f} noop_s={noop_s:.1f} peak_mb={peak:.0f}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
