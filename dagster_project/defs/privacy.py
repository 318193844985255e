"""The privacy layer in Dagster: the control tables, an audit of the privacy and profiling models after dbt builds
them, its checks (k-anonymity, no direct identifier in profiling, objectors absent) and the job that exports a
marketing segment. The logic is in ``dagster_project.privacy``; every check and metadata entry carries counts and
names only."""

from typing import Any

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from dagster_project.defs.dbt import warehouse_dbt
from dagster_project.defs.resources import WarehouseResource
from dagster_project.manifest import load_manifest
from dagster_project.privacy import audit
from dagster_project.privacy.ops_tables import OPS_TABLES, ensure_ops_tables
from dagster_project.privacy.segments import ExportRefused, export_segment as write_segment_export

AUDIT_KEY = dg.AssetKey(["privacy", "audit"])


@dg.asset(key=["privacy", "ops_tables"], group_name="privacy", kinds={"duckdb"},
          description="The warehouse's own control tables (ops.erasure_requests, ops.segment_exports, "
                      "ops.review_requests), created when missing; see dagster_project/privacy/ops_tables.py.")
def privacy_ops_tables(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        ensure_ops_tables(con)
    return dg.MaterializeResult(metadata={"tables": len(OPS_TABLES)})


def _dbt_key(model: str) -> dg.AssetKey:
    return get_asset_key_for_model([warehouse_dbt], model)


@dg.asset(key=AUDIT_KEY, group_name="privacy", kinds={"duckdb"},
          deps=[privacy_ops_tables, *[_dbt_key(m) for m in audit.AUDITED_MODELS]],
          description="Counts of the privacy layer after dbt: eligible persons per channel, persons profiled, "
                      "suppressed and generalised for k-anonymity, automated decisions. Counts only.")
def privacy_audit(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        counts = audit.audit_counts(con)
    metadata: dict[str, Any] = {f"eligible_{c}": n for c, n in counts["eligible"].items()}
    metadata.update({"profiled": counts["profiled"], "not_profiled": counts["not_profiled"],
                     "decisions": counts["decisions"]})
    metadata.update({f"k_suppressed_{t}": n for t, n in counts["k_suppressed"].items()})
    metadata.update({f"k_generalised_{t}": n for t, n in counts["k_generalised"].items()})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=privacy_audit, name="k_anonymity",
                description="Every quasi-identifier combination of every profiling table covers >= 5 subjects.")
def k_anonymity_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        bad = audit.k_anonymity_violations(con, load_manifest())
    return dg.AssetCheckResult(passed=sum(bad.values()) == 0, metadata={f"rows_below_k_{t}": n for t, n in bad.items()})


@dg.asset_check(asset=privacy_audit, name="no_direct_identifiers",
                description="No profiling column is declared a direct identifier, and a scan of every text value "
                            "finds no email, phone, henkilötunnus, plate, VIN or IP address.")
def no_direct_identifiers_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        found = audit.direct_identifier_findings(con, load_manifest())
    return dg.AssetCheckResult(passed=not found, metadata={"findings": sum(found.values()),
                                                           **{f"found_{k}": n for k, n in found.items()}})


@dg.asset_check(asset=privacy_audit, name="objectors_absent",
                description="No profiling row is keyed by the pseudonym of a profiling objector or of a person "
                            "with an erasure request.")
def objectors_absent_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with audit.connect_with_key(warehouse.settings(), read_only=True) as con:
        n = audit.objectors_present(con, load_manifest())
    return dg.AssetCheckResult(passed=n == 0, metadata={"objector_rows": n})


class SegmentExportConfig(dg.Config):
    """The run configuration of an export: segment, channel, as-of and output path — never a person."""

    segment: str
    channel: str
    as_of: str
    out: str


@dg.op(description="Write the eligible persons of a segment on one channel to CSV and log the export.")
def export_segment(context: dg.OpExecutionContext, config: SegmentExportConfig,
                   warehouse: WarehouseResource) -> dg.Output:
    from datetime import date
    from pathlib import Path

    try:
        with warehouse.connect() as con:
            rows = write_segment_export(con, config.segment, config.channel, date.fromisoformat(config.as_of),
                                        Path(config.out), context.run_id)
    except ExportRefused as exc:
        raise dg.Failure(str(exc)) from None
    context.log.info(f"exported {rows} rows of segment {config.segment} on channel {config.channel}")
    return dg.Output(rows, metadata={"row_count": rows, "segment": config.segment, "channel": config.channel})


@dg.job(name="segment_export", description="Export one marketing segment on one channel (RULES.md §1.4).",
        executor_def=dg.in_process_executor)
def segment_export_job():
    export_segment()


ASSETS = [privacy_ops_tables, privacy_audit]
CHECKS = [k_anonymity_check, no_direct_identifiers_check, objectors_absent_check]
