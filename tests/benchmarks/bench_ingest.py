"""Ingest benchmark (run on demand, not part of the test suite).

Generates 1,000,000 fuel rows and 5,000,000 web events, then in this one process times
  1. a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_json([...])`` of the same files, and
  2. fleetdw's load of them (validation, quarantine, lineage, manifest, one transaction per file),
and prints rows/s, peak memory of each (VmHWM, reset between the two) and the throughput ratio.
The last line reads ``ingest_vs_duckdb=<ratio>``. Target: ratio >= 0.70, peak memory < 2 GB.

    python tests/benchmarks/bench_ingest.py [--fuel-rows N] [--web-events N] [--persons N] [--keep DIR]
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
from ingest.loader import LoadContext, Loader  # noqa: E402


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--fuel-rows", type=int, default=1_000_000)
    ap.add_argument("--web-events", type=int, default=5_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the generated landing zone here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdw-bench-"))
    landing = args.keep or work / "landing"
    try:
        if not (landing / "web").is_dir():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dagster_project.cli", "generate", "--out", str(landing),
                            "--persons", str(args.persons), "--fuel-rows", str(args.fuel_rows),
                            "--web-events", str(args.web_events), "--days", str(args.days),
                            "--as-of", "2026-11-22"], cwd=REPO, check=True)
            print(f"generate: {time.perf_counter() - t:.1f} s")
        work_landing = work / "run" / "landing"
        for name in ("fuel", "web"):
            shutil.copytree(landing / name, work_landing / name)
        files = {n: sorted(str(p) for p in (work_landing / n).iterdir()) for n in ("fuel", "web")}
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
        print(f"files: fuel {len(files['fuel'])}, web {len(files['web'])}, {size / 1e6:.0f} MB on disk")

        reset_peak()
        bare = duckdb.connect(str(work / "bare.duckdb"))
        t = time.perf_counter()
        rows_bare = 0
        for name, fs in files.items():
            bare.execute(f"create table {name} as select * from read_json(?, ignore_errors = true)", [fs])
            rows_bare += bare.execute(f"select count(*) from {name}").fetchall()[0][0]
        bare.close()
        bare_s = time.perf_counter() - t
        bare_peak = peak_mb()

        reset_peak()
        con = duckdb.connect(str(work / "fleetdw.duckdb"))
        home = work / "run"
        loader = Loader(con, LoadContext(home, work_landing, date(2026, 11, 22), "bench"))
        t = time.perf_counter()
        rows_loaded = rows_quarantined = 0
        for name in ("fuel", "web"):
            out = loader.ingest(SOURCES[name])
            rows_loaded += out.rows_loaded
            rows_quarantined += out.rows_quarantined
        con.close()
        fleet_s = time.perf_counter() - t
        fleet_peak = peak_mb()

        rows_in = rows_loaded + rows_quarantined
        print(f"bare duckdb read_json: {rows_bare:,} rows in {bare_s:.2f} s = {rows_bare / bare_s:,.0f} rows/s, "
              f"peak {bare_peak:.0f} MB")
        print(f"fleetdw ingest:        {rows_in:,} rows ({rows_quarantined:,} quarantined) in {fleet_s:.2f} s = "
              f"{rows_in / fleet_s:,.0f} rows/s, peak {fleet_peak:.0f} MB")
        ratio = (rows_in / fleet_s) / (rows_bare / bare_s)
        print(f"target: ratio >= 0.70 and peak < 2048 MB -> {'met' if ratio >= 0.7 and fleet_peak < 2048 else 'NOT met'}")
        print(f"ingest_vs_duckdb={ratio:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
