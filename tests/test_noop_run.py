"""A run costs what changed (issue: runs that cost what changed): with no landing file waiting, on the same as-of
day, with no new erasure request and no erasure since the last successful build, a run launches without the dbt
assets — Dagster's run shows nothing built — and everything else still runs; an erasure request or an applied
erasure makes the next run build and test again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import fleetdw, fleetdw_subprocess


@pytest.fixture(scope="module")
def home(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("noop") / "home"
    shutil.copytree(day_one / "home", dst)
    return dst


def run(home: Path) -> dict:
    return json.loads(fleetdw_subprocess(home, "run", "--json").stdout.splitlines()[0])


def dbt_materialisations(home: Path, run_id: str) -> int:
    """How many dbt models Dagster recorded as materialised by the run."""
    import dagster as dg

    from dagster_project.defs.dbt import warehouse_dbt

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        return sum(1 for r in records if r.event_log_entry.dagster_event.asset_key in warehouse_dbt.keys)


def test_a_run_with_nothing_new_does_no_dbt_work_and_an_erasure_request_builds_again(home: Path):
    builds = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert builds.execute("select count(*) from ops.dbt_builds").fetchall()[0][0] == 1   # day one's build
        assert builds.execute("select count(*) from ops.retention_runs where status = 'applied'").fetchall()[0][0] == 1
        person = builds.execute("select person_id from raw.crm_persons_current where relationship_end is null "
                                "order by person_id limit 1").fetchall()[0][0]
    finally:
        builds.close()

    # day one's run erased the persons due after its build: the raw layer changed, so the next run builds and tests
    after_erasure = run(home)
    assert after_erasure["warehouse"] == "built" and after_erasure["checks"]["failed"] == 0
    assert after_erasure["retention"]["status"] == "nothing_due"
    unchanged = run(home)
    assert unchanged["status"] == "success" and unchanged["warehouse"] == "unchanged"
    assert unchanged["models_built"] == 0 and unchanged["checks"]["passed"] == 0
    assert dbt_materialisations(home, unchanged["run_id"]) == 0
    assert unchanged["retention"]["status"] == "nothing_due" and "privacy" in unchanged and "quality" in unchanged

    fleetdw(home, "erase", person, "--reason", "ticket 12")
    built = run(home)
    assert built["warehouse"] == "built" and built["models_built"] > 40 and built["checks"]["failed"] == 0
    assert dbt_materialisations(home, built["run_id"]) > 40
    assert built["retention"]["status"] == "applied"
