"""dbt in the pipeline's process (``dagster_project/defs/dbt_runner.py``): the same day run on two copies of the
``day_one`` home, once with dbt in the run's process (the default) and once as a ``fleetdw-dbt`` process
(``FLEETDW_DBT_SUBPROCESS=1``), records the same materialisations and asset checks in Dagster; the in-process run
starts no dbt process, prints nothing besides its summary and leaves the warehouse file free for another process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support import AS_OF
from tests.support.cli import fleetdw

pytestmark = pytest.mark.heavy(20)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

NEXT_DAY = (AS_OF + timedelta(days=1)).isoformat()


def dagster_record(home: Path, run_id: str) -> tuple[set, set]:
    """The asset keys the run materialised and its asset checks with their outcome."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        def records(kind):
            return instance.get_records_for_run(run_id, of_type=kind, limit=10_000).records
        built = {r.event_log_entry.dagster_event.asset_key
                 for r in records(dg.DagsterEventType.ASSET_MATERIALIZATION)}
        checks = {(r.event_log_entry.dagster_event.event_specific_data.asset_check_key,
                   r.event_log_entry.dagster_event.event_specific_data.passed)
                  for r in records(dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
    return built, checks


@pytest.fixture(scope="module")
def day_runs(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The next day's run (no new file: the date's readers) on a copy of ``day_one`` per mode, with every process
    the run started."""
    out = {}
    for mode, env in (("in_process", {}), ("subprocess", {"FLEETDW_DBT_SUBPROCESS": "1"})):
        home = tmp_path_factory.mktemp(mode) / "home"
        shutil.copytree(day_one / "home", home)
        started: list[list[str]] = []
        real_popen = subprocess.Popen

        def recording_popen(args, *a, **kw):
            started.append([str(x) for x in args] if isinstance(args, (list, tuple)) else [str(args)])
            return real_popen(args, *a, **kw)

        with pytest.MonkeyPatch.context() as mp:
            # a process that has imported Great Expectations (a long-lived one, after its first quality step): a
            # partial build's dbt runs here (defs/dbt.py, overlaps_quality_import)
            import great_expectations  # noqa: F401
            mp.setattr(subprocess, "Popen", recording_popen)
            result = fleetdw(home, "run", "--json", FLEETDW_AS_OF=NEXT_DAY, **env)
        out[mode] = {"home": home, "stdout": result.stdout, "started": started}
    return out


def dbt_processes(started: list[list[str]]) -> list[str]:
    return [Path(args[0]).name for args in started if Path(args[0]).name in ("fleetdw-dbt", "dbt")]


def test_dbt_in_the_runs_process_records_what_a_dbt_process_records(day_runs):
    summaries = {mode: json.loads(run["stdout"]) for mode, run in day_runs.items()}   # nothing else printed
    for mode, summary in summaries.items():
        assert summary["status"] == "success", mode
        assert summary["build"]["models"] > 0 and summary["checks"]["failed"] == 0, mode
    assert summaries["in_process"]["build"] == summaries["subprocess"]["build"]
    assert summaries["in_process"]["checks"] == summaries["subprocess"]["checks"]
    records = {mode: dagster_record(run["home"], summaries[mode]["run_id"]) for mode, run in day_runs.items()}
    built, checks = records["in_process"]
    assert built and checks and all(passed for _, passed in checks)
    assert records["in_process"] == records["subprocess"]


def test_the_in_process_run_starts_no_dbt_process(day_runs):
    assert dbt_processes(day_runs["in_process"]["started"]) == []
    assert dbt_processes(day_runs["subprocess"]["started"]) == ["fleetdw-dbt"]   # the control: the same day


def test_the_warehouse_is_free_for_another_process_after_the_in_process_build(day_runs):
    warehouse = day_runs["in_process"]["home"] / "warehouse.duckdb"
    # a read-write connection from another process fails while any connection of this one holds the file
    subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(warehouse)],
                   check=True, capture_output=True)


def test_a_partial_build_in_a_fresh_process_overlaps_dbt_with_the_quality_import(monkeypatch):
    """A run's own process has not imported Great Expectations: its partial build runs dbt as a process while the
    import proceeds here; a complete build, or a process that has the import, runs dbt here."""
    from dagster_project.defs.dbt import overlaps_quality_import

    monkeypatch.delitem(sys.modules, "great_expectations", raising=False)
    assert overlaps_quality_import(complete=False)
    assert not overlaps_quality_import(complete=True)
    monkeypatch.setitem(sys.modules, "great_expectations", sys)
    assert not overlaps_quality_import(complete=False)
