"""``dbt build`` of the whole project on a Spark target (``FLEETDW_ENGINE=spark``; the Thrift server of
``fleetdw cluster up`` or a real cluster's), from the home's Parquet lake (``dagster_project/lake``).

Two dbt calls in a child process: ``run-operation register_lake`` (the lake's tables and the ``_current`` views as
dbt's sources on Spark), then ``build``. The child's environment alone carries the pseudonym key's HMAC pads
(``dagster_project.lake.spark.pad_environment``; dbt scrubs them from its logs, the profile passes them into the
Spark session's conf, never a table). dbt's output is not kept: a failing test's message could quote a value; the
outcome is counted from ``run_results.json``. No Dagster import.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.manifest import DBT_DIR, dbt_executable

OK = {"success", "pass"}


class SparkBuildError(RuntimeError):
    """The Spark build could not run (one line for the user)."""


@dataclass
class SparkBuild:
    target: str
    seconds: float = 0.0
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)   # resource type → status → count
    failed: list[str] = field(default_factory=list)                     # node ids (names, never values)

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.statuses)

    def metadata(self) -> dict:
        return {"target": self.target, "seconds": round(self.seconds, 1), "failed": len(self.failed),
                **{f"{kind}_{status}": n for kind, by in sorted(self.statuses.items())
                   for status, n in sorted(by.items())}}


def _env(settings) -> dict[str, str]:
    from dagster_project.lake.spark import pad_environment
    from dagster_project.privacy.pseudonym import load_key

    return {**os.environ, **pad_environment(load_key(settings.home)), "FLEETDW_AS_OF": settings.as_of.isoformat(),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}


def _dbt(args: list[str], env: dict[str, str], work: Path, target: str) -> subprocess.CompletedProcess:
    cmd = [dbt_executable(), "--log-level-file", "none", *args, "--target", target, "--project-dir", str(DBT_DIR),
           "--profiles-dir", str(DBT_DIR), "--target-path", str(work), "--log-path", str(work)]
    return subprocess.run(cmd, env=env, cwd=str(DBT_DIR), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_on_spark(settings, target: str = "spark") -> SparkBuild:
    """Register the lake and build every model, seed and data test on ``target``; counts per status."""
    from dagster_project.lake.spark import registration_args, require_pyspark

    require_pyspark()
    work = settings.home / "dbt" / f"spark-{target}"
    work.mkdir(parents=True, exist_ok=True)
    env = _env(settings)
    started = time.monotonic()
    reg = _dbt(["run-operation", "register_lake", "--args", json.dumps(registration_args(settings.lake))],
               env, work, target)
    if reg.returncode != 0:
        raise SparkBuildError(f"registering the lake on Spark ({target}) failed: is the Thrift server up "
                              "(fleetdw cluster status)?")
    (work / "run_results.json").unlink(missing_ok=True)
    _dbt(["build", "--exclude-resource-type", "unit_test"], env, work, target)
    results_file = work / "run_results.json"
    if not results_file.exists():
        raise SparkBuildError(f"dbt build on Spark ({target}) did not run (no run_results.json)")
    out = SparkBuild(target, time.monotonic() - started)
    for r in json.loads(results_file.read_text()).get("results", []):
        kind = r["unique_id"].split(".")[0]
        out.statuses.setdefault(kind, {}).setdefault(r["status"], 0)
        out.statuses[kind][r["status"]] += 1
        if r["status"] not in OK | {"warn"}:          # error, fail, skipped (an upstream node failed)
            out.failed.append(r["unique_id"])
    return out
