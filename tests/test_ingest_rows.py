"""Row-level bad input goes to quarantine with a reason; the rest of the file loads (SOURCES.md)."""

from __future__ import annotations

import pytest

from tests.support.rows import GOOD_PERSON, PERSON_HEADER, fuel, person


@pytest.mark.parametrize("overrides, reason", [
    ({"person_id": ""}, "required:person_id"),
    ({"person_id": "X12"}, "pattern:person_id"),
    ({"updated_at": "yesterday"}, "type:updated_at"),
    ({"updated_at": "2026-11-19T16:02:11"}, "type:updated_at"),  # a timestamp needs an offset or Z
    ({"relationship_start": "2019-02-30"}, "type:relationship_start"),
    ({"customer_type": "vip"}, "enum:customer_type"),
    ({"ssn": "240385-123U"}, "checksum:ssn"),
    ({"ssn": "24038-5123T"}, "pattern:ssn"),
    ({"business_id": "1234567-2"}, "checksum:business_id"),
    ({"email": "aino.example.fi"}, "pattern:email"),
    ({"email": "aino@examplefi"}, "pattern:email"),
    ({"postal_code": "0010"}, "pattern:postal_code"),
    ({"phone": "12"}, "pattern:phone"),
])
def test_bad_person_row_is_quarantined_with_reason(landing, overrides, reason):
    landing.write("crm_persons", "p.csv", "\n".join([PERSON_HEADER, person(person_id="P000001"),
                                                      person(**overrides)]) + "\n")
    out = landing.load("crm_persons")["crm_persons"]
    assert (out.rows_loaded, out.rows_quarantined) == (1, 1)
    (line, got), = landing.rows("select line, reason from raw.quarantine")
    assert line == 3
    assert reason in got.split(";")


def test_every_broken_rule_of_a_row_is_listed(landing):
    landing.write("crm_persons", "p.csv", "\n".join([PERSON_HEADER, person(email="x", postal_code="1")]) + "\n")
    landing.load("crm_persons")
    assert landing.scalar("select reason from raw.quarantine") == "pattern:email;pattern:postal_code"


@pytest.mark.parametrize("overrides, reason", [
    ({"liters": 301.0}, "range:liters"),
    ({"liters": 0}, "range:liters"),
    ({"liters": "lots"}, "type:liters"),
    ({"amount_eur": -1}, "range:amount_eur"),
    ({"product": "Petrol"}, "enum:product"),
    ({"registration_number": "1234"}, "pattern:registration_number"),
    ({"refueled_at": ...}, "required:refueled_at"),
    ({"liters": ...}, "rule:liters_required"),
    ({"product": "EV", "liters": ..., "kwh": 500}, "range:kwh"),
    ({"product": "EV", "liters": ...}, "rule:kwh_required"),
])
def test_bad_fuel_row_is_quarantined_with_reason(landing, overrides, reason):
    landing.write_jsonl("fuel", "f.jsonl", [fuel(transaction_id="F0"), fuel(**overrides)])
    out = landing.load("fuel")["fuel"]
    assert (out.rows_loaded, out.rows_quarantined) == (1, 1)
    (line, got), = landing.rows("select line, reason from raw.quarantine")
    assert line == 2
    assert reason in got.split(";")


def test_invalid_json_line_is_quarantined_and_others_load(landing):
    landing.write_jsonl("fuel", "f.jsonl", [fuel(transaction_id="F1"), '{"transaction_id": "F2", "liters": ',
                                            "[1, 2]", fuel(transaction_id="F4")])
    out = landing.load("fuel")["fuel"]
    assert (out.rows_loaded, out.rows_quarantined) == (2, 2)
    assert landing.rows("select line, reason from raw.quarantine order by line") == [
        (2, "malformed:json"), (3, "malformed:json")]
    assert landing.rows("select transaction_id, _line from raw.fuel order by _line") == [("F1", 1), ("F4", 4)]


def test_csv_row_with_wrong_field_count_is_quarantined_and_lines_stay_aligned(landing):
    rows = [PERSON_HEADER, person(person_id="P1"), person(person_id="P2") + ",extra", person(person_id="P3"),
            "P4,only,three", person(person_id="P5")]
    landing.write("crm_persons", "p.csv", "\n".join(rows) + "\n")
    out = landing.load("crm_persons")["crm_persons"]
    assert (out.rows_loaded, out.rows_quarantined) == (3, 2)
    assert landing.rows("select person_id, _line from raw.crm_persons order by _line") == [
        ("P1", 2), ("P3", 4), ("P5", 6)]
    reasons = landing.rows("select line, reason from raw.quarantine order by line")
    assert [r[0] for r in reasons] == [3, 5]
    assert all(r[1].startswith("malformed:csv_") for r in reasons)


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_a_csv_record_s_line_is_the_physical_line_it_starts_on(landing, end):
    """DuckDB's CSV reader skips blank lines and reads a quoted line break as part of its field, so its count of
    records is no line number there: each record's line (lineage, quarantine, the archive's rewrite) is the
    physical line it starts on."""
    rows = [PERSON_HEADER, person(person_id="P1"), "P9,only,three", "", person(person_id="P2",
            street_address='"Kotikatu 1' + end + 'B 7"'), person(person_id="P3") + ",extra", "", "",
            person(person_id="P4")]
    landing.write("crm_persons", "p.csv", end.join(rows) + end)
    out = landing.load("crm_persons")["crm_persons"]
    assert (out.rows_loaded, out.rows_quarantined) == (3, 2)
    assert landing.rows("select person_id, _line from raw.crm_persons order by _line") == [
        ("P1", 2), ("P2", 5), ("P4", 10)]
    assert landing.rows("select line from raw.quarantine order by line") == [(3,), (7,)]
    assert landing.scalar("select street_address from raw.crm_persons where person_id = 'P2'") == \
        "Kotikatu 1" + end + "B 7"


def test_quarantine_keeps_the_raw_record(landing):
    landing.write_jsonl("fuel", "f.jsonl", [fuel(liters=301.0)])
    landing.load("fuel")
    raw = landing.scalar("select raw_record from raw.quarantine")
    assert '"liters": 301.0' in raw


def test_finnish_spreadsheet_csv_is_typed(landing, samples_landing):
    src = samples_landing / "landing" / "contracts" / "fleet_contracts_20261120.csv"
    landing.write("contracts", src.name, src.read_bytes())
    landing.load("contracts")
    row = landing.rows(
        "select start_date::varchar, total_monthly::varchar, replacement_car_right, "
        "strftime(updated_at at time zone 'UTC', '%Y-%m-%d %H:%M') from raw.contracts where contract_id = 'C000501'")
    assert row == [("2024-03-15", "719.90", True, "2026-11-20 05:45")]


def test_contract_with_both_customers_is_quarantined(landing, samples_landing):
    src = (samples_landing / "landing" / "contracts" / "fleet_contracts_20261120.csv").read_text()
    header, first, *rest = src.splitlines()
    both = first.replace("C000501;1234567-1;;", "C000900;1234567-1;P000101;")
    landing.write("contracts", "c.csv", "\n".join([header, first, both]) + "\n")
    landing.load("contracts")
    assert landing.scalar("select reason from raw.quarantine") == "rule:one_customer"


def test_bom_and_shuffled_upper_case_header_load(landing):
    names = PERSON_HEADER.split(",")
    order = list(reversed(names))
    values = dict(zip(names, GOOD_PERSON.split(",")))
    text = "\ufeff" + ",".join(n.upper() if i % 2 else f" {n} " for i, n in enumerate(order)) + "\n"
    text += ",".join(values[n] for n in order) + "\n"
    landing.write("crm_persons", "p.csv", text)
    out = landing.load("crm_persons")["crm_persons"]
    assert (out.rows_loaded, out.rows_quarantined) == (1, 0)
    assert landing.rows("select person_id, postal_code, customer_type from raw.crm_persons") == [
        ("P000101", "00100", "private")]


def test_unknown_column_is_reported_as_drift_and_not_loaded(landing):
    landing.write("crm_persons", "p.csv", PERSON_HEADER + ",loyalty_tier\n" + person() + ",gold\n")
    out = landing.load("crm_persons")["crm_persons"]
    assert out.rows_loaded == 1
    assert out.metadata()["drift_columns"] == ["loyalty_tier"]
    assert "loyalty_tier" not in [r[0] for r in landing.rows("describe raw.crm_persons")]
    assert landing.scalar("select drift_columns from raw.file_manifest") == ["loyalty_tier"]


def test_json_drift_is_reported(landing):
    landing.write_jsonl("fuel", "f.jsonl", [fuel(loyalty_card="123")])
    out = landing.load("fuel")["fuel"]
    assert out.metadata()["drift_columns"] == ["loyalty_card"]



def _web(event_id: str, **extra) -> dict:
    return {"event_id": event_id, "event_time": "2026-11-20T06:00:00Z", "event_type": "page_view",
            "consent_analytics": "true", "consent_marketing": "false", **extra}


def test_json_drift_is_looked_for_in_the_first_lines_of_a_gzipped_file(landing):
    """The drift sample reads the first lines of the file's text (gzip read through; blank and broken lines are
    lines too) and stops at DRIFT_SAMPLE_LINES: a key first seen after them is not reported."""
    import gzip
    import json

    from ingest.loader import DRIFT_SAMPLE_LINES

    lines = ["", "{broken", json.dumps(_web("E1", loyalty_card="1"))]
    lines += [json.dumps(_web(f"E{i}")) for i in range(2, DRIFT_SAMPLE_LINES)]
    lines.append(json.dumps(_web("ELAST", late_field="x")))
    landing.write("web", "w.jsonl.gz", gzip.compress("\r\n".join(lines).encode(), mtime=0))
    out = landing.load("web")["web"]
    assert (out.rows_loaded, out.rows_quarantined) == (DRIFT_SAMPLE_LINES, 1)
    assert out.metadata()["drift_columns"] == ["loyalty_card"]
