"""A run costs what changed (``dagster_project.build_state``, ``defs/selection.py``): operated as a user would —
a run after day one's erasure, a run with nothing new, one fuel file, the next day with no file, an erasure
request — each run builds exactly the dbt models downstream of what changed (Dagster's materialisations say so),
nothing at all when nothing changed, and every data test of what it built passes."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.support import AS_OF
from tests.support.cli import fleetdw

pytestmark = pytest.mark.heavy(30)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


@pytest.fixture(scope="module")
def home(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("noop") / "home"
    shutil.copytree(day_one / "home", dst)
    return dst


def run(home: Path, **env: str) -> dict:
    return json.loads(fleetdw(home, "run", "--json", **env).stdout.splitlines()[0])


def dbt_materialised(home: Path, run_id: str) -> set:
    """The dbt models Dagster recorded as materialised by the run."""
    import dagster as dg

    from dagster_project.defs.dbt import warehouse_dbt

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        return {r.event_log_entry.dagster_event.asset_key for r in records
                if r.event_log_entry.dagster_event.asset_key in warehouse_dbt.keys}


def dbt_materialisations(home: Path, run_id: str) -> int:
    return len(dbt_materialised(home, run_id))


def reader_keys(input_name: str) -> set:
    """The asset keys of the dbt models that read an input (build_state.readers)."""
    from dagster_project.build_state import readers
    from dagster_project.defs.dbt import TRANSLATOR
    from dagster_project.manifest import load_manifest

    manifest = load_manifest()
    return {TRANSLATOR.get_asset_key(manifest["nodes"][uid]) for uid in readers(manifest)[input_name]}


@pytest.fixture(scope="module")
def next_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deliveries of the day after the day-one landing zone (same persons and seed)."""
    out = tmp_path_factory.mktemp("next_day") / "landing"
    nxt = (AS_OF + timedelta(days=1)).isoformat()
    fleetdw(out.parent, "generate", "--out", str(out), "--persons", "150", "--seed", "7",
                       "--start", AS_OF.isoformat(), "--as-of", nxt)
    return out


def test_a_run_builds_what_changed_since_the_build_that_covered_it(home: Path, next_day: Path):
    from dagster_project.defs.resources import WarehouseResource
    from dagster_project.defs.sensors import landing_sensor
    import dagster as dg

    builds = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        # day one's build, then the rebuild after its erasure: the models below what the erasure changed in place
        # and every other model it made stale (the readers of tables it only deleted rows from), run and tested
        # again from the erased inputs, recorded as a build of its own
        logged = builds.execute("select models, complete, inputs from ops.dbt_builds order by built_at").fetchall()
        assert [(models > 0, complete) for models, complete, _ in logged] == [(True, True), (True, False)]
        assert logged[1][2]
        assert builds.execute("select count(*) from ops.retention_runs where status = 'applied'").fetchall()[0][0] == 1
        person = builds.execute("select person_id from raw.crm_persons_current where relationship_end is null "
                                "order by person_id limit 1").fetchall()[0][0]
    finally:
        builds.close()

    # day one's run erased the persons due after its build and rebuilt everything that made stale: the run after
    # it, with nothing new, has no dbt work left
    unchanged = run(home)
    assert unchanged["status"] == "success" and unchanged["warehouse"] == "unchanged"
    assert unchanged["models_built"] == 0 and unchanged["checks"]["passed"] == 0
    assert dbt_materialisations(home, unchanged["run_id"]) == 0
    assert unchanged["retention"]["status"] == "nothing_due"
    # the steps that read only dbt's output had nothing new to read: left out of the run, honestly absent
    assert "privacy" not in unchanged and "quality" not in unchanged

    # one fuel file: the raw assets, fuel's descendants and the steps after dbt
    fuel = sorted((next_day / "fuel").iterdir())
    assert fuel, "the generator delivers a fuel file every day"
    for f in fuel:
        shutil.copy(f, home / "landing" / "fuel" / f.name)
    # the landing sensor asks for the selection the CLI launches
    request = landing_sensor(dg.build_sensor_context(resources={"warehouse": WarehouseResource(
        home=str(home), as_of=AS_OF.isoformat())})).run_requests[0]
    assert request.asset_selection is not None and reader_keys("source:fuel") <= set(request.asset_selection)
    assert not (reader_keys("source:web") - reader_keys("source:fuel")) & set(request.asset_selection)
    one_file = run(home)
    assert one_file["status"] == "success" and one_file["ingested"]["fuel"] > 0
    assert one_file["build"] == {"models": len(reader_keys("source:fuel")), "complete": False,
                                 "changed": ["source:fuel"]}
    assert dbt_materialised(home, one_file["run_id"]) == reader_keys("source:fuel")
    assert one_file["checks"]["failed"] == 0 and one_file["checks"]["passed"] > 0
    assert one_file["quality"]["rows_validated"] > 0      # the new fuel batch was validated

    # the next day with nothing delivered: the models that read the date (ages, active contracts, eligibility,
    # ...) and what is downstream of them, not the whole warehouse
    next_as_of = (AS_OF + timedelta(days=1)).isoformat()
    day_two = run(home, FLEETDW_AS_OF=next_as_of)
    assert day_two["status"] == "success" and "as_of" in day_two["build"]["changed"]
    built = dbt_materialised(home, day_two["run_id"])
    assert reader_keys("as_of") <= built and built < reader_keys("project")
    assert day_two["checks"]["failed"] == 0

    # an erasure request makes the persons' eligibility, profiles and what reads them stale
    fleetdw(home, "erase", person, "--reason", "ticket 12", FLEETDW_AS_OF=next_as_of)
    requested = run(home, FLEETDW_AS_OF=next_as_of)
    assert requested["warehouse"] == "built" and "erasure_requests" in requested["build"]["changed"]
    assert reader_keys("erasure_requests") <= dbt_materialised(home, requested["run_id"])
    assert requested["checks"]["failed"] == 0 and requested["retention"]["status"] == "applied"
    # the erasure's own rebuild built everything it made stale: nothing is left for the run after it
    after = run(home, FLEETDW_AS_OF=next_as_of)
    assert after["status"] == "success" and after["warehouse"] == "unchanged" and after["models_built"] == 0
    assert after["build"]["changed"] == [] and after["retention"]["status"] == "nothing_due"
