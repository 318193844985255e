"""Retention and erasure of the Driver Assistant and KYC data (RULES.md §2, §5, §7) on a copy of the generated
retention baseline with hand-written drive-log, location and KYC deliveries: an Art. 17 erasure deletes the
person's trips and pings everywhere and keeps their KYC records (and only those), verified; a withdrawal deletes
the stored pings at the next run; a KYC record 6 years after the relationship ended is deleted although the person
is kept for 10; trip points older than 26 months are nulled; the access export lists trips with their points,
pings and KYC records. Assertions compare counts and ids, never values."""

from __future__ import annotations

import gzip

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support import AS_OF
from tests.support.dbt import LandingZone, run_dbt
from tests.support.fleet import KYC_HEADER, TRIPS_HEADER
from tests.support.retention import Home, active_drivers, copy_home, persons_without_contracts, run_retention
from tests.support.retention import set_relationship_end

pytestmark = pytest.mark.heavy(15)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def _consents(*rows: str) -> str:
    return "consent_event_id,person_id,purpose,channel,action,recorded_at,source\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def assistant_home(baseline: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The baseline with the deliveries, loaded and built (dbt run), before retention."""
    root = tmp_path_factory.mktemp("assistant")
    home = copy_home(baseline, root / "home")
    a, = active_drivers(home, 1)
    b, c, d = persons_without_contracts(home, 3)
    plate = home.rows("select registration_number from raw.contracts_current where driver_person_id = ? and "
                      "status = 'active' limit 1", [a])[0][0]
    recent = (AS_OF - timedelta(days=10)).isoformat()
    old = (AS_OF - timedelta(days=3 * 365)).isoformat()
    lz = LandingZone(home.path)
    lz.write("drive_log", "trips_da.csv", TRIPS_HEADER + "\n"
             f"DA1,{a},{plate},{recent},1000,1040,40,work,Keilaranta 1 Espoo,Pasila,driver,{recent}T18:00:00Z\n"
             f"DA2,{a},{plate},{recent},1040,1050,10,leisure,Pasila,Kotikatu 9,driver,{recent}T19:00:00Z\n"
             f"DA3,{d},ZZZ-999,{old},500,520,20,work,Vanhatie 4 Lahti,Satama,driver,{old}T10:00:00Z\n")
    lz.write("consents", "location_consents_da.csv", _consents(
        f"DL1,{a},location_tracking,any,grant,2026-01-01T00:00:00Z,mobile_app",
        f"DL2,{b},location_tracking,any,grant,2026-01-01T00:00:00Z,mobile_app"))
    lz.write_jsonl("location", "pings_da.jsonl.gz", [
        {"ping_id": f"DP{i}", "person_id": p, "registration_number": plate if p == a else None,
         "recorded_at": f"{recent}T0{i}:00:00Z", "lat": 60.1 + i / 100, "lon": 24.9 + i / 100}
        for i, p in enumerate([a, a, b, b])], gz=True)
    lz.write("kyc", "kyc_da.csv", KYC_HEADER + "\n"
             f"DK1,identity_verification,{a},,,,passport,DAPASS0001,2031-01-01,,,2020-01-01T10:00:00Z,staff1,"
             "2020-01-01T10:00:00Z\n"
             f"DK2,pep_check,{a},,,,,,,,false,2020-01-01T10:00:00Z,staff1,2020-01-01T10:00:00Z\n"
             f"DK3,identity_verification,{c},,,,id_card,DAPASS0003,2030-01-01,,,2015-01-01T10:00:00Z,staff1,"
             "2015-01-01T10:00:00Z\n")
    lz.load(AS_OF)
    # c's relationship ended 6 years ago: kept 10 years as a person, but KYC only 5
    set_relationship_end(home, [c], date(AS_OF.year - 6, 1, 15))
    run_dbt(["run"], home.warehouse, root / "dbt_work")
    return home.path, {"a": a, "b": b, "c": c, "d": d, "plate": plate, "before": str(home.path)}


@pytest.fixture(scope="module")
def after_erasure(assistant_home, tmp_path_factory) -> tuple[Home, dict[str, str], dict, object]:
    """Access export of a, then a's Art. 17 request, b's withdrawal, and one retention run."""
    from dagster_project.retention.control import record_erasure_request
    from dagster_project.retention.dsar import export_person
    from dagster_project.warehouse import open_warehouse

    src, who = assistant_home
    home = copy_home(src, tmp_path_factory.mktemp("erased") / "home")
    export = home.path.parent / "dsar.json"
    export_person(home.settings, who["a"], export)
    document = json.loads(export.read_text())
    LandingZone(home.path).write("consents", "withdraw_da.csv", _consents(
        f"DL3,{who['b']},location_tracking,any,withdraw,{(AS_OF - timedelta(days=2)).isoformat()}T00:00:00Z,mobile_app"))
    LandingZone(home.path).load(AS_OF)
    with open_warehouse(home.settings) as con:
        record_erasure_request(con, who["a"], "ticket DA")
    outcome = run_retention(home)
    return home, who, document, outcome


def test_access_export_lists_trips_with_their_points_pings_and_kyc(after_erasure):
    _, who, document, _ = after_erasure
    data = document["data"]
    trips = data["raw.drive_log"]
    assert {t["trip_id"] for t in trips} == {"DA1", "DA2"} and all(t["start_point"] for t in trips)
    assert {p["ping_id"] for p in data["raw.location"]} == {"DP0", "DP1"}
    assert all(p["lat"] is not None for p in data["raw.location"])
    kyc = {k["kyc_id"] for k in data["kyc.kyc_records"]}
    assert {"DK1", "DK2"} <= kyc and "DK3" not in kyc            # the generated data may hold more of a's records
    assert {k["person_id"] for k in data["kyc.kyc_records"]} == {who["a"]}
    assert {"drive_log", "location", "kyc"} <= set(document["sources"])


def test_erasure_keeps_the_kyc_records_and_nothing_else_of_the_person(after_erasure):
    home, who, _, outcome = after_erasure
    a = who["a"]
    assert outcome.status == "applied" and outcome.verification == "passed", outcome.verification_detail
    assert outcome.verification_detail["legally_kept"] >= 1
    kept = Home(Path(who["before"])).scalar("select count(*) from raw.kyc where person_id = ?", [a])
    assert kept >= 2
    assert home.scalar("select count(*) from raw.kyc where person_id = ?", [a]) == kept
    assert home.scalar("select count(*) from kyc.kyc_records where person_id = ?", [a]) >= 2
    for relation, column in [("raw.drive_log", "driver_person_id"), ("raw.location", "person_id"),
                             ("marts.driver_trips", "driver_person_id"), ("marts.driver_mileage", "driver_person_id"),
                             ("intermediate.int_location_daily", "person_id"), ("raw.crm_persons", "person_id")]:
        assert home.scalar(f"select count(*) from {relation} where {column} = ?", [a]) == 0, relation
    # The person id is left only in the KYC rows: no other table holds it anywhere.
    con = home.con(read_only=True)
    try:
        places = []
        for schema, table, column in con.execute(
                """select c.table_schema, c.table_name, c.column_name from information_schema.columns c
                   join information_schema.tables t using (table_catalog, table_schema, table_name)
                   where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'""").fetchall():
            if con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" = ?', [a]).fetchall()[0][0]:
                places.append(f"{schema}.{table}.{column}")
    finally:
        con.close()
    assert places == ["raw.kyc.person_id"]
    # Their own retention now counts from the erasure (the CRM row with the relationship_end is gone).
    assert home.scalar("select count(*) from ops.legal_retention where relation = 'raw.kyc' and row_key in "
                       "('DK1', 'DK2')") == 2


def test_a_withdrawal_deletes_the_stored_pings_at_the_next_run(after_erasure, assistant_home):
    home, who, _, _ = after_erasure
    before = Home(assistant_home[0])
    assert before.scalar("select count(*) from raw.location where person_id = ?", [who["b"]]) == 2
    assert home.scalar("select count(*) from raw.location where person_id = ?", [who["b"]]) == 0
    audit = home.rows("select policy, rows from ops.erasure_audit where policy = 'location_withdrawn'")
    assert audit and audit[0][1] >= 2      # b's two pings, and those of generated app users who withdrew
    # the archived copy of the delivery holds them no longer either (their lines are blanked, numbers kept)
    (archived,) = (home.path / "archive" / "location").glob("*_pings_da.jsonl.gz")
    lines = gzip.decompress(archived.read_bytes()).decode().splitlines()
    assert (len(lines), [n for n, line in enumerate(lines, 1) if line == "{}"]) == (4, [1, 2, 3, 4])   # a's, b's


def test_a_six_year_old_kyc_record_is_deleted_although_the_person_is_kept(after_erasure):
    home, who, _, _ = after_erasure
    assert home.scalar("select count(*) from raw.crm_persons_current where person_id = ?", [who["c"]]) == 1
    assert home.scalar("select count(*) from raw.kyc where kyc_id = 'DK3'") == 0
    (archived,) = (home.path / "archive" / "kyc").glob("*_kyc_da.csv")
    lines = archived.read_text().splitlines()
    assert (len(lines), set(lines[3])) == (4, {","})   # DK3's line: a record of empty fields


def test_trip_points_older_than_26_months_are_nulled_and_the_kilometres_stay(after_erasure):
    home, _, _, _ = after_erasure
    assert home.rows("select start_point, end_point, distance_km from raw.drive_log where trip_id = 'DA3'") == [
        (None, None, 20)]
    # nor does the archived copy of the delivery: DA3's line is a record of empty fields (a's trips are erased)
    (archived,) = (home.path / "archive" / "drive_log").glob("*_trips_da.csv")
    lines = archived.read_text().splitlines()
    assert (len(lines), lines[0], set(lines[3])) == (4, TRIPS_HEADER, {","})


def test_the_plan_counts_the_new_policies(assistant_home):
    from dagster_project.retention.plan import compute_plan
    from dagster_project.warehouse import open_warehouse

    home = Home(assistant_home[0])
    with open_warehouse(home.settings) as con:
        counts = compute_plan(con, AS_OF, home.path).shorter
    assert counts["drive_log_points"] >= 1 and counts["kyc_records"] >= 1
