"""The Celery app of fleetdw's Dagster workers (``celery -A dagster_project.defs.celery_worker worker``).

dagster-celery's own ``dagster_celery.app`` reads its broker from ``dagster_celery.defaults`` (RabbitMQ); this app
takes the broker and result backend from ``FLEETDW_CELERY_BROKER`` (``fleetdw cluster up`` sets it: Redis on
loopback) and serves two queues: ``dagster`` (dagster-celery's default: the steps that write the DuckDB file, one
worker slot) and ``spark`` (the dbt build on Spark).
"""

from __future__ import annotations

import os

from dagster_celery.make_app import make_app_with_task_routes
from dagster_celery.tasks import create_task
from kombu import Queue

BROKER = os.environ.get("FLEETDW_CELERY_BROKER", "redis://127.0.0.1:6379/0")
QUEUES = ("dagster", "spark")

app = make_app_with_task_routes(task_routes={}, app_args={"broker": BROKER, "backend": BROKER})
app.conf.task_queues = [Queue(q, routing_key=f"{q}.#") for q in QUEUES]

execute_plan = create_task(app)
