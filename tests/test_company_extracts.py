"""Fleet Manager company extracts (RULES.md §8, ``fleetdw publish --company BUSINESS_ID [--group]``): only the rows
of the company's (or its group's) contracts, each car's events only of the company's own period, the drivers by
name and contact only, nothing of a neighbour, a private lease, a henkilötunnus, an address, consent, web,
profiling, KYC or a trip's points; an owner-only file, a one-line error for an unknown company, one audit line.

Run on ``extract_fleet`` (tests/support/fleet.py: G > S > GC, the neighbour O, the car MOV-1 that moved from O to
S, a private lease) and on the generated ``day_one`` home. What each extract should hold is computed here from
raw (``ExpectedScope``) or written by hand from the landing rows — never read from the marts or the code under
test.
"""

from __future__ import annotations

import copy
import json
import re
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from dagster_project.privacy.company_extract import ExtractDeclarationError, extract_tables
from tests.support.cli import fleetdw
from tests.support.dbt import BuiltFleet
from tests.support.fleet import EXTRACT_PERSONS, EXTRACT_TRIPS, GC, G, O, S

pytestmark = pytest.mark.heavy(10)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

HELSINKI = ZoneInfo("Europe/Helsinki")
TABLES = {"companies", "contracts", "vehicles", "drivers", "fuel_transactions", "washes", "monthly_costs",
          "contract_mileage", "driver_mileage"}
HENKILOTUNNUS = re.compile(r"(^|[^0-9A-Za-z])[0-3][0-9][01][0-9]{3}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y]($|[^0-9A-Za-z])")
# columns of the sources that no extract may carry, whatever the table
FORBIDDEN_COLUMNS = {"ssn", "birth_date", "age", "age_band", "street_address", "postal_code", "notes",
                     "notes_scrubbed", "cookie_id", "ip_address", "ip_network", "user_agent", "search_query",
                     "start_point", "end_point", "lat", "lon", "full_name", "document_number", "is_pep",
                     "customer_person_id", "refueller_person_id", "washer_person_id", "consent_marketing",
                     "consent_analytics", "person_pseudonym", "position", "role"}


# --------------------------------------------------------------------------------------------------------------
# running and reading an extract

def publish_extract(warehouse: Path, home: Path, company: str, group: bool = False) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    out = home / f"extract-{company}{'-group' if group else ''}.duckdb"
    fleetdw(home, "publish", "--company", company, *(["--group"] if group else []), "--warehouse", str(warehouse),
            "--out", str(out), "--force")
    return out


def read_extract(path: Path) -> dict[str, list[dict]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        out = {}
        for schema, table in con.execute("select table_schema, table_name from information_schema.tables").fetchall():
            rel = con.execute(f'select * from "{schema}"."{table}"')
            columns = [d[0] for d in rel.description]
            out[table if schema == "main" else f"{schema}.{table}"] = [dict(zip(columns, r)) for r in rel.fetchall()]
        return out
    finally:
        con.close()


def cells(extract: dict[str, list[dict]]) -> list[str]:
    return [str(v) for rows in extract.values() for row in rows for v in row.values() if v is not None]


def found(extract: dict[str, list[dict]], needles: set[str]) -> set[str]:
    """The needles that appear in a cell: as its whole value or one of its words (a group path ``A > B > C``), and
    needles of several words anywhere inside one."""
    values = cells(extract)
    words = set(values) | {w for v in values for w in re.split(r"[\s>]+", v)}
    return {n for n in needles if n in words or (" " in n.strip() and any(n in v for v in values))}


def as_multisets(extract: dict[str, list[dict]]) -> dict[str, list[str]]:
    return {table: sorted(repr(sorted(row.items())) for row in rows) for table, rows in extract.items()}


def ids(extract: dict[str, list[dict]], table: str, column: str) -> set:
    return {r[column] for r in extract[table]}


# --------------------------------------------------------------------------------------------------------------
# what an extract should hold, from raw (independent of the marts and of the extract code)

def plate(value: str | None) -> str | None:
    return re.sub(r"\s+", "", value).upper() or None if value else None


def trimmed(value: str | None, upper: bool = False) -> str | None:
    value = (value or "").strip()
    return (value.upper() if upper else value) or None


@dataclass
class ExpectedScope:
    """RULES.md §8 computed in Python from raw: the companies in scope, their contracts, and which events, trips
    and persons belong to them."""

    companies: set[str]
    ancestors: set[str]                                  # above the company (named in its group path)
    crm_companies: set[str]
    contracts: dict[str, dict]                           # every contract by id
    in_scope: set[str] = field(default_factory=set)      # contract ids of the scope
    events: dict[str, dict[str, set[str]]] = field(default_factory=dict)   # source -> event id -> candidates
    persons: set[str] = field(default_factory=set)

    @property
    def drivers(self) -> set[str]:
        return {self.contracts[c]["driver_person_id"] for c in self.in_scope
                if self.contracts[c]["driver_person_id"] in self.persons}

    def event_ids(self, source: str, belongs: bool) -> set[str]:
        """Events every candidate contract of which is in scope (belongs) or none of which is (not belongs).
        An event two overlapping contracts of both sides could have is left to the marts' tie-break."""
        out = set()
        for event, candidates in self.events[source].items():
            if belongs and candidates and candidates <= self.in_scope:
                out.add(event)
            elif not belongs and not candidates & self.in_scope:
                out.add(event)
        return out

    def covers(self, contract_id: str | None, registration_number: str | None, day: date) -> bool:
        """The contract is in scope and had this car on this day."""
        c = self.contracts.get(contract_id or "")
        if contract_id not in self.in_scope or c is None or c["period_start"] is None:
            return False
        in_period = c["period_start"] <= day and (c["end_date"] is None or day <= c["end_date"])
        same_car = registration_number is None or c["plate"] is None or plate(registration_number) == c["plate"]
        return in_period and same_car


def _rows(con, sql: str) -> list[dict]:
    rel = con.execute(sql)
    columns = [d[0] for d in rel.description]
    return [dict(zip(columns, r)) for r in rel.fetchall()]


def expected_scope(warehouse: Path, company: str, group: bool) -> ExpectedScope:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        parents = {r["business_id"]: r["parent_business_id"]
                   for r in _rows(con, "select business_id, parent_business_id from raw.crm_companies_current")}
        contracts = {r["contract_id"]: {**r, "plate": plate(r["registration_number"]), "vin": trimmed(r["vin"], True),
                                        "cost_center": trimmed(r["cost_center"]),
                                        "period_start": r["delivery_date"] or r["start_date"]}
                     for r in _rows(con, "select * from raw.contracts_current")}
        events = {
            "fuel": _rows(con, "select transaction_id as id, registration_number, refueled_at as at "
                               "from raw.fuel_current"),
            "wash": _rows(con, "select wash_id as id, registration_number, washed_at as at from raw.wash_current"),
            "trip": _rows(con, "select trip_id as id, registration_number, trip_date as at from raw.drive_log_current"),
        }
        persons = {r[0] for r in con.execute("select person_id from raw.crm_persons_current").fetchall()}
    finally:
        con.close()

    def chain(c: str) -> list[str]:
        out = [c]
        while parents.get(out[-1]) and parents[out[-1]] not in out:
            out.append(parents[out[-1]])
        return out

    ancestors = set(chain(company)[1:])
    if group:
        top = chain(company)[-1]
        scope = {top} | {c for c in parents if chain(c)[-1] == top}
    else:
        scope = {company}
    exp = ExpectedScope(scope, ancestors, set(parents), contracts, persons=persons)
    exp.in_scope = {cid for cid, c in contracts.items() if c["customer_business_id"] in scope}
    periods = [c for c in contracts.values()
               if c["plate"] and c["status"] != "ordered" and c["period_start"] is not None]
    for source, rows in events.items():
        exp.events[source] = {}
        for e in rows:
            if not e["registration_number"]:
                continue                                   # anonymised by an erasure: matched by raw.anonymised_events
            day = e["at"] if source == "trip" else e["at"].astimezone(HELSINKI).date()
            exp.events[source][e["id"]] = {
                c["contract_id"] for c in periods
                if c["plate"] == plate(e["registration_number"]) and c["period_start"] <= day
                and (c["end_date"] is None or day <= c["end_date"])}
    return exp


def assert_extract_matches_scope(extract: dict[str, list[dict]], exp: ExpectedScope) -> None:
    """Every row of every table belongs to the scope, and what unambiguously belongs to it is there."""
    assert set(extract) == TABLES
    assert ids(extract, "companies", "business_id") == exp.companies & exp.crm_companies
    assert ids(extract, "contracts", "contract_id") == exp.in_scope
    assert {r["customer_business_id"] for r in extract["contracts"]} <= exp.companies
    assert ids(extract, "drivers", "person_id") == exp.drivers
    vins = {exp.contracts[c]["vin"] for c in exp.in_scope}
    assert all(r["vin"] in vins and r["latest_contract_id"] in exp.in_scope for r in extract["vehicles"])

    for table, source, key, at in (("fuel_transactions", "fuel", "transaction_id", "refueled_on"),
                                   ("washes", "wash", "wash_id", "washed_on")):
        rows = extract[table]
        assert all(r["customer_business_id"] in exp.companies for r in rows), table
        assert all(exp.covers(r["contract_id"], r["registration_number"], r[at]) for r in rows), table
        got = {r[key] for r in rows}
        assert exp.event_ids(source, belongs=True) <= got, table
        assert not got & exp.event_ids(source, belongs=False), table

    for row in extract["monthly_costs"]:
        assert row["customer_business_id"] in exp.companies
    leased = {(exp.contracts[c]["customer_business_id"], exp.contracts[c]["cost_center"]) for c in exp.in_scope}
    assert {(r["customer_business_id"], r["cost_center"]) for r in extract["monthly_costs"]} <= leased

    measured = {c for c in exp.in_scope if (k := exp.contracts[c])["status"] != "ordered" and k["start_date"]
                and k["end_date"] and k["end_date"] > k["start_date"] and k["latest_odometer_km"] is not None}
    assert ids(extract, "contract_mileage", "contract_id") == measured
    assert all(r["customer_business_id"] in exp.companies for r in extract["contract_mileage"])

    assert all(r["contract_id"] in exp.in_scope and r["customer_business_id"] in exp.companies
               for r in extract["driver_mileage"])
    surely = len(exp.event_ids("trip", belongs=True))
    maybe = len(exp.events["trip"]) - len(exp.event_ids("trip", belongs=False))
    assert surely <= sum(r["trips"] for r in extract["driver_mileage"]) <= maybe


def neighbour_needles(exp: ExpectedScope) -> set[str]:
    """Ids, plates and VINs of companies, contracts and events outside the scope (a car that moved is shared)."""
    inside_cars = {exp.contracts[c]["plate"] for c in exp.in_scope} | {exp.contracts[c]["vin"] for c in exp.in_scope}
    outside = [c for cid, c in exp.contracts.items() if cid not in exp.in_scope]
    needles = (exp.crm_companies - exp.companies - exp.ancestors) | {c["contract_id"] for c in outside}
    needles |= {v for c in outside for v in (c["plate"], c["vin"]) if v and v not in inside_cars}
    needles |= {e for source in ("fuel", "wash") for e in exp.event_ids(source, belongs=False)}
    return {n for n in needles if n}


def personal_needles(warehouse: Path) -> set[str]:
    """Values no extract may hold, read from the warehouse's own inputs: henkilötunnus, street addresses, KYC,
    consent events, web identifiers and searches, trip points, profiling pseudonyms, marketing reasons."""
    queries = [
        "select ssn from raw.crm_persons", "select street_address from raw.crm_persons",
        "select street_address from raw.crm_companies",
        "select unnest([kyc_id, full_name, ssn, document_number, verified_by]) from raw.kyc",
        "select consent_event_id from raw.consents",
        "select unnest([event_id, cookie_id, ip_address, user_agent, search_query]) from raw.web",
        "select unnest([start_point, end_point]) from raw.drive_log",
        "select person_pseudonym from profiling.customer_profile",
        "select distinct reason from privacy.marketing_eligibility",
    ]
    # A typed trip point can be a common place name ("Satama") that is also a fuel station's or a wash location's
    # name, which the extract rightly holds: such words are not a trip's point in the extract.
    # (and a typed point can be a company's or a station's address or town: any value a mart cell holds as such)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        values = {str(v) for q in queries for (v,) in con.execute(q).fetchall() if v not in (None, "")}
        points = {str(v) for (v,) in con.execute("select unnest([start_point, end_point]) from raw.drive_log")
                  .fetchall() if v}
        shared = {str(v) for q in ["select station_name from raw.fuel", "select city from raw.fuel",
                                   "select wash_location from raw.wash"] + [
                      f'select "{c}" from "{t_s}"."{t}"' for t_s, t, c in con.execute(
                          "select table_schema, table_name, column_name from information_schema.columns where "
                          "table_schema = 'marts' and data_type = 'VARCHAR'").fetchall()]
                  for (v,) in con.execute(q).fetchall() if v not in (None, "")}
        common = {p for p in points if any(p in v for v in shared)}   # "Satama" in a station's name
        return values - common
    finally:
        con.close()


def assert_no_personal_data_beyond_driver_contacts(path: Path, warehouse: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = {c for (c,) in con.execute("select column_name from information_schema.columns").fetchall()}
    finally:
        con.close()
    assert not columns & FORBIDDEN_COLUMNS
    extract = read_extract(path)
    assert found(extract, personal_needles(warehouse)) == set()
    assert [v for v in cells(extract) if HENKILOTUNNUS.search(v)] == []


# --------------------------------------------------------------------------------------------------------------
# the hand-made fleet

@pytest.fixture(scope="module")
def extracts(extract_fleet: BuiltFleet, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    """Every company of the fleet, alone and with its group (one private home for the audit log)."""
    home = tmp_path_factory.mktemp("extracts") / "home"
    return {(c, g): publish_extract(extract_fleet.warehouse, home, c, g) for c in (G, S, O, GC) for g in (False, True)}


@pytest.mark.parametrize("company,group", [(G, False), (S, False), (O, False), (GC, False), (S, True), (O, True)])
def test_every_row_of_every_table_belongs_to_the_scope(extracts, extract_fleet: BuiltFleet, company: str,
                                                       group: bool):
    exp = expected_scope(extract_fleet.warehouse, company, group)
    assert_extract_matches_scope(read_extract(extracts[company, group]), exp)


def test_company_extract_holds_the_company_contracts_cars_drivers_and_figures(extracts):
    got = read_extract(extracts[S, False])
    assert ids(got, "companies", "business_id") == {S}
    assert ids(got, "contracts", "contract_id") == {"C000001", "C000002", "C000005"}
    assert ids(got, "vehicles", "vin") == {"WVWZZZ1KZAW000001", "YV1XZK9V1R0000002", "WBA11111111000004"}
    assert ids(got, "fuel_transactions", "transaction_id") == {"F1", "F2", "F8"}
    assert ids(got, "washes", "wash_id") == {"W1", "W4"}
    assert ids(got, "contract_mileage", "contract_id") == {"C000001", "C000002", "C000005"}
    assert {(r["cost_center"], str(r["month"])) for r in got["monthly_costs"]} >= {
        ("KP-4410", "2026-06-01"), ("KP-4420", "2026-10-01"), ("KP-4430", "2026-08-01")}
    mileage = {(r["driver_person_id"], r["contract_id"], r["work_km"], r["leisure_km"]) for r in got["driver_mileage"]}
    assert mileage == {("P000002", "C000002", 90, 0), ("P000006", "C000005", 120, 0)}
    # the drivers of its contracts by name, email and phone, and nothing else of them
    drivers = {r["person_id"]: r for r in got["drivers"]}
    assert set(drivers) == {"P000001", "P000002", "P000006"}
    assert set(drivers["P000006"]) == {"person_id", "first_name", "last_name", "email", "phone"}
    assert (drivers["P000006"]["last_name"], drivers["P000006"]["email"], drivers["P000006"]["phone"]) == (
        "Kuljettaja", "moved.driver@example.fi", "+358406666666")


def test_group_extract_reaches_a_subsidiary_two_levels_down_from_any_member(extracts):
    group = read_extract(extracts[G, True])
    assert ids(group, "companies", "business_id") == {G, S, GC}
    assert ids(group, "contracts", "contract_id") == {"C000001", "C000002", "C000003", "C000005", "C000008"}
    assert ids(group, "fuel_transactions", "transaction_id") == {"F1", "F2", "F3", "F8", "F9"}
    assert "P000005" in ids(group, "drivers", "person_id")
    for member in (S, GC):
        assert as_multisets(read_extract(extracts[member, True])) == as_multisets(group)
    alone = read_extract(extracts[GC, False])
    assert ids(alone, "contracts", "contract_id") == {"C000008"} and ids(alone, "companies", "business_id") == {GC}


def test_a_car_that_moved_shows_each_company_only_its_own_period(extracts):
    neighbour, sub = read_extract(extracts[O, False]), read_extract(extracts[S, False])
    moved = {("fuel_transactions", "transaction_id"): ({"F7"}, {"F8"}), ("washes", "wash_id"): ({"W3"}, {"W4"})}
    for (table, key), (before, after) in moved.items():
        mine = {r[key] for r in neighbour[table] if r["registration_number"] == "MOV-1"}
        theirs = {r[key] for r in sub[table] if r["registration_number"] == "MOV-1"}
        assert (mine, theirs) == (before, after), table
    assert {(r["contract_id"], str(r["mileage_month"])) for r in neighbour["driver_mileage"]
            if r["registration_number"] == "MOV-1"} == {("C000004", "2026-04-01")}
    assert {(r["contract_id"], str(r["mileage_month"])) for r in sub["driver_mileage"]
            if r["registration_number"] == "MOV-1"} == {("C000005", "2026-08-01")}
    # each sees its own contract of the car; the car itself is the company's that has it now
    assert "C000004" in ids(neighbour, "contracts", "contract_id") - ids(sub, "contracts", "contract_id")
    assert "C000005" in ids(sub, "contracts", "contract_id") - ids(neighbour, "contracts", "contract_id")
    assert "WBA11111111000004" in ids(sub, "vehicles", "vin") - ids(neighbour, "vehicles", "vin")
    april = [r for r in neighbour["monthly_costs"] if str(r["month"]) == "2026-04-01" and r["cost_center"] == "O-100"]
    assert [(r["fuel_eur"], r["washes"]) for r in april] == [(70.0, 1)]


@pytest.mark.parametrize("company,group", [(S, False), (G, True), (O, False), (GC, False)])
def test_a_neighbours_ids_plates_and_events_never_appear(extracts, extract_fleet: BuiltFleet, company: str,
                                                         group: bool):
    exp = expected_scope(extract_fleet.warehouse, company, group)
    needles = neighbour_needles(exp)
    if company != O:
        assert {O, "C000006", "NBR-7", "F6", "W2", "F7", "W3", "C000004"} <= needles   # the planted neighbour
        needles |= {"Naapuri", EXTRACT_PERSONS["P000004"][3], "+358404444444"}         # and its driver
    assert found(read_extract(extracts[company, group]), needles) == set()


def test_a_private_lease_is_in_no_company_extract(extracts):
    private = {"C000009", "PRV-1", "ZFA44444444000009", "F10", "W5", "P000003", "private@example.fi"}
    leaks = {key: found(read_extract(path), private) for key, path in extracts.items()}
    assert {k: v for k, v in leaks.items() if v} == {}


@pytest.mark.parametrize("company,group", [(S, False), (G, True), (O, True)])
def test_no_henkilotunnus_address_consent_web_profiling_kyc_or_trip_point(extracts, extract_fleet: BuiltFleet,
                                                                         company: str, group: bool):
    needles = personal_needles(extract_fleet.warehouse)
    planted = {EXTRACT_PERSONS["P000006"][2], EXTRACT_PERSONS["P000006"][5], "FP7654321", "Olli Omistaja",
               "c-moved-6", "84.250.99.66", "sähköauto leasing", "MC6", "PC4",
               *(t[6] for t in EXTRACT_TRIPS.values())}
    assert planted <= needles
    assert_no_personal_data_beyond_driver_contacts(extracts[company, group], extract_fleet.warehouse)


def test_extract_file_is_owner_only_and_replaced_only_with_force(extract_fleet: BuiltFleet, tmp_path: Path):
    home = tmp_path / "home"
    out = publish_extract(extract_fleet.warehouse, home, S)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(home.glob("*.part*"))
    before = out.read_bytes()
    again = fleetdw(home, "publish", "--company", S, "--warehouse", str(extract_fleet.warehouse), "--out", str(out),
                    check=False)
    assert again.returncode == 2 and "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == before


def test_unknown_business_id_is_a_one_line_error(extract_fleet: BuiltFleet, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    out = home / "nobody.duckdb"
    proc = fleetdw(home, "publish", "--company", "9999999-9", "--warehouse", str(extract_fleet.warehouse),
                   "--out", str(out), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("fleetdw: error: ")
    assert "9999999-9" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists() and not list(home.glob("*.part*")) and not (home / "audit").exists()
    group_alone = fleetdw(home, "publish", "--group", "--out", str(out), check=False)
    assert group_alone.returncode == 2 and len(group_alone.stderr.strip().splitlines()) == 1


def test_extract_is_recorded_in_the_audit_log_with_its_rows(extract_fleet: BuiltFleet, tmp_path: Path):
    home = tmp_path / "home"
    out = publish_extract(extract_fleet.warehouse, home, S, group=True)
    lines = [json.loads(x) for x in (home / "audit" / "audit.jsonl").read_text().splitlines()]
    rows = sum(len(r) for r in read_extract(out).values())
    assert len(lines) == 1 and lines[0]["command"] == "publish --company" and lines[0]["kind"] == "data_out"
    assert lines[0]["parameters"] == {"company": S, "group": True, "tables": len(TABLES)}
    assert lines[0]["rows_out"] == rows > 0 and lines[0]["person_pseudonym"] is None


# --------------------------------------------------------------------------------------------------------------
# the declarations are an allow-list

@pytest.fixture(scope="module")
def manifest(extract_fleet: BuiltFleet) -> dict:
    return json.loads((extract_fleet.work / "target" / "manifest.json").read_text())


def _node(manifest: dict, name: str) -> dict:
    return next(n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name)


def _declare(manifest: dict, model: str, spec: dict) -> dict:
    broken = copy.deepcopy(manifest)
    node = _node(broken, model)
    node.setdefault("meta", {})["company_extract"] = spec
    node.setdefault("config", {}).setdefault("meta", {})["company_extract"] = spec
    return broken


def test_extract_tables_come_from_the_declarations_in_scope_order(manifest: dict):
    tables = extract_tables(manifest)
    assert {t.name for t in tables} == TABLES
    order = [t.name for t in tables]
    assert order.index("contracts") < order.index("drivers") and order.index("contracts") < order.index("vehicles")
    assert all(t.relation.split(".")[0] in ("marts", "staging") for t in tables)


@pytest.mark.parametrize("model,spec,problem", [
    ("stg_crm__persons", {"table": "drivers", "scope": {"via": "person_id", "model": "dim_contract",
                                                         "key": "driver_person_id"},
                          "columns": ["person_id", "first_name", "ssn"]}, "user.government_id.national_id"),
    ("stg_crm__persons", {"table": "drivers", "scope": {"via": "person_id", "model": "dim_contract",
                                                         "key": "driver_person_id"},
                          "columns": ["person_id", "street_address"]}, "user.contact.address.street"),
    ("kyc_records", {"table": "kyc", "scope": "business_id", "columns": ["kyc_id"]}, "schema kyc"),
    ("customer_profile", {"table": "profiles", "scope": "postal_area", "columns": ["postal_area"]}, "schema profiling"),
    ("dim_contract", {"table": "contracts", "scope": "customer_business_id", "columns": ["contract_id", "ghost"]},
     "not documented"),
])
def test_a_column_or_table_outside_the_allow_list_is_refused(manifest: dict, model: str, spec: dict, problem: str):
    with pytest.raises(ExtractDeclarationError, match=re.escape(problem)):
        extract_tables(_declare(manifest, model, spec))


# --------------------------------------------------------------------------------------------------------------
# the generated warehouse: a deep group and a car that moved between companies

def _generated_cases(warehouse: Path) -> dict[str, tuple[str, bool]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        parents = dict(con.execute("select business_id, parent_business_id from raw.crm_companies_current").fetchall())
        holders = defaultdict(set)
        for customer, reg in con.execute("select customer_business_id, registration_number from raw.contracts_current "
                                         "where registration_number is not null").fetchall():
            holders[plate(reg)].add(customer)
    finally:
        con.close()

    def depth(c: str) -> int:
        seen = [c]
        while parents.get(seen[-1]) and parents[seen[-1]] not in seen:
            seen.append(parents[seen[-1]])
        return len(seen) - 1

    deepest = max(sorted(parents), key=depth)
    moved = sorted(c for h in holders.values() if len(h - {None}) > 1 for c in h if c in parents)
    assert depth(deepest) >= 2 and moved, "the generated fleet should have a deep group and a moved car"
    other = [c for c in moved if c != deepest] or moved
    return {"deep_group": (deepest, True), "moved_car": (other[0], False)}


@pytest.mark.parametrize("case", ["deep_group", "moved_car"])
def test_generated_extract_matches_an_independent_computation_from_raw(day_one: Path, tmp_path: Path, case: str):
    warehouse = day_one / "home" / "warehouse.duckdb"
    company, group = _generated_cases(warehouse)[case]
    exp = expected_scope(warehouse, company, group)
    path = publish_extract(warehouse, tmp_path / "home", company, group)
    extract = read_extract(path)
    assert_extract_matches_scope(extract, exp)
    assert len(exp.companies) >= (3 if group else 1) and extract["contracts"] and extract["fuel_transactions"]
    assert found(extract, neighbour_needles(exp)) == set()
    assert_no_personal_data_beyond_driver_contacts(path, warehouse)
