"""A snapshot of what Dagster knows: every new asset, check, job, schedule or sensor is a visible diff.

Update on purpose with ``FLEETDW_UPDATE_SNAPSHOT=1 python -m pytest tests/test_definitions_snapshot.py``; a missing
snapshot fails (it is written only when asked for)."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_project.defs.dbt import warehouse_dbt
from dagster_project.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"


def describe() -> str:
    graph = defs.resolve_asset_graph()
    lines = ["# assets"] + sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    checks = graph.asset_check_keys
    dbt_checks = set(warehouse_dbt.check_keys)   # the dbt tests, as dbt's manifest declares them
    lines += ["# asset checks (outside dbt)"] + sorted(
        f"{c.asset_key.to_user_string()}:{c.name}" for c in checks if c not in dbt_checks)
    lines += [f"# dbt tests as asset checks: {len(dbt_checks & set(checks))}"]
    lines += ["# jobs"] + sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    lines += ["# schedules"] + sorted(s.name for s in defs.schedules)
    lines += ["# sensors"] + sorted(s.name for s in defs.sensors)
    return "\n".join(lines) + "\n"


def test_definitions_match_the_snapshot():
    current = describe()
    if os.environ.get("FLEETDW_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}: write it with FLEETDW_UPDATE_SNAPSHOT=1 and review it"
    assert current == SNAPSHOT.read_text(), "Dagster definitions changed: review, then update the snapshot"
