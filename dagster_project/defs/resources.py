"""Dagster resources: the warehouse (home, DuckDB file, landing zone, as-of date) and dbt.

``definitions.py`` configures the warehouse from ``EnvVar("FLEETDW_HOME")`` (``dagster dev``, the sensor and the
schedule); ``fleetdw`` passes every field explicitly in the run configuration. Empty fields take the defaults of
:class:`~dagster_project.settings.Settings` (warehouse and landing under the home, as-of today in Helsinki).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import dagster as dg
import duckdb

from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The fleetdw home, warehouse file, landing zone and as-of date."""

    home: str = ""
    warehouse: str = ""
    landing: str = ""
    as_of: str = ""
    engine: str = ""      # "spark": the steps also keep the Parquet lake (a Celery worker's own env may lack it)

    @classmethod
    def run_config(cls, settings: Settings) -> dict[str, Any]:
        """The run configuration that points a run at ``settings`` (paths and a date, never a person)."""
        return {"config": {"home": str(settings.home), "warehouse": str(settings.warehouse),
                           "landing": str(settings.landing), "as_of": settings.as_of.isoformat(),
                           "engine": settings.engine}}

    def settings(self) -> Settings:
        return Settings.resolve(self.home or None, self.warehouse or None, self.landing or None, self.as_of or None,
                                self.engine or None)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.settings(), read_only=read_only) as con:
            yield con
