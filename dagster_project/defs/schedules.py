"""The daily schedule of the whole pipeline: every night it loads what landed and builds what the new day and the
new files make stale (``defs/selection.py``) — not every model."""

import dagster as dg

from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.selection import asset_keys, build_plan, run_tags


@dg.schedule(name="fleetdw_daily", job_name="fleetdw_pipeline", cron_schedule="0 3 * * *",
             execution_timezone="Europe/Helsinki", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Ingest new landing files every night at 03:00 Helsinki time and rebuild what they and "
                         "the new day make stale.")
def daily_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource) -> dg.RunRequest:
    plan = build_plan(warehouse.settings())
    return dg.RunRequest(asset_selection=asset_keys(plan), tags={"fleetdw/trigger": "schedule", **run_tags(plan)})
