"""The Spark side of the lake: registering it as dbt's sources, handing the pseudonym key's pads to dbt, and a
local Spark session for ``--target spark_session``.

* :func:`registration_args` gives the ``--args`` of ``dbt run-operation register_lake`` (macro
  ``dbt/macros/lake/register_lake.sql``): every lake table as ``raw.<table>`` / ``ops.<table>`` ``using parquet
  location '<lake>/…'`` with the DuckDB column order and Spark types, and each ``raw.<source>_current`` as a view
  with a portable ``row_number()`` subquery (``ingest.raw_schema.portable_current_view_select``).
* :func:`pad_environment` gives the environment of a dbt process on Spark: the key's HMAC pads (hex) in
  ``DBT_ENV_SECRET_FLEETDW_PK_IPAD`` / ``…_OPAD``. ``dbt/profiles.yml`` passes them as the Spark conf keys
  ``spark.fleetdw.pk_ipad`` / ``pk_opad`` (``server_side_parameters``; over Thrift with the ``set:hiveconf:``
  prefix). dbt scrubs ``DBT_ENV_SECRET_*`` values from its logs and never writes the profile to ``target/``; the
  compiled SQL only says ``${spark.fleetdw.pk_ipad}``; ``spark.sql.redaction.string.regex`` hides the hex in
  plans. The key names cannot contain ``secret``: Spark would substitute a key that ``spark.redaction.regex``
  matches as ``*********(redacted)``. The pads never enter a table.
* :func:`local_session` starts (or returns) the one in-process Spark session, with its warehouse directory and
  Derby metastore under a given directory, the UI off and few shuffle partitions.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from dagster_project.lake import LakeError, read_tables_file, source_tables, table_path
from ingest.contracts import SOURCES
from ingest.raw_schema import portable_current_view_select

IPAD_ENV = "DBT_ENV_SECRET_FLEETDW_PK_IPAD"
OPAD_ENV = "DBT_ENV_SECRET_FLEETDW_PK_OPAD"
LAKE_ENV = "FLEETDW_LAKE"

_SIMPLE = {"VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "DATE": "date",
           "BOOLEAN": "boolean", "TIMESTAMP WITH TIME ZONE": "timestamp", "TIMESTAMP": "timestamp_ntz"}


def spark_type(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.endswith("[]"):
        return f"array<{spark_type(t[:-2])}>"
    if t in _SIMPLE:
        return _SIMPLE[t]
    if re.fullmatch(r"DECIMAL\(\d+,\s*\d+\)", t):
        return t.lower().replace(" ", "")
    raise LakeError(f"the lake has a column type Spark registration does not know: {duckdb_type}")


def registration_args(lake: str | Path) -> dict[str, Any]:
    """``--args`` of ``dbt run-operation register_lake`` for the lake at ``lake`` (paths, names and types only)."""
    lake = Path(lake).absolute()
    schemas = read_tables_file(lake)
    tables = []
    for table, columns in sorted(schemas.items()):
        schema, name = table.split(".")
        tables.append({"schema": schema, "name": name,
                       "location": table_path(lake, table).as_uri(),
                       "columns": [[c, spark_type(t)] for c, t in columns]})
    present = set(schemas)
    views = [{"schema": "raw", "name": f"{s.name}_current", "sql": portable_current_view_select(s)}
             for s in SOURCES.values() if f"raw.{s.name}" in present]
    missing = [t for t in source_tables() if t not in present]
    if missing:
        raise LakeError(f"the lake at {lake} lacks {len(missing)} raw table(s): export it again")
    return {"tables": tables, "views": views, "absent": [t for t in ("ops.erasure_requests",) if t not in present]}


def pad_environment(key: bytes) -> dict[str, str]:
    """The environment that gives a dbt process on Spark the key's HMAC pads (never put it in a log)."""
    from dagster_project.privacy.pseudonym import hmac_pads

    ipad, opad = hmac_pads(key)
    return {IPAD_ENV: ipad.hex(), OPAD_ENV: opad.hex()}


def require_pyspark() -> None:
    """A clear one-line error when the Spark extra or Java is missing."""
    try:
        import pyspark  # noqa: F401
        import dbt.adapters.spark  # noqa: F401
    except ImportError:
        raise LakeError('the Spark engine needs the extra: pip install -e ".[spark]"') from None
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        raise LakeError("the Spark engine needs Java 17 (apt-get install openjdk-17-jre-headless)")


def local_session(work: str | Path, driver_memory: str = "1g", conf: dict[str, str] | None = None,
                  java_options: str = ""):
    """The process's Spark session (created once): warehouse and Derby metastore under ``work``, loopback only,
    UI off, session time zone UTC, 2 shuffle partitions; ``conf`` adds or overrides Spark settings and
    ``java_options`` are added to the driver JVM's command line (it starts with the session)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    work = Path(work).absolute()
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    derby = work / "metastore_db"
    builder = (SparkSession.builder.master("local[2]").appName("fleetdw")
               .config("spark.driver.memory", driver_memory)
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.sql.adaptive.enabled", "true")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", (work / "warehouse").as_uri())
               .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work} {java_options}".strip())
               .config("javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={derby};create=true")
               .enableHiveSupport())
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
