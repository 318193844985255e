"""Retention in Dagster: the deletion plan, whose six gates (RULES.md §6) are blocking checks of the plan asset,
and the erasure.

``retention/plan`` computes who is due (pseudonyms and counts in ops.retention_plans), evaluates every gate once
and yields one blocking ERROR ``AssetCheckResult`` per gate. ``retention/erasure`` does **not** depend on the plan
asset: a failed blocking check would otherwise stop it from running at all, and the run would end without
recording that retention was blocked. Instead it evaluates every gate again itself, immediately before deleting,
and deletes only when all pass. A blocked gate is a finding: the run summary reports ``retention.status =
blocked`` and the run's status stays ``success`` (``dagster_project.defs.runs``). After an applied, verified erasure
the step runs the dbt models downstream of what it changed, and every other model it made stale
(``retention/rebuild.py``), with their data tests, so the tables right after an erasure are those the next build
would give, and the next run has nothing to build for it.
"""


import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.build_state import BUILT, input_values, record_build
from dagster_project.defs.dbt import (built_nodes, dbt_cli, dbt_project, model_errors, target_path, unechoed,
                                      warehouse_dbt)
from dagster_project.defs.quality import QUALITY_KEY
from dagster_project.defs.resources import WarehouseResource
from dagster_project.lake import sync_if_spark
from dagster_project.retention import policy as P
from dagster_project.manifest import load_manifest
from dagster_project.retention.erasure import run_retention
from dagster_project.retention.rebuild import stale_after_erasure
from dagster_project.retention.plan import compute_plan, evaluate_gates, save_plan
from dagster_project.warehouse import open_warehouse

PLAN_KEY = dg.AssetKey(["retention", "plan"])
ERASURE_KEY = dg.AssetKey(["retention", "erasure"])
DBT_KEYS = list(warehouse_dbt.keys)
GATE_SPECS = [dg.AssetCheckSpec(name, asset=PLAN_KEY, blocking=True, description=description)
              for name, description in P.GATES]


@dg.asset(key=PLAN_KEY, group_name="retention", deps=DBT_KEYS, kinds={"duckdb"}, check_specs=GATE_SPECS,
          description="Who is due for erasure as of the run's date (pseudonyms and counts in ops.retention_plans) "
                      "and the state of every gate, each a blocking check.")
def retention_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = warehouse.settings()
    with warehouse.connect() as con:
        plan = compute_plan(con, settings.as_of, settings.home)
        gates = evaluate_gates(con, plan)
        plan_id = save_plan(con, plan, gates, context.run.run_id)
    yield dg.MaterializeResult(metadata={
        "plan_id": plan_id, "subjects": len(plan.subjects), "persons": plan.persons,
        "by_reason": dg.MetadataValue.json(plan.by_reason), "protected": dg.MetadataValue.json(plan.protected),
        "shorter_policies": dg.MetadataValue.json(plan.shorter),
        "gates_failed": dg.MetadataValue.json([g.name for g in gates if not g.passed])})
    for gate in gates:
        yield dg.AssetCheckResult(check_name=gate.name, passed=gate.passed, severity=dg.AssetCheckSeverity.ERROR,
                                  metadata=dict(gate.metadata))


@dg.asset(key=ERASURE_KEY, group_name="retention", deps=[*DBT_KEYS, QUALITY_KEY], kinds={"duckdb"},
          description="Re-verifies every gate, then erases due subjects through every layer in one transaction, "
                      "rewrites the database file and verifies that no identifier remains.",
          check_specs=[dg.AssetCheckSpec("post_deletion_verification", asset=ERASURE_KEY,
                                         description="no erased identifier in any table, the file bytes or the "
                                                     "rewritten landing archive")])
def retention_erasure(context: dg.AssetExecutionContext, warehouse: WarehouseResource, dbt: DbtCliResource):
    settings = warehouse.settings()
    outcome = run_retention(settings, context.run.run_id)
    context.log.info(f"retention: {outcome.status}; {outcome.erased_subjects} subject(s) erased; "
                     f"blocked by {len(outcome.blocked_by)} gate(s); verification {outcome.verification}")
    # FLEETDW_ENGINE=spark: the erased or expired rows leave the Parquet lake too (only changed loads rewritten)
    lake = sync_if_spark(settings) if outcome.status == "applied" else None
    rebuilt = 0
    if outcome.status == "applied" and outcome.verification == "passed":
        rebuilt = _rebuild_after_erasure(settings, context.run.run_id, dbt)
    yield dg.MaterializeResult(metadata={
        "status": outcome.status, "erased_subjects": outcome.erased_subjects, "rows_changed": outcome.rows_changed,
        "files_changed": outcome.files_changed, "blocked_by": dg.MetadataValue.json(outcome.blocked_by),
        "plan_id": outcome.plan_id or "", "verification": outcome.verification, "models_rebuilt": rebuilt,
        **(lake.metadata() if lake else {})})
    yield dg.AssetCheckResult(check_name="post_deletion_verification",
                              passed=outcome.verification != "failed", severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"verification": outcome.verification, **outcome.verification_detail})


def _rebuild_after_erasure(settings, run_id: str, dbt: DbtCliResource) -> int:
    """Build the models downstream of what the erasure changed and every other model it made stale
    (``retention/rebuild.py``) with their data tests;
    how many models ran. When every test passes, the rebuild is recorded as a build of those models from the
    erased inputs (``build_state.record_build``): the next run need not build and test them again."""
    manifest = load_manifest()
    with open_warehouse(settings, read_only=True) as con:
        select = stale_after_erasure(con, manifest, run_id, settings.as_of)
        values = input_values(con, settings.as_of, manifest)     # after the erasure: what the rebuild reads
    if not select:
        return 0
    # one ``dbt build``: the models and their data tests in one dbt process. As in the build step, a failing test
    # is a finding, and dbt skips the models below it; the rebuild is then not recorded, so the next run builds
    # and tests them again.
    invocation = dbt_cli(dbt, settings, ["--log-level-file", "none", "build", "--exclude-resource-type", "unit_test",
                                         "--select", " ".join(select)],
                         manifest=dbt_project.manifest_path, raise_on_error=False,
                         target_path=target_path(settings, "rebuild"))
    for _ in unechoed(invocation.stream_raw_events()):    # what DbtCliInvocation.wait does, without the echo
        pass
    run_results = invocation.get_artifact("run_results.json")
    failed = model_errors(run_results)
    if failed:
        raise dg.Failure(f"rebuild after erasure: {len(failed)} model(s) in error", metadata={"models": failed})
    if invocation.is_successful():
        with open_warehouse(settings) as con:
            record_build(con, run_id, settings.as_of, manifest, values, built_nodes(run_results))
    return sum(r["unique_id"].startswith(BUILT) for r in run_results.get("results", []))
