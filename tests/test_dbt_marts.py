"""Mart values on the hand-made fleet of tests/dbt_fixtures/fleet.py, computed by hand, and an incremental run
after a second day of files that equals a full refresh. Assertions use ids and numbers only."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.support.dbt import BuiltFleet, DbtFailed, LandingZone as Landing, read_rows, run_dbt
from tests.support.fleet import G, O, S, write_day2

pytestmark = pytest.mark.heavy(20)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

# The README's analyst queries, verbatim.
GROUP_COST_QUERY = """
select m.month, m.customer_business_id, m.cost_center,
       sum(m.lease_total_eur) as lease_eur, sum(m.fuel_eur) as fuel_eur, sum(m.total_cost_eur) as total_eur,
       sum(m.fuel_liters) as liters, sum(m.charged_kwh) as kwh, sum(m.washes) as washes,
       sum(m.co2_kg_estimate) as co2_kg
from marts.fleet_monthly_costs as m
where m.top_parent_business_id = (select top_parent_business_id from marts.dim_company where business_id = ?)
group by all
order by m.month, m.customer_business_id, m.cost_center
"""
WRONG_FUEL_LAST_MONTH_QUERY = """
select a.registration_number, a.refueled_at, a.product, a.power_source, a.liters, a.contract_id,
       a.customer_business_id, a.cost_center
from marts.fuel_anomalies as a
where a.anomaly_type = 'wrong_fuel'
  and a.refueled_on >= date_trunc('month', cast(? as date) - interval 1 month)
  and a.refueled_on < date_trunc('month', cast(? as date))
order by a.refueled_at
"""


rows = read_rows


def test_plate_that_moved_between_contracts_matches_the_contract_of_the_event_date(built_fleet: BuiltFleet):
    got = dict(rows(built_fleet.warehouse,
                    "select transaction_id, contract_id from marts.fct_fuel_transactions where transaction_id in ('F1','F2')"))
    assert got == {"F1": "C000001", "F2": "C000002"}
    assert rows(built_fleet.warehouse, "select contract_id, cost_center from marts.fct_washes") == [("C000002", "KP-4420")]


def test_refueller_is_resolved_by_normalised_phone(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse, "select transaction_id, refueller_person_id, refueller_match, is_refueller_driver "
                                      "from marts.fct_fuel_transactions order by 1")
    assert got == [("F1", "P000001", "unique", True), ("F2", "P000002", "unique", True),
                   ("F3", "P000001", "unique", True), ("F4", None, "unknown", False)]


def test_ev_charging_counts_kwh_and_no_litres_or_tailpipe_co2(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select contracts, lease_total_eur, fuel_transactions, fuel_eur, fuel_liters, charged_kwh, "
               "co2_kg_estimate, washes from marts.fleet_monthly_costs "
               "where customer_business_id = ? and cost_center = 'KP-4420' and month = date '2026-10-01'", [S])
    assert got == [(1, 700, 1, 20.0, 0.0, 40.0, 0.0, 1)]


def test_diesel_month_costs_lease_fuel_and_co2(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select lease_total_eur, fuel_eur, fuel_liters, round(co2_kg_estimate, 2) from marts.fleet_monthly_costs "
               "where customer_business_id = ? and cost_center = 'KP-4410' and month = date '2026-06-01'", [S])
    assert got == [(500, 90.0, 50.0, 133.0)]          # 50 l diesel x 2.66 kg/l


def test_monthly_costs_cover_each_contract_month_up_to_as_of(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select customer_business_id, cost_center, count(*), min(month), max(month), sum(lease_total_eur) "
               "from marts.fleet_monthly_costs group by 1, 2 order by 1, 2")
    assert got == [
        (G, "HQ-1000", 2, date(2026, 10, 1), date(2026, 11, 1), 600),
        (S, "KP-4410", 6, date(2026, 1, 1), date(2026, 6, 1), 3000),
        (S, "KP-4420", 5, date(2026, 7, 1), date(2026, 11, 1), 3500),
    ]


def test_wrong_fuel_and_plate_without_contract_are_anomalies(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse, "select transaction_id, anomaly_type from marts.fuel_anomalies order by 1, 2")
    assert got == [("F3", "wrong_fuel"), ("F4", "no_active_contract")]


def test_company_group_hierarchy(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select business_id, top_parent_business_id, group_depth from marts.dim_company order by 1")
    assert got == [(G, G, 0), (S, G, 1), (O, O, 0)]


def test_company_billing_attributes_are_the_latest_version_the_crm_delivered(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select business_id, billing_method, e_invoice_address, e_invoice_operator, payment_terms_days "
               "from marts.dim_company order by 1")
    assert got == [
        (G, "email", None, None, 30),
        (S, "e_invoice", "003712345671", "003721291126", 21),     # companies_2.csv: the newer version
        (O, "paper", None, None, 14),                             # companies_2.csv held an older version
    ]


def test_session_split_by_31_minute_gap_and_unconsented_events_excluded(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select session_number, events, person_id from marts.web_sessions order by session_start")
    assert got == [(1, 2, None), (2, 1, "P000001")]     # 10:00+10:20 | 10:51; c2 has no consent


def test_daily_page_views_count_every_event(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse,
               "select page_url, page_views, consented_page_views from marts.web_daily_page_views order by 1")
    assert got == [("https://www.example.fi/a", 2, 1), ("https://www.example.fi/b", 1, 1),
                   ("https://www.example.fi/c", 1, 1)]


def test_contract_mileage_forecast(built_fleet: BuiltFleet):
    # C000003: 2026-10-01..2026-09-30+3y (1095 days), 1000 km driven by 2026-11-20 (50 days)
    got = rows(built_fleet.warehouse, "select days_elapsed, driven_km, forecast_km_at_end, forecast_overrun_km "
                                      "from marts.contract_mileage where contract_id = 'C000003'")
    assert got == [(50, 1000, 21900, 0)]


def test_analyst_query_group_monthly_cost_per_cost_centre(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse, GROUP_COST_QUERY, [S])          # any member finds the whole group
    october = [(r[1], r[2], r[3], r[4]) for r in got if r[0] == date(2026, 10, 1)]
    assert october == [(G, "HQ-1000", 300, 55.0), (S, "KP-4420", 700, 20.0)]
    assert len(got) == 13


def test_analyst_query_wrong_fuel_last_month(built_fleet: BuiltFleet):
    got = rows(built_fleet.warehouse, WRONG_FUEL_LAST_MONTH_QUERY, ["2026-11-22", "2026-11-22"])
    assert [(r[0], r[2], r[3], r[5]) for r in got] == [("XYZ-9", "Diesel", "petrol", "C000003")]


INCREMENTAL = {
    "intermediate.int_web_events": ["event_id"],
    "marts.fct_fuel_transactions": ["transaction_id"],
    "marts.web_sessions": ["session_id"],
    "marts.web_daily_page_views": ["event_date", "page_url"],
}
BOOKKEEPING = {"_watermark_load_id"}


@pytest.fixture(scope="module")
def day2(built_fleet: BuiltFleet, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(incremental warehouse, full-refresh warehouse) after day 2's files."""
    root = tmp_path_factory.mktemp("dbt_day2")
    home = root / "incremental"
    shutil.copytree(built_fleet.home, home)
    lz = Landing(home)
    write_day2(lz)
    lz.load(date(2026, 11, 22))
    full = root / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy(lz.warehouse, full)
    run_dbt(["run"], lz.warehouse, root / "work_incremental")
    run_dbt(["run", "--full-refresh"], full, root / "work_full")
    return lz.warehouse, full


@pytest.mark.parametrize("table", sorted(INCREMENTAL))
def test_incremental_run_equals_full_refresh(day2: tuple[Path, Path], table: str):
    incremental, full = day2
    con = duckdb.connect(str(incremental), read_only=True)
    try:
        con.execute(f"attach '{full}' as full_refresh (read_only)")
        cols = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_catalog = current_database() "
            "and table_schema = ? and table_name = ? order by ordinal_position", table.split(".")).fetchall()
            if c not in BOOKKEEPING]
        select = ", ".join(f'"{c}"' for c in cols)
        only_inc = con.execute(f"select count(*) from (select {select} from {table} "
                               f"except all select {select} from full_refresh.{table})").fetchall()[0][0]
        only_full = con.execute(f"select count(*) from (select {select} from full_refresh.{table} "
                                f"except all select {select} from {table})").fetchall()[0][0]
        total = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    finally:
        con.close()
    assert (only_inc, only_full) == (0, 0)
    assert total > 0


def test_daily_page_views_outlive_the_deletion_of_identified_events(day2: tuple[Path, Path], tmp_path: Path):
    """The 26-month policy deletes identified web events from raw.web and int_web_events, "daily aggregates stay"
    (RULES.md §5): the next build keeps every day's counts."""
    incremental, _ = day2
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(incremental, warehouse)
    query = "select event_date, page_url, page_views, consented_page_views, consented_visitors " \
            "from marts.web_daily_page_views order by all"
    before = read_rows(warehouse, query)
    con = duckdb.connect(str(warehouse))
    try:
        deleted = con.execute("delete from intermediate.int_web_events "
                              "where cookie_id is not null or user_id is not null").fetchall()[0][0]
        con.execute("delete from raw.web where cookie_id is not null or user_id is not null")
    finally:
        con.close()
    assert deleted > 0 and before
    run_dbt(["run", "--select", "web_daily_page_views"], warehouse, tmp_path / "work")
    assert read_rows(warehouse, query) == before


def test_incremental_run_applies_new_files_and_corrections(day2: tuple[Path, Path]):
    incremental, _ = day2
    fuel = rows(incremental, "select transaction_id, liters, kwh, refueller_match, contract_id "
                             "from marts.fct_fuel_transactions order by 1")
    assert [f[0] for f in fuel] == ["F1", "F2", "F3", "F4", "F5"]
    assert fuel[2][1] == 31.0                                   # F3 corrected
    assert fuel[1][3] == "unknown" and fuel[4][3] == "unknown"  # P000002 changed phone
    assert fuel[4][2:] == (10.0, "unknown", "C000002")
    sessions = rows(incremental, "select session_number, events from marts.web_sessions order by session_start")
    assert sessions == [(1, 1), (2, 2)]                          # 10:00 | 10:51+11:10; 10:20 lost consent


def test_incremental_run_only_rewrites_touched_fuel_rows(day2: tuple[Path, Path]):
    incremental, _ = day2
    got = dict(rows(incremental, "select transaction_id, _watermark_load_id from marts.fct_fuel_transactions"))
    # F1 and F4 (no change touches them) keep the watermark of the first run; the others were rewritten
    assert got["F1"] == got["F4"] < got["F2"] == got["F3"] == got["F5"]


ROW_TEST = "not_null_stg_fuel__transactions_registration_number"
BY_LOAD_TEST = "unique_combination_of_columns_stg_fuel__transactions__load_id___line"
CROSS_ROW_TEST = "unique_stg_wash__washes_wash_id"


def test_row_tests_of_an_event_source_check_the_loads_after_the_last_build(built_fleet: BuiltFleet, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    """``FLEETDW_TESTS_AFTER_LOAD`` (set by the pipeline's dbt step, ``build_state.tests_after_load``): a test that
    judges one row at a time, or the uniqueness of columns that include the load id, reads only the newer loads'
    rows of a staging view of an event source; any other test across rows still reads every row; 0: every row."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_fleet.warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        last = con.execute("select max(_load_id) from raw.fuel").fetchall()[0][0]
        # an old row without a plate (its phone kept), and an old line loaded twice
        con.execute("update raw.fuel set registration_number = null where transaction_id = 'F1'")
        con.execute("insert into raw.fuel select * from raw.fuel where transaction_id = 'F2'")
    finally:
        con.close()

    def failing(after: int) -> set[str]:
        monkeypatch.setenv("FLEETDW_TESTS_AFTER_LOAD", str(after))
        try:
            run_dbt(["test", "--select", ROW_TEST, BY_LOAD_TEST, CROSS_ROW_TEST], warehouse, tmp_path / "work")
        except DbtFailed:
            pass
        results = {r["unique_id"].split(".")[2]: r
                   for r in json.loads((tmp_path / "work" / "target" / "run_results.json").read_text())["results"]
                   if r["unique_id"].startswith("test.")}
        assert set(results) == {ROW_TEST, BY_LOAD_TEST, CROSS_ROW_TEST}
        filtered = {name for name, r in results.items() if f"_load_id > {after}" in r["compiled_code"]}
        assert filtered == (set() if after == 0 else {ROW_TEST, BY_LOAD_TEST})
        return {name for name, r in results.items() if r["status"] != "pass"}

    assert failing(0) == {ROW_TEST, BY_LOAD_TEST}
    # the old rows were checked by the build that covered their load
    assert failing(last) == set()
    con = duckdb.connect(str(warehouse))
    try:   # the same faults in a newer load are found
        con.execute("update raw.fuel set _load_id = ? where transaction_id in ('F1', 'F2')", [last + 1])
    finally:
        con.close()
    assert failing(last) == {ROW_TEST, BY_LOAD_TEST}
