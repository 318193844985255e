"""Everything Dagster knows about fleetdw, assembled in one place."""

import dagster as dg

from dagster_project.assets.raw import RAW_ASSETS
from dagster_project.assets.warehouse import dbt_resource, warehouse_dbt
from dagster_project.jobs import pipeline_job
from dagster_project.resources import WarehouseResource
from dagster_project.schedules import daily_schedule
from dagster_project.sensors import landing_sensor

defs = dg.Definitions(
    assets=[*RAW_ASSETS, warehouse_dbt],
    jobs=[pipeline_job],
    schedules=[daily_schedule],
    sensors=[landing_sensor],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
