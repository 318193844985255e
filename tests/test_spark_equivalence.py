"""The same dbt project on Spark (``--target spark_session``) as on DuckDB: one generated landing zone (150 persons,
10 days) built on DuckDB, exported to the Parquet lake, registered on one in-process Spark session and built
there with the same as-of; every mart, privacy and profiling table compared by row count and an
order-independent checksum (floats rounded, instants in UTC). ``pytest -k spark`` selects these tests; they share
one build (``spark_results``). The build runs every model, seed and unit test on Spark; set
``FLEETDW_SPARK_DATA_TESTS=1`` to run the 254 data tests there too (about two minutes more)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.shared import shared_once
from tests.support.spark import COMPARED_SCHEMAS, build

pytestmark = pytest.mark.heavy(60)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


@pytest.fixture(scope="session")
def spark_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The one Spark build of the suite (the xdist workers share it through a file lock)."""
    from dagster_project.lake import LakeError
    from dagster_project.lake.spark import require_pyspark

    try:
        require_pyspark()
    except LakeError as exc:     # CI installs the extra: a missing prerequisite fails, it does not skip
        pytest.fail(str(exc), pytrace=False)
    def build_results(shared: Path) -> None:
        results = build(shared, data_tests=os.environ.get("FLEETDW_SPARK_DATA_TESTS") == "1")
        (shared / "results.json").write_text(json.dumps(results, indent=1))

    return json.loads((shared_once(tmp_path_factory, "spark_equivalence", build_results) / "results.json").read_text())


def test_spark_session_builds_every_model_seed_and_unit_test(spark_results):
    assert spark_results["register_success"]
    assert spark_results["failed"] == [] and spark_results["build_success"], spark_results["failed"]
    statuses = spark_results["statuses"]
    assert statuses.get("success", 0) >= 40 and statuses.get("pass", 0) >= 13


def test_spark_tables_equal_duckdb_row_for_row(spark_results):
    tables = spark_results["tables"]
    assert {t.split(".")[0] for t in tables} == set(COMPARED_SCHEMAS)
    assert len(tables) >= 25
    different = {t: {k: v for k, v in c.items() if k != "same"} for t, c in tables.items() if not c["same"]}
    assert different == {}
    empty = sorted(t for t, c in tables.items() if c["duckdb_rows"] == 0)
    assert len(empty) <= 3, f"too few rows to compare in {empty}"


def test_spark_marketing_eligibility_and_k_anonymity_are_identical(spark_results):
    assert spark_results["eligibility"]["duckdb"] == spark_results["eligibility"]["spark"]
    for table, groups in spark_results["k_groups"].items():
        assert groups["spark_rows"] > 0, table
        assert (groups["duckdb"], groups["spark"]) == (0, 0), table


def test_spark_pseudonym_equals_duckdb_and_python_hmac(spark_results):
    p = spark_results["pseudonym"]
    assert p["probe_success"]
    assert p["spark_equals_python"] == [True] * p["inputs"]
    assert p["duckdb_equals_python"] == [True] * p["inputs"]


def test_spark_without_the_key_the_pseudonymising_model_fails(spark_results):
    keyless = spark_results["keyless"]
    assert not keyless["success"]
    assert keyless["statuses"].get("error") == 1         # customer_profile (the on-run-start hook succeeds)
    assert keyless["message_names_key"]


def test_spark_key_pads_never_reach_target_logs_or_the_spark_warehouse(spark_results):
    assert spark_results["compiled_files"] > 50
    assert spark_results["secret_hits"] == 0


def test_spark_compiled_sql_has_no_duckdb_only_constructs(spark_results):
    assert spark_results["compiled_files"] > 50
    assert spark_results["duckdb_only"] == {}
