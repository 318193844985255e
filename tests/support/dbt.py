"""Build a warehouse from tiny landing files written here, and run dbt against it.

dbt runs in this process as the pipeline runs it (``dagster_project/defs/dbt_runner.py``: the manifest parsed once,
dbt's DuckDB handle closed when it returns); a modified copy of the project runs in a dbt subprocess. Its output is
never shown: a failure reports only the failed nodes (or dbt's summary lines), because dbt's own messages can quote
data.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from ingest.contracts import SOURCES
from ingest.loader import LoadContext, Loader
from tests.support import AS_OF, REPO

DBT_DIR = REPO / "dbt"
DBT = str(Path(sys.executable).with_name("dbt"))


class DbtFailed(AssertionError):
    pass


def run_dbt(args: list[str], warehouse: Path, work: Path, project_dir: Path = DBT_DIR,
            as_of: date = AS_OF) -> None:
    """``dbt <args>`` on ``warehouse``; target and logs under ``work`` (never in the repo). The project's own dbt
    runs in this process on the manifest it parsed once (``dagster_project/defs/dbt_runner.py``, as the pipeline
    runs it), with the date in ``FLEETDW_AS_OF``; another project (a test's modified copy) in a dbt process."""
    if project_dir == DBT_DIR:
        dbt_here(args, warehouse, work, as_of)
        return
    env = {**os.environ, "FLEETDW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [DBT, *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
           "--vars", json.dumps({"as_of": as_of.isoformat()})]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(project_dir))
    if proc.returncode != 0:
        summary = [line for line in proc.stdout.splitlines()
                   if "Failure in" in line or "Error in" in line or "Done. PASS" in line
                   or "Compilation Error" in line or "Parsing Error" in line]
        raise DbtFailed(f"dbt {args[0]} failed: " + " | ".join(s.strip()[-200:] for s in summary))


def dbt_here(args: list[str], warehouse: Path, work: Path, as_of: date = AS_OF):
    """``dbt <args>`` of the project in this process (``dbt_runner.invoke``); dbt's result, or :class:`DbtFailed`."""
    from dagster_project.defs.dbt_runner import invoke

    # FLEETDW_HOME: the warehouse's directory, where a bare dbt call keeps the key file (never the repository)
    res = invoke([*args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                  "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
                 {"FLEETDW_WAREHOUSE": str(warehouse), "FLEETDW_HOME": str(warehouse.parent),
                  "FLEETDW_AS_OF": as_of.isoformat(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    if not res.success:
        results = getattr(res.result, "results", None) or []
        failed = sorted(f"{r.node.unique_id} {r.status}" for r in results
                        if str(r.status) in ("error", "fail", "runtime error"))
        # names and statuses only: dbt's messages can quote data
        raise DbtFailed(f"dbt {args[0]} failed: " + (" | ".join(failed) if failed else
                                                     type(res.exception).__name__ if res.exception else "unknown"))
    return res


def read_rows(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of a query on a read-only connection to ``warehouse``, closed at once."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def checkpoint(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("checkpoint")
    con.close()


class LandingZone:
    """Writes landing files under ``home/landing`` and loads them into ``home/warehouse.duckdb``, closing the
    file after each load so that dbt (a subprocess) can open it."""

    def __init__(self, home: Path):
        self.home = home
        self.root = home / "landing"
        self.root.mkdir(parents=True, exist_ok=True)
        self.runs = 0

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    def write(self, source: str, name: str, text: str) -> None:
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")

    def write_jsonl(self, source: str, name: str, rows: list[dict], gz: bool = False) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(text.encode(), mtime=0) if gz else text.encode()
        (folder / name).write_bytes(data)

    def load(self, as_of: date = AS_OF) -> None:
        self.runs += 1
        con = duckdb.connect(str(self.warehouse))
        try:
            loader = Loader(con, LoadContext(self.home, self.root, as_of, f"dbt-test-{self.runs}"))
            for source in SOURCES.values():
                loader.ingest(source)
            con.execute("checkpoint")
        finally:
            con.close()


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@dataclass(frozen=True)
class BuiltFleet:
    home: Path       # fleetdw home: landing/, archive/, warehouse.duckdb
    work: Path       # dbt target/ and logs/ of the build

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"
