"""``fleetdw retention plan`` (dry run: who is due, as pseudonyms and counts, and every gate's state) and
``fleetdw retention approve PLAN_ID`` (a steward releases exactly that plan past the volume gate)."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from dagster_project.cli.options import audit, common_options, settings_from


@click.group("retention")
def retention_group() -> None:
    """Retention policy: plan and approve deletions."""


@retention_group.command("plan")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--show-subjects", is_flag=True, help="List the pseudonyms of the subjects due.")
def plan_cmd(as_json: bool, show_subjects: bool, **opts: Any) -> None:
    """Dry run: who is due as of --as-of, why, and which gates pass or fail. Deletes nothing."""
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.plan import compute_plan, evaluate_gates, save_plan
    from dagster_project.retention.policy import POLICIES

    settings = settings_from(opts)
    with open_warehouse(settings) as con:
        plan = compute_plan(con, settings.as_of, settings.home)
        gates = evaluate_gates(con, plan)
        plan_id = save_plan(con, plan, gates, None)
    out = {
        "as_of": settings.as_of.isoformat(), "plan_id": plan_id, "persons": plan.persons,
        "subjects_due": len(plan.subjects), "by_reason": plan.by_reason, "protected": plan.protected,
        "shorter_policies": plan.shorter,
        "gates": [{"name": g.name, "passed": g.passed, **g.metadata} for g in gates],
        "blocked_by": [g.name for g in gates if not g.passed],
    }
    if show_subjects:
        out["subjects"] = sorted(f"{plan.pseudonyms[p]}:{r}" for p, r in plan.subjects.items())
        audit(opts, settings, "retention plan --show-subjects", plan_id=plan_id, rows_out=len(out["subjects"]))
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    click.echo(f"retention plan {plan_id} as of {out['as_of']}: {out['subjects_due']} of {plan.persons} persons due")
    for reason, n in plan.by_reason.items():
        click.echo(f"  due by {reason}: {n}")
    for reason, n in plan.protected.items():
        click.echo(f"  kept, {reason}: {n}")
    for policy in POLICIES:
        if policy.name in plan.shorter:
            when = "at the next run" if policy.period.startswith("until") else f"after {policy.period}"
            click.echo(f"  {policy.what} {when}: {plan.shorter[policy.name]}")
    click.echo("gates:")
    for g in gates:
        detail = ", ".join(f"{k}={v}" for k, v in g.metadata.items())
        click.echo(f"  [{'pass' if g.passed else 'FAIL'}] {g.name}: {detail}")
    if out["blocked_by"]:
        click.echo(f"blocked by: {', '.join(out['blocked_by'])}")
        if out["blocked_by"] == ["volume_within_limit"]:
            click.echo(f"a steward may approve this exact plan: fleetdw retention approve {plan_id}")
    for line in out.get("subjects", []):
        click.echo(f"  {line}")


@retention_group.command("approve")
@click.argument("plan_id")
@common_options
def approve(plan_id: str, **opts: Any) -> None:
    """Approve a plan the volume gate blocked; only exactly that set of subjects is released."""
    from dagster_project.warehouse import open_warehouse
    from dagster_project.retention.control import record_approval

    settings = settings_from(opts)
    with open_warehouse(settings) as con:
        if not record_approval(con, plan_id, opts.get("actor") or getpass.getuser()):
            raise LookupError(f"unknown plan {plan_id}: run `fleetdw retention plan` first")
    audit(opts, settings, "retention approve", plan_id=plan_id)
    click.echo(f"plan {plan_id} approved; the next run erases it if the other gates pass and its subjects are unchanged")


@retention_group.command("verify")
@common_options
def verify_cmd(**opts: Any) -> None:
    """Verify the last erasure again (after a failed verification was fixed) and record the result; the gate
    previous_verification_passed reads it. Never skips the check: it looks for the erased identifiers again."""
    from dagster_project.retention.verify import reverify

    result = reverify(settings_from(opts))
    if result.get("already"):
        click.echo(f"the last verification ({result['run_id']}) passed; nothing to verify again")
        return
    click.echo(f"verification of erasure {result['run_id']}: {result['verification']} — {result['identifiers']} "
               f"identifiers, {result['tables_scanned']} tables scanned, table hits {result['table_hits']}, "
               f"file hits {result['file_hits']}, landing-file hits {result['archive_hits']}")
    if result["verification"] != "passed":
        raise SystemExit(1)
