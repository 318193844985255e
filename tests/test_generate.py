"""Tests for the synthetic landing-zone generator. They assert on counts, ids and kinds; they print no values."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from stdnum.fi import hetu, ytunnus

from dagster_project.synthetic import generate_landing
from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.defects import DEFECT_KINDS, FILE_DEFECT_KINDS
from dagster_project.synthetic.location import WITHHELD_REASONS
from dagster_project.synthetic.records import (
    CONSENT_COLUMNS, CONTRACT_COLUMNS, DRIVE_LOG_COLUMNS, GENERATED_SOURCES, KYC_COLUMNS, PERSON_COLUMNS, WASH_COLUMNS,
)
from ingest.contracts import SOURCES
from tests.support import AS_OF
SMALL = {"persons": 150, "days": 5, "seed": 7}
PLATE = re.compile(r"^[A-Z]{2,3}-[1-9][0-9]{0,2}$")
VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
ENUMS = {
    "customer_type": {"private", "business_contact", "prospect"}, "role": {"car_user", "decision_maker"},
    "billing_method": {"paper", "e_invoice", "email"}, "status": {"ordered", "active", "ended", "terminated"},
    "vehicle_class": {"passenger_car", "van", "truck", "trailer"},
    "power_source": {"petrol", "diesel", "hybrid", "plug_in_hybrid", "electric", "gas"},
    "product": {"95E10", "98E5", "Diesel", "HVO100", "E85", "EV"},
    "event_type": {"page_view", "search", "form_submit", "registration", "login", "logout"},
    "purpose": {"direct_marketing", "profiling", "location_tracking"},
    "channel": {"email", "sms", "phone", "post", "any"}, "action": {"grant", "withdraw", "object"},
    "trip_type": {"work", "leisure"}, "added_by": {"driver", "fleet_manager", "customer_service"},
    "record_type": {"identity_verification", "beneficial_owner", "pep_check"},
    "document_type": {"passport", "id_card", "driving_licence", "residence_permit"},
}
REQUIRED = {
    "crm_persons": ("person_id", "first_name", "last_name", "customer_type", "updated_at"),
    "crm_companies": ("business_id", "name", "updated_at"),
    "contracts": ("contract_id", "contract_type", "status", "updated_at"),
    "fuel": ("transaction_id", "refueled_at", "phone", "registration_number", "product", "fuel_company"),
    "wash": ("wash_id", "registration_number", "washed_at", "wash_program", "wash_location"),
    "web": ("event_id", "event_time", "event_type", "consent_analytics", "consent_marketing"),
    "consents": ("consent_event_id", "person_id", "purpose", "channel", "action", "recorded_at"),
    "drive_log": ("trip_id", "driver_person_id", "registration_number", "trip_date", "start_km", "end_km",
                  "distance_km", "trip_type", "added_by", "added_at"),
    "location": ("ping_id", "person_id", "recorded_at", "lat", "lon"),
    "kyc": ("kyc_id", "record_type", "verified_at", "updated_at"),
}
# kyc: what each record type requires besides (SOURCES.md)
KYC_REQUIRED = {"identity_verification": ("document_type", "document_number"), "beneficial_owner": ("full_name",),
                "pep_check": ("is_pep",)}
JSON_SOURCES = ("fuel", "web", "location")
DATES = {"relationship_start", "relationship_end", "delivery_date", "start_date", "end_date",
         "first_registration_date", "trip_date", "document_expiry"}
TIMESTAMPS = {"updated_at", "refueled_at", "washed_at", "event_time", "recorded_at", "added_at", "verified_at"}
NUMBERS = {"payment_terms_days": (0, 120), "duration_months": (0, None), "residual_value": (0, None),
           "lease_rent": (0, None), "service_budget": (0, None), "account_fee": (0, None),
           "total_monthly": (0, None), "included_km": (0, None), "start_km": (0, None),
           "latest_odometer_km": (0, None), "co2_g_km": (None, None), "insurance_deductible": (None, None),
           "liters": (0, 200), "kwh": (0, 400), "amount_eur": (0, None), "end_km": (0, None),
           "distance_km": (0, None), "lat": (-90, 90), "lon": (-180, 180), "accuracy_m": (0, None),
           "speed_kmh": (0, 300), "ownership_pct": (0, 100)}
INTEGERS = {"start_km", "end_km", "distance_km"}
BOOLS = {"replacement_car_right": {"1", "0"}, "consent_analytics": {True, False}, "consent_marketing": {True, False},
         "is_pep": {"true", "false"}}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing")
    report = generate_landing(out, as_of=AS_OF, **SMALL)
    return out, report.to_dict()


def test_generator_imports_no_dagster() -> None:
    code = ("import sys, dagster_project.synthetic\n"
            "print([m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', 'dagster_dbt'))])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------------------
# A small independent reader of the landing zone
# ---------------------------------------------------------------------------------------------------------------
def read_records(path: Path, source: str) -> list[tuple[int, object]]:
    """(line number, record) pairs: a dict, a list of raw CSV fields when the count is wrong, or None (bad JSON)."""
    if source in JSON_SOURCES:
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        out: list[tuple[int, object]] = []
        for n, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError:
                out.append((n, None))
        return out
    text = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if source == "contracts" else ","))
    header = [h.strip().lower() for h in rows[0]]
    return [(n, dict(zip(header, r)) if len(r) == len(header) else r) for n, r in enumerate(rows[1:], start=2)]


def _bad_number(v: object, source: str) -> bool:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return False
    if source in JSON_SOURCES:  # JSON numbers must not be strings
        return True
    try:
        float(str(v).replace(",", ".") if source == "contracts" else str(v))
        return False
    except ValueError:
        return True


def problems(source: str, record: object) -> set[tuple[str, str | None]]:
    """Every (defect kind, column) the contract would quarantine this record for."""
    if record is None:
        return {("invalid_json", None)}
    if isinstance(record, list):
        return {("wrong_field_count", None)}
    found: set[tuple[str, str | None]] = set()
    rec = {k: (None if v == "" else v) for k, v in record.items()}
    for col in REQUIRED.get(source, ()):
        if rec.get(col) is None:
            found.add(("missing_required", col))
    if source == "fuel" and rec.get("product") in ENUMS["product"]:
        qcol = "kwh" if rec["product"] == "EV" else "liters"
        if rec.get(qcol) is None:
            found.add(("missing_required", qcol))
    for col, v in rec.items():
        if v is None:
            continue
        if col in ENUMS and not (source == "robinson") and v not in ENUMS[col]:
            found.add(("bad_enum", col))
        elif col in DATES and not _parses_date(str(v), source):
            found.add(("bad_date", col))
        elif col in TIMESTAMPS and not _parses_ts(str(v), source):
            found.add(("bad_timestamp", col))
        elif col in NUMBERS:
            if _bad_number(v, source) or (col in INTEGERS and source != "contracts"
                                          and not re.fullmatch(r"-?\d+", str(v))):
                found.add(("bad_number", col))
            else:
                lo, hi = NUMBERS[col]
                x = float(str(v).replace(",", "."))
                if (lo is not None and x < lo) or (hi is not None and x > hi) or (col in ("liters", "kwh") and x == 0):
                    found.add(("out_of_range", col))
        elif col in BOOLS and v not in BOOLS[col]:
            found.add(("bad_bool", col))
    for col in ("ssn",):
        if rec.get(col) and not hetu.is_valid(rec[col]):
            found.add(("bad_checksum", col))
    for col in ("business_id", "parent_business_id", "customer_business_id"):
        if rec.get(col) and not ytunnus.is_valid(rec[col]):
            found.add(("bad_checksum", col))
    if rec.get("email") and (rec["email"].count("@") != 1 or "." not in rec["email"].split("@")[-1]):
        found.add(("bad_pattern", "email"))
    if source != "robinson" and rec.get("postal_code") and not re.fullmatch(r"\d{5}", rec["postal_code"]):
        found.add(("bad_pattern", "postal_code"))
    if rec.get("registration_number") and not PLATE.match(str(rec["registration_number"]).upper().replace(" ", "")):
        found.add(("bad_pattern", "registration_number"))
    if rec.get("vin") and not VIN.match(rec["vin"]):
        found.add(("bad_pattern", "vin"))
    if source == "kyc":
        for col in KYC_REQUIRED.get(rec.get("record_type"), ()):
            if rec.get(col) is None:
                found.add(("missing_required", col))
        if rec.get("person_id") is None and rec.get("business_id") is None:
            found.add(("missing_required", "person_id"))
    stamp = rec.get("recorded_at")
    if source == "location" and isinstance(stamp, str) and _parses_ts(stamp, source) and not stamp.endswith("Z"):
        found.add(("bad_timestamp", "recorded_at"))  # the contract says UTC
    return found


def _parses_date(v: str, source: str) -> bool:
    try:
        datetime.strptime(v, "%d.%m.%Y" if source == "contracts" else "%Y-%m-%d")
        return True
    except ValueError:
        return False


def _parses_ts(v: str, source: str) -> bool:
    try:
        if source == "contracts":
            datetime.strptime(v, "%d.%m.%Y %H:%M:%S")
        else:
            parsed = datetime.fromisoformat(v)
            if parsed.tzinfo is None:
                return False
        return True
    except ValueError:
        return False


def accepted_files(out: Path, report: dict) -> list[tuple[str, Path]]:
    skip = {(f["source"], f["file"]) for f in report["bad_files"] + report["duplicate_files"]}
    return [(s, p) for s in GENERATED_SOURCES if s != "robinson" for p in sorted((out / s).iterdir())
            if (s, p.name) not in skip]


# ---------------------------------------------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------------------------------------------
def test_identifier_helpers_are_valid_and_corruptible() -> None:
    rng = random.Random(1)
    for _ in range(500):
        birth = date(1940, 1, 1).fromordinal(rng.randint(date(1940, 1, 1).toordinal(), date(2005, 12, 31).toordinal()))
        code = ids.make_hetu(rng, birth, male=rng.random() < 0.5, modern_sign=rng.random() < 0.3)
        assert hetu.is_valid(code)
        assert not hetu.is_valid(ids.corrupt_hetu(code))
        y = ids.make_ytunnus(rng)
        assert ytunnus.is_valid(y)
        assert not ytunnus.is_valid(ids.corrupt_ytunnus(y))
        assert PLATE.match(ids.make_plate(rng))
        assert VIN.match(ids.make_vin(rng, "WF0"))
        national = ids.make_mobile(rng)
        for style in ids.PHONE_STYLES:
            parsed = phonenumbers.parse(ids.format_phone(national, style), "FI")
            assert phonenumbers.is_valid_number(parsed)
            assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == ids.to_e164(national)
    assert ids.ytunnus_check_digit("0737546") == 2  # documented example 0737546-2
    assert ids.hetu_check_char("131052", "308") == "T"  # documented example 131052-308T


def test_generated_identifiers_are_valid(landing: tuple[Path, dict]) -> None:
    out, report = landing
    bad = {(b["source"], b["file"], b["line"]) for b in report["bad_rows"]}
    checked = {"ssn": 0, "business_id": 0, "phone": 0, "plate": 0, "vin": 0}
    for source, path in accepted_files(out, report):
        for line, rec in read_records(path, source):
            if (source, path.name, line) in bad or not isinstance(rec, dict):
                continue
            if rec.get("ssn"):
                assert hetu.is_valid(rec["ssn"]), (source, path.name, line)
                checked["ssn"] += 1
            for col in ("business_id", "parent_business_id", "customer_business_id"):
                if rec.get(col):
                    assert ytunnus.is_valid(rec[col]), (source, path.name, line, col)
                    checked["business_id"] += 1
            if rec.get("phone"):
                assert phonenumbers.is_valid_number(phonenumbers.parse(rec["phone"], "FI")), (source, path.name, line)
                checked["phone"] += 1
            if rec.get("registration_number"):
                assert PLATE.match(rec["registration_number"].upper()), (source, path.name, line)
                checked["plate"] += 1
            if rec.get("vin"):
                assert VIN.match(rec["vin"]), (source, path.name, line)
                checked["vin"] += 1
    assert all(n > 10 for n in checked.values()), checked


# ---------------------------------------------------------------------------------------------------------------
# Determinism, layout, formats
# ---------------------------------------------------------------------------------------------------------------
def _digest_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic(landing: tuple[Path, dict], tmp_path: Path) -> None:
    out, report = landing
    again = generate_landing(tmp_path, as_of=AS_OF, **SMALL)
    assert _digest_tree(out) == _digest_tree(tmp_path)
    assert again.to_dict() == report


def test_gzip_headers_carry_no_time_or_name(landing: tuple[Path, dict]) -> None:
    out, _ = landing
    for path in [*(out / "web").iterdir(), *(out / "location").iterdir()]:
        head = path.read_bytes()[:10]
        assert head[:2] == b"\x1f\x8b"
        assert head[4:8] == b"\0\0\0\0"  # mtime 0
        assert head[3] & 0x08 == 0  # no file name


def test_only_source_folders(landing: tuple[Path, dict]) -> None:
    out, report = landing
    assert sorted(p.name for p in out.iterdir()) == sorted(GENERATED_SOURCES)
    for source in GENERATED_SOURCES:
        files = sorted((out / source).iterdir())
        assert files and all(p.is_file() for p in files)
        assert [p.name for p in files] == sorted(report["files"][source])
    assert sum(report["rows_written"].values()) > 0


def test_file_names_follow_samples(landing: tuple[Path, dict]) -> None:
    out, _ = landing
    patterns = {
        "crm_persons": r"persons_\d{4}-\d\d-\d\d\.csv", "crm_companies": r"companies_\d{4}-\d\d-\d\d\.csv",
        "contracts": r"fleet_contracts_\d{8}\.csv", "fuel": r"fuel_\d{4}-\d\d-\d\d(_\d)?\.jsonl",
        "wash": r"wash_\d{4}-\d\d-\d\d(_\d)?\.csv", "web": r"web_\d{4}-\d\d-\d\d(_\d)?\.jsonl\.gz",
        "consents": r"consents_\d{4}-\d\d-\d\d\.csv", "robinson": r"robinson_\d{4}-\d\d\.csv",
        "drive_log": r"drive_log_\d{4}-\d\d-\d\d\.csv", "location": r"location_\d{4}-\d\d-\d\d\.jsonl\.gz",
        "kyc": r"kyc_\d{4}-\d\d-\d\d\.csv",
    }
    for source, pattern in patterns.items():
        for p in (out / source).iterdir():
            assert re.fullmatch(pattern, p.name), (source, p.name)
    event_days = {p.name[5:15] for p in (out / "fuel").iterdir()}
    assert len(event_days) == SMALL["days"] and max(event_days) == AS_OF.isoformat()
    for source in ("drive_log", "location"):  # one file a day, like the other events
        assert {p.name[len(source) + 1:len(source) + 11] for p in (out / source).iterdir()} == event_days


def test_csv_parses_with_declared_delimiter(landing: tuple[Path, dict]) -> None:
    out, report = landing
    wrong = {(b["file"], b["line"]) for b in report["bad_rows"] if b["kind"] == "wrong_field_count"}
    for source, columns, delim in (("contracts", CONTRACT_COLUMNS, ";"), ("crm_persons", PERSON_COLUMNS, ","),
                                   ("consents", CONSENT_COLUMNS, ","), ("wash", WASH_COLUMNS, ","),
                                   ("drive_log", DRIVE_LOG_COLUMNS, ","), ("kyc", KYC_COLUMNS, ",")):
        skip = {f["file"] for f in report["bad_files"] if f["source"] == source}
        for path in sorted((out / source).iterdir()):
            if path.name in skip:
                continue
            rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=delim))
            assert [h.strip().lower() for h in rows[0]] == list(columns)
            for n, row in enumerate(rows[1:], start=2):
                assert (len(row) == len(columns)) != ((path.name, n) in wrong), (source, path.name, n)


def test_json_fields_are_the_contract_columns_in_order(landing: tuple[Path, dict]) -> None:
    out, report = landing
    optional = {"fuel": {"liters", "kwh"}, "web": set(), "location": {"accuracy_m"}}  # fields a line may omit
    for source, path in accepted_files(out, report):
        if source not in JSON_SOURCES:
            continue
        columns = SOURCES[source].column_names
        for _, rec in read_records(path, source):
            if isinstance(rec, dict):
                assert list(rec) == [c for c in columns if c in rec], (source, path.name)
                assert set(columns) - set(rec) <= optional[source], (source, path.name)


# ---------------------------------------------------------------------------------------------------------------
# Bad input and its report
# ---------------------------------------------------------------------------------------------------------------
def test_every_defect_kind_is_present(landing: tuple[Path, dict]) -> None:
    _, report = landing
    assert {b["kind"] for b in report["bad_rows"]} == set(DEFECT_KINDS)
    assert {f["kind"] for f in report["bad_files"]} == set(FILE_DEFECT_KINDS)
    assert report["duplicate_files"] and report["drift_files"]
    assert {h["kind"] for h in report["header_variants"]} == {"bom", "header_case_order"}
    assert {c["source"] for c in report["corrections"]} == {"fuel", "wash", "web", "consents"}
    assert {s["source"] for s in report["stale_rows"]} == {"crm_persons", "contracts"}
    for key in ("fuel.wrong_product", "fuel.plate_without_contract", "fuel.double_refuel", "fuel.unknown_phone",
                "contracts.total_mismatch", "drive_log.distance_mismatch", "drive_log.odometer_overlap"):
        assert report["business_rule_rows"][key] > 0
    json.dumps(report)


def test_the_new_sources_carry_their_defects(landing: tuple[Path, dict]) -> None:
    _, report = landing
    kinds = {(b["source"], b["kind"], b["column"]) for b in report["bad_rows"]}
    assert {("drive_log", "bad_enum", "trip_type"), ("drive_log", "out_of_range", "start_km"),
            ("drive_log", "missing_required", "registration_number")} <= kinds
    assert {("location", "out_of_range", "lat"), ("location", "bad_timestamp", "recorded_at")} <= kinds
    assert {("kyc", "bad_checksum", "business_id"), ("kyc", "out_of_range", "ownership_pct"),
            ("kyc", "missing_required", "document_number")} <= kinds
    # broken pings whose person or time cannot be read are withheld, not quarantined
    assert {(b["kind"], b["column"]) for b in report["withheld_lines"]} == {
        ("bad_timestamp", "recorded_at"), ("missing_required", "person_id"), ("invalid_json", None)}
    assert {b["source"] for b in report["withheld_lines"]} == {"location"}
    assert {f"location.{reason}" for reason in WITHHELD_REASONS} == set(report["withheld_reasons"])
    assert all(n > 0 for n in report["withheld_reasons"].values())
    assert report["expected_withheld_rows"] == {"location": sum(report["withheld"]["location"].values())}
    assert sum(report["withheld_reasons"].values()) == report["expected_withheld_rows"]["location"]


def test_report_lines_point_at_defects_and_nothing_else_is_bad(landing: tuple[Path, dict]) -> None:
    out, report = landing
    expected = {(b["source"], b["file"], b["line"]): (b["kind"], b["column"])
                for b in report["bad_rows"] + report["withheld_lines"]}
    seen = 0
    for source, path in accepted_files(out, report):
        for line, rec in read_records(path, source):
            found = problems(source, rec)
            key = (source, path.name, line)
            if key in expected:
                seen += 1
                assert found == {expected[key]}, (key, found, expected[key])
            else:
                assert not found, (key, found)
    assert seen == len(expected)


def test_file_level_defects_are_real(landing: tuple[Path, dict]) -> None:
    out, report = landing
    for f in report["bad_files"]:
        data = (out / f["source"] / f["file"]).read_bytes()
        if f["kind"] == "not_utf8":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        elif f["kind"] == "truncated_gzip":
            with pytest.raises(EOFError):
                gzip.decompress(data)
        elif f["kind"] == "missing_required_column":
            header = data.decode("utf-8").splitlines()[0].split(",")
            assert set(REQUIRED[f["source"]]) - set(header)
        else:
            assert not data.lstrip().startswith(b"{")
    for d in report["duplicate_files"]:
        assert (out / d["source"] / d["file"]).read_bytes() == (out / d["source"] / d["duplicate_of"]).read_bytes()
    drift = report["drift_files"][0]
    header = (out / drift["source"] / drift["file"]).read_text(encoding="utf-8").splitlines()[0].split(",")
    assert set(drift["extra_columns"]) <= set(header)


def test_corrections_and_stale_rows(landing: tuple[Path, dict]) -> None:
    out, report = landing
    id_column = {"fuel": "transaction_id", "wash": "wash_id", "web": "event_id", "consents": "consent_event_id",
                 "crm_persons": "person_id", "contracts": "contract_id"}

    def record(source: str, name: str, line: int | None = None, key: str | None = None) -> dict:
        for n, rec in read_records(out / source / name, source):
            if isinstance(rec, dict) and (n == line or (line is None and rec.get(id_column[source]) == key)):
                return rec
        raise AssertionError((source, name, line))

    for c in report["corrections"]:
        new = record(c["source"], c["file"], line=c["line"])
        old = record(c["source"], c["original_file"], key=c["key"])
        assert new[id_column[c["source"]]] == c["key"] and new != old
    for s in report["stale_rows"]:
        stale = record(s["source"], s["file"], line=s["line"])
        first = record(s["source"], s["original_file"], key=s["key"])
        if s["source"] == "contracts":
            def ts(r: dict) -> datetime:
                return datetime.strptime(r["updated_at"], "%d.%m.%Y %H:%M:%S")
        else:
            def ts(r: dict) -> datetime:
                return datetime.fromisoformat(r["updated_at"])
        assert ts(stale) < ts(first) and stale != first


def test_expected_counts_add_up(landing: tuple[Path, dict]) -> None:
    out, report = landing
    for source in GENERATED_SOURCES:
        files = report["files"][source]
        assert sum(files.values()) == report["rows_written"][source]
        assert len(files) == report["files_written"][source]
    rows = {s: 0 for s in GENERATED_SOURCES}
    bad = {(b["source"], b["file"], b["line"]) for b in report["bad_rows"]}
    for source, path in accepted_files(out, report):
        rows[source] += sum(1 for line, _ in read_records(path, source) if (source, path.name, line) not in bad)
    rows["robinson"] = report["rows_written"]["robinson"]
    for source, files in report["withheld"].items():   # lines the loader withholds for want of consent
        rows[source] -= sum(files.values())
    assert rows == report["expected_loaded_rows"]


def test_report_holds_no_personal_values(landing: tuple[Path, dict]) -> None:
    out, report = landing
    dumped = json.dumps(report, ensure_ascii=False)
    path = out / "crm_persons" / min(report["files"]["crm_persons"])
    values = set()
    for _, rec in read_records(path, "crm_persons"):
        if isinstance(rec, dict):
            values.update(v for k, v in rec.items() if k in ("last_name", "email", "phone", "ssn", "street_address") and v)
    assert values and not any(v in dumped for v in values)


# ---------------------------------------------------------------------------------------------------------------
# Realism
# ---------------------------------------------------------------------------------------------------------------
def _contracts_final(out: Path) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for path in sorted((out / "contracts").iterdir()):
        for _, rec in read_records(path, "contracts"):
            if isinstance(rec, dict) and not problems("contracts", rec):
                ts = datetime.strptime(rec["updated_at"], "%d.%m.%Y %H:%M:%S")
                if rec["contract_id"] not in latest or ts >= latest[rec["contract_id"]][0]:
                    latest[rec["contract_id"]] = (ts, rec)
    return {k: v[1] for k, v in latest.items()}


def test_plates_move_between_contracts(landing: tuple[Path, dict]) -> None:
    out, _ = landing
    by_plate: dict[str, list[dict]] = {}
    for rec in _contracts_final(out).values():
        if rec["registration_number"]:
            by_plate.setdefault(rec["registration_number"], []).append(rec)
    moved = 0
    for recs in by_plate.values():
        if len(recs) < 2:
            continue
        periods = sorted((datetime.strptime(r["start_date"], "%d.%m.%Y"), datetime.strptime(r["end_date"], "%d.%m.%Y"))
                         for r in recs)
        assert all(a[1] < b[0] for a, b in zip(periods, periods[1:])), "a plate is on two contracts at once"
        moved += 1
    assert moved >= 3


def test_contract_mix(landing: tuple[Path, dict]) -> None:
    out, _ = landing
    contracts = list(_contracts_final(out).values())
    assert {c["status"] for c in contracts} >= {"active", "ended", "terminated"}
    assert {c["power_source"] for c in contracts if c["power_source"]} >= {"petrol", "diesel", "electric"}
    assert any(c["customer_business_id"] and c["cost_center"] for c in contracts)
    assert any(c["customer_person_id"] for c in contracts)
    assert all(bool(c["customer_business_id"]) != bool(c["customer_person_id"]) for c in contracts)
    ten_years_ago = AS_OF.replace(year=AS_OF.year - 10)
    ended_old = [c for c in contracts if c["end_date"] and datetime.strptime(c["end_date"], "%d.%m.%Y").date()
                 < ten_years_ago]
    assert ended_old


# ---------------------------------------------------------------------------------------------------------------
# The Driver Assistant (drive log, location) and KYC
# ---------------------------------------------------------------------------------------------------------------
def _good_records(out: Path, report: dict, source: str) -> list[tuple[str, int, dict]]:
    """(file, line, record) of the well-formed lines of ``source`` (files in name order): what loads, and for the
    location also the pings withheld for want of consent."""
    broken = {(b["file"], b["line"]) for b in report["bad_rows"] + report["withheld_lines"] if b["source"] == source}
    return [(path.name, line, rec) for s, path in accepted_files(out, report) if s == source
            for line, rec in read_records(path, source) if (path.name, line) not in broken and isinstance(rec, dict)]


def _location_events(*landings: tuple[Path, dict]) -> dict[str, list[tuple[datetime, str, str]]]:
    """person -> sorted (recorded_at, consent_event_id, action) of the location_tracking events that load."""
    events: dict[str, dict] = {}
    for out, report in landings:
        for _, _, rec in _good_records(out, report, "consents"):
            events[rec["consent_event_id"]] = rec   # a re-delivered id replaces the earlier version
    by_person: dict[str, list[tuple[datetime, str, str]]] = {}
    for rec in events.values():
        if rec["purpose"] == "location_tracking":
            assert rec["channel"] == "any"
            by_person.setdefault(rec["person_id"], []).append(
                (datetime.fromisoformat(rec["recorded_at"]), rec["consent_event_id"], rec["action"]))
    return {p: sorted(v) for p, v in by_person.items()}


def _withheld_by_file(out: Path, report: dict, events: dict) -> tuple[dict[str, int], dict[str, set[bool]]]:
    """The location lines RULES.md §2 withholds, per file (computed here from the consents, not from the report's
    counts), and per person whether their pings were kept (True) and withheld (False)."""
    withheld: dict[str, int] = {}
    kept: dict[str, set[bool]] = {}
    for name, _, rec in _good_records(out, report, "location"):
        at = datetime.fromisoformat(rec["recorded_at"])
        before = [e for e in events.get(rec["person_id"], []) if e[0] <= at]
        granted = bool(before) and max(before)[2] == "grant"
        kept.setdefault(rec["person_id"], set()).add(granted)
        if not granted:
            withheld[name] = withheld.get(name, 0) + 1
    for b in report["withheld_lines"]:
        withheld[b["file"]] = withheld.get(b["file"], 0) + 1
    return withheld, kept


def test_withheld_pings_are_those_without_a_grant_in_force(landing: tuple[Path, dict]) -> None:
    out, report = landing
    events = _location_events(landing)
    withheld, kept = _withheld_by_file(out, report, events)
    assert withheld == report["withheld"]["location"]
    granted_now = {p for p, ev in events.items() if ev[-1][2] == "grant"}
    withdrew = {p for p, ev in events.items() if ev[-1][2] == "withdraw"}
    assert set(kept) - set(events), "app users without any grant"
    assert {p for p in kept if kept[p] == {True}} & granted_now, "app users whose pings all load"
    assert any(kept[p] == {True, False} for p in withdrew & set(kept)), "pings before a withdrawal load, after it not"


def test_pings_are_consecutive_per_person_and_day_in_their_contract_car(landing: tuple[Path, dict]) -> None:
    out, report = landing
    plates: dict[str, set[str]] = {}
    for c in _contracts_final(out).values():
        if c["registration_number"]:
            plates.setdefault(c["driver_person_id"], set()).add(c["registration_number"])
    days: dict[tuple[str, str], list[dict]] = {}
    for _, _, rec in _good_records(out, report, "location"):
        days.setdefault((rec["person_id"], rec["recorded_at"][:10]), []).append(rec)
    longest = 0.0
    for (person, _), pings in days.items():
        times = [datetime.fromisoformat(r["recorded_at"]) for r in pings]
        assert times == sorted(times) and times[-1] - times[0] < timedelta(hours=8), person
        assert max((b - a for a, b in zip(times, times[1:])), default=timedelta(0)) <= timedelta(minutes=2)
        assert {r["registration_number"] for r in pings} - {None} <= plates.get(person, set())
        km = sum(_km(a, b) for a, b in zip(pings, pings[1:]))
        assert km < 1000, person
        longest = max(longest, km)
    assert longest > 1 and len({p for p, _ in days}) >= 4


def _km(a: dict, b: dict) -> float:
    """Great-circle distance between two pings."""
    import math

    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def test_trips_belong_to_a_contract_driver_and_car_within_its_period(landing: tuple[Path, dict]) -> None:
    out, report = landing
    periods: dict[tuple[str, str], list[tuple[date, date]]] = {}
    for c in _contracts_final(out).values():
        if c["registration_number"] and c["start_date"]:
            end = datetime.strptime(c["end_date"], "%d.%m.%Y").date() if c["end_date"] else date.max
            periods.setdefault((c["driver_person_id"], c["registration_number"]), []).append(
                (datetime.strptime(c["start_date"], "%d.%m.%Y").date(), end))
    trips = [rec for _, _, rec in _good_records(out, report, "drive_log")]
    for t in trips:
        day = date.fromisoformat(t["trip_date"])
        assert any(a <= day <= b for a, b in periods.get((t["driver_person_id"], t["registration_number"].upper()),
                                                          [])), t["trip_id"]
        typed = datetime.fromisoformat(t["added_at"]).date()
        assert 0 <= (typed - day).days <= 3, t["trip_id"]
    drivers = {t["driver_person_id"] for t in trips}
    assert 3 <= len(drivers) < len({d for d, _ in periods}) / 2   # a share of the drivers keep a log
    assert {t["trip_type"] for t in trips} == {"work", "leisure"}
    assert {t["added_by"] for t in trips} >= {"driver", "fleet_manager"}
    assert any(not t["start_point"] or not t["end_point"] for t in trips)
    assert sum(1 for t in trips if t["start_point"] and t["end_point"]) > len(trips) / 2
    assert any(datetime.fromisoformat(t["added_at"]).date() > date.fromisoformat(t["trip_date"]) for t in trips)


def test_odometer_readings_follow_each_other_but_for_the_reported_findings(landing: tuple[Path, dict]) -> None:
    out, report = landing
    trips = [rec for _, _, rec in _good_records(out, report, "drive_log")]
    by_plate: dict[str, list[dict]] = {}
    for t in trips:
        by_plate.setdefault(t["registration_number"].upper(), []).append(t)
    pairs = contiguous = overlaps = 0
    for ts in by_plate.values():
        ts.sort(key=lambda t: (t["trip_date"], t["trip_id"]))
        for prev, nxt in zip(ts, ts[1:]):
            pairs += 1
            contiguous += int(nxt["start_km"]) == int(prev["end_km"])
            overlaps += int(nxt["start_km"]) < int(prev["end_km"])
    mismatches = sum(1 for t in trips if int(t["distance_km"]) != int(t["end_km"]) - int(t["start_km"]))
    rules = report["business_rule_rows"]
    assert (overlaps, mismatches) == (rules["drive_log.odometer_overlap"], rules["drive_log.distance_mismatch"])
    assert contiguous >= 0.7 * pairs and all(int(t["end_km"]) >= int(t["start_km"]) for t in trips)


def test_kyc_records_follow_the_crm(landing: tuple[Path, dict]) -> None:
    out, report = landing
    persons: dict[str, dict] = {}
    for _, _, rec in _good_records(out, report, "crm_persons"):
        if rec["person_id"] not in persons or rec["updated_at"] >= persons[rec["person_id"]]["updated_at"]:
            persons[rec["person_id"]] = rec
    companies = {rec["business_id"] for _, _, rec in _good_records(out, report, "crm_companies")}
    records = [rec for _, _, rec in _good_records(out, report, "kyc")]
    checks = [r for r in records if r["record_type"] == "identity_verification"]
    assert checks and all((r["ssn"] or None) == (persons[r["person_id"]]["ssn"] or None) for r in checks)
    assert {persons[r["person_id"]]["customer_type"] for r in checks} == {"private", "business_contact"}
    assert all(r["business_id"] == persons[r["person_id"]]["business_id"] for r in checks)
    owners = [r for r in records if r["record_type"] == "beneficial_owner"]
    assert owners and all(25 < float(r["ownership_pct"]) <= 100 and r["business_id"] in companies for r in owners)
    assert any(r["person_id"] in persons for r in owners) and any(not r["person_id"] for r in owners)
    assert {r["is_pep"] for r in records if r["record_type"] == "pep_check"} <= {"true", "false"}
    # relationships that ended more than five years before as-of (due for the KYC deletion), none over ten
    ended = [date.fromisoformat(persons[r["person_id"]]["relationship_end"]) for r in checks
             if persons[r["person_id"]]["relationship_end"]]
    assert any(e < AS_OF.replace(year=AS_OF.year - 5) for e in ended)
    assert all(e > AS_OF.replace(year=AS_OF.year - 10) for e in ended)
    # a delta source: some records are delivered again, checked again later
    versions: dict[str, int] = {}
    for r in records:
        versions[r["kyc_id"]] = versions.get(r["kyc_id"], 0) + 1
    assert max(versions.values()) > 1


def test_increment_matches_master(landing: tuple[Path, dict], tmp_path: Path) -> None:
    out, report = landing
    calls: list[tuple[str, int, int]] = []
    inc = generate_landing(tmp_path, as_of=AS_OF + timedelta(days=1), days=1, master=False, persons=SMALL["persons"],
                           seed=SMALL["seed"], progress=lambda *a: calls.append(a)).to_dict()
    assert {c[0] for c in calls} == {"fuel", "wash", "web", "location"} and all(c[1] == c[2] for c in calls)
    names = {(s, n) for s, files in inc["files"].items() for n in files}
    assert {s for s, _ in names} == {"fuel", "wash", "web", "crm_persons", "contracts", "consents", "drive_log",
                                     "location", "kyc"}
    assert not names & {(s, n) for s, files in report["files"].items() for n in files}
    master_ids = {rec["person_id"] for _, rec in read_records(out / "crm_persons" / min(report["files"]["crm_persons"]),
                                                               "crm_persons") if isinstance(rec, dict)}
    delta = next(iter(inc["files"]["crm_persons"]))
    assert {rec["person_id"] for _, rec in read_records(tmp_path / "crm_persons" / delta, "crm_persons")} <= master_ids
    plates = {rec["registration_number"] for rec in _contracts_final(out).values() if rec["registration_number"]}
    fuel = [rec for _, rec in read_records(tmp_path / "fuel" / next(iter(inc["files"]["fuel"])), "fuel")
            if isinstance(rec, dict) and rec.get("registration_number")]
    known = sum(1 for rec in fuel if rec["registration_number"].upper() in plates)
    assert fuel and known >= 0.9 * len(fuel)
    # the contracts delta re-exports contracts the master delivered (same ids), as a daily export would
    master_contracts = set(_contracts_final(out))
    delta_contracts = [rec for _, rec in read_records(tmp_path / "contracts" / next(iter(inc["files"]["contracts"])),
                                                      "contracts") if isinstance(rec, dict)]
    assert delta_contracts and {rec["contract_id"] for rec in delta_contracts} <= master_contracts


def test_increment_delivers_the_days_trips_pings_and_kyc_updates(landing: tuple[Path, dict], tmp_path: Path) -> None:
    out, report = landing
    day = AS_OF + timedelta(days=1)
    inc = generate_landing(tmp_path, as_of=day, days=1, master=False, persons=SMALL["persons"],
                           seed=SMALL["seed"]).to_dict()
    master_trips = {rec["trip_id"]: rec for _, _, rec in _good_records(out, report, "drive_log")}
    trips = [rec for _, _, rec in _good_records(tmp_path, inc, "drive_log")]
    assert trips and not {t["trip_id"] for t in trips} & set(master_trips)
    assert all(datetime.fromisoformat(t["added_at"]).date() == day for t in trips)
    # the car's odometer goes on from where the master's trips left it
    last = {}
    for t in master_trips.values():
        last[t["registration_number"].upper()] = max(last.get(t["registration_number"].upper(), 0), int(t["end_km"]))
    assert all(int(t["start_km"]) >= last.get(t["registration_number"].upper(), 0) for t in trips)
    pings = [rec for _, _, rec in _good_records(tmp_path, inc, "location")]
    assert pings and all(rec["recorded_at"].startswith(day.isoformat()) for rec in pings)
    # withheld exactly as the consents of the master and of the day say
    withheld, _ = _withheld_by_file(tmp_path, inc, _location_events(landing, (tmp_path, inc)))
    assert withheld == inc["withheld"]["location"] and sum(withheld.values()) > 0
    assert inc["expected_loaded_rows"]["location"] == len(pings) - sum(withheld.values()) > 0
    master_kyc = {rec["kyc_id"] for _, _, rec in _good_records(out, report, "kyc")}
    updates = [rec for _, _, rec in _good_records(tmp_path, inc, "kyc")]
    assert updates and {r["kyc_id"] for r in updates} <= master_kyc
    assert all(datetime.fromisoformat(r["updated_at"]).date() == day for r in updates)
    assert not inc["bad_rows"] and not inc["withheld_lines"]
