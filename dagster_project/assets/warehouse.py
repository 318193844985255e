"""The dbt project as Dagster assets downstream of the raw assets; dbt tests become asset checks.

The manifest is built on first use (``dbt parse``) and rebuilt whenever a file of the dbt project is newer than
it, so a stale manifest is never committed or used. ``dbt build`` runs in a subprocess while no other connection
to the DuckDB file is open (the in-process executor runs one step at a time).
"""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dagster_project.resources import WarehouseResource
from dagster_project.settings import Settings

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
PROJECT_FILES = ("models", "macros", "seeds", "snapshots", "tests", "dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def _newest_project_file() -> float:
    newest = 0.0
    for name in PROJECT_FILES:
        path = DBT_DIR / name
        paths = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(p.stat().st_mtime for p in paths if p.is_file())])
    return newest


def dbt_executable() -> str:
    """The dbt CLI of this interpreter's environment, found even when the venv is not activated."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than any project file.

    A file lock keeps concurrent processes (test workers, a UI and a CLI run) from parsing at the same time.
    """
    manifest = dbt_project.manifest_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest.exists() or manifest.stat().st_mtime < _newest_project_file():
            # Parsing renders profiles.yml, which reads the warehouse path from the environment.
            env = {"FLEETDW_WAREHOUSE": str(Settings.resolve().warehouse), **os.environ}
            subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_DIR), "--profiles-dir",
                            str(DBT_DIR), "--target-path", str(manifest.parent)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
    return manifest


class FleetDbtTranslator(DagsterDbtTranslator):
    """dbt sources ``raw.<source>`` and ``raw.<source>_current`` are the raw asset of that source."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source" and dbt_resource_props["source_name"] == "raw":
            return dg.AssetKey(["raw", dbt_resource_props["name"].removesuffix("_current")])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "warehouse"


TRANSLATOR = FleetDbtTranslator(settings=DagsterDbtTranslatorSettings(
    enable_asset_checks=True, enable_duplicate_source_asset_keys=True))


def dbt_summary_path(settings: Settings, run_id: str) -> Path:
    return settings.home / "reports" / "dbt" / f"{run_id}.json"


def summarise_run_results(run_results: dict) -> dict:
    """Models built and tests passed/failed from dbt's run_results.json (names and counts only)."""
    models = tests_passed = tests_failed = 0
    failed_names: list[str] = []
    errors: list[str] = []
    for result in run_results.get("results", []):
        uid: str = result["unique_id"]
        status = result["status"]
        if uid.startswith(("model.", "snapshot.", "seed.")):
            if status == "success":
                models += 1
            elif status == "error":
                errors.append(uid.split(".")[-1])
        elif uid.startswith(("test.", "unit_test.")):
            if status == "pass":
                tests_passed += 1
            elif status in ("fail", "error", "warn"):
                tests_failed += status != "warn"
                tests_passed += status == "warn"
                if status != "warn":
                    failed_names.append(uid.split(".")[2] if uid.startswith("test.") else uid.split(".")[-1])
    return {"models_built": models, "tests_passed": tests_passed, "tests_failed": tests_failed,
            "failed_names": sorted(failed_names), "model_errors": sorted(errors)}


@dbt_assets(manifest=ensure_manifest(), project=dbt_project, dagster_dbt_translator=TRANSLATOR)
def warehouse_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    settings = warehouse.settings()
    os.environ.update(settings.as_env())  # the dbt subprocess reads the warehouse path from the environment
    # No dbt log file: a failing model's message can quote a value, and logs hold no personal data.
    invocation = dbt.cli(["--log-level-file", "none", "build", "--vars",
                          json.dumps({"as_of": settings.as_of.isoformat()})],
                         context=context, raise_on_error=False)
    yield from invocation.stream()
    summary = summarise_run_results(invocation.get_artifact("run_results.json"))
    path = dbt_summary_path(settings, context.run.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary))
    context.log.info(f"dbt build: {summary['models_built']} models built, {summary['tests_passed']} tests passed, "
                     f"{summary['tests_failed']} failed")
    if summary["model_errors"] or not invocation.is_successful() and not summary["tests_failed"]:
        # A model that does not build is a failure of the pipeline; a failing data test is a finding.
        raise dg.Failure(f"dbt build failed: {len(summary['model_errors'])} model(s) in error",
                         metadata={"models_in_error": summary["model_errors"]})


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_DIR), dbt_executable=dbt_executable())


ASSETS = [warehouse_dbt]
RESOURCES = {"dbt": dbt_resource()}


def summarise(settings: Settings, run_id: str) -> dict:
    """Models built and dbt tests passed/failed in this run (``checks`` of the run summary)."""
    path = dbt_summary_path(settings, run_id)
    if not path.exists():
        return {"models_built": 0, "checks": {"passed": 0, "failed": 0, "failed_names": []}}
    dbt = json.loads(path.read_text())
    return {
        "models_built": dbt["models_built"],
        "checks": {"passed": dbt["tests_passed"], "failed": dbt["tests_failed"], "failed_names": dbt["failed_names"]},
    }
