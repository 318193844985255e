"""A sensor that starts the pipeline when new files land."""


import hashlib

import dagster as dg

from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.selection import asset_keys, build_plan, run_tags
from ingest.contracts import SOURCES
from ingest.loader import landing_files


def pending_files(warehouse: WarehouseResource) -> list[tuple[float, str]]:
    """(mtime, 'source/name') of every file waiting in the landing zone."""
    landing = warehouse.settings().landing
    out = []
    for source in SOURCES.values():
        for path in landing_files(landing, source):
            out.append((path.stat().st_mtime, f"{source.name}/{path.name}"))
    return sorted(out)


@dg.sensor(job_name="fleetdw_pipeline", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts the pipeline when files newer than the last seen one land.")
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    since = float(context.cursor) if context.cursor else 0.0
    new = [(mtime, name) for mtime, name in pending_files(warehouse) if mtime > since]
    if not new:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new landing files"))
    run_key = hashlib.sha256("\n".join(f"{m}:{n}" for m, n in new).encode()).hexdigest()[:16]
    # only the models downstream of what arrived (and of anything else that changed) are built
    plan = build_plan(warehouse.settings())
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, asset_selection=asset_keys(plan),
                                    tags={"fleetdw/trigger": "landing", "fleetdw/files": str(len(new)),
                                          **run_tags(plan)})],
        cursor=str(max(m for m, _ in new)),
    )
