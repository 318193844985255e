"""The Driver Assistant and KYC in the warehouse (RULES.md §2, §4, §5), on the hand-made fleet (tests/support/fleet.py):
trips as kilometres linked to the contract that had the car, monthly work and leisure km, daily distance from
location pings only while a grant is in force, and KYC values only in raw and the restricted ``kyc`` schema."""

from __future__ import annotations

import math

import duckdb
import pytest

from tests.support.dbt import BuiltFleet
from tests.support.fleet import PINGS_P1, S


def rows(fleet: BuiltFleet, sql: str) -> list[tuple]:
    con = duckdb.connect(str(fleet.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    (la1, lo1), (la2, lo2) = [(math.radians(x), math.radians(y)) for x, y in (a, b)]
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_trips_are_linked_to_the_contract_that_had_the_car_and_findings_are_flagged(built_fleet: BuiltFleet):
    trips = {r[0]: r[1:] for r in rows(built_fleet, """select trip_id, contract_id, registration_number,
        distance_km, odometer_km, has_distance_mismatch, has_odometer_overlap from marts.driver_trips""")}
    assert trips == {
        "T1": ("C000003", "XYZ-9", 60, 60, False, False),
        "T2": ("C000003", "XYZ-9", 50, 40, True, False),     # typed 50 km, odometer 40 km: loads, flagged
        "T3": ("C000002", "ABC-123", 40, 40, False, True),   # T3 and T4 overlap on ABC-123's odometer
        "T4": ("C000002", "ABC-123", 50, 50, False, True),
    }


def test_monthly_mileage_splits_work_and_leisure_per_driver_car_and_contract(built_fleet: BuiltFleet):
    mileage = rows(built_fleet, """select driver_person_id, contract_id, customer_business_id, cast(mileage_month as
        varchar), work_km, leisure_km, total_km, trips, trips_with_findings from marts.driver_mileage order by 1""")
    assert mileage == [("P000001", "C000003", "0737546-2", "2026-10-01", 60, 50, 110, 2, 1),
                       ("P000002", "C000002", S, "2026-10-01", 90, 0, 90, 2, 2)]


def test_daily_distance_from_consecutive_pings_only_while_a_grant_is_in_force(built_fleet: BuiltFleet):
    points = [(lat, lon) for _, _, lat, lon in PINGS_P1]
    expected = sum(haversine(a, b) for a, b in zip(points, points[1:]))
    daily = rows(built_fleet, "select person_id, registration_number, cast(travel_date as varchar), pings, distance_km "
                              "from marts.daily_location_distance")
    assert len(daily) == 1 and daily[0][:4] == ("P000001", "XYZ-9", "2026-11-20", 3)
    assert daily[0][4] == pytest.approx(expected, abs=0.001)
    # P000002's pings were collected under a grant (kept in the coordinate-free aggregate), but the grant was
    # withdrawn: nothing of them is shown.
    assert rows(built_fleet, "select count(*) from intermediate.int_location_daily where person_id = 'P000002'")[0][0] == 1


def _relations_outside(fleet: BuiltFleet, schemas: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    return rows(fleet, f"""select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns c where c.table_schema not in ({', '.join(repr(s) for s in schemas)})""")


def _holding(fleet: BuiltFleet, schemas: tuple[str, ...], needles: list[str]) -> list[str]:
    con = duckdb.connect(str(fleet.warehouse), read_only=True)
    try:
        found = []
        for schema, table, column, _ in _relations_outside(fleet, schemas):
            n = con.execute(f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) in '
                            f'(select unnest(?::varchar[]))', [needles]).fetchall()[0][0]
            if n:
                found.append(f"{schema}.{table}.{column}")
        return found
    finally:
        con.close()


def test_coordinates_and_trip_points_never_leave_raw(built_fleet: BuiltFleet):
    columns = {c for _, _, c, _ in _relations_outside(built_fleet, ("raw",))}
    assert not columns & {"lat", "lon", "start_point", "end_point"}
    coordinates = [str(v) for _, _, lat, lon in PINGS_P1 for v in (lat, lon)]
    assert _holding(built_fleet, ("raw",), coordinates + ["Keilaranta 1, Espoo", "Lentoasema", "Nuuksio"]) == []
    # ... and raw has them (the test would find them)
    assert rows(built_fleet, "select count(*) from raw.drive_log where start_point is not null")[0][0] == 2


def test_kyc_values_live_only_in_raw_and_the_kyc_schema(built_fleet: BuiltFleet):
    kyc = rows(built_fleet, "select kyc_id, record_type, person_id, business_id from kyc.kyc_records order by 1")
    assert kyc == [("KYC1", "identity_verification", "P000003", None), ("KYC2", "beneficial_owner", None, S)]
    # the beneficial owner's name and henkilötunnus, the passport number: nowhere else
    assert _holding(built_fleet, ("raw", "kyc"), ["Liisa Omistaja", "240385-123T", "FP1234567"]) == []
    assert not [t for s, t, _, _ in _relations_outside(built_fleet, ("raw", "kyc")) if "kyc" in t]


def test_no_model_outside_the_kyc_schema_reads_kyc(built_fleet: BuiltFleet):
    import json

    manifest = json.loads((built_fleet.work / "target" / "manifest.json").read_text())
    readers = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"
               and any(d.endswith(("raw.kyc", "raw.kyc_current")) or ".kyc_records" in d
                       for d in n["depends_on"]["nodes"])}
    assert readers == {"kyc_records"}
    outside = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"
               and "model.fleetdw.kyc_records" in n["depends_on"]["nodes"]}
    assert outside == set()
