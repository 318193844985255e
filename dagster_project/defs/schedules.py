"""The daily schedule of the whole pipeline."""

import dagster as dg

daily_schedule = dg.ScheduleDefinition(
    name="fleetdw_daily",
    job_name="fleetdw_pipeline",
    cron_schedule="0 3 * * *",
    execution_timezone="Europe/Helsinki",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest new landing files and rebuild the warehouse every night at 03:00 Helsinki time.",
)
