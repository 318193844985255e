"""The dbt project's manifest: where the project is, and ``dbt parse`` on demand.

The manifest is never committed; it is parsed when missing or older than any file of the dbt project, under a
file lock so that concurrent processes (test workers, the UI, a CLI run) do not parse at the same time. Domain code
(declarations, publishing, retention, DSAR) reads the personal-data declarations from it; the Dagster wiring
(``dagster_project.defs.dbt``) hands the same preparation to dagster-dbt's ``DbtProject``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from filelock import FileLock

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
TARGET_DIR = DBT_DIR / "target"
MANIFEST_PATH = TARGET_DIR / "manifest.json"
# dbt's profile as the pipeline renders it in every home (``dbt_child_env``); the parse for the manifest renders the
# same, so its parse cache (``target/partial_parse.msgpack``, which dagster-dbt copies into each invocation's target)
# is valid for every home: dbt re-parses everything whenever the rendered profile or the vars differ.
PARSE_ENV = {"FLEETDW_WAREHOUSE": "warehouse.duckdb", "FLEETDW_HOME": "."}
CWD_VARIABLE = "FLEETDW_DBT_CWD"     # where ``fleetdw-dbt`` changes directory before dbt starts
PROJECT_FILES = ("models", "macros", "seeds", "snapshots", "tests", "dbt_project.yml", "profiles.yml")


def dbt_executable() -> str:
    """The dbt CLI of this interpreter's environment, found even when the venv is not activated: ``fleetdw-dbt``
    (dbt that dies with the process that started it, ``dagster_project/dbt_child.py``) when installed."""
    for name in ("fleetdw-dbt", "dbt"):
        local = Path(sys.executable).parent / name
        if local.exists():
            return str(local)
    return "dbt"


def _newest_project_file() -> float:
    newest = 0.0
    for name in PROJECT_FILES:
        path = DBT_DIR / name
        paths = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(p.stat().st_mtime for p in paths if p.is_file())])
    return newest


def is_stale() -> bool:
    return not MANIFEST_PATH.exists() or MANIFEST_PATH.stat().st_mtime < _newest_project_file()


def dbt_child_env(home: Path, warehouse: Path) -> dict[str, str]:
    """The environment of a pipeline's dbt process: it runs in the home (``fleetdw-dbt`` changes directory) and
    names the warehouse relative to it, so that the rendered profile is ``PARSE_ENV`` wherever the home is."""
    if Path(dbt_executable()).name != "fleetdw-dbt":     # plain dbt does not change directory: absolute paths
        return {"FLEETDW_WAREHOUSE": str(warehouse), "FLEETDW_HOME": str(home)}
    try:
        name = str(warehouse.relative_to(home))
    except ValueError:                      # a warehouse outside the home: still right, only parsed afresh
        name = str(warehouse)
    return {"FLEETDW_WAREHOUSE": name, "FLEETDW_HOME": ".", CWD_VARIABLE: str(home)}


def ensure_manifest(warehouse: Path | None = None) -> Path:
    """Parse the dbt project when its manifest is missing or stale; returns the manifest's path.

    Parsing renders profiles.yml as every pipeline run renders it (``PARSE_ENV``); nothing is opened.
    """
    if not is_stale():
        return MANIFEST_PATH
    TARGET_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(str(TARGET_DIR / ".parse.lock")):
        if is_stale():
            env = {**os.environ, **PARSE_ENV}
            env.pop(CWD_VARIABLE, None)
            subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_DIR), "--profiles-dir",
                            str(DBT_DIR), "--target-path", str(TARGET_DIR)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
    return MANIFEST_PATH


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_manifest() -> dict[str, Any]:
    """The parsed manifest (read once per version of the file)."""
    path = ensure_manifest()
    return _read(str(path), path.stat().st_mtime)
