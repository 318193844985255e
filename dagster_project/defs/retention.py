"""Retention in Dagster: the deletion plan, whose six gates (RULES.md §6) are blocking checks of the plan asset,
and the erasure.

``retention/plan`` computes who is due (pseudonyms and counts in ops.retention_plans), evaluates every gate once
and yields one blocking ERROR ``AssetCheckResult`` per gate. ``retention/erasure`` does **not** depend on the plan
asset: a failed blocking check would otherwise stop it from running at all, and the run would end without
recording that retention was blocked. Instead it evaluates every gate again itself, immediately before deleting,
and deletes only when all pass. A blocked gate is a finding: the run summary reports ``retention.status =
blocked`` and the run's status stays ``success`` (``dagster_project.defs.runs``).
"""

import dagster as dg

from dagster_project.defs.dbt import warehouse_dbt
from dagster_project.defs.quality import QUALITY_KEY
from dagster_project.defs.resources import WarehouseResource
from dagster_project.retention import policy as P
from dagster_project.retention.erasure import run_retention
from dagster_project.retention.plan import compute_plan, evaluate_gates, save_plan

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
def retention_erasure(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    outcome = run_retention(warehouse.settings(), context.run.run_id)
    context.log.info(f"retention: {outcome.status}; {outcome.erased_subjects} subject(s) erased; "
                     f"blocked by {len(outcome.blocked_by)} gate(s); verification {outcome.verification}")
    yield dg.MaterializeResult(metadata={
        "status": outcome.status, "erased_subjects": outcome.erased_subjects, "rows_changed": outcome.rows_changed,
        "files_changed": outcome.files_changed, "blocked_by": dg.MetadataValue.json(outcome.blocked_by),
        "plan_id": outcome.plan_id or "", "verification": outcome.verification})
    yield dg.AssetCheckResult(check_name="post_deletion_verification",
                              passed=outcome.verification != "failed", severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"verification": outcome.verification, **outcome.verification_detail})
