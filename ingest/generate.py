"""Synthetic landing zone for fleetdw (see /work/shared/contracts/SOURCES.md).

Master data (persons, companies, contracts, consents, Robinson lists) is small and built in Python. The big event
files (fuel, wash, web) are built with DuckDB SQL: every field of event ``seq`` on ``day`` is derived from
``hash(day, seq, seed, '<field>')`` so that output is deterministic and nothing big is held in Python memory.

Bad input is injected on purpose and listed in the returned :class:`GenerationReport` (ids, file names, line
numbers and kinds only, never personal values).
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import gzip
import io
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
from faker import Faker

from ingest import identifiers as ids

HELSINKI = ZoneInfo("Europe/Helsinki")
SOURCES = ("crm_persons", "crm_companies", "contracts", "fuel", "wash", "web", "consents", "robinson")

PERSON_COLUMNS = (
    "person_id", "first_name", "last_name", "ssn", "email", "phone", "street_address", "postal_code", "city",
    "customer_type", "business_id", "position", "role", "relationship_start", "relationship_end", "updated_at",
)
COMPANY_COLUMNS = (
    "business_id", "name", "parent_business_id", "street_address", "postal_code", "city", "billing_method",
    "e_invoice_address", "e_invoice_operator", "payment_terms_days", "relationship_start", "relationship_end",
    "updated_at",
)
CONTRACT_COLUMNS = (
    "contract_id", "customer_business_id", "customer_person_id", "contract_type", "status", "delivery_date",
    "start_date", "end_date", "duration_months", "residual_value", "lease_rent", "service_budget", "account_fee",
    "total_monthly", "included_km", "start_km", "latest_odometer_km", "registration_number", "vin", "make", "model",
    "first_registration_date", "vehicle_class", "power_source", "co2_g_km", "cost_center", "driver_person_id",
    "finance_company", "insurance_company", "insurance_deductible", "replacement_car_right",
    "replacement_car_class", "notes", "updated_at",
)
WASH_COLUMNS = ("wash_id", "registration_number", "phone", "washed_at", "wash_program", "wash_location")
CONSENT_COLUMNS = ("consent_event_id", "person_id", "purpose", "channel", "action", "recorded_at", "source")
ROBINSON_COLUMNS = ("first_name", "last_name", "street_address", "postal_code", "phone")

# (make, model, power source, CO2 range g/km, VIN WMI, vehicle class)
VEHICLE_CATALOG = (
    ("Volkswagen", "Golf Variant", "diesel", (108, 125), "WVW", "passenger_car"),
    ("Volkswagen", "ID.4", "electric", (0, 0), "WVG", "passenger_car"),
    ("Volkswagen", "Golf TGI", "gas", (95, 110), "WVW", "passenger_car"),
    ("Toyota", "Corolla Touring Sports", "hybrid", (95, 115), "SB1", "passenger_car"),
    ("Toyota", "RAV4 Plug-in", "plug_in_hybrid", (22, 30), "JTM", "passenger_car"),
    ("Skoda", "Octavia Combi", "petrol", (120, 145), "TMB", "passenger_car"),
    ("Skoda", "Enyaq", "electric", (0, 0), "TMB", "passenger_car"),
    ("Volvo", "EX30", "electric", (0, 0), "YV1", "passenger_car"),
    ("Volvo", "XC60 Recharge", "plug_in_hybrid", (20, 35), "YV1", "passenger_car"),
    ("Volvo", "V60", "diesel", (115, 135), "YV1", "passenger_car"),
    ("Tesla", "Model Y", "electric", (0, 0), "XP7", "passenger_car"),
    ("Kia", "Niro", "hybrid", (95, 110), "KNA", "passenger_car"),
    ("BMW", "330e Touring", "plug_in_hybrid", (30, 45), "WBA", "passenger_car"),
    ("Audi", "A4 Avant", "diesel", (120, 140), "WAU", "passenger_car"),
    ("Seat", "Leon TGI", "gas", (95, 115), "VSS", "passenger_car"),
    ("Peugeot", "208", "petrol", (110, 130), "VF3", "passenger_car"),
    ("Renault", "Megane", "petrol", (125, 145), "VF1", "passenger_car"),
    ("Ford", "Transit Custom", "diesel", (170, 210), "WF0", "van"),
    ("Mercedes-Benz", "Vito", "diesel", (180, 210), "WDF", "van"),
    ("Toyota", "Proace Electric", "electric", (0, 0), "VXK", "van"),
    ("Mercedes-Benz", "Actros", "diesel", (650, 900), "WDB", "truck"),
)
CITIES = (
    "Helsinki", "Espoo", "Vantaa", "Tampere", "Turku", "Oulu", "Jyväskylä", "Lahti", "Kuopio", "Pori", "Porvoo",
    "Joensuu", "Lappeenranta", "Hämeenlinna", "Vaasa", "Seinäjoki", "Rovaniemi", "Kotka",
)
STATION_AREAS = ("Keskusta", "Itä", "Länsi", "Pohjoinen", "Etelä", "Moottoritie", "Kauppakeskus", "Satama")
FUEL_COMPANIES = ("Neste", "St1", "ABC", "Teboil", "Shell", "Gulf")
WASH_PROGRAMS = ("Juhlapesu", "Juhlapesu Premium", "Juhlapesu + vahaus", "Juhlapesu + pohjapesu")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/140.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 15_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.0 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 19_0 like Mac OS X)",
    "Mozilla/5.0 (Linux; Android 16; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (iPad; CPU OS 19_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Edg/141.0",
)
SEARCH_QUERIES = (
    "täyssähkö volvo", "sähköauto", "tesla", "tesla model y", "käytetty sähköauto", "hybridi farmari",
    "diesel pakettiauto", "toyota corolla", "volkswagen id.4", "skoda octavia", "kia niro", "audi a4 avant",
    "sähköauto alle 30000", "leasing yksityiselle", "pakettiauto", "farmari automaatti", "\"rav4\" plug-in",
)
LANDING_PAGES = (
    "https://www.example.fi/", "https://www.example.fi/leasing/", "https://www.example.fi/vaihtoautot/",
    "https://www.example.fi/yritysleasing/", "https://www.example.fi/yksityisleasing/",
    "https://www.example.fi/sahkoautot/",
)
REFERRERS = ("https://www.google.com/", "https://www.bing.com/", "https://www.facebook.com/", "https://duckduckgo.com/")
POSITIONS = ("Fleet manager", "Talousjohtaja", "Toimitusjohtaja", "Myyntipäällikkö", "Huoltoinsinööri",
             "Projektipäällikkö", "Asiantuntija", "Kirjanpitäjä", "Asentaja", "Aluepäällikkö")
DECISION_POSITIONS = ("Fleet manager", "Talousjohtaja", "Toimitusjohtaja", "Hankintapäällikkö")
FINANCE_COMPANIES = ("Nordea Rahoitus", "OP Rahoitus", "Danske Finance", "Santander Consumer Finance",
                     "Handelsbanken Rahoitus")
INSURERS = ("If", "LähiTapiola", "Pohjola Vakuutus", "Fennia", "Turva")
E_INVOICE_OPERATORS = ("OKOYFIHH", "NDEAFIHH", "003723327487", "003721291126", "E204503")
PRIVATE_EMAIL_DOMAINS = ("example.fi", "example.com", "example.net", "posti.example")
# Approximate share of defects / anomalies in the big event files (each kind appears at least once in master).
EVENT_DEFECT_RATE = 0.0003

DEFECT_KINDS = (
    "missing_required", "bad_date", "bad_timestamp", "bad_number", "bad_bool", "bad_enum", "out_of_range",
    "bad_pattern", "bad_checksum", "invalid_json", "wrong_field_count",
)
FILE_DEFECT_KINDS = ("not_utf8", "missing_required_column", "not_parseable", "truncated_gzip")


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BadRow:
    source: str
    file: str
    line: int  # CSV: header is line 1, first data row line 2. JSONL: first line is line 1.
    kind: str  # one of DEFECT_KINDS
    column: str | None


@dataclass(frozen=True)
class BadFile:
    source: str
    file: str
    kind: str  # one of FILE_DEFECT_KINDS


@dataclass(frozen=True)
class DuplicateFile:
    source: str
    file: str
    duplicate_of: str


@dataclass(frozen=True)
class DriftFile:
    source: str
    file: str
    extra_columns: tuple[str, ...]


@dataclass(frozen=True)
class HeaderVariant:
    source: str
    file: str
    kind: str  # "bom" or "header_case_order"


@dataclass(frozen=True)
class KeyedLine:
    """A row that is well-formed but special: an event correction or a stale CRM row."""

    source: str
    file: str
    line: int
    key: str
    original_file: str | None = None


@dataclass
class GenerationReport:
    seed: int
    persons: int
    as_of: str
    days: int
    master: bool
    files: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> file name -> data lines
    rows_written: dict[str, int] = field(default_factory=dict)
    files_written: dict[str, int] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)
    bad_files: list[BadFile] = field(default_factory=list)
    duplicate_files: list[DuplicateFile] = field(default_factory=list)
    drift_files: list[DriftFile] = field(default_factory=list)
    header_variants: list[HeaderVariant] = field(default_factory=list)
    corrections: list[KeyedLine] = field(default_factory=list)  # event id re-delivered with changed content
    stale_rows: list[KeyedLine] = field(default_factory=list)  # CRM delta rows older than what was delivered
    business_rule_rows: dict[str, int] = field(default_factory=dict)
    expected_loaded_rows: dict[str, int] = field(default_factory=dict)
    expected_keys: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)

    def add_file(self, source: str, name: str, data_lines: int) -> None:
        self.files.setdefault(source, {})[name] = data_lines

    def bad_row(self, source: str, name: str, line: int, kind: str, column: str | None) -> None:
        self.bad_rows.append(BadRow(source, name, line, kind, column))


class _KeyTracker:
    """Keys of the rows that should load, per source (for ``expected_keys``)."""

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {}
        self.event_counts: dict[str, int] = {}

    def add(self, source: str, key: str) -> None:
        self.keys.setdefault(source, set()).add(key)


def _finalise(report: GenerationReport, keys: _KeyTracker) -> GenerationReport:
    rejected = {(f.source, f.file) for f in report.bad_files} | {(d.source, d.file) for d in report.duplicate_files}
    bad_by_file: dict[tuple[str, str], int] = {}
    for b in report.bad_rows:
        bad_by_file[(b.source, b.file)] = bad_by_file.get((b.source, b.file), 0) + 1
    for source in SOURCES:
        files = report.files.get(source, {})
        report.files_written[source] = len(files)
        report.rows_written[source] = sum(files.values())
        report.expected_loaded_rows[source] = sum(
            n - bad_by_file.get((source, name), 0) for name, n in files.items() if (source, name) not in rejected
        )
        if source in keys.keys:
            report.expected_keys[source] = len(keys.keys[source])
        elif source in keys.event_counts:
            report.expected_keys[source] = keys.event_counts[source]
    report.bad_rows.sort(key=lambda b: (b.source, b.file, b.line))
    report.files = {s: dict(sorted(f.items())) for s, f in sorted(report.files.items())}
    return report


# --------------------------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------------------------
def _iso_ts(local: datetime) -> str:
    return local.replace(tzinfo=HELSINKI).isoformat(timespec="seconds")


def _fi_date(d: date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else ""


def _fi_ts(local: datetime) -> str:
    return local.strftime("%d.%m.%Y %H:%M:%S")


def _fi_money(cents: int | None) -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


def _iso_date(d: date | None) -> str:
    return d.isoformat() if d else ""


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _at(rng: random.Random, d: date, start_hour: int = 7, end_hour: int = 19) -> datetime:
    return datetime.combine(d, time(rng.randint(start_hour, end_hour - 1), rng.randint(0, 59), rng.randint(0, 59)))


def _slug(text: str) -> str:
    table = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u", " ": "", "'": ""})
    return "".join(ch for ch in text.lower().translate(table) if ch.isascii() and (ch.isalnum() or ch in ".-"))


def _day_name(source: str, day: date, suffix: str = "") -> str:
    styles = {
        "crm_persons": f"persons_{day.isoformat()}{suffix}.csv",
        "crm_companies": f"companies_{day.isoformat()}{suffix}.csv",
        "contracts": f"fleet_contracts_{day.strftime('%Y%m%d')}{suffix}.csv",
        "fuel": f"fuel_{day.isoformat()}{suffix}.jsonl",
        "wash": f"wash_{day.isoformat()}{suffix}.csv",
        "web": f"web_{day.isoformat()}{suffix}.jsonl.gz",
        "consents": f"consents_{day.isoformat()}{suffix}.csv",
    }
    return styles[source]


# --------------------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Company:
    business_id: str
    name: str
    parent: str | None
    street: str
    postal: str
    city: str
    billing_method: str
    e_invoice_address: str
    e_invoice_operator: str
    payment_terms_days: int
    rel_start: date
    updated_at: datetime
    cost_centers: tuple[str, ...]


@dataclass
class Person:
    person_id: str
    first_name: str
    last_name: str
    birth: date
    ssn: str | None
    email: str | None
    phone: str | None  # national digits
    phone_style: str
    street: str | None
    postal: str | None
    city: str | None
    customer_type: str = "prospect"
    business_id: str | None = None
    position: str | None = None
    role: str | None = None
    rel_start: date | None = None
    rel_end: date | None = None
    updated_at: datetime | None = None


@dataclass
class Vehicle:
    plate: str
    vin: str
    make: str
    model: str
    power: str
    co2: int
    vehicle_class: str
    first_registration: date
    odometer: int = 0


@dataclass
class Contract:
    contract_id: str
    customer_business_id: str | None
    customer_person_id: str | None
    driver_person_id: str
    contract_type: str
    status: str
    delivery_date: date
    start_date: date | None
    end_date: date | None
    planned_end: date | None
    duration_months: int
    vehicle: Vehicle | None = None
    residual_value: int = 0
    lease_rent: int = 0
    service_budget: int = 0
    account_fee: int = 0
    total_monthly: int = 0
    included_km: int = 0
    start_km: int = 0
    latest_odometer_km: int = 0
    cost_center: str | None = None
    finance_company: str = ""
    insurance_company: str = ""
    insurance_deductible: int = 0
    replacement_car_right: bool = False
    replacement_car_class: str | None = None
    notes: str = ""
    updated_at: datetime | None = None


@dataclass
class ConsentEvent:
    person_id: str
    purpose: str
    channel: str
    action: str
    recorded_at: datetime
    source: str


@dataclass
class Model:
    as_of: date
    companies: list[Company]
    persons: list[Person]
    contracts: list[Contract]
    consents: list[ConsentEvent]
    junk_rng_seed: str

    def person(self, person_id: str) -> Person:
        return self.persons[int(person_id[1:]) - 1]


def _make_companies(fake: Faker, rng: random.Random, n: int) -> list[Company]:
    companies: list[Company] = []
    seen: set[str] = set()
    for _ in range(n):
        business_id = ids.make_ytunnus(rng)
        while business_id in seen:
            business_id = ids.make_ytunnus(rng)
        seen.add(business_id)
        billing = rng.choice(("e_invoice", "e_invoice", "email", "paper"))
        companies.append(Company(
            business_id=business_id, name=fake.company(), parent=None, street=fake.street_address(),
            postal=fake.postcode(), city=rng.choice(CITIES), billing_method=billing,
            e_invoice_address=f"0037{business_id.replace('-', '')}" if billing == "e_invoice" else "",
            e_invoice_operator=rng.choice(E_INVOICE_OPERATORS) if billing == "e_invoice" else "",
            payment_terms_days=rng.choice((7, 14, 14, 21, 30, 30, 45, 60)), rel_start=date(2000, 1, 1),
            updated_at=datetime(2000, 1, 1), cost_centers=tuple(f"KP-{rng.randint(1000, 9999)}"
                                                               for _ in range(rng.randint(1, 4))),
        ))
    # Group structure: a few top parents, some mid-level subsidiaries (2-level chains), then leaf subsidiaries.
    n_top, n_mid = max(1, n // 25), max(1, n // 16)
    tops, mids = companies[:n_top], companies[n_top:n_top + n_mid]
    for c in mids:
        c.parent = rng.choice(tops).business_id
    for c in companies[n_top + n_mid:]:
        if rng.random() < 0.25:
            c.parent = rng.choice(tops + mids).business_id
    return companies


def _make_person_identities(fake: Faker, rng: random.Random, n: int) -> list[Person]:
    persons: list[Person] = []
    phones: set[str] = set()
    for i in range(n):
        male = rng.random() < 0.5
        first = fake.first_name_male() if male else fake.first_name_female()
        last = fake.last_name()
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, (date(2005, 12, 31) - date(1940, 1, 1)).days))
        ssn = ids.make_hetu(rng, birth, male=male, modern_sign=rng.random() < 0.05)
        phone = ids.make_mobile(rng)
        while phone in phones:
            phone = ids.make_mobile(rng)
        phones.add(phone)
        email = f"{_slug(first)}.{_slug(last)}{rng.choice(('', '', str(rng.randint(1, 99))))}" \
                f"@{rng.choice(PRIVATE_EMAIL_DOMAINS)}"
        persons.append(Person(
            person_id=f"P{i + 1:06d}", first_name=first, last_name=last, birth=birth, ssn=ssn, email=email,
            phone=phone, phone_style=rng.choice(ids.PHONE_STYLES), street=fake.street_address(),
            postal=fake.postcode(), city=fake.city(),
        ))
    return persons


def _assign_roles(rng: random.Random, persons: list[Person], companies: list[Company]) -> None:
    for i, p in enumerate(persons):
        r = rng.random()
        if i < len(companies) or (0.42 <= r < 0.75):
            company = companies[i] if i < len(companies) else rng.choice(companies)
            p.customer_type, p.business_id = "business_contact", company.business_id
            p.role = "decision_maker" if i < len(companies) or rng.random() < 0.15 else "car_user"
            p.position = rng.choice(DECISION_POSITIONS if p.role == "decision_maker" else POSITIONS)
            p.email = f"{_slug(p.first_name)}.{_slug(p.last_name)}@{_slug(company.name.split()[0])}.example"
            p.ssn = p.ssn if rng.random() < 0.05 else None
            if rng.random() < 0.85:
                p.street = p.postal = p.city = None
        elif r < 0.42:
            p.customer_type = "private"
            p.role = "car_user" if rng.random() < 0.88 else None
            p.ssn = p.ssn if rng.random() < 0.95 else None
        else:
            p.customer_type, p.ssn = "prospect", None
            p.business_id = rng.choice(companies).business_id if rng.random() < 0.3 else None
            if rng.random() < 0.4:
                p.street = p.postal = p.city = None
        if rng.random() < 0.08:
            p.email = None
        if rng.random() < 0.06:
            p.phone = None


def _assign_relationships(rng: random.Random, persons: list[Person], as_of: date) -> None:
    """Relationship dates relative to as_of: current, ended recently, ended > 10 years ago, ~10 years ± days."""
    n = len(persons)
    ten_years = _add_years(as_of, -10)
    old_private = [p for p in persons if p.customer_type == "private" and p.role and p.birth.year < 1980]
    special = rng.sample(old_private, min(len(old_private), max(1, int(n * 0.008)) + 2 * max(1, n // 1000)))
    n_long = max(1, int(n * 0.008))
    ends: dict[str, date] = {}
    for k, p in enumerate(special):
        if k < n_long:
            ends[p.person_id] = as_of - timedelta(days=rng.randint(10 * 366 + 40, 20 * 365))
        elif (k - n_long) % 2 == 0:
            ends[p.person_id] = ten_years - timedelta(days=rng.randint(2, 5))  # just past retention: due
        else:
            ends[p.person_id] = ten_years + timedelta(days=rng.randint(2, 5))  # just inside retention
    for p in persons:
        adult = _add_years(p.birth, 18)
        if p.customer_type == "prospect":
            if rng.random() < 0.5:
                p.rel_start = max(adult, as_of - timedelta(days=rng.randint(120, 700)))
            continue
        end = ends.get(p.person_id)
        if end is None and rng.random() < 0.07 and p.birth.year < 1995:
            end = as_of - timedelta(days=rng.randint(200, 9 * 365))
        length = rng.randint(500, 4500)
        start = (end or as_of) - timedelta(days=length)
        start = max(start, adult, date(1995, 1, 1))
        if end is not None and start >= end - timedelta(days=200):
            start = end - timedelta(days=400)
        p.rel_start, p.rel_end = start, end


def _contract_periods(rng: random.Random, first: date, rel_end: date | None, as_of: date) -> list[tuple]:
    """(status, start, end, planned_end, months) tuples for one person's consecutive contracts."""
    out: list[tuple] = []
    t = first
    while len(out) < 6:
        months = rng.choice((24, 36, 36, 48))
        planned = _add_months(t, months) - timedelta(days=1)
        if t > as_of:
            out.append(("ordered", t, None, planned, months))
            break
        if rel_end is not None and planned >= rel_end - timedelta(days=10):
            end = rel_end - timedelta(days=rng.randint(0, 20))
            if end > t + timedelta(days=60):
                out.append(("ended" if end >= planned - timedelta(days=30) else "terminated", t, end, planned, months))
            break
        if planned >= as_of:
            out.append(("active", t, planned, planned, months))
            break
        end, status = planned, "ended"
        if rng.random() < 0.07:
            end, status = t + timedelta(days=rng.randint(90, max(91, (planned - t).days - 30))), "terminated"
        out.append((status, t, end, planned, months))
        t = end + timedelta(days=rng.randint(1, 30))
    return out


def _new_vehicle(rng: random.Random, plates: set[str], delivery: date) -> Vehicle:
    make, model, power, (co2_lo, co2_hi), wmi, vclass = rng.choice(VEHICLE_CATALOG)
    plate = ids.make_plate(rng)
    while plate in plates:
        plate = ids.make_plate(rng)
    plates.add(plate)
    return Vehicle(plate=plate, vin=ids.make_vin(rng, wmi), make=make, model=model, power=power,
                   co2=rng.randint(co2_lo, co2_hi), vehicle_class=vclass,
                   first_registration=delivery - timedelta(days=rng.randint(1, 20)))


def _make_contracts(rng: random.Random, persons: list[Person], companies: dict[str, Company],
                    as_of: date) -> list[Contract]:
    contracts: list[Contract] = []
    for p in persons:
        has_car = p.role == "car_user" or (p.role == "decision_maker" and rng.random() < 0.3)
        if not has_car or p.rel_start is None:
            continue
        first = max(p.rel_start + timedelta(days=rng.randint(0, 60)),
                    (p.rel_end or as_of) - timedelta(days=rng.randint(400, 8 * 365)))
        company = companies.get(p.business_id or "") if p.customer_type == "business_contact" else None
        for status, start, end, planned, months in _contract_periods(rng, first, p.rel_end, as_of):
            contracts.append(Contract(
                contract_id=f"C{len(contracts) + 1:06d}",
                customer_business_id=company.business_id if company else None,
                customer_person_id=None if company else p.person_id, driver_person_id=p.person_id,
                contract_type=rng.choice(("Avoin huoltoleasing", "Avoin huoltoleasing", "Rahoitusleasing",
                                          "Suljettu huoltoleasing")) if company else "Yksityisleasing",
                status=status, delivery_date=start - timedelta(days=rng.randint(0, 3)),
                start_date=None if status == "ordered" else start, end_date=None if status == "ordered" else end,
                planned_end=planned, duration_months=months,
                cost_center=rng.choice(company.cost_centers) if company else None,
            ))
    _assign_vehicles(rng, contracts, as_of)
    for c in contracts:
        _fill_contract_terms(rng, c, as_of)
    return contracts


def _assign_vehicles(rng: random.Random, contracts: list[Contract], as_of: date) -> None:
    """New car per contract, except that a car freed by an ended contract is often re-leased (its plate moves)."""
    plates: set[str] = set()
    free: list[tuple[date, int, Vehicle]] = []  # sorted by the date the car is free again
    for order, c in enumerate(sorted(contracts, key=lambda c: (c.delivery_date, c.contract_id))):
        if c.status == "ordered":
            continue
        k = bisect.bisect_left(free, (c.delivery_date, -1))
        reuse = k > 0 and rng.random() < 0.3
        if reuse:
            idx = rng.randrange(max(0, k - 50), k)
            _, _, vehicle = free.pop(idx)
        else:
            vehicle = _new_vehicle(rng, plates, c.delivery_date)
        c.vehicle = vehicle
        c.start_km = vehicle.odometer
        km_per_day = rng.randint(25, 90)
        last = min(c.end_date or as_of, as_of)
        vehicle.odometer = c.start_km + km_per_day * max(0, (last - (c.start_date or last)).days)
        c.latest_odometer_km = vehicle.odometer
        if c.status in ("ended", "terminated") and c.end_date is not None:
            bisect.insort(free, (c.end_date + timedelta(days=rng.randint(7, 40)), order, vehicle))


def _fill_contract_terms(rng: random.Random, c: Contract, as_of: date) -> None:
    c.lease_rent = rng.randint(25000, 120000)
    c.service_budget = rng.choice((0, 0, rng.randint(3000, 15000)))
    c.account_fee = rng.choice((990, 1250, 0))
    c.total_monthly = c.lease_rent + c.service_budget + c.account_fee
    c.residual_value = rng.randint(5000, 40000) * 100
    c.included_km = rng.choice((60000, 90000, 120000, 150000, 180000))
    c.finance_company = rng.choice(FINANCE_COMPANIES)
    c.insurance_company = rng.choice(INSURERS)
    c.insurance_deductible = rng.choice((15000, 25000, 30000, 50000))
    c.replacement_car_right = rng.random() < 0.4
    c.replacement_car_class = rng.choice(("A", "B", "C")) if c.replacement_car_right else None
    start = c.start_date or c.delivery_date
    latest = min(as_of, (c.end_date or start) + timedelta(days=rng.randint(0, 40)))
    c.updated_at = _at(rng, max(start, min(latest, as_of)))


def _add_notes(rng: random.Random, model: Model) -> None:
    for c in model.contracts:
        driver = model.person(c.driver_person_id)
        r = rng.random()
        if r < 0.05 and driver.phone:
            c.notes = f"Kuljettaja vaihtuu, soita {driver.first_name}lle " \
                      f"{ids.format_phone(driver.phone, rng.choice(ids.PHONE_STYLES))}"
        elif r < 0.08 and driver.email:
            c.notes = f"Laskukopiot myös osoitteeseen {driver.email}"
        elif r < 0.10 and driver.ssn:
            c.notes = f"Henkilöllisyys tarkistettu ({driver.ssn}), luottopäätös ok"
        elif r < 0.13 and c.vehicle:
            c.notes = f"Sijaisauto {ids.make_plate(rng)} huollon ajaksi, oma auto {c.vehicle.plate} korjaamolla"
        elif r < 0.30:
            c.notes = rng.choice(("Talvirenkaat rengashotellissa", "Asiakas muuttaa ulkomaille",
                                  "Sopimusta jatkettu 12 kk", "Vahinkoilmoitus käsittelyssä; odottaa vakuutusyhtiötä",
                                  "Kilometrit ylittyvät, ehdotettu sopimuksen muutosta", "Lisävarusteena vetokoukku"))
    mismatches = rng.sample(model.contracts, min(len(model.contracts), max(2, len(model.contracts) // 400)))
    for c in mismatches:
        c.total_monthly += rng.choice((-1000, 500, 1990))


def _make_consents(rng: random.Random, persons: list[Person], until: date) -> list[ConsentEvent]:
    events: list[ConsentEvent] = []

    def when(p: Person) -> datetime:
        start = p.rel_start or (until - timedelta(days=400))
        span = max(1, ((p.rel_end or until) - start).days)
        return _at(rng, min(until, start + timedelta(days=rng.randint(0, span))), 8, 21)

    for p in persons:
        private = p.customer_type == "private" or (p.customer_type == "prospect" and not p.business_id)
        if private:
            for channel, share in (("email", 0.5), ("sms", 0.3)):
                if rng.random() < share:
                    t = when(p)
                    events.append(ConsentEvent(p.person_id, "direct_marketing", channel, "grant", t,
                                               rng.choice(("web_form", "contract", "mobile_app"))))
                    if rng.random() < 0.2:
                        events.append(ConsentEvent(p.person_id, "direct_marketing", channel, "withdraw",
                                                   t + timedelta(days=rng.randint(30, 900)), "customer_service"))
            if rng.random() < 0.04:
                events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("phone", "post", "any")),
                                           "object", when(p), "customer_service"))
        elif rng.random() < 0.06:
            events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("email", "any", "phone")),
                                       "object", when(p), "customer_service"))
        if rng.random() < 0.03:
            events.append(ConsentEvent(p.person_id, "profiling", "any", "object", when(p), "customer_service"))
        if p.role == "car_user" and rng.random() < 0.3:
            t = when(p)
            events.append(ConsentEvent(p.person_id, "location_tracking", "any", "grant", t, "mobile_app"))
            if rng.random() < 0.15:
                events.append(ConsentEvent(p.person_id, "location_tracking", "any", "withdraw",
                                           t + timedelta(days=rng.randint(10, 400)), "mobile_app"))
    cutoff = datetime.combine(until, time(23, 59, 59))
    return sorted((e for e in events if e.recorded_at <= cutoff), key=lambda e: (e.recorded_at, e.person_id))


def build_model(*, persons: int, seed: int, as_of: date) -> Model:
    """Persons, companies, contracts and consent history as of ``as_of`` (identities depend on the seed only)."""
    fake = Faker("fi_FI")
    fake.seed_instance(seed)
    rng_id = random.Random(f"{seed}:identity")
    companies = _make_companies(fake, rng_id, max(4, persons // 12))
    people = _make_person_identities(fake, rng_id, persons)
    _assign_roles(random.Random(f"{seed}:roles"), people, companies)
    rng_dates = random.Random(f"{seed}:dates")
    _assign_relationships(rng_dates, people, as_of)
    for c in companies:
        c.rel_start = as_of - timedelta(days=rng_dates.randint(400, 9000))
        c.updated_at = _at(rng_dates, c.rel_start + timedelta(days=rng_dates.randint(0, 300)))
    for p in people:
        base = max(d for d in (p.rel_start, p.rel_end, as_of - timedelta(days=2000)) if d)
        p.updated_at = _at(rng_dates, min(as_of, base + timedelta(days=rng_dates.randint(0, 60))))
    contracts = _make_contracts(random.Random(f"{seed}:contracts"), people,
                                {c.business_id: c for c in companies}, as_of)
    model = Model(as_of=as_of, companies=companies, persons=people, contracts=contracts, consents=[],
                  junk_rng_seed=f"{seed}:junk")
    _add_notes(random.Random(f"{seed}:notes"), model)
    model.consents = _make_consents(random.Random(f"{seed}:consents"), people, as_of)
    return model


# --------------------------------------------------------------------------------------------------------------
# CSV rows
# --------------------------------------------------------------------------------------------------------------
def _person_row(p: Person, updated_at: datetime | None = None) -> list[str]:
    phone = ids.format_phone(p.phone, p.phone_style) if p.phone else ""
    return [p.person_id, p.first_name, p.last_name, p.ssn or "", p.email or "", phone, p.street or "",
            p.postal or "", p.city or "", p.customer_type, p.business_id or "", p.position or "", p.role or "",
            _iso_date(p.rel_start), _iso_date(p.rel_end), _iso_ts(updated_at or p.updated_at)]


def _company_row(c: Company, updated_at: datetime | None = None) -> list[str]:
    return [c.business_id, c.name, c.parent or "", c.street, c.postal, c.city, c.billing_method,
            c.e_invoice_address, c.e_invoice_operator, str(c.payment_terms_days), _iso_date(c.rel_start), "",
            _iso_ts(updated_at or c.updated_at)]


def _contract_row(c: Contract) -> list[str]:
    v = c.vehicle
    return [
        c.contract_id, c.customer_business_id or "", c.customer_person_id or "", c.contract_type, c.status,
        _fi_date(c.delivery_date), _fi_date(c.start_date), _fi_date(c.end_date), str(c.duration_months),
        _fi_money(c.residual_value), _fi_money(c.lease_rent), _fi_money(c.service_budget), _fi_money(c.account_fee),
        _fi_money(c.total_monthly), str(c.included_km), str(c.start_km) if v else "",
        str(c.latest_odometer_km) if v else "", v.plate if v else "", v.vin if v else "", v.make if v else "",
        v.model if v else "", _fi_date(v.first_registration) if v else "", v.vehicle_class if v else "",
        v.power if v else "", str(v.co2) if v else "", c.cost_center or "", c.driver_person_id, c.finance_company,
        c.insurance_company, _fi_money(c.insurance_deductible), "1" if c.replacement_car_right else "0",
        c.replacement_car_class or "", c.notes, _fi_ts(c.updated_at),
    ]


def _consent_row(event_id: str, e: ConsentEvent) -> list[str]:
    return [event_id, e.person_id, e.purpose, e.channel, e.action, _iso_ts(e.recorded_at), e.source]


@dataclass
class _Defect:
    row: list[str]
    kind: str
    column: str | None


def _mutate(row: list[str], columns: Sequence[str], column: str, value: str, kind: str) -> _Defect:
    out = list(row)
    out[columns.index(column)] = value
    return _Defect(out, kind, column)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[list[str]], *, delimiter: str = ",",
               encoding: str = "utf-8") -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    path.write_bytes(buf.getvalue().encode(encoding))
    return n


def _emit_csv(report: GenerationReport, keys: _KeyTracker, out: Path, source: str, name: str,
              header: Sequence[str], rows: list[list[str]], defects: list[_Defect], rng: random.Random,
              *, delimiter: str = ",", encoding: str = "utf-8", key_column: int | None = 0) -> None:
    """Write good rows with the defects inserted at random places; record everything in the report."""
    slots = sorted(rng.sample(range(len(rows) + len(defects)), len(defects)))
    merged: list[list[str]] = []
    good = iter(rows)
    defect_at = dict(zip(slots, defects))
    for pos in range(len(rows) + len(defects)):
        d = defect_at.get(pos)
        if d is not None:
            merged.append(d.row)
            report.bad_row(source, name, pos + 2, d.kind, d.column)
        else:
            row = next(good)
            merged.append(row)
            if key_column is not None:
                keys.add(source, row[key_column])
    n = _write_csv(out / source / name, header, merged, delimiter=delimiter, encoding=encoding)
    report.add_file(source, name, n)


# --------------------------------------------------------------------------------------------------------------
# Defect fixtures for CSV sources: extra records that exist only to be quarantined
# --------------------------------------------------------------------------------------------------------------
def _junk_persons(fake: Faker, rng: random.Random, model: Model, reps: int) -> list[_Defect]:
    template = _make_person_identities(fake, rng, 10 * reps)
    defects: list[_Defect] = []
    company = model.companies[0].business_id
    for k, p in enumerate(template):
        p.person_id = f"P{len(model.persons) + k + 1:06d}"
        p.customer_type, p.rel_start = "prospect", model.as_of - timedelta(days=rng.randint(120, 300))
        p.updated_at = _at(rng, p.rel_start)
        p.ssn = None
        row = _person_row(p)
        c = PERSON_COLUMNS
        kind = k % 10
        if kind == 0:
            defects.append(_mutate(row, c, "last_name", "", "missing_required"))
        elif kind == 1:
            defects.append(_mutate(row, c, "customer_type", "vip", "bad_enum"))
        elif kind == 2:
            defects.append(_mutate(row, c, "email", (p.email or "x@y.fi").replace("@", "."), "bad_pattern"))
        elif kind == 3:
            defects.append(_mutate(row, c, "postal_code", (p.postal or "00100")[:4], "bad_pattern"))
        elif kind == 4:
            defects.append(_mutate(row, c, "ssn", ids.corrupt_hetu(ids.make_hetu(rng, p.birth)), "bad_checksum"))
        elif kind == 5:
            defects.append(_mutate(row, c, "business_id", ids.corrupt_ytunnus(company), "bad_checksum"))
        elif kind == 6:
            defects.append(_mutate(row, c, "relationship_start", f"{p.rel_start.year}-02-30", "bad_date"))
        elif kind == 7:
            defects.append(_mutate(row, c, "updated_at", f"{p.updated_at.year}-13-01T10:00:00+02:00", "bad_timestamp"))
        elif kind == 8:
            defects.append(_mutate(row, c, "role", "driver", "bad_enum"))
        else:
            defects.append(_Defect(row[:-1], "wrong_field_count", None))
    return defects


def _junk_companies(fake: Faker, rng: random.Random, model: Model, reps: int) -> list[_Defect]:
    template = _make_companies(fake, rng, 7 * reps)
    defects: list[_Defect] = []
    c = COMPANY_COLUMNS
    for k, comp in enumerate(template):
        comp.rel_start = model.as_of - timedelta(days=rng.randint(100, 3000))
        comp.updated_at = _at(rng, comp.rel_start)
        comp.parent = None
        row = _company_row(comp)
        kind = k % 7
        if kind == 0:
            defects.append(_mutate(row, c, "business_id", ids.corrupt_ytunnus(comp.business_id), "bad_checksum"))
        elif kind == 1:
            defects.append(_mutate(row, c, "payment_terms_days", "200", "out_of_range"))
        elif kind == 2:
            defects.append(_mutate(row, c, "payment_terms_days", "30 pv", "bad_number"))
        elif kind == 3:
            defects.append(_mutate(row, c, "billing_method", "fax", "bad_enum"))
        elif kind == 4:
            defects.append(_mutate(row, c, "name", "", "missing_required"))
        elif kind == 5:
            defects.append(_mutate(row, c, "relationship_start", "2020-02-30", "bad_date"))
        else:
            defects.append(_mutate(row, c, "parent_business_id", ids.corrupt_ytunnus(model.companies[0].business_id),
                                   "bad_checksum"))
    return defects


def _junk_contracts(rng: random.Random, model: Model, reps: int) -> list[_Defect]:
    defects: list[_Defect] = []
    company = model.companies[-1]
    driver = next(p for p in model.persons if p.business_id == company.business_id)
    c = CONTRACT_COLUMNS
    plates = {x.vehicle.plate for x in model.contracts if x.vehicle}
    for k in range(11 * reps):
        start = model.as_of - timedelta(days=rng.randint(6 * 365, 9 * 365))
        con = Contract(contract_id=f"C{len(model.contracts) + k + 1:06d}", customer_business_id=company.business_id,
                       customer_person_id=None, driver_person_id=driver.person_id,
                       contract_type="Avoin huoltoleasing", status="ended", delivery_date=start, start_date=start,
                       end_date=_add_months(start, 36) - timedelta(days=1), planned_end=None, duration_months=36,
                       vehicle=_new_vehicle(rng, plates, start), cost_center=company.cost_centers[0])
        _fill_contract_terms(rng, con, model.as_of)
        row = _contract_row(con)
        kind = k % 11
        mutations = (
            ("contract_type", "", "missing_required"), ("status", "cancelled", "bad_enum"),
            ("replacement_car_right", "kyllä", "bad_bool"), ("start_date", f"31.02.{start.year}", "bad_date"),
            ("updated_at", "32.13.2024 25:61:00", "bad_timestamp"), ("residual_value", "noin 18000", "bad_number"),
            ("lease_rent", "-" + row[c.index("lease_rent")], "out_of_range"),
            ("registration_number", "1234", "bad_pattern"),
            ("vin", row[c.index("vin")][:10] + "O" + row[c.index("vin")][11:], "bad_pattern"),
            ("power_source", "vety", "bad_enum"),
        )
        if kind < len(mutations):
            column, value, defect = mutations[kind]
            defects.append(_mutate(row, c, column, value, defect))
        else:  # an unquoted ';' in the free text splits it into two fields
            notes = c.index("notes")
            defects.append(_Defect(row[:notes] + ["Soita ma", " ti klo 9-16"] + row[notes + 1:],
                                   "wrong_field_count", None))
    return defects


def _junk_consents(rng: random.Random, model: Model, reps: int) -> list[_Defect]:
    defects: list[_Defect] = []
    c = CONSENT_COLUMNS
    for k in range(6 * reps):
        p = rng.choice(model.persons)
        e = ConsentEvent(p.person_id, "direct_marketing", "email", "grant",
                         _at(rng, model.as_of - timedelta(days=rng.randint(30, 900))), "web_form")
        row = _consent_row(f"KX{k:07d}", e)
        mutations = (("purpose", "newsletter", "bad_enum"), ("channel", "fax", "bad_enum"),
                     ("action", "maybe", "bad_enum"), ("person_id", "", "missing_required"),
                     ("recorded_at", "eilen klo 14", "bad_timestamp"))
        if k % 6 < len(mutations):
            column, value, defect = mutations[k % 6]
            defects.append(_mutate(row, c, column, value, defect))
        else:
            defects.append(_Defect(row + ["", "ylimääräinen"], "wrong_field_count", None))
    return defects


# --------------------------------------------------------------------------------------------------------------
# CRM and consent deliveries
# --------------------------------------------------------------------------------------------------------------
def _delta_days(first: date, as_of: date) -> list[date]:
    days = (as_of - first).days
    return sorted({first + timedelta(days=max(1, round(k * days / 3))) for k in (1, 2, 3)} - {first}) if days else []


def _correct_person(rng: random.Random, p: Person) -> Person:
    """A plausible rectification: new email, new phone format, or a move."""
    q = dataclasses.replace(p)
    r = rng.random()
    if r < 0.4 and p.email:
        q.email = p.email.replace("@", f"{rng.randint(1, 9)}@")
    elif r < 0.7 and p.phone:
        q.phone_style = ids.PHONE_STYLES[(ids.PHONE_STYLES.index(p.phone_style) + 1) % len(ids.PHONE_STYLES)]
    else:
        q.street = f"{p.street.rsplit(' ', 1)[0] if p.street else 'Kauppakatu'} {rng.randint(1, 80)}"
    return q


def _seeded_faker(rng: random.Random) -> Faker:
    fake = Faker("fi_FI")
    fake.seed_instance(rng.randint(0, 2**31))
    return fake


def _person_corrections(rng: random.Random, model: Model, day: date, n: int) -> tuple[list[Person], list[list[str]]]:
    """``n`` current customers with a rectified detail, as delta rows updated on ``day``."""
    current = [p for p in model.persons if p.rel_end is None and p.customer_type != "prospect"]
    chosen = rng.sample(current, min(len(current), n))
    return chosen, [_person_row(_correct_person(rng, p), _at(rng, day)) for p in chosen]


def _persons_deliveries(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, first: date,
                        deltas: list[date], rng: random.Random) -> None:
    reps = 1 + len(model.persons) // 5000
    cutoff = datetime.combine(first, time(23, 59))
    rows = [_person_row(p, min(p.updated_at, cutoff)) for p in model.persons]
    _emit_csv(report, keys, out, "crm_persons", _day_name("crm_persons", first), PERSON_COLUMNS, rows,
              _junk_persons(_seeded_faker(rng), rng, model, reps), rng)
    for k, day in enumerate(deltas):
        chosen, rows = _person_corrections(rng, model, day, max(3, len(model.persons) // 100))
        name = _day_name("crm_persons", day)
        if k == 0:
            stale = next(p for p in model.persons if p not in chosen and p.rel_end is None)
            old = _correct_person(rng, stale)
            rows.append(_person_row(old, min(stale.updated_at, cutoff) - timedelta(days=40)))
            stale_line = len(rows) + 1
            report.stale_rows.append(KeyedLine("crm_persons", name, stale_line, stale.person_id,
                                               _day_name("crm_persons", first)))
        _emit_csv(report, keys, out, "crm_persons", name, PERSON_COLUMNS, rows, [], rng)


def _persons_increment(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, day: date,
                       rng: random.Random) -> None:
    _, rows = _person_corrections(rng, model, day, max(2, len(model.persons) // 400))
    _emit_csv(report, keys, out, "crm_persons", _day_name("crm_persons", day), PERSON_COLUMNS, rows, [], rng)


def _companies_deliveries(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, first: date,
                          deltas: list[date], rng: random.Random) -> None:
    reps = 1 + len(model.persons) // 5000
    cutoff = datetime.combine(first, time(23, 59))
    rows = [_company_row(c, min(c.updated_at, cutoff)) for c in model.companies]
    _emit_csv(report, keys, out, "crm_companies", _day_name("crm_companies", first), COMPANY_COLUMNS, rows,
              _junk_companies(_seeded_faker(rng), rng, model, reps), rng)
    for k, day in enumerate(deltas):
        chosen = rng.sample(model.companies, min(len(model.companies), max(2, len(model.companies) // 30)))
        changed = []
        for comp in chosen:
            new = dataclasses.replace(comp, payment_terms_days=rng.choice((14, 30, 45)),
                                      billing_method=rng.choice(("e_invoice", "email", "paper")))
            if new.billing_method != "e_invoice":
                new.e_invoice_address = new.e_invoice_operator = ""
            elif not new.e_invoice_address:
                new.e_invoice_address = f"0037{comp.business_id.replace('-', '')}"
                new.e_invoice_operator = rng.choice(E_INVOICE_OPERATORS)
            changed.append(_company_row(new, _at(rng, day)))
        name = _day_name("crm_companies", day)
        header: list[str] = list(COMPANY_COLUMNS)
        if k == 0:  # upper-case, shuffled header
            order = list(range(len(header)))
            rng.shuffle(order)
            header = [f" {header[i].upper()} " if i == order[0] else header[i].upper() for i in order]
            changed = [[row[i] for i in order] for row in changed]
            report.header_variants.append(HeaderVariant("crm_companies", name, "header_case_order"))
            key_col = order.index(0)
        elif k == 1:  # schema drift: an unknown extra column
            header.insert(7, "toimialakoodi")
            changed = [row[:7] + [rng.choice(("49410", "62010", "46900", "41200"))] + row[7:] for row in changed]
            report.drift_files.append(DriftFile("crm_companies", name, ("toimialakoodi",)))
            key_col = 0
        else:
            key_col = 0
        _emit_csv(report, keys, out, "crm_companies", name, header, changed, [], rng, key_column=key_col)


def _contract_state_at(c: Contract, day: date) -> Contract:
    """The contract as the export of ``day`` showed it (before later starts and ends)."""
    if c.start_date and c.start_date > day and c.status != "ordered":
        return dataclasses.replace(c, status="ordered", start_date=None, end_date=None, vehicle=None,
                                   start_km=0, latest_odometer_km=0)
    if c.status in ("ended", "terminated") and c.end_date and c.end_date > day:
        return dataclasses.replace(c, status="active", end_date=c.planned_end,
                                   latest_odometer_km=max(c.start_km, c.latest_odometer_km - 1500))
    return c


def _contracts_deliveries(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, first: date,
                          deltas: list[date], rng: random.Random) -> None:
    reps = 1 + len(model.persons) // 5000
    cutoff = datetime.combine(first, time(23, 59))
    initial = []
    for c in model.contracts:
        s = _contract_state_at(c, first)
        initial.append(dataclasses.replace(s, updated_at=min(c.updated_at, cutoff - timedelta(hours=rng.randint(1, 400)))))
    name = _day_name("contracts", first)
    _emit_csv(report, keys, out, "contracts", name, CONTRACT_COLUMNS, [_contract_row(c) for c in initial],
              _junk_contracts(rng, model, reps), rng, delimiter=";", encoding="utf-8-sig")
    report.header_variants.append(HeaderVariant("contracts", name, "bom"))
    previous = first
    for k, day in enumerate(deltas):
        changed = [c for c in model.contracts
                   if (c.start_date and previous < c.start_date <= day)
                   or (c.status in ("ended", "terminated") and c.end_date and previous < c.end_date <= day)]
        running = [c for c in model.contracts if c.status == "active" and c not in changed]
        changed += rng.sample(running, min(len(running), max(2, len(model.contracts) // 200)))
        rows = [_contract_row(dataclasses.replace(_contract_state_at(c, day), updated_at=_at(rng, day)))
                for c in changed]
        dname = _day_name("contracts", day)
        if k == 0:
            stale = next(c for c in initial if c.status == "active" and c.contract_id not in {x.contract_id for x in changed})
            old = dataclasses.replace(stale, latest_odometer_km=max(stale.start_km, stale.latest_odometer_km - 900),
                                      updated_at=stale.updated_at - timedelta(days=30))
            rows.append(_contract_row(old))
            report.stale_rows.append(KeyedLine("contracts", dname, len(rows) + 1, stale.contract_id, name))
        _emit_csv(report, keys, out, "contracts", dname, CONTRACT_COLUMNS, rows, [], rng, delimiter=";")
        previous = day


def _new_consents(rng: random.Random, model: Model, day: date, n: int) -> list[ConsentEvent]:
    events = []
    for p in rng.sample(model.persons, min(n, len(model.persons))):
        r = rng.random()
        at = _at(rng, day - timedelta(days=2 if r < 0.1 else 0), 8, 21)
        if r < 0.5:
            events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("email", "sms")), "grant", at,
                                       rng.choice(("web_form", "mobile_app"))))
        elif r < 0.75:
            events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("email", "sms", "any")),
                                       "withdraw", at, "customer_service"))
        elif r < 0.85:
            events.append(ConsentEvent(p.person_id, "profiling", "any", "object", at, "customer_service"))
        else:
            events.append(ConsentEvent(p.person_id, "location_tracking", "any", rng.choice(("grant", "withdraw")), at,
                                       "mobile_app"))
    return sorted(events, key=lambda e: (e.recorded_at, e.person_id))


def _consent_id(day: date, seq: int) -> str:
    return f"K{day.strftime('%Y%m%d')}{seq:06d}"


def _consents_deliveries(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, first: date,
                         deltas: list[date], rng: random.Random) -> None:
    reps = 1 + len(model.persons) // 5000
    history = [e for e in model.consents if e.recorded_at.date() <= first]
    rows = [_consent_row(_consent_id(first, i + 1), e) for i, e in enumerate(history)]
    hist_name = _day_name("consents", first)
    _emit_csv(report, keys, out, "consents", hist_name, CONSENT_COLUMNS, rows,
              _junk_consents(rng, model, reps), rng)
    for k, day in enumerate(deltas):
        events = _new_consents(rng, model, day, max(3, len(model.persons) // 150))
        rows = [_consent_row(_consent_id(day, i + 1), e) for i, e in enumerate(events)]
        name = _day_name("consents", day)
        if k == 0 and history:  # correction: an earlier event re-delivered with a different source
            i = rng.randrange(len(history))
            e = history[i]
            fixed = dataclasses.replace(e, source="customer_service" if e.source != "customer_service" else "web_form")
            rows.append(_consent_row(_consent_id(first, i + 1), fixed))
            report.corrections.append(KeyedLine("consents", name, len(rows) + 1, _consent_id(first, i + 1), hist_name))
        _emit_csv(report, keys, out, "consents", name, CONSENT_COLUMNS, rows, [], rng)


def _consents_increment(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, day: date,
                        rng: random.Random) -> None:
    events = _new_consents(rng, model, day, max(2, len(model.persons) // 400))
    rows = [_consent_row(_consent_id(day, i + 1), e) for i, e in enumerate(events)]
    _emit_csv(report, keys, out, "consents", _day_name("consents", day), CONSENT_COLUMNS, rows, [], rng)


def _robinson_row(rng: random.Random, p: Person, by_phone: bool) -> list[str]:
    if by_phone and p.phone:
        return ["", "", "", "", ids.format_phone(p.phone, rng.choice(ids.PHONE_STYLES))]

    def vary(s: str) -> str:
        s = rng.choice((s, s.upper(), s.lower(), s))
        return rng.choice((s, f" {s}", f"{s} ", s))

    return [vary(p.first_name), vary(p.last_name), vary(p.street or ""), vary(p.postal or ""), ""]


def _robinson_deliveries(out: Path, report: GenerationReport, model: Model, rng: random.Random) -> None:
    fake = _seeded_faker(rng)
    private = [p for p in model.persons if p.customer_type == "private"
               or (p.customer_type == "prospect" and not p.business_id)]
    listed = rng.sample(private, min(len(private), max(4, len(private) // 30)))
    strangers = []
    for _ in range(max(10, len(model.persons) // 20)):
        if rng.random() < 0.3:
            strangers.append(["", "", "", "", ids.format_phone(ids.make_mobile(rng, ids.UNKNOWN_MOBILE_PREFIX),
                                                               rng.choice(ids.PHONE_STYLES))])
        else:
            strangers.append([fake.first_name(), fake.last_name(), fake.street_address(), fake.postcode(), ""])
    newer = [_robinson_row(rng, p, by_phone=(k % 2 == 0 or not (p.street and p.postal)))
             for k, p in enumerate(listed)]
    newer_all = newer + strangers
    rng.shuffle(newer_all)
    removed = rng.sample(private, min(len(private), 3))  # only on the older list
    older = newer[: len(newer) * 2 // 3] + [_robinson_row(rng, p, True) for p in removed] + strangers[5:]
    rng.shuffle(older)
    month = model.as_of.replace(day=1)
    prev_month = (month - timedelta(days=1)).replace(day=1)
    for d, rows in ((prev_month, older), (month, newer_all)):
        name = f"robinson_{d.strftime('%Y-%m')}.csv"
        n = _write_csv(out / "robinson" / name, ROBINSON_COLUMNS, rows)
        report.add_file("robinson", name, n)


# --------------------------------------------------------------------------------------------------------------
# Event files with DuckDB
# --------------------------------------------------------------------------------------------------------------
@dataclass
class _EventPlan:
    """Which (day, seq) rows of an event source are special, and how."""

    days: list[date]
    counts: list[int]
    rows: list[tuple[date, int, str, date, int]] = field(default_factory=list)  # day, seq, kind, h_day, h_seq


def _plan_specials(rng: random.Random, days: list[date], counts: list[int], kinds: Sequence[str], *,
                   rate: float, minimum: int, corrections: int, twins: int = 0) -> _EventPlan:
    plan = _EventPlan(days, counts)
    starts = [0]
    for n in counts:
        starts.append(starts[-1] + n)
    total = starts[-1]
    taken: set[int] = set()

    def locate(g: int) -> tuple[int, int]:
        d = bisect.bisect_right(starts, g) - 1
        return d, g - starts[d]

    def free_index(cond: Callable[[int, int, int], bool]) -> int | None:
        for _ in range(200):
            g = rng.randrange(total)
            d, s = locate(g)
            if g not in taken and cond(g, d, s):
                return g
        return None

    for _ in range(twins):
        g = free_index(lambda g, d, s: s > 0 and g - 1 not in taken)
        if g is not None:
            d, s = locate(g)
            taken.update((g, g - 1))
            plan.rows.append((days[d], s, "twin", days[d], s - 1))
    for _ in range(corrections if len(days) > 1 else 0):
        g = free_index(lambda g, d, s: d > 0 and counts[d - 1] > 0)
        if g is None:
            continue
        d, s = locate(g)
        src = free_index(lambda g2, d2, s2: d2 == d - 1)
        if src is None:
            continue
        taken.update((g, src))
        plan.rows.append((days[d], s, "correction", days[d - 1], src - starts[d - 1]))
    for kind in kinds:
        for _ in range(max(minimum, round(total * rate))):
            g = free_index(lambda g, d, s: True)
            if g is not None:
                taken.add(g)
                d, s = locate(g)
                plan.rows.append((days[d], s, kind, days[d], s))
    return plan


def _register(con: duckdb.DuckDBPyConnection, name: str, columns: Sequence[str], rows: list[tuple]) -> None:
    df = pd.DataFrame(rows, columns=list(columns))
    con.register(f"{name}_df", df)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_df")
    con.unregister(f"{name}_df")


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: Sequence[str], h: str) -> str:
    """SQL choosing one of ``values`` by the hash expression ``h``."""
    return f"{_sql_list(values)}[(1 + ({h}) % {len(values)})::BIGINT]"


PHONE_SQL = """CASE ({h}) % 4
    WHEN 0 THEN substr({p}, 1, 3) || ' ' || substr({p}, 4, 3) || ' ' || substr({p}, 7)
    WHEN 1 THEN '+358 ' || substr({p}, 2, 2) || ' ' || substr({p}, 4, 3) || ' ' || substr({p}, 7)
    WHEN 2 THEN {p}
    ELSE '+358' || substr({p}, 2) END"""


def _phone_sql(national: str, h: str) -> str:
    return PHONE_SQL.format(p=national, h=h)


class _EventWriter:
    """Holds the DuckDB connection with the small lookup tables and writes one event file per day."""

    def __init__(self, model: Model, seed: int, window: list[date]) -> None:
        self.seed = seed
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET threads = 2")
        self._vehicles(model, window)
        self._lookups(model, window)

    def _vehicles(self, model: Model, window: list[date]) -> None:
        periods = []
        for c in model.contracts:
            if c.vehicle is None or c.start_date is None:
                continue
            driver = model.person(c.driver_person_id)
            periods.append((c.vehicle.plate, c.start_date, c.end_date or date(2999, 1, 1), c.vehicle.power,
                            driver.phone))
        _register(self.con, "veh", ("plate", "vfrom", "vto", "power", "phone"), periods)
        _register(self.con, "win", ("day",), [(d,) for d in window])
        self.con.execute("""
            CREATE TABLE act AS
            SELECT w.day, (row_number() OVER (PARTITION BY w.day ORDER BY v.plate, v.vfrom) - 1)::BIGINT AS j,
                   v.plate, v.power, v.phone
            FROM win w JOIN veh v ON v.vfrom <= w.day AND v.vto >= w.day""")
        self.con.execute("CREATE TABLE cnt AS SELECT w.day, count(a.j) AS n FROM win w LEFT JOIN act a USING (day) "
                         "GROUP BY w.day")
        # plates that have no running contract anywhere in the window
        active = {p for (p,) in self.con.execute("SELECT DISTINCT plate FROM act").fetchall()}
        ended = sorted({(c.vehicle.plate, c.vehicle.power) for c in model.contracts
                        if c.vehicle and c.vehicle.plate not in active})[:40]
        rng = random.Random(f"{self.seed}:orphans")
        ended += [(ids.make_plate(rng), "petrol"), (ids.make_plate(rng), "diesel")]
        _register(self.con, "orph", ("j", "plate", "power"), [(j, p, w) for j, (p, w) in enumerate(ended)])
        self.n_orph = len(ended)

    def _lookups(self, model: Model, window: list[date]) -> None:
        rng = random.Random(f"{self.seed}:stations")
        stations = [(i, company, f"{company} {city} {rng.choice(STATION_AREAS)}", city)
                    for i, (company, city) in enumerate((rng.choice(FUEL_COMPANIES), rng.choice(CITIES))
                                                        for _ in range(120))]
        _register(self.con, "stations", ("sid", "company", "name", "city"), stations)
        users = [p.person_id for p in model.persons if p.rel_start and p.rel_end is None]
        _register(self.con, "web_users", ("j", "person_id"), list(enumerate(users or ["P000001"])))
        self.n_users = max(1, len(users))
        days = [window[0] - timedelta(days=1)] + window
        _register(self.con, "offsets", ("day", "off"),
                  [(d, datetime.combine(d, time(12)).replace(tzinfo=HELSINKI).strftime("%z")[:3] + ":00")
                   for d in days])

    def close(self) -> None:
        self.con.close()

    @staticmethod
    def _rows_sql(table: str) -> str:
        """Rows (day, seq) of the days in table ``chunk``; ``h_*`` say whose content a row carries."""
        return f"""
            WITH b AS (SELECT c.day, unnest(range(c.n)) AS seq FROM chunk c)
            SELECT b.day, b.seq, coalesce(sp.kind, 'ok') AS kind,
                   coalesce(sp.h_day, b.day) AS h_day, coalesce(sp.h_seq, b.seq) AS h_seq,
                   CASE WHEN sp.kind = 'correction' THEN sp.h_day ELSE b.day END AS id_day,
                   CASE WHEN sp.kind = 'correction' THEN sp.h_seq ELSE b.seq END AS id_seq,
                   b.day AS q_day, b.seq AS q_seq
            FROM b LEFT JOIN {table} sp ON sp.day = b.day AND sp.seq = b.seq"""

    def h(self, what: str, day: str = "h_day", seq: str = "h_seq") -> str:
        return f"hash({day}, {seq}, {self.seed}, '{what}')"

    def write_chunk(self, sql: str, days: list[tuple[date, int]], paths: list[Path], header: str | None,
                    gz: bool) -> list[tuple]:
        """Materialise a few days at once, write one file per day, return the special rows
        (day, seq, kind, column, info)."""
        _register(self.con, "chunk", ("day", "n"), days)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE chunk_out AS {sql}")
        compression = ", COMPRESSION gzip" if gz else ""
        for (day, _), path in zip(days, paths):
            body = f"SELECT seq, line FROM chunk_out WHERE day = DATE '{day}'"
            if header is not None:
                body = f"SELECT -1 AS seq, '{header}' AS line UNION ALL {body}"
            self.con.execute(f"COPY (SELECT line FROM ({body}) ORDER BY seq) TO {_sql_str(path)} "
                             f"(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f'{compression})")
        return self.con.execute(
            "SELECT day, seq, kind, col, info FROM chunk_out WHERE kind <> 'ok' ORDER BY day, seq").fetchall()

    def fuel_sql(self) -> str:
        def h(what: str) -> str:
            return self.h("fuel_" + what)
        return f"""
        WITH r AS ({self._rows_sql('fuel_special')}),
        v AS (
            SELECT r.*, coalesce(o.plate, a.plate) AS plate, coalesce(o.power, a.power) AS power,
                   CASE WHEN o.plate IS NULL AND r.kind <> 'unknown_phone' AND {h('unknown')} % 100 >= 3
                        THEN a.phone END AS driver_phone,
                   st.company, st.name AS station, st.city, off.off,
                   {h('product')} AS hp, hash(q_day, q_seq, {self.seed}, 'fuel_qty') AS hq
            FROM r
            JOIN cnt c ON c.day = r.h_day
            LEFT JOIN act a ON a.day = r.h_day AND a.j = {h('veh')} % greatest(c.n, 1)
            LEFT JOIN orph o ON r.kind = 'orphan' AND o.j = {h('orph')} % {self.n_orph}
            JOIN stations st ON st.sid = {h('station')} % 120
            JOIN offsets off ON off.day = r.h_day
        ),
        p AS (
            SELECT *,
              CASE WHEN kind = 'wrong_product' THEN CASE WHEN power = 'diesel' THEN '95E10' ELSE 'Diesel' END
                   WHEN power = 'electric' THEN 'EV'
                   WHEN power = 'plug_in_hybrid' THEN CASE WHEN hp % 10 < 4 THEN 'EV' ELSE '95E10' END
                   WHEN power = 'diesel' THEN CASE WHEN hp % 10 < 8 THEN 'Diesel' ELSE 'HVO100' END
                   ELSE {_pick(['95E10'] * 6 + ['98E5'] * 3 + ['E85'], 'hp')} END AS product,
              h_day + to_seconds((6 * 3600 + {h('time')} % (16 * 3600))::BIGINT)
                  + CASE WHEN kind = 'twin' THEN to_minutes((2 + hq % 8)::BIGINT) ELSE INTERVAL 0 SECOND END AS ts,
              coalesce(driver_phone, '046' || lpad(({h('phone')} % 10000000)::VARCHAR, 7, '0')) AS phone_nat
            FROM v
        ),
        q AS (
            SELECT *, CASE WHEN product = 'EV' THEN 'kwh' ELSE 'liters' END AS qcol,
              CASE WHEN product = 'EV' THEN 5 + (hq % 7000) / 100.0 ELSE 12 + (hq % 58000) / 1000.0 END AS qty,
              CASE product WHEN 'EV' THEN 0.29 + (hq // 7 % 30) / 100.0 WHEN 'Diesel' THEN 1.69 + (hq // 7 % 25) / 100.0
                   WHEN 'HVO100' THEN 2.02 + (hq // 7 % 20) / 100.0 WHEN 'E85' THEN 1.35 + (hq // 7 % 15) / 100.0
                   ELSE 1.79 + (hq // 7 % 25) / 100.0 END AS price
            FROM p
        ),
        j AS (
            SELECT day, seq, kind,
              CASE kind WHEN 'missing_plate' THEN 'registration_number' WHEN 'bad_plate' THEN 'registration_number'
                        WHEN 'bad_ts' THEN 'refueled_at' WHEN 'bad_product' THEN 'product'
                        WHEN 'neg_amount' THEN 'amount_eur'
                        WHEN 'missing_qty' THEN qcol WHEN 'bad_qty' THEN qcol WHEN 'qty_range' THEN qcol END AS col,
              CASE WHEN kind = 'correction' THEN strftime(h_day, '%Y-%m-%d') END AS info,
              driver_phone IS NULL AS unknown_phone,
              concat('{{"transaction_id": ', to_json('F' || strftime(id_day, '%Y%m%d') || lpad(id_seq::VARCHAR, 6, '0')),
                ', "refueled_at": ', CASE WHEN kind = 'bad_ts' THEN to_json(strftime(ts, '%d.%m.%Y klo %H.%M'))
                                         ELSE to_json(strftime(ts, '%Y-%m-%dT%H:%M:%S') || off) END,
                ', "phone": ', to_json({_phone_sql('phone_nat', h('fmt'))}),
                ', "registration_number": ', CASE kind WHEN 'missing_plate' THEN 'null' WHEN 'bad_plate' THEN '"1234"'
                    ELSE to_json(CASE WHEN {h('case')} % 20 = 0 THEN lower(plate) ELSE plate END) END,
                ', "product": ', CASE WHEN kind = 'bad_product' THEN '"Bensa 95"' ELSE to_json(product) END,
                ', "fuel_company": ', to_json(company), ', "station_name": ', to_json(station), ', "city": ', to_json(city),
                CASE WHEN kind = 'missing_qty' THEN NULL
                     ELSE ', "' || qcol || '": ' || CASE
                        WHEN kind = 'bad_qty' THEN to_json(replace(printf('%.1f', qty), '.', ','))
                        WHEN kind = 'qty_range' THEN CASE WHEN product = 'EV' THEN '400.5' ELSE '301.0' END
                        WHEN product = 'EV' THEN printf('%.1f', qty) ELSE printf('%.3f', qty) END END,
                ', "amount_eur": ', CASE WHEN kind = 'neg_amount' THEN '-' ELSE '' END
                    || printf('%.2f', qty * price * CASE WHEN kind = 'correction' THEN 1.1 ELSE 1 END),
                '}}') AS full_line
            FROM q
        )
        SELECT day, seq, kind, col, info, unknown_phone,
               CASE WHEN kind = 'invalid_json' THEN left(full_line, length(full_line) - 12) ELSE full_line END AS line
        FROM j"""

    def wash_sql(self) -> str:
        def h(what: str) -> str:
            return self.h("wash_" + what)
        return f"""
        WITH r AS ({self._rows_sql('wash_special')}),
        v AS (
            SELECT r.*, a.plate, a.phone, st.name AS location, off.off,
                   h_day + to_seconds((8 * 3600 + {h('time')} % (13 * 3600))::BIGINT) AS ts,
                   {h('program')} % {len(WASH_PROGRAMS)} AS prog
            FROM r JOIN cnt c ON c.day = r.h_day
            LEFT JOIN act a ON a.day = r.h_day AND a.j = {h('veh')} % greatest(c.n, 1)
            JOIN stations st ON st.sid = {h('station')} % 120
            JOIN offsets off ON off.day = r.h_day
        )
        SELECT day, seq, kind,
          CASE kind WHEN 'missing_program' THEN 'wash_program' WHEN 'bad_ts' THEN 'washed_at'
                    WHEN 'bad_plate' THEN 'registration_number' END AS col,
          CASE WHEN kind = 'correction' THEN strftime(h_day, '%Y-%m-%d') END AS info,
          concat_ws(',', 'W' || strftime(id_day, '%Y%m%d') || lpad(id_seq::VARCHAR, 5, '0'),
            CASE WHEN kind = 'bad_plate' THEN '1234' ELSE coalesce(plate, '') END,
            CASE WHEN phone IS NULL OR {h('nophone')} % 10 < 3 THEN '' ELSE {_phone_sql('phone', h('fmt'))} END,
            CASE WHEN kind = 'bad_ts' THEN strftime(ts, '%Y-%m-%d klo %H') ELSE strftime(ts, '%Y-%m-%dT%H:%M:%S') || off END,
            CASE WHEN kind = 'missing_program' THEN ''
                 ELSE {_sql_list(WASH_PROGRAMS)}[(1 + (prog + CASE WHEN kind = 'correction' THEN 1 ELSE 0 END)
                      % {len(WASH_PROGRAMS)})::BIGINT] END,
            location || CASE WHEN kind = 'field_count' THEN ', halli 2' ELSE '' END) AS line
        FROM v"""

    def web_sql(self) -> str:
        sess = f"hash(h_day, h_seq // 6, {self.seed}, 'session')"

        def h(what: str) -> str:
            return self.h("web_" + what)
        pages_logged = ("https://www.example.fi/oma/", "https://www.example.fi/oma/sopimukset",
                        "https://www.example.fi/oma/ajopaivakirja", "https://www.example.fi/oma/laskut")
        return f"""
        WITH r AS ({self._rows_sql('web_special')}),
        s AS (
            SELECT r.*, h_seq % 6 AS pos, {sess} AS hs, {h('event')} AS he,
                   hash(h_day, h_seq // 6, {self.seed}, 'user') % {self.n_users} AS uj
            FROM r
        ),
        t AS (
            SELECT s.*, u.person_id,
                   hs % 100 < 15 AS logged,
                   hs // 100 % 10 >= 2 AS c_analytics,
                   hs // 100 % 10 >= 2 AND hs // 1000 % 10 >= 4 AS c_marketing,
                   h_day + to_seconds((hs // 10000 % 85000 + pos * 70 + he % 60)::BIGINT) AS ts
            FROM s LEFT JOIN web_users u ON u.j = s.uj
        ),
        e AS (
            SELECT t.*,
              CASE WHEN pos = 0 THEN 'page_view'
                   WHEN pos = 1 THEN 'search'
                   WHEN pos = 2 THEN 'page_view'
                   WHEN logged AND pos = 3 THEN 'login'
                   WHEN logged AND pos = 5 THEN 'logout'
                   WHEN logged THEN 'page_view'
                   WHEN pos = 4 AND he % 20 = 0 THEN 'form_submit'
                   WHEN pos = 5 AND he % 40 = 0 THEN 'registration'
                   WHEN he % 3 = 0 THEN 'search' ELSE 'page_view' END AS etype,
              logged AND pos >= 3 AS with_user,
              CASE WHEN logged THEN 'c-' || format('{{:08x}}', hash(uj, {self.seed}, 'cookie') % 4294967296)
                   ELSE 'c-' || format('{{:08x}}', hs % 4294967296) END AS cookie,
              CASE WHEN hs // 100000 % 4 = 0
                   THEN '2001:14ba:' || format('{{:x}}', hs // 7 % 65536) || ':' || format('{{:x}}', hs // 11 % 65536)
                        || '::' || format('{{:x}}', hs // 13 % 65536)
                   ELSE {_pick(('84', '88', '91', '62', '85', '193', '176', '80'), 'hs // 17')} || '.'
                        || (hs // 19 % 256) || '.' || (hs // 23 % 256) || '.' || (1 + hs // 29 % 254) END AS ip,
              {_pick(USER_AGENTS, 'hs // 31')} AS ua
            FROM t
        ),
        f AS (
            SELECT e.*,
              CASE WHEN etype = 'search' THEN 'https://www.example.fi/vaihtoautot/haku'
                   WHEN etype = 'login' THEN 'https://www.example.fi/oma/kirjaudu'
                   WHEN etype = 'logout' THEN 'https://www.example.fi/oma/kirjaudu-ulos'
                   WHEN etype = 'form_submit' THEN 'https://www.example.fi/yhteydenotto/'
                   WHEN etype = 'registration' THEN 'https://www.example.fi/rekisteroidy/'
                   WHEN with_user THEN {_pick(pages_logged, 'he')}
                   WHEN pos = 0 THEN {_pick(LANDING_PAGES, 'hs // 37')}
                   WHEN pos = 2 THEN 'https://www.example.fi/vaihtoautot/auto/' || (10000 + he % 90000)
                   ELSE {_pick(LANDING_PAGES, 'he')} END AS url,
              CASE WHEN pos = 0 THEN CASE WHEN hs // 41 % 3 = 0 THEN NULL ELSE {_pick(REFERRERS, 'hs // 43')} END
                   WHEN pos = 1 THEN 'https://www.example.fi/vaihtoautot/'
                   WHEN pos = 2 THEN 'https://www.example.fi/vaihtoautot/haku'
                   ELSE 'https://www.example.fi/' END AS ref,
              CASE WHEN etype = 'search' THEN {_pick(SEARCH_QUERIES, 'he // 3')} END AS query
            FROM e
        )
        SELECT day, seq, kind,
          CASE kind WHEN 'missing_id' THEN 'event_id' WHEN 'bad_ts' THEN 'event_time' WHEN 'bad_enum' THEN 'event_type'
                    WHEN 'bad_bool' THEN 'consent_analytics' END AS col,
          CASE WHEN kind = 'correction' THEN strftime(h_day, '%Y-%m-%d') END AS info,
          concat('{{"event_id": ', CASE WHEN kind = 'missing_id' THEN 'null'
                     ELSE to_json('E' || strftime(id_day, '%Y%m%d') || lpad(id_seq::VARCHAR, 7, '0')) END,
            ', "event_time": ', CASE WHEN kind = 'bad_ts' THEN to_json(strftime(ts, '%d.%m.%Y %H:%M:%S'))
                                     ELSE to_json(strftime(ts, '%Y-%m-%dT%H:%M:%SZ')) END,
            ', "event_type": ', CASE WHEN kind = 'bad_enum' THEN '"click"' ELSE to_json(etype) END,
            ', "cookie_id": ', CASE WHEN c_analytics OR hs // 47 % 5 = 0 THEN to_json(cookie) ELSE 'null' END,
            ', "user_id": ', CASE WHEN with_user THEN to_json(person_id) ELSE 'null' END,
            ', "ip_address": ', to_json(ip),
            ', "user_agent": ', to_json(ua || CASE WHEN kind = 'correction' THEN ' (corrected)' ELSE '' END),
            ', "page_url": ', to_json(url), ', "referrer": ', coalesce(to_json(ref), 'null'),
            ', "search_query": ', coalesce(to_json(query), 'null'),
            ', "consent_analytics": ', CASE WHEN kind = 'bad_bool' THEN '"yes"' ELSE c_analytics::VARCHAR END,
            ', "consent_marketing": ', c_marketing::VARCHAR, '}}') AS full_line
        FROM f"""


def _web_wrap(sql: str) -> str:
    return f"""SELECT day, seq, kind, col, info,
        CASE WHEN kind = 'invalid_json' THEN left(full_line, length(full_line) - 9) ELSE full_line END AS line
        FROM ({sql})"""


FUEL_KINDS = {  # internal kind -> reported defect kind
    "invalid_json": "invalid_json", "missing_plate": "missing_required", "missing_qty": "missing_required",
    "bad_ts": "bad_timestamp", "bad_qty": "bad_number", "bad_product": "bad_enum", "qty_range": "out_of_range",
    "neg_amount": "out_of_range", "bad_plate": "bad_pattern",
}
WASH_KINDS = {"missing_program": "missing_required", "bad_ts": "bad_timestamp", "bad_plate": "bad_pattern",
              "field_count": "wrong_field_count"}
BUSINESS_RULE_NAMES = {"twin": "double_refuel", "orphan": "plate_without_contract"}
WEB_KINDS = {"invalid_json": "invalid_json", "missing_id": "missing_required", "bad_ts": "bad_timestamp",
             "bad_enum": "bad_enum", "bad_bool": "bad_bool"}


CHUNK_ROWS = 150_000  # event rows materialised at once (a few days of the big files)


def _chunks(days: list[tuple[date, int]], rows: int) -> Iterable[tuple[int, list[tuple[date, int]]]]:
    """Consecutive days grouped so that each group has about ``rows`` rows; yields (days done, group)."""
    group: list[tuple[date, int]] = []
    done = 0
    for item in days:
        if group and sum(n for _, n in group) + item[1] > rows:
            done += len(group)
            yield done, group
            group = []
        group.append(item)
    if group:
        yield done + len(group), group


def _split(total: int, parts: int) -> list[int]:
    return [total * (k + 1) // parts - total * k // parts for k in range(parts)]


def _write_events(out: Path, report: GenerationReport, keys: _KeyTracker, writer: _EventWriter, source: str,
                  plan: _EventPlan, kinds: dict[str, str], progress: Callable[[str, int, int], None] | None) -> None:
    table = f"{source}_special"
    _register(writer.con, table, ("day", "seq", "kind", "h_day", "h_seq"), plan.rows)
    header = ",".join(WASH_COLUMNS) if source == "wash" else None
    first_line = 2 if header else 1
    loaded = 0
    sql = {"fuel": writer.fuel_sql, "wash": writer.wash_sql, "web": lambda: _web_wrap(writer.web_sql())}[source]()
    for done, chunk in _chunks(list(zip(plan.days, plan.counts)), CHUNK_ROWS):
        specials = writer.write_chunk(sql, chunk, [out / source / _day_name(source, d) for d, _ in chunk], header,
                                      gz=source == "web")
        for day, n in chunk:
            report.add_file(source, _day_name(source, day), n)
            loaded += n
        for day, seq, kind, col, info in specials:
            name = _day_name(source, day)
            if kind in kinds:
                report.bad_row(source, name, seq + first_line, kinds[kind], col)
                loaded -= 1
            elif kind == "correction":
                report.corrections.append(KeyedLine(source, name, seq + first_line, "", _day_name(
                    source, date.fromisoformat(info))))
                loaded -= 1
            else:
                label = f"{source}.{BUSINESS_RULE_NAMES.get(kind, kind)}"
                report.business_rule_rows[label] = report.business_rule_rows.get(label, 0) + 1
        if source == "fuel":
            ((unknown,),) = writer.con.execute("SELECT count(*) FROM chunk_out WHERE unknown_phone").fetchall()
            report.business_rule_rows["fuel.unknown_phone"] = report.business_rule_rows.get("fuel.unknown_phone", 0) + unknown
        if progress:
            progress(source, done, len(plan.days))
    keys.event_counts[source] = loaded
    _fill_correction_keys(report, source, plan)


def _fill_correction_keys(report: GenerationReport, source: str, plan: _EventPlan) -> None:
    prefix, width = {"fuel": ("F", 6), "wash": ("W", 5), "web": ("E", 7)}[source]
    by_line = {(d, s): (hd, hs) for d, s, kind, hd, hs in plan.rows if kind == "correction"}
    first_line = 2 if source == "wash" else 1
    fixed = []
    for c in report.corrections:
        if c.source != source or c.key:
            fixed.append(c)
            continue
        day = next(d for d in plan.days if _day_name(source, d) == c.file)
        hd, hs = by_line[(day, c.line - first_line)]
        fixed.append(dataclasses.replace(c, key=f"{prefix}{hd.strftime('%Y%m%d')}{hs:0{width}d}"))
    report.corrections = fixed


# --------------------------------------------------------------------------------------------------------------
# File-level bad input and duplicates
# --------------------------------------------------------------------------------------------------------------
HTML_ERROR_PAGE = """<!DOCTYPE html>
<html lang="fi">
<head><meta charset="utf-8"><title>502 Bad Gateway</title></head>
<body>
<h1>502 Bad Gateway</h1>
<p>Palvelu on tilapäisesti poissa käytöstä. Yritä myöhemmin uudelleen.</p>
</body>
</html>
"""


def _sample_wash_rows(rng: random.Random, model: Model, day: date, n: int, tag: str) -> list[list[str]]:
    cars = [c for c in model.contracts if c.vehicle and c.status == "active"] or model.contracts
    rows = []
    for i in range(n):
        c = rng.choice(cars)
        plate = c.vehicle.plate if c.vehicle else ""
        rows.append([f"W{day.strftime('%Y%m%d')}{tag}{i:03d}", plate, "", _iso_ts(_at(rng, day, 8, 21)),
                     rng.choice(WASH_PROGRAMS), f"Neste {rng.choice(('Hämeenlinna', 'Jyväskylä', 'Seinäjoki'))} Keskusta"])
    return rows


def _file_level_defects(out: Path, report: GenerationReport, model: Model, window: list[date],
                        rng: random.Random) -> None:
    day = window[len(window) // 2]
    # fuel: the same content delivered again under another name, and an HTML error page saved as JSONL
    original = _day_name("fuel", day)
    dup = _day_name("fuel", day, "_2")
    (out / "fuel" / dup).write_bytes((out / "fuel" / original).read_bytes())
    report.add_file("fuel", dup, report.files["fuel"][original])
    report.duplicate_files.append(DuplicateFile("fuel", dup, original))
    html = _day_name("fuel", day, "_3")
    (out / "fuel" / html).write_text(HTML_ERROR_PAGE, encoding="utf-8")
    report.add_file("fuel", html, HTML_ERROR_PAGE.count("\n"))
    report.bad_files.append(BadFile("fuel", html, "not_parseable"))
    # wash: a Latin-1 file, and a file without the required washed_at column
    latin = _day_name("wash", day, "_2")
    n = _write_csv(out / "wash" / latin, WASH_COLUMNS, _sample_wash_rows(rng, model, day, 12, "L"), encoding="latin-1")
    report.add_file("wash", latin, n)
    report.bad_files.append(BadFile("wash", latin, "not_utf8"))
    nocol = _day_name("wash", day, "_3")
    keep = [i for i, c in enumerate(WASH_COLUMNS) if c != "washed_at"]
    rows = [[r[i] for i in keep] for r in _sample_wash_rows(rng, model, day, 8, "M")]
    n = _write_csv(out / "wash" / nocol, [WASH_COLUMNS[i] for i in keep], rows)
    report.add_file("wash", nocol, n)
    report.bad_files.append(BadFile("wash", nocol, "missing_required_column"))
    # web: a gzip stream cut off in the middle
    lines = [
        '{"event_id": "E%s9%06d", "event_time": "%sT12:%02d:00Z", "event_type": "page_view", "cookie_id": null, '
        '"user_id": null, "ip_address": null, "user_agent": null, "page_url": "https://www.example.fi/leasing/", '
        '"referrer": null, "search_query": null, "consent_analytics": false, "consent_marketing": false}'
        % (day.strftime("%Y%m%d"), i, day.isoformat(), i % 60) for i in range(400)]
    data = _gzip_bytes(("\n".join(lines) + "\n").encode())
    trunc = _day_name("web", day, "_2")
    (out / "web" / trunc).write_bytes(data[: len(data) * 3 // 5])
    report.add_file("web", trunc, len(lines))
    report.bad_files.append(BadFile("web", trunc, "truncated_gzip"))


def _gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------------
def default_event_counts(persons: int, days: int) -> tuple[int, int, int]:
    """Default (fuel, web, wash) row counts: ~20k fuel and ~60k web events for 2000 persons over 90 days."""
    fuel = max(20 * days, round(persons * 10 * days / 90))
    web = max(60 * days, round(persons * 30 * days / 90))
    return fuel, web, max(6 * days, fuel // 12)


def generate_landing(out: Path, *, persons: int = 2000, seed: int = 42, as_of: date, days: int = 90,
                     fuel_rows: int | None = None, web_events: int | None = None, master: bool = True,
                     progress: Callable[[str, int, int], None] | None = None) -> GenerationReport:
    """Write a synthetic landing zone under ``out`` and report what was written (no personal values).

    ``master=True``: CRM, contracts, consents and Robinson deliveries plus ``days`` days of events ending at
    ``as_of``. ``master=False``: only events for those days plus one persons delta and one consents delta, for
    the same persons/plates/phones as the master run of the same seed whose as_of was ``as_of - days``.
    """
    out = Path(out)
    if days < 1 or persons < 20:
        raise ValueError("need days >= 1 and persons >= 20")
    model_as_of = as_of if master else as_of - timedelta(days=days)
    model = build_model(persons=persons, seed=seed, as_of=model_as_of)
    report = GenerationReport(seed=seed, persons=persons, as_of=as_of.isoformat(), days=days, master=master)
    keys = _KeyTracker()
    window = [as_of - timedelta(days=days - 1 - k) for k in range(days)]
    rng = random.Random(f"{seed}:deliveries:{as_of.isoformat()}:{days}:{master}")
    for source in SOURCES:
        (out / source).mkdir(parents=True, exist_ok=True)
    if master:
        first = as_of - timedelta(days=days)
        deltas = _delta_days(first, as_of)
        _persons_deliveries(out, report, keys, model, first, deltas, rng)
        _companies_deliveries(out, report, keys, model, first, deltas, rng)
        _contracts_deliveries(out, report, keys, model, first, deltas, rng)
        _consents_deliveries(out, report, keys, model, first, deltas, rng)
        _robinson_deliveries(out, report, model, rng)
        if progress:
            progress("master", 1, 1)
    else:
        _persons_increment(out, report, keys, model, as_of, rng)
        _consents_increment(out, report, keys, model, as_of, rng)
    if master:
        report.business_rule_rows["contracts.total_mismatch"] = sum(
            1 for c in model.contracts if c.total_monthly != c.lease_rent + c.service_budget + c.account_fee)
    _generate_events(out, report, keys, model, seed, window, fuel_rows, web_events, master, rng, progress)
    if master:
        _file_level_defects(out, report, model, window, rng)
    return _finalise(report, keys)


def _generate_events(out: Path, report: GenerationReport, keys: _KeyTracker, model: Model, seed: int,
                     window: list[date], fuel_rows: int | None, web_events: int | None, master: bool,
                     rng: random.Random, progress: Callable[[str, int, int], None] | None) -> None:
    fuel_default, web_default, wash_total = default_event_counts(len(model.persons), len(window))
    fuel_total = fuel_default if fuel_rows is None else fuel_rows
    web_total = web_default if web_events is None else web_events
    if fuel_rows is not None:
        wash_total = max(6 * len(window), fuel_total // 12)
    minimum = 1 if master else 0
    writer = _EventWriter(model, seed, window)
    try:
        counts = _split(fuel_total, len(window))
        plan = _plan_specials(rng, window, counts, list(FUEL_KINDS) + ["wrong_product", "orphan", "unknown_phone"],
                              rate=EVENT_DEFECT_RATE, minimum=minimum, corrections=max(minimum * 2, fuel_total // 3000),
                              twins=max(minimum * 2, fuel_total // 1000))
        _write_events(out, report, keys, writer, "fuel", plan, FUEL_KINDS, progress)
        plan = _plan_specials(rng, window, _split(wash_total, len(window)), list(WASH_KINDS),
                              rate=EVENT_DEFECT_RATE, minimum=minimum, corrections=max(minimum, wash_total // 3000))
        _write_events(out, report, keys, writer, "wash", plan, WASH_KINDS, progress)
        plan = _plan_specials(rng, window, _split(web_total, len(window)), list(WEB_KINDS),
                              rate=EVENT_DEFECT_RATE / 3, minimum=minimum, corrections=max(minimum, web_total // 20000))
        _write_events(out, report, keys, writer, "web", plan, WEB_KINDS, progress)
    finally:
        writer.close()
