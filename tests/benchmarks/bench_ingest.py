"""Ingest benchmark (run on demand, not part of the test suite).

Generates 1,000,000 fuel rows, 5,000,000 web events and 5,000,000 Driver Assistant location pings, then in this one
process times
  1. a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_json([...])`` of the same files, and
  2. fleetdw's load of them (validation, quarantine, lineage, manifest, one transaction per file; for the location
     pings also the consent filter, RULES.md §2: each ping joined to its person's location_tracking events, the
     pings without a grant in force withheld and blanked in the archived copy),
and prints rows/s, peak memory of each (VmHWM, reset between the two) and the throughput ratio. The consents the
filter reads are loaded before the clock starts. The last line reads ``ingest_vs_duckdb=<ratio>``. Target: ratio
>= 0.70, peak memory < 2 GB.

No figure is printed unless the work was done: every file loaded (or was a duplicate), rows in = loaded +
quarantined + withheld for each, all the requested pings came in and both kept and withheld pings are among them;
otherwise the benchmark exits non-zero.

    python tests/benchmarks/bench_ingest.py [--fuel-rows N] [--web-events N] [--location-pings N] [--persons N]
                                            [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from ingest.contracts import SOURCES  # noqa: E402
from ingest.loader import LoadContext, Loader, SourceOutcome  # noqa: E402

TIMED = ("fuel", "web", "location")
AS_OF = date(2026, 11, 22)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def work_not_done(outcomes: dict[str, SourceOutcome], files: dict[str, list[str]], pings: int,
                  location_rows: int) -> list[str]:
    """Why the load cannot be counted (empty when it can)."""
    problems = []
    for name in TIMED:
        out = outcomes[name]
        if len(out.files) != len(files[name]):
            problems.append(f"{name}: {len(out.files)} of {len(files[name])} files processed")
        for f in out.files:
            if f.status not in ("loaded", "duplicate"):
                problems.append(f"{name}/{f.file}: {f.status} ({f.reason})")
            elif f.status == "loaded" and f.rows_in != f.rows_loaded + f.rows_quarantined + f.rows_withheld:
                problems.append(f"{name}/{f.file}: rows in != loaded + quarantined + withheld")
        if out.rows_loaded == 0:
            problems.append(f"{name}: nothing loaded")
    loc = outcomes["location"]
    if sum(f.rows_in or 0 for f in loc.files) != pings:
        problems.append(f"location: {sum(f.rows_in or 0 for f in loc.files):,} pings read, {pings:,} generated")
    if loc.rows_withheld == 0:
        problems.append("location: no ping withheld (the consent filter did not run)")
    if location_rows != loc.rows_loaded:
        problems.append("location: raw.location does not hold the loaded pings")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--fuel-rows", type=int, default=1_000_000)
    ap.add_argument("--web-events", type=int, default=5_000_000)
    ap.add_argument("--location-pings", type=int, default=5_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the generated landing zone here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdw-bench-"))
    landing = args.keep or work / "landing"
    figures: list[str] = []
    try:
        if not (landing / "location").is_dir():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dagster_project.cli", "generate", "--out", str(landing),
                            "--persons", str(args.persons), "--fuel-rows", str(args.fuel_rows),
                            "--web-events", str(args.web_events), "--location-pings", str(args.location_pings),
                            "--days", str(args.days), "--as-of", AS_OF.isoformat()], cwd=REPO, check=True)
            figures.append(f"generate: {time.perf_counter() - t:.1f} s")
        work_landing = work / "run" / "landing"
        for name in (*TIMED, "consents"):
            shutil.copytree(landing / name, work_landing / name)
        files = {n: sorted(str(p) for p in (work_landing / n).iterdir()) for n in TIMED}
        probe = duckdb.connect()
        for name, fs in files.items():  # both sides get the files bare DuckDB can read at all
            for f in list(fs):
                try:
                    probe.execute("select count(*) from read_json(?, ignore_errors = true)", [f]).fetchall()
                except duckdb.Error:
                    fs.remove(f)
                    Path(f).unlink()
        probe.close()
        size = sum(Path(f).stat().st_size for fs in files.values() for f in fs)
        for fs in files.values():  # warm the page cache so neither side pays for the first read
            for f in fs:
                Path(f).read_bytes()
        figures.append("files: " + ", ".join(f"{n} {len(fs)}" for n, fs in files.items())
                       + f", {size / 1e6:.0f} MB on disk")

        reset_peak()
        bare = duckdb.connect(str(work / "bare.duckdb"))
        t = time.perf_counter()
        rows_bare = 0
        bare_source_s = {}
        for name, fs in files.items():
            lap = time.perf_counter()
            bare.execute(f"create table {name} as select * from read_json(?, ignore_errors = true)", [fs])
            rows_bare += bare.execute(f"select count(*) from {name}").fetchall()[0][0]
            bare_source_s[name] = time.perf_counter() - lap
        bare.close()
        bare_s = time.perf_counter() - t
        bare_peak = peak_mb()

        con = duckdb.connect(str(work / "fleetdw.duckdb"))
        home = work / "run"
        loader = Loader(con, LoadContext(home, work_landing, AS_OF, "bench"))
        consents = loader.ingest(SOURCES["consents"])   # what the location consent filter reads, before the clock
        reset_peak()
        t = time.perf_counter()
        outcomes, fleet_source_s = {}, {}
        for name in TIMED:
            lap = time.perf_counter()
            outcomes[name] = loader.ingest(SOURCES[name])
            fleet_source_s[name] = time.perf_counter() - lap
        fleet_s = time.perf_counter() - t
        fleet_peak = peak_mb()
        location_rows = con.execute("select count(*) from raw.location").fetchall()[0][0]
        con.close()

        problems = work_not_done(outcomes, files, args.location_pings, location_rows)
        if consents.rows_loaded == 0:
            problems.append("consents: nothing loaded")
        if problems:
            raise SystemExit("the load did not do the work, no figure: " + "; ".join(problems[:5]))

        rows_in = sum(o.rows_loaded + o.rows_quarantined + o.rows_withheld for o in outcomes.values())
        print("\n".join(figures))
        for name, o in outcomes.items():
            print(f"  {name}: {o.rows_loaded:,} loaded, {o.rows_quarantined:,} quarantined, "
                  f"{o.rows_withheld:,} withheld in {fleet_source_s[name]:.1f} s (bare read_json "
                  f"{bare_source_s[name]:.1f} s)")
        print(f"bare duckdb read_json: {rows_bare:,} rows in {bare_s:.2f} s = {rows_bare / bare_s:,.0f} rows/s, "
              f"peak {bare_peak:.0f} MB")
        print(f"fleetdw ingest:        {rows_in:,} rows in {fleet_s:.2f} s = {rows_in / fleet_s:,.0f} rows/s, "
              f"peak {fleet_peak:.0f} MB")
        ratio = (rows_in / fleet_s) / (rows_bare / bare_s)
        print(f"target: ratio >= 0.70 and peak < 2048 MB -> {'met' if ratio >= 0.7 and fleet_peak < 2048 else 'NOT met'}")
        print(f"ingest_vs_duckdb={ratio:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
