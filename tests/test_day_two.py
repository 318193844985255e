"""Day two: what the warehouse legitimately looks like after an erasure is what its tests expect, so the runs after
an erasure keep succeeding and the company's costs keep counting the anonymised facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dbt import run_dbt
from tests.support.retention import Home, run_retention

pytestmark = pytest.mark.heavy(40)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def _driver_of_ended_company_car_with_events(home: Home) -> str:
    """An active business contact who drove a company car under an ended contract whose fuel and wash events the
    warehouse holds (the events stay, anonymised, when the driver is erased)."""
    return home.rows("""
        select c.driver_person_id
        from raw.contracts_current c
        join raw.crm_persons_current p on p.person_id = c.driver_person_id
        join marts.fct_fuel_transactions f on f.contract_id = c.contract_id
        join marts.fct_washes w on w.contract_id = c.contract_id
        where c.status in ('ended', 'terminated') and c.customer_business_id is not null
          and p.customer_type = 'business_contact' and p.relationship_end is null
        group by 1 order by count(*) desc, 1 limit 1""")[0][0]


def _erase(home: Home, person_id: str) -> None:
    from dagster_project.retention.control import record_erasure_request
    from dagster_project.warehouse import open_warehouse

    with open_warehouse(home.settings) as con:
        record_erasure_request(con, person_id, "ticket 1")


def test_the_build_after_erasing_a_driver_of_a_company_car_passes_every_test(home: Home, tmp_path: Path):
    person = _driver_of_ended_company_car_with_events(home)
    costs_before = home.rows("select customer_business_id, round(sum(fuel_eur), 2), sum(washes) from marts.fleet_monthly_costs "
                             "group by 1 order by 1")
    _erase(home, person)
    outcome = run_retention(home)
    assert outcome.status == "applied" and outcome.verification == "passed"
    assert home.scalar("select count(*) from raw.fuel where registration_number is null") > 0
    # the next build: every data test and unit test of the project, on the anonymised rows
    run_dbt(["build"], home.warehouse, tmp_path / "work")
    costs_after = home.rows("select customer_business_id, round(sum(fuel_eur), 2), sum(washes) from marts.fleet_monthly_costs "
                            "group by 1 order by 1")
    assert costs_after == costs_before


def test_a_second_run_on_the_same_home_is_a_one_line_busy_error(tmp_path: Path):
    """While a run holds <home>/run.lock (here: this test, as a first fleetdw run would), another fleetdw run on
    the same home ends at once with a one-line error and exit 2, and touches nothing."""
    import os
    import shutil
    import subprocess
    import sys

    from filelock import FileLock

    from tests.support import REPO, SAMPLES

    home = tmp_path / "home"
    shutil.copytree(SAMPLES, home / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDW_")}
    env.update(FLEETDW_HOME=str(home), FLEETDW_AS_OF="2026-11-22")
    with FileLock(str(home / "run.lock")):
        second = subprocess.run([sys.executable, "-m", "dagster_project.cli", "run", "--json"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    assert len(second.stderr.strip().splitlines()) == 1 and "busy" in second.stderr
    assert "Traceback" not in second.stderr and second.stdout == ""
    assert not (home / "warehouse.duckdb").exists() and not (home / "dagster").exists()
    assert sorted(p.name for p in (home / "landing").rglob("*")) == sorted(p.name for p in SAMPLES.rglob("*"))


def test_a_run_where_only_the_shorter_policies_are_due_applies_them(home: Path):
    """No person is due, raw IPs older than 30 days are: the erasure runs with no subject at all."""
    from dagster_project.build_state import input_values
    from dagster_project.manifest import load_manifest
    from dagster_project.retention.rebuild import rebuild_selection
    from tests.support import AS_OF
    from tests.support.retention import due_now, set_relationship_end

    set_relationship_end(home, sorted(due_now(home)), None)
    cutoff = f"timestamp '{AS_OF.isoformat()}' - interval 30 day"
    old_ips = home.scalar(f"select count(*) from raw.web where ip_address is not null and event_time < {cutoff}")
    assert old_ips > 0 and not due_now(home)
    manifest = load_manifest()
    with home.con(read_only=True) as con:
        before = input_values(con, AS_OF, manifest)
    outcome = run_retention(home)
    assert (outcome.status, outcome.erased_subjects, outcome.verification) == ("applied", 0, "passed")
    assert home.scalar(f"select count(*) from raw.web where ip_address is not null and event_time < {cutoff}") == 0
    assert home.scalar("select count(*) from ops.erasure_audit where policy = 'raw_ip_address' and rows > 0") >= 1
    # no dbt table derives anything from a raw IP (staging's view computes the network on read, int_web_events took
    # it when the event loaded): no web model to rebuild after the erasure, and the next run finds web unchanged
    with home.con(read_only=True) as con:
        selection = rebuild_selection(con, manifest, "test-run-0001")   # other policies due today rebuild theirs
        assert selection and not [s for s in selection if s.startswith("source:raw.web")]
        assert input_values(con, AS_OF, manifest)["source:web"] == before["source:web"]


def test_the_retention_benchmark_prints_no_figure_for_work_it_did_not_do(home: Path):
    """A kept home whose last verification failed: the gate blocks the erasure, so the benchmark must fail
    without a figure (it used to clear the failed verification, or report a blocked run as timed)."""
    import os
    import subprocess
    import sys

    from tests.support import REPO

    from dagster_project.retention.control import ensure_control_tables

    con = home.con()
    ensure_control_tables(con)
    con.execute("insert into ops.verification_results values ('earlier', date '2026-11-01', now(), 1, 1, 1, 0, 0, 1, "
                "false)")
    con.close()
    proc = subprocess.run([sys.executable, "tests/benchmarks/bench_retention.py", "--keep", str(home.path),
                           "--subjects", "3"], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "FLEETDW_HOME": str(home.path)})
    assert proc.returncode != 0
    assert "no figure" in proc.stderr
    assert "erase_s=" not in proc.stdout and " s, peak " not in proc.stdout
    assert home.scalar("select count(*) from ops.verification_results where not passed") == 1


def test_a_failed_verification_is_cleared_only_by_verifying_again_after_the_fix(home: Path):
    from dagster_project.retention.plan import gate_previous_verification
    from dagster_project.retention.verify import reverify

    person = _driver_of_ended_company_car_with_events(home)
    email = home.scalar("select email from raw.crm_persons_current where person_id = ?", [person])
    assert email
    con = home.con()   # a copy of the subject's email somewhere no declaration knows
    con.execute("create table main.stray_notes as select ? as note", [f"mail to: {email}"])
    con.close()
    _erase(home, person)
    outcome = run_retention(home)
    assert outcome.status == "applied" and outcome.verification == "failed" and outcome.verification_detail["table_hits"]
    assert home.scalar("select count(*) from ops.erasure_fingerprints") > 0

    def gate_passes() -> bool:
        con = home.con(read_only=True)
        try:
            return gate_previous_verification(con).passed
        finally:
            con.close()

    assert not gate_passes()
    again = reverify(home.settings)          # nothing fixed yet: still failed, still blocking
    assert again["verification"] == "failed" and again["table_hits"] == 1 and not gate_passes()
    con = home.con()
    con.execute("drop table main.stray_notes")
    con.close()
    fixed = reverify(home.settings)
    assert fixed["verification"] == "passed" and gate_passes()
    assert home.scalar("select count(*) from ops.erasure_fingerprints") == 0


def test_a_second_erasure_finds_its_archive_lines_after_a_first_one_rewrote_the_file(home: Path):
    """The archive rewrite keeps line numbers (an erased record becomes a blank record), so the next erasure's
    lineage still points at the right lines: before, it dropped other people's lines and missed its own."""
    import gzip

    rows = home.rows("""
        select f.driver_person_id, min(r._load_id) from marts.fct_fuel_transactions f
        join raw.fuel r using (transaction_id)
        join raw.crm_persons_current p on p.person_id = f.driver_person_id
        where p.customer_type = 'business_contact'
        group by 1 order by count(*) desc, 1 limit 2""")
    assert len(rows) == 2

    def archive_lines() -> dict[str, int]:
        out = {}
        for f in (home.path / "archive").rglob("*"):
            if f.is_file():
                data = gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()
                out[str(f.relative_to(home.path))] = data.count(b"\n")
        return out

    before = archive_lines()
    for person, _ in rows:
        _erase(home, person)
        outcome = run_retention(home)
        assert outcome.status == "applied" and outcome.verification == "passed", outcome.verification_detail
    assert archive_lines() == before


def test_an_erased_person_a_later_crm_delivery_brings_back_is_erased_again_before_the_build(home: Home):
    """The CRM still holds an erased person and re-delivers them: the new rows and the new archive file lose them
    again at once, verified, audited; checking again finds nothing."""
    from datetime import timedelta

    from dagster_project.retention.archive import file_holds
    from dagster_project.retention.reappeared import erase_reappeared
    from dagster_project.synthetic.records import file_name
    from ingest.contracts import SOURCES
    from ingest.loader import LoadContext, Loader
    from tests.support import AS_OF
    from tests.support.retention import persons_without_contracts

    person, email = next(r for r in home.rows(
        "select person_id, email from raw.crm_persons_current where person_id in (select unnest(?)) "
        "and email is not null order by 1", [persons_without_contracts(home, 20)]))
    columns = ", ".join(f'"{c}"' for c in SOURCES["crm_persons"].column_names)
    export = home.path / "export.csv"
    con = home.con()
    con.execute(f"copy (select {columns} from raw.crm_persons_current where person_id = ?) to '{export}' "
                "(header, delimiter ',')", [person])
    con.close()
    _erase(home, person)
    assert run_retention(home).verification == "passed"
    assert home.scalar("select count(*) from raw.crm_persons where person_id = ?", [person]) == 0

    delivery = home.path / "landing" / "crm_persons" / file_name("crm_persons", AS_OF + timedelta(days=1))
    delivery.parent.mkdir(parents=True, exist_ok=True)
    delivery.write_bytes(export.read_bytes())
    export.unlink()
    con = home.con()
    # as in a home an older version made: no ops.legal_retention yet (the shorter policies' counts read it)
    con.execute("drop table if exists ops.legal_retention")
    loaded = Loader(con, LoadContext(home.path, home.path / "landing", AS_OF, "redelivery")).ingest(
        SOURCES["crm_persons"])
    con.close()
    assert loaded.rows_loaded == 1
    archived = Path(home.scalar("select archive_path from raw.file_manifest where file_name = ?", [delivery.name]))
    assert file_holds(archived, {email})

    again = erase_reappeared(home.settings, "redelivery", ["raw.crm_persons"])
    assert again is not None and (again.erased_subjects, again.verification) == (1, "passed")
    assert home.scalar("select count(*) from raw.crm_persons where person_id = ?", [person]) == 0
    assert not file_holds(archived, {email})
    assert home.scalar("select count(*) from ops.erasure_audit where policy = 'erased_before' and rows > 0") >= 1
    assert erase_reappeared(home.settings, "next-run", ["raw.crm_persons"]) is None


def test_rows_naming_an_erased_person_are_withheld_at_the_load_without_a_second_erasure(home: Home):
    """Upstream systems still hold an erased person: the loader withholds their rows of CSV and JSON Lines
    deliveries (stored nowhere, blanked in the archived copy, audited per pseudonym in the load's transaction), the
    other rows of the same files load, conservation holds, and there is nothing left to erase again."""
    import gzip
    import json
    from datetime import timedelta

    from dagster_project.retention.archive import file_holds
    from dagster_project.retention.reappeared import find_reappeared, withhold_erased
    from dagster_project.synthetic.records import file_name
    from ingest.contracts import SOURCES
    from ingest.loader import LoadContext, Loader
    from tests.support import AS_OF
    from tests.support.retention import persons_without_contracts

    erased, other = (r for r in home.rows(
        "select person_id, email from raw.crm_persons_current where person_id in (select unnest(?)) "
        "and email is not null and person_id in (select person_id from raw.consents_current) order by 1 limit 2",
        [persons_without_contracts(home, 40)]))
    landing = home.path / "landing"
    day = AS_OF + timedelta(days=1)
    files = {s: landing / s / file_name(s, day) for s in ("crm_persons", "consents", "web")}
    for f in files.values():
        f.parent.mkdir(parents=True, exist_ok=True)

    def cols(source: str) -> list[str]:
        return list(SOURCES[source].column_names)

    con = home.con()
    pair = [erased[0], other[0]]
    con.execute(f"copy (select {', '.join(cols('crm_persons'))} from raw.crm_persons_current "
                f"where person_id in (?, ?) order by person_id) to '{files['crm_persons']}' (header)", pair)
    con.execute(f"copy (select * replace ('redelivered-' || person_id as consent_event_id) from ("
                f"select {', '.join(cols('consents'))} from raw.consents_current where person_id in (?, ?) "
                "qualify row_number() over (partition by person_id order by consent_event_id) = 1) order by person_id) "
                f"to '{files['consents']}' (header)", pair)
    template = dict(zip(cols("web"), con.execute(f"select {', '.join(cols('web'))} from raw.web_current "
                                                 "where user_id is null order by event_id limit 1").fetchall()[0]))
    con.close()
    events = [json.dumps({**template, "event_id": f"redelivered-{p}", "user_id": p, "cookie_id": None},
                         default=lambda v: v.isoformat()) for p in pair]
    with gzip.open(files["web"], "wt") as f:
        f.write("\n".join(events) + "\n")

    _erase(home, erased[0])
    assert run_retention(home).verification == "passed"
    runs_before = home.scalar("select count(*) from ops.retention_runs")

    con = home.con()
    withhold = withhold_erased(con, home.settings, "redelivery")
    assert withhold is not None and withhold.columns["consents"] == ("person_id",)
    loader = Loader(con, LoadContext(home.path, landing, AS_OF, "redelivery", withhold))
    outcomes = {s: loader.ingest(SOURCES[s]) for s in files}
    found = find_reappeared(con, home.settings, [f"raw.{s}" for s in files])
    con.close()
    for source, outcome in outcomes.items():
        assert (outcome.rows_loaded, outcome.rows_withheld_erased, outcome.rows_withheld) == (1, 1, 1), source
        person = "user_id" if source == "web" else "person_id"
        assert home.scalar(f"select count(*) from raw.{source} where {person} = ?", [erased[0]]) == 0
        assert home.scalar(f"select count(*) from raw.{source} where {person} = ? and _load_id = "
                           f"(select max(_load_id) from raw.{source})", [other[0]]) == 1
        rows_in, loaded, quarantined, withheld, archived = home.rows(
            "select rows_in, rows_loaded, rows_quarantined, rows_withheld, archive_path from raw.file_manifest "
            "where source = ? order by load_id desc limit 1", [source])[0]
        assert rows_in == loaded + quarantined + withheld == 2
        archived = Path(archived)
        assert not file_holds(archived, {erased[0]}) and file_holds(archived, {other[0]})
        text = gzip.decompress(archived.read_bytes()) if archived.name.endswith(".gz") else archived.read_bytes()
        assert text.count(b"\n") == (2 if source == "web" else 3)   # every line keeps its number
        assert oct(archived.stat().st_mode & 0o777) == "0o600"
    assert not any(f.exists() for f in files.values())
    assert home.scalar("select count(*) from ops.erasure_audit where run_id = 'redelivery' and action = 'withhold' "
                       "and policy = 'erased_before' and person_pseudonym is not null and rows = 1") == 3
    assert found is None                                           # nothing left to erase again
    assert home.scalar("select count(*) from ops.retention_runs") == runs_before


def test_a_sensor_run_while_a_cli_run_is_in_progress_is_queued_behind_it(tmp_path: Path, monkeypatch):
    """The instance under the home queues runs one at a time; a fleetdw run in progress counts, so the landing
    sensor's run waits in the queue (status QUEUED) instead of starting beside it or failing."""
    import dagster as dg
    from dagster._core.run_coordinator import SubmitRunContext
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    from dagster_project.defs.runs import CLI_TRIGGER, instance_for
    from dagster_project.definitions import defs
    from dagster_project.settings import Settings
    from tests.support import AS_OF

    settings = Settings.resolve(str(tmp_path / "home"), as_of=AS_OF)
    monkeypatch.setenv("FLEETDW_HOME", str(settings.home))     # as `dagster dev` would have it
    job = defs.resolve_job_def("fleetdw_pipeline")
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=5)
    with instance_for(settings) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        cli_run = instance.create_run_for_job(job, tags=CLI_TRIGGER, status=dg.DagsterRunStatus.STARTED)
        # a run as the daemon creates it: with the origin of the code location it comes from
        origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(
            code_location_origin=InProcessCodeLocationOrigin(LoadableTargetOrigin(
                module_name="dagster_project.definitions"), location_name="fleetdw"),
            repository_name="__repository__"), job_name="fleetdw_pipeline")
        sensor_run = instance.create_run_for_job(job, tags={"fleetdw/trigger": "landing"},
                                                 remote_job_origin=origin)
        queued = instance.run_coordinator.submit_run(SubmitRunContext(sensor_run, workspace=None))
        assert queued.status == dg.DagsterRunStatus.QUEUED
        # the daemon's own dequeue decision: nothing while the fleetdw run is in progress, the sensor's run after
        assert daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None) == []
        instance.report_run_failed(cli_run)    # (any end of the fleetdw run)
        dequeued = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
        assert [r.run_id for r in dequeued] == [sensor_run.run_id]


def test_a_fleetdw_run_while_a_daemon_run_is_in_progress_ends_busy(tmp_path: Path, monkeypatch):
    """The other direction: a run the daemon launched (sensor, schedule or UI) is in progress, so ``fleetdw run``
    ends with the one-line busy error and exit 2 instead of writing the warehouse beside it; once the daemon's run
    has ended, it is no longer refused."""
    import dagster as dg

    from dagster_project.defs.runs import _refuse_beside_daemon_runs, instance_for
    from dagster_project.definitions import defs
    from dagster_project.settings import Settings
    from tests.support import AS_OF
    from tests.support.cli import fleetdw

    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    settings = Settings.resolve(str(home), as_of=AS_OF)
    monkeypatch.setenv("FLEETDW_HOME", str(home))     # as `dagster dev` would have it
    with instance_for(settings) as instance:
        daemon_run = instance.create_run_for_job(defs.resolve_job_def("fleetdw_pipeline"),
                                                 tags={"fleetdw/trigger": "landing"},
                                                 status=dg.DagsterRunStatus.STARTED)
    busy = fleetdw(home, "run", check=False)
    assert busy.returncode == 2 and "busy" in busy.stderr and "Traceback" not in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
    with instance_for(settings) as instance:
        instance.report_run_failed(instance.get_run_by_id(daemon_run.run_id))
        _refuse_beside_daemon_runs(instance, settings)      # no longer busy
