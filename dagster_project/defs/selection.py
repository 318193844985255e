"""The asset selection of a pipeline run: the raw assets (they look for landing files), the dbt models whose inputs
changed (``dagster_project.build_state``), and the steps that follow. ``fleetdw run``, the landing sensor and the
daily schedule all launch what this module selects, so a run with nothing new builds nothing, one fuel file builds
what is downstream of fuel, and the Dagster UI shows exactly what each run built.

When the dbt selection is empty, the steps that only read dbt's output (Great Expectations suites — nothing new was
loaded, so there is no batch to validate and the retention inputs are those of the last run — and the privacy
measurements) are left out as well; retention still runs, since a plan can change by a steward's approval alone.
"""

from __future__ import annotations

import dagster as dg

from dagster_project.build_state import PROJECT, BuildPlan, plan_build, readers
from dagster_project.defs.dbt import TRANSLATOR, warehouse_dbt
from dagster_project.defs.privacy import AUDIT_KEY
from dagster_project.defs.quality import QUALITY_KEY
from dagster_project.manifest import load_manifest
from dagster_project.settings import Settings
from dagster_project.warehouse import WarehouseLocked, open_warehouse
from ingest.contracts import SOURCES
from ingest.loader import landing_files

# Steps that read only what dbt built: nothing to do when dbt builds nothing.
AFTER_DBT_ONLY = (QUALITY_KEY, AUDIT_KEY)


def waiting_sources(settings: Settings) -> set[str]:
    if not settings.landing.is_dir():
        return set()
    return {s.name for s in SOURCES.values() if landing_files(settings.landing, s)}


def build_plan(settings: Settings, full_refresh: bool = False) -> BuildPlan:
    """What the next run must build. Everything when the warehouse is new or cannot be read right now (another
    process is writing it: the plan is then made by the build itself being complete)."""
    manifest = load_manifest()
    if settings.warehouse.exists():
        try:
            with open_warehouse(settings, read_only=True) as con:
                return plan_build(con, settings.as_of, manifest, waiting_sources(settings), full_refresh)
        except WarehouseLocked:
            reason = "warehouse_busy"
    else:
        reason = "new_warehouse"
    return BuildPlan(frozenset(readers(manifest)[PROJECT]), True, (reason,))


def asset_keys(plan: BuildPlan) -> list[dg.AssetKey] | None:
    """The run's asset selection for a plan; None for the whole job (a complete build)."""
    if plan.complete:
        return None
    from dagster_project.definitions import defs

    manifest = load_manifest()
    dbt = {TRANSLATOR.get_asset_key(manifest["nodes"][uid]) for uid in plan.nodes if uid in manifest["nodes"]}
    from dagster_project.defs.jobs import pipeline_job

    graph = defs.resolve_asset_graph()
    rest = {k for k in pipeline_job.selection.resolve(graph) if k not in warehouse_dbt.keys
            and not (plan.nothing and k in AFTER_DBT_ONLY)}
    return sorted(rest | (dbt & set(warehouse_dbt.keys)), key=lambda k: k.to_user_string())


def run_tags(plan: BuildPlan, full_refresh: bool = False) -> dict[str, str]:
    """What a run builds and why, as run tags the UI shows (input names, never a value)."""
    return {"fleetdw/dbt": "full_refresh" if full_refresh else "unchanged" if plan.nothing
            else "complete" if plan.complete else "selected",
            "fleetdw/changed": (",".join(plan.changed) or "nothing")[:250]}
