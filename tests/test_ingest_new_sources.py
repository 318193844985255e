"""The Driver Assistant drive log and the KYC records load by their contracts: rule breaks go to quarantine with
their reasons, the drive log's distance mismatch is a business rule that loads, KYC is a delta by kyc_id."""

from __future__ import annotations

import pytest

TRIP_HEADER = ("trip_id,driver_person_id,registration_number,trip_date,start_km,end_km,distance_km,trip_type,"
               "start_point,end_point,added_by,added_at")
TRIP = {"trip_id": "T1", "driver_person_id": "P000102", "registration_number": "ABC-123", "trip_date": "2026-11-18",
        "start_km": "100", "end_km": "158", "distance_km": "58", "trip_type": "work", "start_point": "A",
        "end_point": "B", "added_by": "driver", "added_at": "2026-11-18T17:05:12+02:00"}
KYC_HEADER = ("kyc_id,record_type,person_id,business_id,full_name,ssn,document_type,document_number,"
              "document_expiry,ownership_pct,is_pep,verified_at,verified_by,updated_at")
KYC = {"kyc_id": "KYC1", "record_type": "identity_verification", "person_id": "P000101", "business_id": "",
       "full_name": "", "ssn": "", "document_type": "passport", "document_number": "X1", "document_expiry": "",
       "ownership_pct": "", "is_pep": "", "verified_at": "2019-03-28T10:15:00+03:00", "verified_by": "s1",
       "updated_at": "2019-03-28T10:15:00+03:00"}


def csv_row(base: dict, **overrides: str) -> str:
    return ",".join({**base, **overrides}.values())


def test_a_distance_mismatch_loads(landing):
    landing.write("drive_log", "d.csv", "\n".join([TRIP_HEADER, csv_row(TRIP, distance_km="60")]) + "\n")
    out = landing.load("drive_log")["drive_log"]
    assert (out.rows_loaded, out.rows_quarantined) == (1, 0)
    assert landing.rows("select start_km, end_km, distance_km from raw.drive_log") == [(100, 158, 60)]


@pytest.mark.parametrize("overrides, reason", [
    ({"trip_type": "holiday"}, "enum:trip_type"),
    ({"added_by": "robot"}, "enum:added_by"),
    ({"start_km": "-1"}, "range:start_km"),
    ({"end_km": ""}, "required:end_km"),
    ({"trip_date": "18.11.2026"}, "type:trip_date"),
    ({"driver_person_id": "X1"}, "pattern:driver_person_id"),
    ({"registration_number": "1234"}, "pattern:registration_number"),
])
def test_a_bad_trip_is_quarantined_with_its_reason(landing, overrides, reason):
    landing.write("drive_log", "d.csv", "\n".join([TRIP_HEADER, csv_row(TRIP), csv_row(TRIP, trip_id="T2",
                                                                                     **overrides)]) + "\n")
    out = landing.load("drive_log")["drive_log"]
    assert (out.rows_loaded, out.rows_quarantined) == (1, 1)
    (line, got), = landing.rows("select line, reason from raw.quarantine")
    assert line == 3 and reason in got.split(";")


@pytest.mark.parametrize("overrides, reason", [
    ({"person_id": "", "business_id": ""}, "rule:person_or_business"),
    ({"document_type": ""}, "rule:document_type_required"),
    ({"document_number": ""}, "rule:document_number_required"),
    ({"record_type": "beneficial_owner", "business_id": "1234567-1"}, "rule:full_name_required"),
    ({"record_type": "pep_check"}, "rule:is_pep_required"),
    ({"record_type": "audit"}, "enum:record_type"),
    ({"document_type": "library_card"}, "enum:document_type"),
    ({"ssn": "240385-123U"}, "checksum:ssn"),
    ({"business_id": "1234567-2"}, "checksum:business_id"),
    ({"ownership_pct": "100.5"}, "range:ownership_pct"),
    ({"is_pep": "yes"}, "type:is_pep"),
    ({"verified_at": ""}, "required:verified_at"),
])
def test_a_bad_kyc_record_is_quarantined_with_its_reason(landing, overrides, reason):
    landing.write("kyc", "k.csv", "\n".join([KYC_HEADER, csv_row(KYC), csv_row(KYC, kyc_id="KYC2",
                                                                             **overrides)]) + "\n")
    out = landing.load("kyc")["kyc"]
    assert (out.rows_loaded, out.rows_quarantined) == (1, 1)
    (line, got), = landing.rows("select line, reason from raw.quarantine")
    assert line == 3 and reason in got.split(";")


def test_a_record_type_requirement_met_loads(landing):
    landing.write("kyc", "k.csv", "\n".join([
        KYC_HEADER,
        csv_row(KYC, kyc_id="KYC2", record_type="beneficial_owner", person_id="", business_id="1234567-1",
                full_name="Owner", document_type="", document_number="", ownership_pct="62.5"),
        csv_row(KYC, kyc_id="KYC3", record_type="pep_check", document_type="", document_number="", is_pep="false"),
    ]) + "\n")
    out = landing.load("kyc")["kyc"]
    assert (out.rows_loaded, out.rows_quarantined) == (2, 0)


def test_kyc_is_a_delta_the_greatest_updated_at_wins(landing):
    landing.write("kyc", "a.csv", "\n".join([KYC_HEADER, csv_row(KYC, document_number="NEW",
                                                                 updated_at="2024-01-01T00:00:00Z")]) + "\n")
    landing.write("kyc", "b.csv", "\n".join([KYC_HEADER, csv_row(KYC, document_number="OLD",
                                                                 updated_at="2023-01-01T00:00:00Z")]) + "\n")
    landing.load("kyc")
    assert landing.rows("select document_number from raw.kyc_current") == [("NEW",)]
    assert landing.scalar("select count(*) from raw.kyc") == 2
