"""The privacy layer in Dagster: the control tables, an audit of the privacy and profiling models after dbt
builds them, its checks (k-anonymity, no direct identifier in profiling, objectors absent) and the job that
exports a marketing segment.

Every check and every metadata entry carries counts and names only. The pseudonym key is read in-process
(``ingest.pseudonym``) and only ever set as a session variable on a short-lived connection.
"""


import getpass
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import duckdb
from dagster_dbt import get_asset_key_for_model

from dagster_project.assets.warehouse import ensure_manifest, warehouse_dbt
from dagster_project.resources import WarehouseResource, open_warehouse
from dagster_project.settings import Settings
from ingest.declarations import column_declaration, relation_nodes, scan_values
from ingest.ops_tables import ensure_ops_tables
from ingest.pseudonym import load_key, set_key_variables, sql_expression

PROFILING_SCHEMA = "profiling"
PRIVACY_SCHEMA = "privacy"
CHANNELS = ("email", "sms", "phone", "post")
K = 5
AUDITED_MODELS = ("marketing_eligibility", "profiling_subjects", "customer_profile", "vehicle_usage_profile",
                  "renewal_offer_decisions")


# ---------------------------------------------------------------------------------------------------------------
# Segments: declared once, as dbt models with meta.segment (dbt/models/privacy/segments/segments.yml)

@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    model: str
    columns: tuple[str, ...]      # segment-specific columns exported after person_id, channel, contact


def load_manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def segments(manifest: dict[str, Any] | None = None) -> dict[str, Segment]:
    manifest = manifest or load_manifest()
    out: dict[str, Segment] = {}
    for node in relation_nodes(manifest):
        meta = {**(node.get("config", {}).get("meta") or {}), **(node.get("meta") or {})}
        seg = meta.get("segment")
        if isinstance(seg, dict) and seg.get("name"):
            cols = tuple(c for c in node.get("columns", {}) if c != "person_id")
            out[seg["name"]] = Segment(seg["name"], seg.get("description", ""), node["name"], cols)
    return dict(sorted(out.items()))


def model_nodes(manifest: dict[str, Any], schema: str) -> list[dict[str, Any]]:
    return [n for n in relation_nodes(manifest) if n["schema"] == schema]


# ---------------------------------------------------------------------------------------------------------------
# Measurements (counts only), shared by the audit asset, its checks and the tests

@contextmanager
def connect_with_key(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse connection with the pseudonym key's pads as session variables (never persisted)."""
    with open_warehouse(settings, read_only=read_only) as con:
        set_key_variables(con, load_key(settings.home))
        yield con


def k_anonymity_violations(con, manifest: dict[str, Any], k: int = K) -> dict[str, int]:
    """Per profiling table: rows in quasi-identifier combinations covering fewer than k subjects."""
    out: dict[str, int] = {}
    for node in model_nodes(manifest, PROFILING_SCHEMA):
        meta = {**(node.get("config", {}).get("meta") or {}), **(node.get("meta") or {})}
        qis = meta.get("quasi_identifiers") or []
        if not qis:
            continue
        cols = ", ".join(f'"{c}"' for c in qis)
        out[node["name"]] = int(con.execute(
            f'select coalesce(sum(n), 0) from (select count(*) as n from "{node["schema"]}"."{node["name"]}" '
            f"group by {cols} having count(*) < {int(k)})").fetchall()[0][0])
    return out


def direct_identifier_findings(con, manifest: dict[str, Any]) -> dict[str, int]:
    """Profiling columns declared as direct identifiers, and text values that look like one (email, phone,
    henkilötunnus, plate, VIN, IP), per kind. Pseudonym columns (declared keys) are hashes and are not scanned."""
    found: dict[str, int] = {}
    for node in model_nodes(manifest, PROFILING_SCHEMA):
        declared = {c.lower(): column_declaration(col) for c, col in node.get("columns", {}).items()}
        for col, decl in declared.items():
            if isinstance(decl, dict) and decl.get("identifier") == "direct":
                found["declared_direct"] = found.get("declared_direct", 0) + 1
        columns = con.execute(
            "select lower(column_name), data_type from information_schema.columns "
            "where table_schema = ? and table_name = ?", [node["schema"], node["name"]]).fetchall()
        for col, data_type in columns:
            decl = declared.get(col)
            if isinstance(decl, dict) and decl.get("identifier") == "key" and "pseudonym" in col:
                continue
            if data_type.upper().startswith("VARCHAR"):
                for kind, n in scan_values(con, node["schema"], node["name"], col, sample_size=100_000).items():
                    found[kind] = found.get(kind, 0) + n
    return found


def objectors_present(con, manifest: dict[str, Any]) -> int:
    """Rows of profiling tables keyed by the pseudonym of a person who must not be profiled (objection,
    withdrawal or erasure request). Needs the key variables on ``con``."""
    total = 0
    pseudo = sql_expression("person", "person_id")
    excluded = f"select {pseudo} from {PRIVACY_SCHEMA}.profiling_subjects where not is_profiled"
    for node in model_nodes(manifest, PROFILING_SCHEMA):
        if "person_pseudonym" in node.get("columns", {}):
            total += int(con.execute(
                f'select count(*) from "{node["schema"]}"."{node["name"]}" '
                f"where person_pseudonym in ({excluded})").fetchall()[0][0])
    return total


def audit_counts(con) -> dict[str, Any]:
    one = lambda sql: int(con.execute(sql).fetchall()[0][0])  # noqa: E731
    eligible = dict(con.execute(
        f"select channel, count(*) filter (where eligible) from {PRIVACY_SCHEMA}.marketing_eligibility "
        "group by channel").fetchall())
    subjects = one(f"select count(*) from {PRIVACY_SCHEMA}.profiling_subjects where is_profiled")
    profiled = one(f"select count(*) from {PROFILING_SCHEMA}.customer_profile")
    vehicles = one(f"select count(distinct vin) from marts.dim_contract where is_active_on_as_of and vin is not null")
    vehicle_rows = one(f"select count(*) from {PROFILING_SCHEMA}.vehicle_usage_profile")
    excluded_vehicles = one(
        f"select count(distinct vin) from marts.dim_contract c where is_active_on_as_of and vin is not null "
        f"and (driver_person_id in (select person_id from {PRIVACY_SCHEMA}.profiling_subjects where not is_profiled) "
        f"or customer_person_id in (select person_id from {PRIVACY_SCHEMA}.profiling_subjects where not is_profiled))")
    return {
        "eligible": {c: int(eligible.get(c) or 0) for c in CHANNELS},
        "profiled": profiled,
        "not_profiled": one(f"select count(*) from {PRIVACY_SCHEMA}.profiling_subjects where not is_profiled"),
        "k_suppressed": {"customer_profile": subjects - profiled,
                         "vehicle_usage_profile": max(vehicles - excluded_vehicles - vehicle_rows, 0)},
        "k_generalised": {"customer_profile": one(
            f"select count(*) from {PROFILING_SCHEMA}.customer_profile where generalisation_level > 0"),
            "vehicle_usage_profile": one(
            f"select count(*) from {PROFILING_SCHEMA}.vehicle_usage_profile where generalisation_level > 0")},
        "decisions": one(f"select count(*) from {PROFILING_SCHEMA}.renewal_offer_decisions"),
    }


def report_path(settings: Settings, run_id: str) -> Path:
    return settings.home / "reports" / "privacy" / f"{run_id}.json"


# ---------------------------------------------------------------------------------------------------------------
# Assets and checks

@dg.asset(key=["privacy", "ops_tables"], group_name="privacy", kinds={"duckdb"},
          description="The warehouse's own control tables (ops.erasure_requests, ops.segment_exports, "
                      "ops.review_requests), created when missing; see ingest/ops_tables.py.")
def privacy_ops_tables(warehouse: WarehouseResource) -> dg.MaterializeResult:
    from ingest.ops_tables import OPS_TABLES

    with warehouse.connect() as con:
        ensure_ops_tables(con)
    return dg.MaterializeResult(metadata={"tables": len(OPS_TABLES)})


def _dbt_key(model: str) -> dg.AssetKey:
    return get_asset_key_for_model([warehouse_dbt], model)


@dg.asset(key=["privacy", "audit"], group_name="privacy", kinds={"duckdb"},
          deps=[privacy_ops_tables, *[_dbt_key(m) for m in AUDITED_MODELS]],
          description="Counts of the privacy layer after dbt: eligible persons per channel, persons profiled, "
                      "suppressed and generalised for k-anonymity, automated decisions. Counts only.")
def privacy_audit(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.connect(read_only=True) as con:
        counts = audit_counts(con)
    path = report_path(settings, context.run.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(counts))
    metadata: dict[str, Any] = {f"eligible_{c}": n for c, n in counts["eligible"].items()}
    metadata.update({"profiled": counts["profiled"], "not_profiled": counts["not_profiled"],
                     "decisions": counts["decisions"]})
    metadata.update({f"k_suppressed_{t}": n for t, n in counts["k_suppressed"].items()})
    metadata.update({f"k_generalised_{t}": n for t, n in counts["k_generalised"].items()})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=privacy_audit, name="k_anonymity",
                description="Every quasi-identifier combination of every profiling table covers >= 5 subjects.")
def k_anonymity_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    manifest = load_manifest()
    with warehouse.connect(read_only=True) as con:
        bad = k_anonymity_violations(con, manifest)
    return dg.AssetCheckResult(passed=sum(bad.values()) == 0, metadata={f"rows_below_k_{t}": n for t, n in bad.items()})


@dg.asset_check(asset=privacy_audit, name="no_direct_identifiers",
                description="No profiling column is declared a direct identifier, and a scan of every text value "
                            "finds no email, phone, henkilötunnus, plate, VIN or IP address.")
def no_direct_identifiers_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    manifest = load_manifest()
    with warehouse.connect(read_only=True) as con:
        found = direct_identifier_findings(con, manifest)
    return dg.AssetCheckResult(passed=not found, metadata={"findings": sum(found.values()),
                                                           **{f"found_{k}": n for k, n in found.items()}})


@dg.asset_check(asset=privacy_audit, name="objectors_absent",
                description="No profiling row is keyed by the pseudonym of a profiling objector or of a person "
                            "with an erasure request.")
def objectors_absent_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    manifest = load_manifest()
    with connect_with_key(warehouse.settings(), read_only=True) as con:
        n = objectors_present(con, manifest)
    return dg.AssetCheckResult(passed=n == 0, metadata={"objector_rows": n})


# ---------------------------------------------------------------------------------------------------------------
# Segment export job: run config holds the segment, channel, as-of and output path only

class SegmentExportConfig(dg.Config):
    segment: str
    channel: str
    as_of: str
    out: str


def export_sql(segment: Segment, channel: str) -> str:
    extra = "".join(f', s."{c}"' for c in segment.columns)
    return (
        f"select s.person_id, e.channel, e.contact{extra} "
        f"from {PRIVACY_SCHEMA}.{segment.model} as s "
        f"join {PRIVACY_SCHEMA}.marketing_eligibility as e on e.person_id = s.person_id "
        f"where e.channel = '{channel}' and e.eligible and e.contact is not null "
        # a request recorded after the last build still stops the export at once
        f"and s.person_id not in (select person_id from ops.erasure_requests where person_id is not null) "
        f"order by s.person_id"
    )


def built_as_of(con) -> date | None:
    row = con.execute(f"select max(as_of) from {PRIVACY_SCHEMA}.marketing_eligibility").fetchall()
    return row[0][0] if row else None


@dg.op(description="Write the eligible persons of a segment on one channel to CSV and log the export.")
def export_segment(context: dg.OpExecutionContext, config: SegmentExportConfig,
                   warehouse: WarehouseResource) -> dg.Output:
    if config.channel not in CHANNELS:
        raise dg.Failure(f"unknown channel {config.channel}")
    segment = segments().get(config.segment)
    if segment is None:
        raise dg.Failure(f"unknown segment {config.segment}")
    out = Path(config.out)
    tmp = out.with_name(out.name + ".part")
    with warehouse.connect() as con:
        ensure_ops_tables(con)
        built = built_as_of(con)
        if built is None or built.isoformat() != config.as_of:
            raise dg.Failure(f"the warehouse was built as of {built}, not {config.as_of}: run fleetdw run first")
        path_sql = str(tmp).replace("'", "''")
        con.execute(f"copy ({export_sql(segment, config.channel)}) to '{path_sql}' (format csv, header)")
        rows = int(con.execute(
            f"select count(*) from ({export_sql(segment, config.channel)})").fetchall()[0][0])
        os.replace(tmp, out)
        con.execute(
            "insert into ops.segment_exports (export_id, segment, channel, as_of, row_count, exported_at, "
            "exported_by) values (?, ?, ?, ?, ?, ?, ?)",
            [context.run_id, config.segment, config.channel, date.fromisoformat(config.as_of), rows,
             datetime.now(timezone.utc), os.environ.get("USER") or getpass.getuser()])
    context.log.info(f"exported {rows} rows of segment {config.segment} on channel {config.channel}")
    return dg.Output(rows, metadata={"row_count": rows, "segment": config.segment, "channel": config.channel})


@dg.job(name="segment_export", description="Export one marketing segment on one channel (RULES.md §1.4).",
        executor_def=dg.in_process_executor)
def segment_export_job():
    export_segment()


ASSETS = [privacy_ops_tables, privacy_audit]
ASSET_CHECKS = [k_anonymity_check, no_direct_identifiers_check, objectors_absent_check]
JOBS = [segment_export_job]


def summarise(settings: Settings, run_id: str) -> dict:
    """``privacy`` of the run summary: eligible persons per channel, profiled, suppressed for k-anonymity."""
    path = report_path(settings, run_id)
    if not path.exists():
        return {}
    counts = json.loads(path.read_text())
    return {"privacy": {"eligible": counts["eligible"], "profiled": counts["profiled"],
                        "k_suppressed": sum(counts["k_suppressed"].values()),
                        "k_generalised": sum(counts["k_generalised"].values()),
                        "decisions": counts["decisions"]}}
