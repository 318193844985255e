"""Everything Dagster knows about fleetdw, assembled in one place from the modules of
``dagster_project.assets`` (see that package's docstring)."""

import dagster as dg

from dagster_project.assets import collect, collect_resources
from dagster_project.jobs import pipeline_job
from dagster_project.resources import WarehouseResource
from dagster_project.schedules import daily_schedule
from dagster_project.sensors import landing_sensor

defs = dg.Definitions(
    assets=collect("ASSETS"),
    asset_checks=collect("ASSET_CHECKS"),
    jobs=[pipeline_job, *collect("JOBS")],
    schedules=[daily_schedule, *collect("SCHEDULES")],
    sensors=[landing_sensor, *collect("SENSORS")],
    resources={"warehouse": WarehouseResource(), **collect_resources()},
    executor=dg.in_process_executor,
)
