"""Beyond one machine (``FLEETDW_ENGINE=spark``): the dbt project built on Spark, the steps on Celery workers.

Job ``fleetdw_spark_pipeline`` is the pipeline's job plus ``spark/warehouse`` (``dbt build --target spark`` from
the Parquet lake), on the dagster-celery executor. Every step that writes the DuckDB file — loading (which also
syncs the lake), the DuckDB build whose privacy models the retention gates read, quality, retention and erasure —
goes to dagster-celery's default queue ``dagster``, which one worker slot serves: DuckDB has one writer, so those
steps run one at a time wherever the workers are. The Spark build writes no DuckDB and goes to the queue
``spark`` (its own workers); it runs after the erasure step, so the lake it reads has already lost what was
erased. The broker is
``FLEETDW_CELERY_BROKER`` (``fleetdw cluster up``: Redis on 127.0.0.1). The job is defined where dagster-celery
is installed (the ``spark`` extra).
"""


import os
import socket
from urllib.parse import urlparse

import dagster as dg

from dagster_project.defs.raw import RAW_ASSETS
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.retention import ERASURE_KEY
from dagster_project.scaleout.spark_build import SparkBuildError, build_on_spark
from dagster_project.settings import SettingsError

QUEUE_TAG = "dagster-celery/queue"
SPARK_KEY = dg.AssetKey(["spark", "warehouse"])
JOB_NAME = "fleetdw_spark_pipeline"
BROKER = os.environ.get("FLEETDW_CELERY_BROKER", "redis://127.0.0.1:6379/0")


@dg.asset(key=SPARK_KEY, deps=[*(a.key for a in RAW_ASSETS), ERASURE_KEY], group_name="spark", op_tags={QUEUE_TAG: "spark"},
          description="The dbt project built on the Spark Thrift server (dbt target `spark`) from the Parquet lake "
                      "of the raw layer; counts of models and tests by status.")
def warehouse_spark(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    try:
        build = build_on_spark(settings, "spark")
    except SparkBuildError as exc:
        raise dg.Failure(str(exc)) from None
    if not build.ok:
        raise dg.Failure(f"dbt build on Spark: {len(build.failed)} node(s) failed",
                         metadata={"failed": build.failed[:50]})
    context.log.info(f"dbt build on Spark in {build.seconds:.0f} s")
    return dg.MaterializeResult(metadata=build.metadata())


def spark_job():
    try:
        from dagster_celery import celery_executor
    except ImportError:
        return None
    return dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.all(),
        description="FLEETDW_ENGINE=spark: the pipeline (Celery queue dagster, one writer), then dbt build on Spark "
                    "from the Parquet lake (queue spark).",
        executor_def=celery_executor.configured({"broker": BROKER, "backend": BROKER}))


def require_spark_job() -> None:
    """One-line errors before a distributed run: the extra is installed and the broker accepts connections."""
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        raise SettingsError('FLEETDW_ENGINE=spark needs the extra: pip install -e ".[spark]"') from None
    url = urlparse(BROKER)
    with socket.socket() as s:
        s.settimeout(2)
        if s.connect_ex((url.hostname or "127.0.0.1", url.port or 6379)) != 0:
            raise SettingsError(f"the Celery broker {url.hostname}:{url.port} is not reachable: start the cluster "
                                "(fleetdw cluster up) or set FLEETDW_CELERY_BROKER")


def reconstruct_spark_job() -> dg.JobDefinition:
    """The resolved job, for ``dg.reconstructable`` (Celery workers rebuild it from this module)."""
    from dagster_project.definitions import defs

    return defs.resolve_job_def(JOB_NAME)
