"""``fleetdw run``: the whole pipeline as one Dagster run, and its summary."""

from __future__ import annotations

from typing import Any

from dagster_project.runner import execute, require_landing
from dagster_project.settings import Settings
from dagster_project.assets import asset_modules
from dagster_project.summary import ingest_summary


def run_pipeline(settings: Settings) -> dict[str, Any]:
    require_landing(settings)
    job = execute(settings, "fleetdw_pipeline", tags={"fleetdw/trigger": "cli"})
    summary: dict[str, Any] = {
        "as_of": settings.as_of.isoformat(),
        "status": "success" if job.success else "failed",
        "run_id": job.run_id,
    }
    if not job.success:
        summary["failed_steps"] = job.failed_steps
    summary.update(ingest_summary(settings, job.run_id))
    for module in asset_modules():
        if hasattr(module, "summarise"):
            summary.update(module.summarise(settings, job.run_id))
    return summary
