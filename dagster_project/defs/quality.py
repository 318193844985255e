"""Great Expectations on the batches this run loaded and on the retention inputs, as Dagster asset checks.

One asset ``quality/expectations`` runs after the dbt build; each suite is one (non-blocking) asset check whose
metadata carries rows, expectation and failure counts and the names of the failed rules, never a value. The
retention gates (``dagster_project/defs/retention.py``) are the blocking ones.
"""


import dagster as dg

from dagster_project.defs.dbt import warehouse_dbt
from dagster_project.quality.suites import all_suites
from dagster_project.defs.resources import WarehouseResource
from dagster_project.quality.runner import run_suites

QUALITY_KEY = dg.AssetKey(["quality", "expectations"])
SUITE_NAMES = list(all_suites())


@dg.asset(
    key=QUALITY_KEY,
    group_name="quality",
    deps=list(warehouse_dbt.keys),
    kinds={"great_expectations", "duckdb"},
    description="Great Expectations suites on the rows loaded by this run (one per source) and on the inputs "
                "that decide deletion; counts and rule names only.",
    check_specs=[dg.AssetCheckSpec(name, asset=QUALITY_KEY, description=f"GE suite {name}")
                 for name in SUITE_NAMES],
)
def quality_expectations(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    with warehouse.connect() as con:
        results = run_suites(con, settings.home, context.run.run_id, settings.as_of)
    failed = [r.suite for r in results if not r.success]
    context.log.info(f"quality: {len(results)} suites, {len(failed)} with failed expectations")
    yield dg.MaterializeResult(metadata={"suites": len(results), "suites_failed": len(failed),
                                         "rows_validated": sum(r.rows for r in results)})
    for r in results:
        meta = r.metadata()
        yield dg.AssetCheckResult(check_name=r.suite, passed=r.success, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={**{k: v for k, v in meta.items() if k != "failed_rules"},
                                            "failed_rules": dg.MetadataValue.json(meta["failed_rules"])})
