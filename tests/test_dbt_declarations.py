"""The personal-data declarations of the dbt project are complete, and the check that says so is real: it finds
an undeclared email column planted in a copy of the project, a model without subject, a declared column that
does not exist, a malformed declaration and a direct identifier in a mart."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project.privacy.declarations import Finding, check_declarations, declarations, load_manifest
from dagster_project.privacy.publish import publish_plan
from tests.support.dbt import DBT_DIR, BuiltFleet, run_dbt

pytestmark = pytest.mark.heavy(15)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def problems(findings: list[Finding]) -> set[tuple[str, str | None, str]]:
    return {(f.model, f.column, f.problem) for f in findings}


@pytest.fixture(scope="module")
def manifest(built_fleet: BuiltFleet) -> dict:
    return load_manifest(built_fleet.work / "target")


def check(manifest: dict, warehouse: Path) -> list[Finding]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return check_declarations(manifest, con)
    finally:
        con.close()


def node(manifest: dict, name: str) -> dict:
    return next(n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name)


def test_every_personal_data_column_is_declared(manifest: dict, built_fleet: BuiltFleet):
    assert problems(check(manifest, built_fleet.warehouse)) == set()


def test_declarations_cover_every_layer(manifest: dict):
    models = {d.model for d in declarations(manifest)}
    assert {"stg_crm__persons", "crm_persons_history", "int_fuel_transactions", "fct_fuel_transactions",
            "web_sessions"} <= models
    assert {d.category for d in declarations(manifest) if d.model == "stg_crm__persons"} >= {
        "user.name", "user.contact.email", "user.contact.phone_number", "user.government_id.national_id"}


def test_analyst_copy_keeps_company_billing_terms_but_not_the_e_invoice_address(manifest: dict,
                                                                              built_fleet: BuiltFleet):
    con = duckdb.connect(str(built_fleet.warehouse), read_only=True)
    try:
        copied = set(publish_plan(manifest, con, "warehouse").tables["marts.dim_company"])
    finally:
        con.close()
    assert {'"billing_method"', '"payment_terms_days"'} <= copied
    assert not {'"e_invoice_address"', '"e_invoice_operator"'} & copied     # a company's keys: left out


def test_planted_undeclared_email_column_fails_the_check(built_fleet: BuiltFleet, tmp_path: Path):
    project = tmp_path / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    (project / "models" / "marts" / "planted_contacts.sql").write_text(
        "select person_id as contact_ref, email as reach from {{ ref('stg_crm__persons') }}\n")
    (project / "models" / "marts" / "planted_contacts.yml").write_text(
        "version: 2\nmodels:\n  - name: planted_contacts\n    description: A model someone forgot to declare.\n"
        "    columns:\n      - name: contact_ref\n        description: a key\n"
        "      - name: reach\n        description: how to reach them\n")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_fleet.warehouse, warehouse)
    run_dbt(["run", "--select", "planted_contacts"], warehouse, tmp_path / "work", project_dir=project)
    found = check(load_manifest(tmp_path / "work" / "target"), warehouse)
    assert problems(found) == {("planted_contacts", "reach", "undeclared_personal_data")}
    assert "values: email=" in found[0].detail
    assert "@" not in str(found[0])                      # a finding never carries the value


def test_model_without_subject_fails_the_check(manifest: dict, built_fleet: BuiltFleet):
    broken = copy.deepcopy(manifest)
    n = node(broken, "stg_crm__persons")
    n["meta"].pop("subject_key", None)
    n["config"]["meta"].pop("subject_key", None)
    assert ("stg_crm__persons", None, "no_subject") in problems(check(broken, built_fleet.warehouse))


def test_subject_path_to_a_missing_key_fails_the_check(manifest: dict, built_fleet: BuiltFleet):
    broken = copy.deepcopy(manifest)
    for meta in (node(broken, "dim_vehicle")["meta"], node(broken, "dim_vehicle")["config"]["meta"]):
        if "subject_path" in meta:
            meta["subject_path"][0]["key"] = "no_such_column"
    assert ("dim_vehicle", None, "subject_path_invalid") in problems(check(broken, built_fleet.warehouse))


def test_declared_column_that_does_not_exist_fails_the_check(manifest: dict, built_fleet: BuiltFleet):
    broken = copy.deepcopy(manifest)
    n = node(broken, "dim_contract")
    n["columns"]["ghost"] = {"name": "ghost", "meta": {"personal_data": {
        "category": "user.name", "subject": "person", "identifier": "direct", "erasure": "delete"}}}
    assert ("dim_contract", "ghost", "declared_column_missing") in problems(check(broken, built_fleet.warehouse))


def test_retain_legal_without_legal_basis_fails_the_check(manifest: dict, built_fleet: BuiltFleet):
    broken = copy.deepcopy(manifest)
    decl = node(broken, "dim_contract")["columns"]["total_monthly"]["meta"]["personal_data"]
    decl.pop("legal_basis")
    assert ("dim_contract", "total_monthly", "invalid_declaration") in problems(check(broken, built_fleet.warehouse))


def test_direct_identifier_other_than_plate_or_vin_in_a_mart_fails_the_check(manifest: dict,
                                                                             built_fleet: BuiltFleet):
    broken = copy.deepcopy(manifest)
    node(broken, "fct_washes")["columns"]["wash_location"]["meta"]["personal_data"].update(
        category="user.contact.address.street", identifier="direct")
    assert ("fct_washes", "wash_location", "direct_identifier_in_mart") in problems(
        check(broken, built_fleet.warehouse))


def test_undeclared_column_with_a_personal_data_name_fails_the_check(manifest: dict, built_fleet: BuiltFleet):
    broken = copy.deepcopy(manifest)
    column = node(broken, "stg_crm__persons")["columns"]["ssn"]
    column["meta"].pop("personal_data")
    column.get("config", {}).get("meta", {}).pop("personal_data", None)
    assert ("stg_crm__persons", "ssn", "undeclared_personal_data") in problems(check(broken, built_fleet.warehouse))
