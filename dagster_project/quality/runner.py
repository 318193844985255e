"""Run the suites with Great Expectations 1.x on pandas frames read from DuckDB.

The file context lives in the repo (``expectations/gx``: configuration and suites). A run copies it to
``<home>/quality/gx`` and validates there, so results and Data Docs land under the fleetdw home, never in the repo,
and concurrent homes do not share files. Every validation uses :data:`RESULT_FORMAT`, which carries no unexpected
value; GE's usage statistics are off.
"""

from __future__ import annotations

import importlib
import os
import shutil
import threading
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Great Expectations imports pyspark when it is installed (the Spark extra); pyspark then warns about pandas 3 on
# every quality step although the expectations here run on pandas/SQL only.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

import duckdb  # noqa: E402

from dagster_project.quality.suites import Expect, Suite, all_suites, batch_sql, retention_sql  # noqa: E402
from ingest.bulk import insert_many

REPO_CONTEXT = Path(__file__).resolve().parents[2] / "expectations"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}
DATASOURCE = "fleetdw_frames"
GE_KINDS = {"expect_column_values_to_not_be_null": "not_null", "expect_column_values_to_be_in_set": "in_set",
            "expect_column_values_to_be_between": "between", "expect_column_values_to_be_unique": "unique",
            "expect_compound_columns_to_be_unique": "unique"}


@dataclass
class SuiteResult:
    suite: str
    rows: int
    expectations: int
    failed_rules: list[str]

    @property
    def success(self) -> bool:
        return not self.failed_rules

    def metadata(self) -> dict[str, Any]:
        return {"rows": self.rows, "expectations": self.expectations, "failed": len(self.failed_rules),
                "failed_rules": self.failed_rules}


def warm_up() -> threading.Thread:
    """Import Great Expectations on a thread of its own and return that thread.

    The import alone takes about 2.5 s of Python, and every run whose quality step runs pays it. The pipeline starts
    this import just before a partial ``dbt build`` run by a dbt process (``defs/dbt.py``), which does the work
    while this one mostly waits for its output, so the import overlaps with dbt. Importing it again later costs
    nothing. A failed import is left for the quality step, which imports the package again and reports it there.
    """
    def load() -> None:
        try:
            importlib.import_module("great_expectations")
            importlib.import_module("great_expectations.expectations")
        except Exception:  # noqa: BLE001 - the quality step's own import raises it where it is reported
            pass

    thread = threading.Thread(target=load, name="fleetdw-gx-import")
    thread.start()
    return thread


def _gxe(e: Expect):
    import great_expectations.expectations as gxe

    if e.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=e.column)
    if e.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=e.column, value_set=e.args["value_set"])
    if e.kind == "between":
        return gxe.ExpectColumnValuesToBeBetween(column=e.column, min_value=e.args.get("min_value"),
                                                 max_value=e.args.get("max_value"),
                                                 strict_min=bool(e.args.get("strict_min")))
    if e.kind == "unique":
        if isinstance(e.column, list):
            return gxe.ExpectCompoundColumnsToBeUnique(column_list=e.column)
        return gxe.ExpectColumnValuesToBeUnique(column=e.column)
    if e.kind == "rule":
        return gxe.ExpectColumnValuesToBeInSet(column=e.column, value_set=[True])
    raise ValueError(e.kind)


def ensure_repo_context(suites: dict[str, Suite] | None = None) -> Path:
    """(Re)write the repo's file context and suites from the declarations; returns its gx directory."""
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="file", project_root_dir=str(REPO_CONTEXT))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    ctx.variables.save()
    for suite in (suites or all_suites()).values():
        try:
            ctx.suites.delete(suite.name)
        except Exception:  # noqa: BLE001 - absent
            pass
        ctx.suites.add(gx.ExpectationSuite(name=suite.name, expectations=[_gxe(e) for e in suite.expectations]))
    return REPO_CONTEXT / "gx"


def home_context(home: Path):
    """A file context under ``<home>/quality`` seeded with the repo's configuration and suites."""
    import great_expectations as gx

    root = home / "quality"
    target = root / "gx"
    source = REPO_CONTEXT / "gx"
    if not (source / "great_expectations.yml").exists():
        ensure_repo_context()
    for sub in ("great_expectations.yml", "expectations"):
        src, dst = source / sub, target / sub
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    docs = home / "reports" / "gx_docs"
    sites = ctx.get_config().data_docs_sites or {}
    if "fleetdw" not in sites:
        ctx.add_data_docs_site("fleetdw", {"class_name": "SiteBuilder", "store_backend": {
            "class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs)}})
    for name in list(sites):
        if name != "fleetdw":
            ctx.delete_data_docs_site(name)
    return ctx


def validate(ctx, suite: Suite, frame) -> SuiteResult:
    import great_expectations as gx

    try:
        ds = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError):
        ds = ctx.data_sources.add_pandas(name=DATASOURCE)
    try:
        asset = ds.get_asset(suite.name)
    except (LookupError, ValueError):
        asset = ds.add_dataframe_asset(name=suite.name)
    try:
        bd = asset.get_batch_definition("batch")
    except (KeyError, ValueError):
        bd = asset.add_batch_definition_whole_dataframe("batch")
    gx_suite = ctx.suites.get(suite.name)
    name = f"vd_{suite.name}"
    try:
        vd = ctx.validation_definitions.get(name)
    except Exception:  # noqa: BLE001 - absent
        vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=bd, suite=gx_suite))
    result = vd.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT)
    failed = []
    for r in result.results:
        if not r.success:
            cfg = r.expectation_config
            kind = GE_KINDS.get(cfg.type, cfg.type.removeprefix("expect_"))
            col = cfg.kwargs.get("column") or "+".join(cfg.kwargs.get("column_list") or [])
            failed.append(f"rule:{col.removeprefix('_rule_')}" if col.startswith("_rule_") else f"{kind}:{col}")
    return SuiteResult(suite.name, len(frame), len(result.results), sorted(failed))


def new_load_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for source, load_id in con.execute("select source, load_id from raw.file_manifest where run_id = ? and "
                                       "status = 'loaded'", [run_id]).fetchall():
        out.setdefault(source, []).append(int(load_id))
    return out


def run_suites(con: duckdb.DuckDBPyConnection, home: Path, run_id: str, as_of: date) -> list[SuiteResult]:
    """Validate the batches loaded by ``run_id`` and the retention inputs; record counts in ops.quality_results."""
    import pandas as pd

    from dagster_project.retention.control import ensure_control_tables, now
    from ingest.contracts import SOURCES

    ctx = home_context(home)
    suites = all_suites()
    loads = new_load_ids(con, run_id)
    results = []
    for source in SOURCES.values():
        suite = suites[f"source_{source.name}"]
        ids = loads.get(source.name, [])
        if not ids:
            results.append(SuiteResult(suite.name, 0, len(suite.expectations), []))
            continue
        frame = con.execute(batch_sql(source, suite, as_of), [ids]).df()
        results.append(validate(ctx, suite, frame))
    persons_sql, contracts_sql = retention_sql(as_of)
    frame = pd.concat([con.execute(persons_sql).df(), con.execute(contracts_sql).df()], ignore_index=True)
    rule_cols = [c for c in frame.columns if c.startswith("_rule_")]
    frame[rule_cols] = frame[rule_cols].fillna(True).astype(bool)
    results.append(validate(ctx, suites["retention_inputs"], frame))
    ensure_control_tables(con)
    ts = now()
    insert_many(con, "insert into ops.quality_results values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, as_of, ts, r.suite, r.rows, r.expectations, len(r.failed_rules), r.failed_rules,
                      r.success) for r in results])
    return results
