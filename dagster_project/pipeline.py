"""``fleetdw run``: the whole pipeline as one Dagster run, and its summary."""

from __future__ import annotations

from typing import Any

from dagster_project.runner import execute, require_landing
from dagster_project.settings import Settings
from dagster_project.assets import asset_modules, collect
from dagster_project.summary import ingest_summary


def blocking_check_steps() -> set[str]:
    """Steps of blocking asset checks (the retention gates). A failing one is a finding: it stopped what it
    guards, and its module reports why (``retention.blocked_by``). Dagster still marks such a run failed."""
    return {c.node_def.name for c in collect("ASSET_CHECKS") if any(spec.blocking for spec in c.check_specs)}


def run_pipeline(settings: Settings) -> dict[str, Any]:
    require_landing(settings)
    job = execute(settings, "fleetdw_pipeline", tags={"fleetdw/trigger": "cli"})
    failed = sorted(set(job.failed_steps) - blocking_check_steps())
    summary: dict[str, Any] = {
        "as_of": settings.as_of.isoformat(),
        "status": "success" if job.success or (job.failed_steps and not failed) else "failed",
        "run_id": job.run_id,
    }
    if failed or not (job.success or job.failed_steps):
        summary["failed_steps"] = failed
    summary.update(ingest_summary(settings, job.run_id))
    for module in asset_modules():
        if hasattr(module, "summarise"):
            summary.update(module.summarise(settings, job.run_id))
    return summary
