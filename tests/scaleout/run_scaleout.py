"""The distributed path end to end, on demand (not part of the suite; ~5 minutes, ~4 GB):

    python tests/scaleout/run_scaleout.py [--persons N] [--keep DIR]

Generates a landing zone, starts the local cluster (``fleetdw cluster up``: Redis, a Spark master and two workers,
the Thrift server, Celery workers — all on 127.0.0.1), runs ``fleetdw run`` with ``FLEETDW_ENGINE=spark`` (the
Dagster job on the dagster-celery executor: the DuckDB steps on the one-writer queue, ``dbt build --target spark``
from the Parquet lake on the other), then compares every mart, privacy and profiling table the Spark build wrote
(read over Thrift) with the DuckDB build of the same run: row counts and an order-independent checksum (floats
rounded, instants in UTC). Prints one line per table and a last line
``tables=<n> same=<n> spark_build_s=<x> run_s=<y>``; exits non-zero (no figures) when a step failed or a table
differs. Stops everything it started, also on failure. Counts and checksums only: no value is printed.
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
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.support import AS_OF  # noqa: E402
from tests.support.spark import duckdb_tables, table_digest  # noqa: E402

FLEETDW = str(Path(sys.executable).with_name("fleetdw"))


def _utc_naive(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _from_thrift(value, type_code: str):
    """PyHive gives many Spark types as text: back to the Python values DuckDB gives (instants in UTC: the Thrift
    server's session time zone is UTC)."""
    if value is None or not isinstance(value, str):
        return value
    t = (type_code or "").upper()
    if t.startswith("TIMESTAMP"):
        return datetime.fromisoformat(value)
    if t == "DATE_TYPE":
        return date.fromisoformat(value)
    if t == "DECIMAL_TYPE":
        return Decimal(value)
    if t == "ARRAY_TYPE":
        return tuple(json.loads(value))
    return value


def spark_digests(host: str, port: int, names: list[str]) -> dict[str, dict]:
    from pyhive import hive

    con = hive.connect(host=host, port=port, username="fleetdw")
    try:
        cur = con.cursor()
        cur.execute("set spark.sql.session.timeZone=UTC")
        out = {}
        for name in names:
            try:
                cur.execute(f"select * from {name}")
            except Exception:  # noqa: BLE001 - a table the Spark build did not write: reported as missing
                continue
            desc = cur.description
            rows = [tuple(_from_thrift(v, d[1]) for v, d in zip(r, desc)) for r in cur.fetchall()]
            out[name] = table_digest([d[0].split(".")[-1] for d in desc], rows)
        return out
    finally:
        con.close()


def fleetdw(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([FLEETDW, *args], env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"fleetdw {' '.join(args[:2])} failed (exit {proc.returncode}): "
                         f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=300)
    ap.add_argument("--keep", type=Path, default=None, help="work directory to keep")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fleetdw-scaleout-"))
    home = work / "home"
    env = {**os.environ, "FLEETDW_HOME": str(home), "FLEETDW_ENGINE": "spark", "SPARK_LOCAL_IP": "127.0.0.1",
           "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("FLEETDW_WAREHOUSE", None)
    home.mkdir(parents=True, exist_ok=True)
    try:
        if not (home / "landing").exists():
            fleetdw(["generate", "--out", str(home / "landing"), "--persons", str(args.persons), "--days", "10",
                     "--as-of", AS_OF.isoformat()], env)
        t = time.monotonic()
        fleetdw(["cluster", "up"], env)
        print(f"cluster up in {time.monotonic() - t:.0f} s", flush=True)
        t = time.monotonic()
        run = fleetdw(["run", "--json", "--as-of", AS_OF.isoformat()], env, check=False)
        run_s = time.monotonic() - t
        try:
            summary = json.loads(run.stdout)
        except json.JSONDecodeError:
            print(f"fleetdw run gave no summary (exit {run.returncode})", file=sys.stderr)
            return 1
        spark = summary.get("spark", {})
        print(f"run: {summary['status']} in {run_s:.0f} s; spark build: {json.dumps(spark)}", flush=True)
        if summary["status"] != "success" or spark.get("failed", 1) != 0:
            print(f"failed steps: {summary.get('failed_steps')}", file=sys.stderr)
            return 1
        duck = duckdb_tables(home / "warehouse.duckdb", _utc_naive)
        sparks = spark_digests("127.0.0.1", int(os.environ.get("FLEETDW_SPARK_PORT", 10000)), list(duck))
        same = 0
        for name, d in duck.items():
            s = sparks.get(name)
            ok = s is not None and s["checksum"] == d["checksum"]
            same += ok
            print(f"{name:<45} duckdb={d['rows']:>7} spark={s['rows'] if s else '-':>7} "
                  f"{'same' if ok else 'DIFFERENT'}")
        if same != len(duck) or not duck:
            print(f"{len(duck) - same} table(s) differ", file=sys.stderr)
            return 1
        print(f"tables={len(duck)} same={same} spark_build_s={spark.get('seconds')} run_s={run_s:.1f}")
        return 0
    finally:
        fleetdw(["cluster", "down"], env, check=False)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
