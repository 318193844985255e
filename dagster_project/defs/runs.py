"""Runs Dagster jobs in this process against the persistent instance under ``<home>/dagster``, and reads the run
summary of ``fleetdw run`` from the run's own events (materialisation and check metadata) — counts, file names and
reasons only, never a row's values.

``fleetdw run`` and every other command that changes the warehouse through a job go through :func:`execute`, so
their runs show in ``dagster dev`` like scheduled ones. The run configuration holds paths and the as-of date only:
never a person's identifier.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from filelock import FileLock, Timeout

from dagster_project.defs.dbt import warehouse_dbt
from dagster_project.defs.event_log import event_log_override
from dagster_project.defs.privacy import AUDIT_KEY
from dagster_project.defs.quality import QUALITY_KEY
from dagster_project.defs.raw import raw_asset_key
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.retention import ERASURE_KEY, PLAN_KEY, retention_plan
from dagster_project.privacy.segments import CHANNELS
from dagster_project.settings import Settings, SettingsError
from dagster_project.warehouse import WarehouseLocked, open_warehouse
from ingest.contracts import SOURCE_NAMES, SOURCES

# One run at a time: DuckDB has one writer, so runs the daemon launches (sensor, schedule) queue behind each other.
DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
"""


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance under ``<home>/dagster`` (created with one-run-at-a-time queueing), whose event log
    keeps its database engines (``defs/event_log.py``)."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    cfg = settings.dagster_home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    # fleetdw's own runs write their events through a cached-engine subclass of the default storage (same files)
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(settings.dagster_home),
                                                            overrides=event_log_override(settings.dagster_home)))


@dataclass
class JobRun:
    run_id: str
    success: bool
    failed_steps: list[str]
    materialisations: dict[dg.AssetKey, dict[str, Any]] = field(default_factory=dict)
    checks: list[tuple[dg.AssetCheckKey, bool, dict[str, Any]]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)   # failed step -> first line of its error (no stack)


def _values(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


RUN_LOCK = "run.lock"
CLI_TRIGGER = {"fleetdw/trigger": "cli"}


@contextlib.contextmanager
def one_command_at_a_time(settings: Settings):
    """Hold ``<home>/run.lock`` for a command's whole run: a second ``fleetdw`` run on the same home ends at once
    with a one-line "busy" error (exit 2) instead of meeting the first one half-way through the warehouse."""
    settings.home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.home / RUN_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise WarehouseLocked(f"the warehouse {settings.warehouse} is busy: another fleetdw run is in progress "
                              f"on {settings.home}; try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()


def _fail_abandoned_runs(instance: dg.DagsterInstance) -> None:
    """Runs of ``fleetdw`` still marked as started while we hold the run lock were killed (kill -9, a crash):
    record them as failed, so the run history tells the truth."""
    running = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
                                              tags=CLI_TRIGGER))
    for run in running:
        instance.report_run_failed(run)


def _refuse_beside_daemon_runs(instance: dg.DagsterInstance, settings: Settings) -> None:
    """A run the daemon launched (sensor, schedule, the UI) and still in progress holds the warehouse between its
    steps too: a ``fleetdw`` command then ends with the one-line "busy" error rather than writing beside it (the
    daemon's queue already keeps its runs behind a ``fleetdw`` run)."""
    running = [r for r in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                                      dg.DagsterRunStatus.STARTING]))
               if r.tags.get("fleetdw/trigger") != CLI_TRIGGER["fleetdw/trigger"]]
    if running:
        raise WarehouseLocked(f"the warehouse {settings.warehouse} is busy: Dagster run {running[0].run_id[:8]} "
                              f"(started by {running[0].tags.get('fleetdw/trigger', 'the daemon or the UI')}) is in "
                              "progress; try again when it has finished")


def execute(settings: Settings, job_name: str, extra_run_config: dict[str, Any] | None = None,
            tags: dict[str, str] | None = None, asset_selection: list[dg.AssetKey] | None = None,
            distributed: bool = False) -> JobRun:
    """Run ``job_name`` in this process — or, ``distributed``, through its own executor (the Spark job's Celery
    workers: ``dg.execute_job`` of the job reconstructed from ``defs/spark.py``), waiting for its end."""
    with one_command_at_a_time(settings):
        # Fail fast, with a clear message, when another process holds the warehouse.
        with open_warehouse(settings):
            pass
        from dagster_project.definitions import defs

        job = defs.resolve_job_def(job_name)
        run_config: dict[str, Any] = {
            "resources": {"warehouse": WarehouseResource.run_config(settings)},
            # Dagster's console logger would print every step failure with its stack trace — also the retention
            # plan's blocking gate checks, which are findings. Failures reach the user through the summary instead
            # (step and first line of the error); Dagster's event log keeps everything for the UI.
            "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        }
        if extra_run_config:
            run_config.update(extra_run_config)
        run_tags = {"fleetdw/as_of": settings.as_of.isoformat(), **CLI_TRIGGER, **(tags or {})}
        # dagster-dbt echoes dbt's log lines to stdout; stdout belongs to the command's own output (``--json``),
        # and the structured events are in Dagster's event log anyway.
        with instance_for(settings) as instance, open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            _refuse_beside_daemon_runs(instance, settings)
            _fail_abandoned_runs(instance)
            if distributed:
                from dagster_project.defs.spark import reconstruct_spark_job

                result = dg.execute_job(dg.reconstructable(reconstruct_spark_job), instance=instance,
                                        run_config=run_config, tags=run_tags, asset_selection=asset_selection,
                                        raise_on_error=False)
            else:
                result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                                asset_selection=asset_selection, tags=run_tags)
            failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key]
            failed = [e.step_key for e in failures]
            errors = {e.step_key: _first_line(e) for e in failures}
            materialisations: dict[dg.AssetKey, dict[str, Any]] = {}
            for event in result.get_asset_materialization_events():
                mat = event.materialization
                materialisations[mat.asset_key] = _values(mat.metadata)
            checks = [(e.asset_check_key, e.passed, _values(e.metadata))
                      for e in result.get_asset_check_evaluations()]
            return JobRun(result.run_id, result.success, failed, materialisations, checks, errors)


def _first_line(event) -> str:
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    message = (getattr(error, "message", "") or "").strip()
    return message.splitlines()[0][:300] if message else "failed"


def require_landing(settings: Settings) -> None:
    if not settings.landing.is_dir():
        raise SettingsError(f"landing directory {settings.landing} does not exist")


# --- the run summary, from the run's events ---------------------------------------------------------------------

def _ingest_summary(job: JobRun) -> dict[str, Any]:
    raw = {s: job.materialisations.get(raw_asset_key(s), {}) for s in SOURCE_NAMES}
    return {
        "ingested": {s: int(m.get("rows_loaded", 0)) for s, m in raw.items()},
        "files_loaded": {s: int(m.get("files_loaded", 0)) for s, m in raw.items()},
        "rejected_rows": {s: int(m.get("rows_quarantined", 0)) for s, m in raw.items()},
        # rows deliberately not stored: location pings without a grant in force (RULES.md §2) ...
        "withheld_rows": {s: int(m.get("rows_withheld", 0)) - int(m.get("rows_withheld_erased", 0))
                          for s, m in raw.items() if SOURCES[s].consent},
        # ... and rows naming a person the warehouse erased (retention/reappeared.py)
        "withheld_erased_rows": {s: n for s, m in raw.items() if (n := int(m.get("rows_withheld_erased", 0)))},
        "rejected_row_reasons": {s: dict(sorted(m["quarantine_reasons"].items(), key=lambda kv: (-kv[1], kv[0])))
                                 for s, m in raw.items() if m.get("quarantine_reasons")},
        "rejected_files": [{"source": s, **f} for s, m in raw.items() for f in m.get("rejected_files", [])],
        "duplicate_files": sum(int(m.get("files_duplicate", 0)) for m in raw.values()),
        "schema_drift": [{"source": s, **f} for s, m in raw.items() for f in m.get("drift_files", [])],
        "erased_again": sum(int(m.get("erased_again", 0)) for m in raw.values()),
    }


def _dbt_summary(job: JobRun) -> dict[str, Any]:
    dbt_checks = [(key, passed) for key, passed, _ in job.checks if key in warehouse_dbt.check_keys]
    return {
        "models_built": sum(1 for key in job.materialisations if key in warehouse_dbt.keys),
        "checks": {"passed": sum(1 for _, ok in dbt_checks if ok), "failed": sum(1 for _, ok in dbt_checks if not ok),
                   "failed_names": sorted(key.name for key, ok in dbt_checks if not ok)},
    }


def _privacy_summary(job: JobRun) -> dict[str, Any]:
    audit = job.materialisations.get(AUDIT_KEY)
    if audit is None:
        return {}
    return {"privacy": {
        "eligible": {c: audit.get(f"eligible_{c}", 0) for c in CHANNELS},
        "profiled": audit["profiled"],
        "k_suppressed": sum(v for k, v in audit.items() if k.startswith("k_suppressed_")),
        "k_generalised": sum(v for k, v in audit.items() if k.startswith("k_generalised_")),
        "decisions": audit["decisions"]}}


def _quality_summary(job: JobRun) -> dict[str, Any]:
    if QUALITY_KEY not in job.materialisations:
        return {}   # not part of the run (nothing was built: see defs/selection.py) or failed before it ended
    quality = job.materialisations[QUALITY_KEY]
    suites = [(key.name, meta) for key, _, meta in job.checks if key.asset_key == QUALITY_KEY]
    return {"quality": {
        "suites": int(quality.get("suites", 0)),
        "suites_failed": int(quality.get("suites_failed", 0)),
        "rows_validated": int(quality.get("rows_validated", 0)),
        "failed_rules": {name: list(meta["failed_rules"]) for name, meta in sorted(suites) if meta.get("failed")},
    }}


def _retention_summary(job: JobRun) -> dict[str, Any]:
    erasure = job.materialisations.get(ERASURE_KEY)
    if erasure is None:
        return {"retention": {"status": "not_run", "erased_subjects": 0, "blocked_by": [], "verification": "not_run"}}
    return {"retention": {"status": erasure["status"], "erased_subjects": int(erasure["erased_subjects"]),
                          "blocked_by": list(erasure["blocked_by"]), "verification": erasure["verification"],
                          "plan_id": erasure["plan_id"] or None}}


def finding_steps(job: JobRun) -> set[str]:
    """The plan step when it failed only because a retention gate (a blocking check) failed: a finding — it
    stopped what it guards, and the erasure reports why (``retention.blocked_by``). Dagster still marks such a run
    failed; any other failure of the step (an exception) stays a failure."""
    gate_failed = any(not ok for key, ok, _ in job.checks if key.asset_key == PLAN_KEY)
    return {retention_plan.op.name} if PLAN_KEY in job.materialisations and gate_failed else set()


def run_pipeline(settings: Settings, full_refresh: bool = False) -> dict[str, Any]:
    """``fleetdw run``: the pipeline as one Dagster run, and its summary. The run selects the dbt models whose inputs
    changed since the build that last covered them (``defs/selection.py``): all of them on a new warehouse or with
    ``full_refresh`` (incremental models then rebuilt from scratch), none when nothing changed."""
    from dagster_project.defs.selection import asset_keys, build_plan, run_tags

    require_landing(settings)
    spark = settings.engine == "spark"
    if spark:
        # FLEETDW_ENGINE=spark: the same run plus the build on Spark, on the Celery workers (defs/spark.py)
        from dagster_project.defs.spark import JOB_NAME, SPARK_KEY, require_spark_job

        require_spark_job()
    plan = build_plan(settings, full_refresh)
    keys = asset_keys(plan)
    if spark and keys is not None and not plan.nothing:
        keys = [*keys, SPARK_KEY]     # the Spark build is whole (no state of its own); none when nothing changed
    job = execute(settings, JOB_NAME if spark else "fleetdw_pipeline",
                  extra_run_config={"ops": {"warehouse_dbt": {"config": {"full_refresh": True}}}} if full_refresh else None,
                  asset_selection=keys, tags=run_tags(plan, full_refresh), distributed=spark)
    failed = sorted(set(job.failed_steps) - finding_steps(job))
    summary: dict[str, Any] = {
        "as_of": settings.as_of.isoformat(),
        "status": "success" if job.success or (job.failed_steps and not failed) else "failed",
        "run_id": job.run_id,
    }
    if failed or not (job.success or job.failed_steps):
        summary["failed_steps"] = failed
        summary["errors"] = {step: job.errors.get(step, "failed") for step in failed}
    for part in (_ingest_summary, _dbt_summary, _privacy_summary, _quality_summary, _retention_summary):
        summary.update(part(job))
    summary["warehouse"] = "unchanged" if plan.nothing else "built"
    summary["build"] = plan.describe()
    if spark:
        summary["spark"] = job.materialisations.get(SPARK_KEY, {"status": "not built"})
    summary.update(_driver_assistant_summary(settings))
    return summary


# Row counts of the Driver Assistant and KYC relations the run leaves (counts only, read after the run).
DRIVER_ASSISTANT_COUNTS = {"trips": "marts.driver_trips", "driver_months": "marts.driver_mileage",
                           "location_days": "marts.daily_location_distance", "kyc_records": "kyc.kyc_records"}


def _driver_assistant_summary(settings: Settings) -> dict[str, Any]:
    from dagster_project.warehouse import open_warehouse

    counts: dict[str, int] = {}
    try:
        with open_warehouse(settings, read_only=True) as con:
            present = {f"{s}.{t}" for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables").fetchall()}
            for name, relation in DRIVER_ASSISTANT_COUNTS.items():
                if relation in present:
                    counts[name] = int(con.execute(f"select count(*) from {relation}").fetchall()[0][0])
    except Exception:  # noqa: BLE001 - the summary never fails a run; the counts are then absent
        return {}
    return {"driver_assistant": counts} if counts else {}
