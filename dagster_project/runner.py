"""Runs Dagster jobs in this process against the persistent instance under ``<home>/dagster``.

``fleetdw run`` and every other command that changes the warehouse go through :func:`execute`, so their runs show
in ``dagster dev`` like scheduled ones. The run configuration holds paths and the as-of date only: never a
person's identifier.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import dagster as dg

from dagster_project.resources import open_warehouse
from dagster_project.settings import Settings, SettingsError

# One run at a time: DuckDB has one writer, so runs the daemon launches (sensor, schedule) queue behind each other.
DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
"""


class PipelineError(RuntimeError):
    """A step of the pipeline itself failed (not bad input, which is reported instead)."""


def prepare_environment(settings: Settings) -> None:
    """Point Dagster at ``<home>/dagster`` and export the settings for resources that read the environment."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    cfg = settings.dagster_home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    os.environ.update(settings.as_env())


def resource_config(settings: Settings) -> dict[str, Any]:
    return {"warehouse": {"config": {
        "home": str(settings.home), "warehouse": str(settings.warehouse), "landing": str(settings.landing),
        "as_of": settings.as_of.isoformat(),
    }}}


@dataclass
class JobRun:
    run_id: str
    success: bool
    failed_steps: list[str]


def execute(settings: Settings, job_name: str, extra_run_config: dict[str, Any] | None = None,
            tags: dict[str, str] | None = None) -> JobRun:
    prepare_environment(settings)
    # Fail fast, with a clear message, when another process holds the warehouse.
    with open_warehouse(settings):
        pass
    from dagster_project.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config: dict[str, Any] = {
        "resources": resource_config(settings),
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    if extra_run_config:
        run_config.update(extra_run_config)
    # dagster-dbt echoes dbt's log lines to stdout; stdout belongs to the command's own output (``--json``), and
    # the structured events are in Dagster's event log anyway.
    with dg.DagsterInstance.get() as instance, open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                        tags={"fleetdw/as_of": settings.as_of.isoformat(), **(tags or {})})
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key]
        return JobRun(result.run_id, result.success, failed)


def require_landing(settings: Settings) -> None:
    if not settings.landing.is_dir():
        raise SettingsError(f"landing directory {settings.landing} does not exist")
