"""What dbt must rebuild after an erasure, so the warehouse right after it is what a build from the erased raw
layer gives.

The erasure changes every layer in place (and verifies the result), but a model's derived columns — a plate's
validity flag, a vehicle row that only the erased plate made distinct — follow from its inputs only when dbt
computes them. After an applied erasure, the models downstream of every raw table and dbt table in which it kept
rows but changed columns are run again from the erased inputs (the pipeline's erasure step does this), so the run after an erasure
starts from the same tables as the run after that.

The same rebuild also builds every other model the erasure made stale in ``build_state``'s terms: the readers of
tables it only deleted rows from, and the readers of ``ops.erasure_requests`` (``privacy.erased_persons`` and the
eligibility built on it), whose executed requests changed. Built and recorded there, they leave nothing for the next
run: a run after an erasure with no new file does no dbt work, and the erasure register's readers show the request
executed from the erasure's own run on.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from dagster_project.build_state import plan_build
from dagster_project.privacy.declarations import relation_nodes
from dagster_project.retention.policy import NOT_REDERIVED, REDERIVED_AUDIT
from dagster_project.retention.selection import relation_of


def rebuild_selection(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], run_id: str) -> list[str]:
    """dbt ``--select`` arguments: descendants of the raw sources and models in which the run's erasure kept rows
    but changed columns (``ops.erasure_audit``); empty when it only deleted rows."""
    # Deleted rows are gone from every layer alike; rows kept with columns nulled or pseudonymised are where a
    # model's derived columns can disagree with its inputs.
    # A shorter policy's change that no dbt table re-derives (``policy.PolicyRule.rederived``) needs no rebuild.
    changed = {t for (t,) in con.execute(
        "select distinct table_name from ops.erasure_audit where run_id = ? and rows > 0 and action <> 'delete' "
        f"and {REDERIVED_AUDIT}", [run_id, list(NOT_REDERIVED)]).fetchall()}
    select: list[str] = []
    for source in manifest.get("sources", {}).values():
        if source["source_name"] == "raw" and f"raw.{source['name'].removesuffix('_current')}" in changed:
            select.append(f"source:raw.{source['name']}+")
    models = {relation_of(node): node["name"] for node in relation_nodes(manifest)}
    select += [f"{models[t]}+" for t in sorted(changed) if t in models]
    return sorted(set(select))


def stale_after_erasure(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], run_id: str,
                        as_of: date) -> list[str]:
    """dbt ``--select`` arguments of the rebuild after an erasure: :func:`rebuild_selection`, and every model a
    changed input makes stale (``build_state.plan_build`` with no landing file waiting), so that the next run finds
    every input of the erasure covered. When no build of this warehouse is recorded (a failed data test records
    none), the next run builds everything anyway: then only :func:`rebuild_selection`."""
    select = set(rebuild_selection(con, manifest, run_id))
    plan = plan_build(con, as_of, manifest, set())
    if not plan.complete:
        nodes = manifest.get("nodes", {})
        select |= {nodes[uid]["name"] for uid in plan.nodes if uid in nodes}
    return sorted(select)
