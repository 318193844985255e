"""Beyond one machine: the local Spark cluster, Redis and Celery workers (``cluster``) and the dbt build on a Spark
target (``spark_build``). Domain code: no Dagster import (the Celery app of the workers is
``dagster_project.defs.celery_worker``)."""
