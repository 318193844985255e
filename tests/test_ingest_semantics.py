"""Loading semantics of SOURCES.md: duplicates, corrections, delta, events, full lists, archive."""

from __future__ import annotations

from tests.support.rows import PERSON_HEADER, fuel, person

ROBINSON_HEADER = "first_name,last_name,street_address,postal_code,phone"


def test_same_content_under_another_name_loads_nothing(landing):
    landing.write_jsonl("fuel", "fuel_1.jsonl", [fuel(transaction_id="F1")])
    landing.load("fuel")
    landing.write_jsonl("fuel", "fuel_1_copy.jsonl", [fuel(transaction_id="F1")])
    out = landing.load("fuel")["fuel"]
    assert [f.status for f in out.files] == ["duplicate"]
    assert landing.scalar("select count(*) from raw.fuel") == 1
    assert landing.scalar("select count(*) from raw.duplicate_deliveries") == 1


def test_event_redelivered_with_changed_content_is_a_correction(landing):
    landing.write_jsonl("fuel", "fuel_1.jsonl", [fuel(transaction_id="F1", liters=40.0), fuel(transaction_id="F2")])
    landing.load("fuel")
    landing.write_jsonl("fuel", "fuel_2.jsonl", [fuel(transaction_id="F1", liters=42.5)])
    landing.load("fuel")
    assert landing.scalar("select count(*) from raw.fuel") == 3  # every accepted version is kept
    assert landing.rows("select transaction_id, liters from raw.fuel_current order by 1") == [
        ("F1", 42.5), ("F2", 48.2)]


def test_delta_greatest_updated_at_wins_even_from_an_older_file(landing):
    landing.write("crm_persons", "persons_1.csv", "\n".join([
        PERSON_HEADER, person(person_id="P1", city="Espoo", updated_at="2026-11-20T10:00:00+02:00")]) + "\n")
    landing.write("crm_persons", "persons_2.csv", "\n".join([
        PERSON_HEADER, person(person_id="P1", city="Turku", updated_at="2026-11-19T10:00:00+02:00")]) + "\n")
    landing.load("crm_persons")
    assert landing.rows("select city from raw.crm_persons_current") == [("Espoo",)]


def test_delta_tie_on_updated_at_goes_to_the_later_file(landing):
    for name, city in (("persons_1.csv", "Espoo"), ("persons_2.csv", "Turku")):
        landing.write("crm_persons", name, "\n".join([
            PERSON_HEADER, person(person_id="P1", city=city, updated_at="2026-11-20T10:00:00+02:00")]) + "\n")
    landing.load("crm_persons")
    assert landing.rows("select city from raw.crm_persons_current") == [("Turku",)]


def test_delta_key_is_never_deleted_by_omission(landing):
    landing.write("crm_persons", "persons_1.csv", "\n".join([PERSON_HEADER, person(person_id="P1"),
                                                               person(person_id="P2")]) + "\n")
    landing.load("crm_persons")
    landing.write("crm_persons", "persons_2.csv", "\n".join([PERSON_HEADER, person(person_id="P2",
                                                               updated_at="2026-11-21T10:00:00+02:00")]) + "\n")
    landing.load("crm_persons")
    assert landing.rows("select person_id from raw.crm_persons_current order by 1") == [("P1",), ("P2",)]


def test_files_of_a_source_load_in_name_order(landing):
    landing.write_jsonl("fuel", "fuel_b.jsonl", [fuel(transaction_id="F1", liters=2.0)])
    landing.write_jsonl("fuel", "fuel_a.jsonl", [fuel(transaction_id="F1", liters=1.0)])
    landing.load("fuel")
    assert landing.rows("select _file from raw.fuel order by _load_id") == [("fuel_a.jsonl",), ("fuel_b.jsonl",)]
    assert landing.scalar("select liters from raw.fuel_current") == 2.0


def test_newest_robinson_list_replaces_the_previous_one(landing):
    landing.write("robinson", "robinson_2026-10.csv", ROBINSON_HEADER + "\nA,B,Katu 1,00100,\n,,,,+358401111111\n")
    landing.load("robinson")
    landing.write("robinson", "robinson_2026-11.csv", ROBINSON_HEADER + "\n,,,,+358402222222\n")
    landing.load("robinson")
    assert landing.rows("select phone from raw.robinson_current") == [("+358402222222",)]


def test_rejected_robinson_file_keeps_the_previous_list(landing):
    landing.write("robinson", "robinson_2026-10.csv", ROBINSON_HEADER + "\n,,,,+358401111111\n")
    landing.load("robinson")
    landing.write("robinson", "robinson_2026-11.csv", "<html>\n")
    landing.load("robinson")
    assert landing.rows("select phone from raw.robinson_current") == [("+358401111111",)]


def test_loaded_file_moves_to_archive_with_lineage(landing):
    landing.write_jsonl("fuel", "fuel_1.jsonl", [fuel(transaction_id="F1")])
    landing.load("fuel")
    assert not any((landing.root / "fuel").iterdir())
    archived = landing.scalar("select archive_path from raw.file_manifest")
    assert archived.startswith(str(landing.home / "archive" / "fuel"))
    assert landing.rows("select _file, _line, _load_id from raw.fuel") == [("fuel_1.jsonl", 1, 1)]


def test_manifest_records_counts_and_run(landing):
    landing.write_jsonl("fuel", "fuel_1.jsonl", [fuel(transaction_id="F1"), fuel(transaction_id="F2", liters=999)])
    landing.load("fuel")
    assert landing.rows("select status, rows_in, rows_loaded, rows_quarantined, run_id, as_of::varchar "
                        "from raw.file_manifest") == [("loaded", 2, 1, 1, "test-run-1", "2026-11-22")]
