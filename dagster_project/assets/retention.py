"""Retention as Dagster assets: the deletion plan with its six gates as blocking checks, and the erasure.

``retention/plan`` computes who is due (pseudonyms and counts) and carries the gates of RULES.md §6 as
``@asset_check(blocking=True)`` with ERROR severity. ``retention/erasure`` does **not** depend on the plan asset:
a failed blocking check would otherwise stop it from running at all, and the run would end without recording
that retention was blocked. Instead it re-evaluates every gate itself, immediately before deleting, and deletes
only when all pass (dbt tests and Dagster checks are not trusted to have stopped it). A blocked gate is a finding:
the run summary reports ``retention.status = blocked`` and the run's status stays ``success`` (see
:func:`summarise`).
"""


import dagster as dg

from dagster_project.assets.quality import QUALITY_KEY
from dagster_project.assets.warehouse import warehouse_dbt
from dagster_project.resources import WarehouseResource, open_warehouse
from dagster_project.retention import policy as P
from dagster_project.settings import Settings

PLAN_KEY = dg.AssetKey(["retention", "plan"])
ERASURE_KEY = dg.AssetKey(["retention", "erasure"])
DBT_KEYS = list(warehouse_dbt.keys)


@dg.asset(key=PLAN_KEY, group_name="retention", deps=DBT_KEYS, kinds={"duckdb"},
          description="Who is due for erasure as of the run's date (pseudonyms and counts in ops.retention_plans) "
                      "and the state of every gate.")
def retention_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from dagster_project.retention.plan import compute_plan, evaluate_gates, save_plan

    settings = warehouse.settings()
    with warehouse.connect() as con:
        plan = compute_plan(con, settings.as_of, settings.home)
        gates = evaluate_gates(con, plan)
        plan_id = save_plan(con, plan, gates, context.run.run_id)
    return dg.MaterializeResult(metadata={
        "plan_id": plan_id, "subjects": len(plan.subjects), "persons": plan.persons,
        "by_reason": dg.MetadataValue.json(plan.by_reason), "protected": dg.MetadataValue.json(plan.protected),
        "shorter_policies": dg.MetadataValue.json(plan.shorter),
        "gates_failed": dg.MetadataValue.json([g.name for g in gates if not g.passed])})


def _gate_check(name: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=PLAN_KEY, name=name, blocking=True, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        from dagster_project.retention.plan import compute_plan, evaluate_gates

        settings = warehouse.settings()
        with warehouse.connect() as con:
            plan = compute_plan(con, settings.as_of, settings.home)
            gate = next(g for g in evaluate_gates(con, plan) if g.name == name)
        return dg.AssetCheckResult(passed=gate.passed, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata={k: v for k, v in gate.metadata.items()})

    return _check


GATE_CHECKS = [_gate_check(name, description) for name, description in P.GATES]


@dg.asset(key=ERASURE_KEY, group_name="retention", deps=[*DBT_KEYS, QUALITY_KEY], kinds={"duckdb"},
          description="Re-verifies every gate, then erases due subjects through every layer in one transaction, "
                      "rewrites the database file and verifies that no identifier remains.",
          check_specs=[dg.AssetCheckSpec("post_deletion_verification", asset=ERASURE_KEY,
                                         description="no erased identifier in any table, the file bytes or the "
                                                     "rewritten landing archive")])
def retention_erasure(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from dagster_project.retention.erasure import run_retention

    settings = warehouse.settings()
    outcome = run_retention(settings, context.run.run_id)
    context.log.info(f"retention: {outcome.status}; {outcome.erased_subjects} subject(s) erased; "
                     f"blocked by {len(outcome.blocked_by)} gate(s); verification {outcome.verification}")
    yield dg.MaterializeResult(metadata={
        "status": outcome.status, "erased_subjects": outcome.erased_subjects, "rows_changed": outcome.rows_changed,
        "files_changed": outcome.files_changed, "blocked_by": dg.MetadataValue.json(outcome.blocked_by),
        "plan_id": outcome.plan_id or ""})
    yield dg.AssetCheckResult(check_name="post_deletion_verification",
                              passed=outcome.verification != "failed", severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"verification": outcome.verification, **outcome.verification_detail})


ASSETS = [retention_plan, retention_erasure]
ASSET_CHECKS = GATE_CHECKS


def summarise(settings: Settings, run_id: str) -> dict:
    """``retention`` of the run summary. A blocking gate that failed is reported under ``retention.blocked_by``;
    ``dagster_project.pipeline`` counts such a run a success (the gate did its job: nothing was deleted)."""
    retention = {"status": "not_run", "erased_subjects": 0, "blocked_by": [], "verification": "not_run"}
    try:
        with open_warehouse(settings, read_only=True) as con:
            row = con.execute("select status, blocked_by, erased_subjects, verification, plan_id from "
                              "ops.retention_runs where run_id = ? order by finished_at desc limit 1",
                              [run_id]).fetchall()
    except Exception:  # noqa: BLE001 - no warehouse or no retention table yet
        row = []
    if row:
        status, blocked, erased, verification, plan_id = row[0]
        retention = {"status": status, "erased_subjects": int(erased or 0), "blocked_by": list(blocked or []),
                     "verification": verification, "plan_id": plan_id}
    out: dict = {"retention": retention}
    return out
