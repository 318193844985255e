"""The Parquet lake (dagster_project/lake): one directory per load, owner-only, kept in sync with DuckDB — a
changed load is rewritten, a gone load removed, an unchanged one left alone — and an erased person's values are
gone from it after the erasure run. No Spark here; assertions compare counts, never values."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import duckdb
import pytest

from dagster_project.lake import CONTROL_TABLES, SYNC_STATE, export_lake, sync_if_spark, sync_lake, table_path
from dagster_project.settings import SettingsError, parse_engine
from tests.support.retention import Home, due_now, run_retention
from tests.test_retention_erasure import _customer_with_fuel, _identifiers, _kyc_values, _request

pytestmark = pytest.mark.heavy(20)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def _lake_hits(files: list[Path], values: set[str]) -> int:
    """Rows of the Parquet ``files`` that hold one of ``values`` in a text column."""
    con = duckdb.connect()
    try:
        hits = 0
        for f in files:
            cols = [r[0] for r in con.execute("describe select * from read_parquet(?)", [str(f)]).fetchall()
                    if r[1] == "VARCHAR"]
            for c in cols:
                hits += con.execute(f'select count(*) from read_parquet(?) where "{c}" in '
                                    f'(select unnest(?::varchar[]))', [str(f), sorted(values)]).fetchall()[0][0]
        return hits
    finally:
        con.close()


def _partitions(lake: Path, table: str) -> set[str]:
    return {p.name for p in table_path(lake, table).glob("_load_id=*")}


def test_lake_has_one_owner_only_partition_per_load_and_every_row(home: Home):
    outcome = export_lake(home.settings)
    lake = home.path / "lake"
    loads = {f"_load_id={n}" for (n,) in home.rows("select distinct _load_id from raw.fuel")}
    assert loads and _partitions(lake, "raw.fuel") == loads
    con = duckdb.connect()
    lake_rows = con.execute("select count(*) from read_parquet(?)",
                            [str(table_path(lake, "raw.crm_persons") / "*" / "*.parquet")]).fetchall()[0][0]
    con.close()
    assert lake_rows == home.scalar("select count(*) from raw.crm_persons")
    for table in CONTROL_TABLES:
        assert (table_path(lake, table) / "data.parquet").exists() or table in outcome.missing
    modes = {stat.S_IMODE(os.stat(p).st_mode) for p in [lake, *lake.rglob("*")]}
    assert modes == {0o700, 0o600}


def test_sync_rewrites_only_changed_loads_and_removes_gone_ones(home: Home):
    export_lake(home.settings)
    lake = home.path / "lake"
    loads = sorted(n for (n,) in home.rows("select distinct _load_id from raw.wash"))
    changed, gone = loads[0], loads[1]
    untouched = table_path(lake, "raw.wash") / f"_load_id={loads[2]}"
    before = {p.name: p.stat().st_mtime_ns for p in untouched.iterdir()}
    con = home.con()
    try:
        con.execute("update raw.wash set phone = null where _load_id = ?", [changed])
        con.execute("delete from raw.wash where _load_id = ?", [gone])
        outcome = sync_lake(con, home.path, ["raw.wash"])
    finally:
        con.close()
    assert (outcome.partitions_written, outcome.partitions_removed) == (1, 1)
    assert outcome.partitions_kept == len(loads) - 2
    assert f"_load_id={gone}" not in _partitions(lake, "raw.wash")
    assert {p.name: p.stat().st_mtime_ns for p in untouched.iterdir()} == before
    assert str(gone) not in json.loads((table_path(lake, "raw.wash") / SYNC_STATE).read_text())
    con = duckdb.connect()
    phones = con.execute("select count(phone) from read_parquet(?)", [str(
        table_path(lake, "raw.wash") / f"_load_id={changed}" / "*.parquet")]).fetchall()[0][0]
    con.close()
    assert phones == 0
    con = home.con(read_only=True)
    try:
        again = sync_lake(con, home.path, ["raw.wash"])
    finally:
        con.close()
    assert (again.partitions_written, again.partitions_removed) == (0, 0)


def test_erased_persons_values_are_absent_from_the_lake_after_the_erasure_run(home: Home, monkeypatch):
    monkeypatch.setenv("FLEETDW_ENGINE", "spark")
    person = _customer_with_fuel(home)
    values = _identifiers(home, person).union(*(_identifiers(home, p) for p in sorted(due_now(home))))
    assert sync_if_spark(home.settings) is not None
    lake = home.path / "lake"
    assert _lake_hits(list(lake.rglob("*.parquet")), values) > 0
    _request(home, person)
    outcome = run_retention(home)
    assert (outcome.status, outcome.verification) == ("applied", "passed")
    # the erasure synced the lake before its verification, and the verification read every lake table
    detail = outcome.verification_detail
    assert detail["lake_tables"] >= len(CONTROL_TABLES) and detail["lake_hits"] == 0
    synced = sync_if_spark(home.settings)          # what the retention step does after an applied erasure
    assert synced.partitions_written == 0 and synced.partitions_kept > 0
    kyc = table_path(lake, "raw.kyc")
    kept = _kyc_values(home, values)               # the AML Act keeps KYC records: only there
    files = list(lake.rglob("*.parquet"))
    assert _lake_hits(files, values - kept) == 0
    assert _lake_hits([f for f in files if kyc not in f.parents], values & kept) == 0


def test_verification_finds_a_value_left_in_the_lake_but_not_in_a_legally_retained_column(tmp_path: Path):
    """The lake part of the post-deletion verification (``retention.verify.scan_lake``) on a planted value."""
    from dagster_project.retention.verify import scan_lake

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.kyc (person_id varchar, name varchar, _load_id bigint)")
    con.execute("insert into raw.kyc values ('P-LEFT-1', 'Kept Name', 1), ('P-OTHER', 'x', 2)")
    con.execute("create table raw.fuel (note varchar, litres double, _load_id bigint)")
    con.execute("insert into raw.fuel values ('paid by P-LEFT-1', 40.0, 1)")
    sync_lake(con, tmp_path, ["raw.kyc", "raw.fuel"])
    con.close()
    lake = tmp_path / "lake"
    assert scan_lake(lake, {"P-LEFT-1"}) == (2, 2)
    assert scan_lake(lake, {"P-LEFT-1"}, {"raw.kyc": ["person_id"]}) == (2, 1)   # the fuel note still counts
    assert scan_lake(lake, {"Kept Name"}, {"raw.kyc": ["name"]}) == (2, 0)
    assert scan_lake(None, {"P-LEFT-1"}) == (0, 0)


def test_engine_setting_is_duckdb_by_default_and_rejects_others(monkeypatch):
    assert parse_engine(None) == "duckdb" and parse_engine("Spark") == "spark"
    with pytest.raises(SettingsError, match="FLEETDW_ENGINE"):
        parse_engine("trino")


def test_no_lake_without_the_spark_engine(home: Home, monkeypatch):
    monkeypatch.delenv("FLEETDW_ENGINE", raising=False)
    assert sync_if_spark(home.settings) is None
    assert not (home.path / "lake").exists()
