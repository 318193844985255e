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


def ensure_manifest(warehouse: Path | None = None) -> Path:
    """Parse the dbt project when its manifest is missing or stale; returns the manifest's path.

    Parsing renders profiles.yml, which names the warehouse file; any path does for parsing, nothing is opened.
    """
    if not is_stale():
        return MANIFEST_PATH
    TARGET_DIR.mkdir(parents=True, exist_ok=True)
    with FileLock(str(TARGET_DIR / ".parse.lock")):
        if is_stale():
            env = {**os.environ}
            env.setdefault("FLEETDW_WAREHOUSE", str(warehouse or TARGET_DIR / "parse-only.duckdb"))
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
