"""Everything Dagster knows about fleetdw, listed in one place. The wiring is in ``dagster_project.defs``; the
logic it calls is plain Python in the domain packages (``ingest``, ``privacy``, ``quality``, ``retention``)."""

import dagster as dg

from dagster_project.defs import privacy, quality, raw, retention, spark
from dagster_project.defs.dbt import dbt_resource, warehouse_dbt
from dagster_project.defs.jobs import pipeline_job
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.schedules import daily_schedule
from dagster_project.defs.sensors import landing_sensor
from dagster_project.settings import create_files_owner_only

# dagster dev, the daemon and their run workers create warehouse, archive and report files too: owner-only.
create_files_owner_only()

defs = dg.Definitions(
    assets=[*raw.RAW_ASSETS, warehouse_dbt, *privacy.ASSETS, quality.quality_expectations,
            retention.retention_plan, retention.retention_erasure, spark.warehouse_spark],
    asset_checks=privacy.CHECKS,
    # the Spark job exists where dagster-celery is installed (the spark extra)
    jobs=[pipeline_job, privacy.segment_export_job, *filter(None, [spark.spark_job()])],
    schedules=[daily_schedule],
    sensors=[landing_sensor],
    resources={"warehouse": WarehouseResource(home=dg.EnvVar("FLEETDW_HOME")), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
