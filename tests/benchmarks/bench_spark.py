"""DuckDB vs the local Spark cluster: the full dbt build of the same warehouse (run on demand, not in the suite).

Takes a home whose warehouse a ``fleetdw run`` built (``--home``; e.g. the one ``bench_pipeline.py --keep DIR``
leaves in ``DIR/home``, 20,000 persons and 6.85M rows), then times

1. ``dbt build`` of every model, seed and data test on DuckDB (``--full-refresh``), peak RSS of dbt;
2. the Parquet lake export of the raw layer;
3. ``dbt run-operation register_lake`` + ``dbt build --target spark`` on the local cluster (``fleetdw cluster up``,
   started here and stopped at the end), peak RSS of dbt plus every cluster JVM.

Both builds must pass and give the same row count for every mart, privacy and profiling table, else the benchmark
exits non-zero without a figure. Last line: ``duckdb_s=<x> spark_s=<y> duckdb_peak_mb=<m> spark_peak_mb=<n>``.

    python tests/benchmarks/bench_spark.py --home DIR/home
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.benchmarks.bench_pipeline import tree_rss_mb  # noqa: E402

FLEETDW = str(Path(sys.executable).with_name("fleetdw"))


class Peak:
    """Peak of the summed RSS of some process trees, sampled every 0.2 s while running."""

    def __init__(self, pids) -> None:
        self.pids, self.peak, self._stop = pids, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(tree_rss_mb(p) for p in self.pids()))
            time.sleep(0.2)

    def __enter__(self) -> "Peak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def duckdb_build(home: Path) -> tuple[float, float]:
    from dagster_project.manifest import DBT_DIR, dbt_child_env, dbt_executable
    from dagster_project.settings import Settings

    settings = Settings.resolve(str(home))
    env = {**os.environ, **dbt_child_env(settings.home, settings.warehouse), "FLEETDW_AS_OF": _as_of(home)}
    work = home / "dbt" / "bench-duckdb"
    t = time.monotonic()
    proc = subprocess.Popen([dbt_executable(), "--log-level-file", "none", "build", "--full-refresh",
                             "--exclude-resource-type", "unit_test", "--project-dir", str(DBT_DIR), "--profiles-dir",
                             str(DBT_DIR), "--target-path", str(work), "--log-path", str(work)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with Peak(lambda: [proc.pid]) as peak:
        proc.wait()
    wall = time.monotonic() - t
    results = json.loads((work / "run_results.json").read_text())["results"]
    bad = [r["unique_id"] for r in results if r["status"] not in ("success", "pass", "warn")]
    if proc.returncode != 0 or bad:
        raise SystemExit(f"dbt build on DuckDB failed ({len(bad)} node(s)): no figure")
    return wall, peak.peak


def _as_of(home: Path) -> str:
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return str(con.execute("select max(as_of) from ops.dbt_builds").fetchall()[0][0])
    finally:
        con.close()


def duckdb_counts(home: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        names = [n for (n,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables where table_schema in "
            "('marts', 'privacy', 'profiling') and table_type = 'BASE TABLE'").fetchall()]
        return {n: con.execute(f"select count(*) from {n}").fetchall()[0][0] for n in names}
    finally:
        con.close()


def spark_counts(names: list[str]) -> dict[str, int]:
    from pyhive import hive

    con = hive.connect(host="127.0.0.1", port=int(os.environ.get("FLEETDW_SPARK_PORT", 10000)), username="fleetdw")
    try:
        cur = con.cursor()
        out = {}
        for n in names:
            cur.execute(f"select count(*) from {n}")
            out[n] = cur.fetchall()[0][0]
        return out
    finally:
        con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True, help="a home a fleetdw run built")
    args = ap.parse_args()
    home = args.home.absolute()
    env = {**os.environ, "FLEETDW_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    os.environ.update({"FLEETDW_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"})

    duck_s, duck_mb = duckdb_build(home)
    print(f"duckdb: dbt build {duck_s:.1f} s, peak {duck_mb:.0f} MB", flush=True)

    from dagster_project.lake import export_lake
    from dagster_project.scaleout.cluster import ClusterConfig, status
    from dagster_project.scaleout.spark_build import build_on_spark
    from dagster_project.settings import Settings

    settings = Settings.resolve(str(home), as_of=_as_of(home), engine="spark")
    t = time.monotonic()
    lake = export_lake(settings)
    print(f"lake export: {time.monotonic() - t:.1f} s, {lake.partitions_written} partition(s) written", flush=True)
    cfg = ClusterConfig.for_home(home)
    up = subprocess.run([FLEETDW, "cluster", "up"], env=env, capture_output=True, text=True)
    try:
        if up.returncode != 0:
            raise SystemExit(f"cluster up failed: {up.stderr.strip().splitlines()[-1:]}")

        def pids() -> list[int]:
            return [s["pid"] for s in status(cfg).values() if s["pid"]] + [os.getpid()]

        with Peak(pids) as peak:
            build = build_on_spark(settings, "spark")
        if not build.ok:
            raise SystemExit(f"dbt build on Spark failed ({len(build.failed)} node(s)): no figure")
        print(f"spark: register + dbt build {build.seconds:.1f} s, peak {peak.peak:.0f} MB (cluster JVMs + dbt), "
              f"{json.dumps(build.metadata())}", flush=True)
        duck = duckdb_counts(home)
        spark = spark_counts(sorted(duck))
        different = sorted(n for n in duck if spark.get(n) != duck[n])
        if different:
            raise SystemExit(f"{len(different)} table(s) with different row counts: {different}: no figure")
        print(f"{len(duck)} tables, the same row counts on both engines")
        print(f"duckdb_s={duck_s:.1f} spark_s={build.seconds:.1f} duckdb_peak_mb={duck_mb:.0f} "
              f"spark_peak_mb={peak.peak:.0f}")
        return 0
    finally:
        subprocess.run([FLEETDW, "cluster", "down"], env=env, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
