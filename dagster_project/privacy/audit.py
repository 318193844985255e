"""Measurements of the privacy layer after dbt builds it — counts only, never a value: eligible persons per
channel, persons profiled, suppressed and generalised for k-anonymity, automated decisions; and the findings the
privacy checks assert on (k-anonymity, direct identifiers in profiling, objectors present)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import duckdb

from dagster_project.privacy.declarations import column_declaration, model_meta, relation_nodes, scan_values
from dagster_project.privacy.pseudonym import load_key, set_key_variables, sql_expression
from dagster_project.privacy.segments import CHANNELS, PRIVACY_SCHEMA
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse

PROFILING_SCHEMA = "profiling"
K = 5
AUDITED_MODELS = ("marketing_eligibility", "profiling_subjects", "customer_profile", "vehicle_usage_profile",
                  "renewal_offer_decisions")


def model_nodes(manifest: dict[str, Any], schema: str) -> list[dict[str, Any]]:
    return [n for n in relation_nodes(manifest) if n["schema"] == schema]


@contextmanager
def connect_with_key(settings: Settings, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse connection with the pseudonym key's pads as session variables (never persisted)."""
    with open_warehouse(settings, read_only=read_only) as con:
        set_key_variables(con, load_key(settings.home))
        yield con


def quasi_identifiers(node: dict[str, Any]) -> list[str]:
    """The columns of a profiling model declared ``identifier: quasi`` (in the yml's order)."""
    return [c for c, col in node.get("columns", {}).items()
            if (column_declaration(col) or {}).get("identifier") == "quasi"]


def undeclared_profiling_columns(manifest: dict[str, Any]) -> list[str]:
    """``model.column`` of every profiling column that is neither the subject's pseudonym (identifier key), nor a
    quasi-identifier, nor declared non-identifying with a reason (``meta.non_identifying``)."""
    out = []
    for node in model_nodes(manifest, PROFILING_SCHEMA):
        for name, col in node.get("columns", {}).items():
            identifier = (column_declaration(col) or {}).get("identifier")
            reason = model_meta(col).get("non_identifying")
            if identifier in ("key", "quasi") or (isinstance(reason, str) and reason.strip()):
                continue
            out.append(f"{node['name']}.{name}")
    return out


def k_anonymity_violations(con, manifest: dict[str, Any], k: int = K) -> dict[str, int]:
    """Per profiling table: rows in combinations of all its quasi-identifiers that cover fewer than k subjects,
    whatever the rows' generalisation level."""
    out: dict[str, int] = {}
    for node in model_nodes(manifest, PROFILING_SCHEMA):
        qis = quasi_identifiers(node)
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


