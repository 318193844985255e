"""Dagster wiring: definitions, the landing sensor and its cursor, runs in the persistent instance."""

from __future__ import annotations

import os
import time

import dagster as dg

from dagster_project.definitions import defs
from dagster_project.defs.resources import WarehouseResource
from dagster_project.defs.sensors import landing_sensor
from ingest.contracts import SOURCE_NAMES


def test_definitions_have_one_raw_asset_per_source_and_the_pipeline_job():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"raw/{s}" for s in SOURCE_NAMES} <= keys
    assert defs.resolve_job_def("fleetdw_pipeline") is not None
    assert defs.resolve_sensor_def("landing_sensor") is not None
    assert defs.resolve_schedule_def("fleetdw_daily").execution_timezone == "Europe/Helsinki"


def _evaluate(cursor, home):
    resource = WarehouseResource(home=str(home))
    ctx = dg.build_sensor_context(cursor=cursor, resources={"warehouse": resource})
    return landing_sensor(ctx)


def test_sensor_skips_when_nothing_landed(tmp_path):
    (tmp_path / "landing" / "fuel").mkdir(parents=True)
    result = _evaluate(None, tmp_path)
    assert not result.run_requests
    assert result.skip_reason is not None


def test_sensor_requests_a_run_for_new_files_and_advances_its_cursor(tmp_path):
    folder = tmp_path / "landing" / "fuel"
    folder.mkdir(parents=True)
    first = folder / "fuel_1.jsonl"
    first.write_text("{}\n")
    os.utime(first, (1000, 1000))
    result = _evaluate(None, tmp_path)
    assert len(result.run_requests) == 1
    assert result.cursor == "1000.0"
    # The same file again: nothing new past the cursor.
    assert not _evaluate(result.cursor, tmp_path).run_requests
    second = folder / "fuel_2.jsonl"
    second.write_text("{}\n")
    os.utime(second, (2000, 2000))
    again = _evaluate(result.cursor, tmp_path)
    assert len(again.run_requests) == 1 and again.cursor == "2000.0"
    assert again.run_requests[0].run_key != result.run_requests[0].run_key


def test_sensor_ignores_partial_uploads(tmp_path):
    folder = tmp_path / "landing" / "web"
    folder.mkdir(parents=True)
    (folder / "web_1.jsonl.gz.part").write_bytes(b"x")
    assert not _evaluate(None, tmp_path).run_requests


def test_raw_assets_materialise_with_counts_only(samples_landing):
    resource = WarehouseResource(home=str(samples_landing), as_of="2026-11-22")
    raw_assets = [a for a in defs.assets if getattr(a, "group_names_by_key", None)
                  and any(k.path[0] == "raw" for k in a.keys)]
    result = dg.materialize(raw_assets, resources={"warehouse": resource})
    assert result.success
    fuel, = [e.materialization.metadata for e in result.get_asset_materialization_events()
             if e.materialization.asset_key == dg.AssetKey(["raw", "fuel"])]
    assert fuel["rows_loaded"].value == 2 and fuel["rows_quarantined"].value == 1
    assert fuel["quarantine_reasons"].value == {"range:liters": 1}


def test_dbt_models_are_assets_downstream_of_the_raw_assets():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for model in ("stg_crm__persons", "fct_fuel_transactions", "fleet_monthly_costs", "web_sessions"):
        assert any(k.endswith(model) for k in keys), model
    staging = next(k for k in graph.get_all_asset_keys() if k.to_user_string().endswith("stg_crm__persons"))
    assert dg.AssetKey(["raw", "crm_persons"]) in graph.get(staging).parent_keys


def test_dbt_tests_are_asset_checks():
    graph = defs.resolve_asset_graph()
    check_names = {c.name for c in graph.asset_check_keys}
    assert any(name.startswith("unique_") for name in check_names)
    assert any(name.startswith("not_null_") for name in check_names)


def test_models_in_error_are_named_from_dbt_run_results():
    from dagster_project.defs.dbt import model_errors

    results = {"results": [
        {"unique_id": "model.fleetdw.dim_company", "status": "success"},
        {"unique_id": "model.fleetdw.dim_vehicle", "status": "error"},
        {"unique_id": "seed.fleetdw.fuel_emission_factors", "status": "error"},
        {"unique_id": "test.fleetdw.not_null_dim_vehicle_vin.def", "status": "error"},
        {"unique_id": "unit_test.fleetdw.web_sessions.split_at_31_minutes", "status": "fail"},
    ]}
    assert model_errors(results) == ["dim_vehicle", "fuel_emission_factors"]
