"""Jobs. Every step that writes the DuckDB file runs in this one process (in-process executor)."""

import dagster as dg

pipeline_job = dg.define_asset_job(
    "fleetdw_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("spark"),   # the Spark build: defs/spark.py
    description="The whole pipeline: ingest new landing files, build the warehouse, check and apply retention.",
    executor_def=dg.in_process_executor,
)
