"""A snapshot of what Dagster knows: every new asset, check, job, schedule or sensor is a visible diff.

Update on purpose with ``FLEETDW_UPDATE_SNAPSHOT=1 python -m pytest tests/test_definitions_snapshot.py``."""

from __future__ import annotations

import os
from pathlib import Path

from dagster_project.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"


def describe() -> str:
    graph = defs.resolve_asset_graph()
    dbt_keys = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name not in ("raw", "privacy", "quality",
                                                                                          "retention")}
    lines = ["# assets"] + sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    checks = graph.asset_check_keys
    lines += ["# asset checks (outside dbt)"] + sorted(
        f"{c.asset_key.to_user_string()}:{c.name}" for c in checks if c.asset_key not in dbt_keys)
    lines += [f"# dbt tests as asset checks: {sum(c.asset_key in dbt_keys for c in checks)}"]
    lines += ["# jobs"] + sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    lines += ["# schedules"] + sorted(s.name for s in defs.schedules)
    lines += ["# sensors"] + sorted(s.name for s in defs.sensors)
    return "\n".join(lines) + "\n"


def test_definitions_match_the_snapshot():
    current = describe()
    if os.environ.get("FLEETDW_UPDATE_SNAPSHOT") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text(), "Dagster definitions changed: review, then update the snapshot"
