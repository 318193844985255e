"""Conservation on generated data: for every file of every source, rows in = rows loaded + rows quarantined
(+ rows withheld for lack of consent),
the quarantined lines are exactly the defective ones, and rejected files load nothing."""

from __future__ import annotations

import shutil
from collections import Counter

import duckdb
import pytest

from dagster_project.synthetic import generate_landing
from ingest.contracts import SOURCES
from ingest.loader import LoadContext, Loader

from tests.support import AS_OF

# What a generator defect kind may be called in quarantine (the reason's prefix).
REASON_KINDS = {
    "missing_required": {"required", "rule"}, "bad_date": {"type"}, "bad_timestamp": {"type", "pattern"},
    "bad_number": {"type"}, "bad_bool": {"type"}, "bad_enum": {"enum"}, "out_of_range": {"range"},
    "bad_pattern": {"pattern"}, "bad_checksum": {"checksum"}, "invalid_json": {"malformed"},
    "wrong_field_count": {"malformed"},
}
FILE_REASONS = {
    "not_utf8": "not UTF-8 decodable", "missing_required_column": "required column(s) absent",
    "not_parseable": "not JSON Lines", "truncated_gzip": "truncated or corrupt gzip",
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    home = tmp_path_factory.mktemp("conservation")
    report = generate_landing(home / "landing", persons=150, days=5, seed=7, as_of=AS_OF)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    loader = Loader(con, LoadContext(home, home / "landing", AS_OF, "run-1"))
    outcomes = {name: loader.ingest(source) for name, source in SOURCES.items()}
    yield report, outcomes, con
    con.close()


@pytest.mark.parametrize("source", list(SOURCES))
def test_rows_in_equal_rows_loaded_plus_quarantined_for_every_file(loaded, source):
    report, outcomes, con = loaded
    bad_files = {f.file for f in report.bad_files if f.source == source}
    duplicates = {d.file for d in report.duplicate_files if d.source == source}
    by_file = {f.file: f for f in outcomes[source].files}
    assert set(by_file) == set(report.files.get(source, {}))
    for name, data_lines in report.files.get(source, {}).items():
        out = by_file[name]
        if name in duplicates:
            assert out.status == "duplicate" and out.rows_loaded == 0
        elif name in bad_files:
            assert out.status == "rejected" and out.rows_loaded == 0 and out.rows_quarantined == 0
        else:
            assert out.status == "loaded"
            assert out.rows_in == data_lines == out.rows_loaded + out.rows_quarantined + out.rows_withheld
    table_rows = con.execute(f"select count(*) from raw.{source}").fetchall()[0][0]
    assert table_rows == outcomes[source].rows_loaded == report.expected_loaded_rows.get(source, 0)
    # the location pings the generator expects to be withheld for want of consent, file by file
    assert {f: o.rows_withheld for f, o in by_file.items() if o.rows_withheld} == report.withheld.get(source, {})


@pytest.mark.parametrize("source", list(SOURCES))
def test_quarantine_holds_exactly_the_defective_lines(loaded, source):
    report, _, con = loaded
    expected = {(b.file, b.line): b.kind for b in report.bad_rows if b.source == source}
    got = {(f, line): reason for f, line, reason in con.execute(
        "select file_name, line, reason from raw.quarantine where source = ?", [source]).fetchall()}
    assert set(got) == set(expected)
    for key, kind in expected.items():
        prefixes = {r.split(":")[0] for r in got[key].split(";")}
        assert prefixes & REASON_KINDS[kind], f"{source} {key}: {kind} quarantined as {got[key]}"


def test_every_defect_kind_is_exercised(loaded):
    report, _, _ = loaded
    assert set(Counter(b.kind for b in report.bad_rows)) == set(REASON_KINDS)
    assert {f.kind for f in report.bad_files} == set(FILE_REASONS)


def test_rejected_files_carry_the_right_reason(loaded):
    report, _, con = loaded
    reasons = {(s, f): r for s, f, r in con.execute(
        "select source, file_name, reason from raw.file_manifest where status = 'rejected'").fetchall()}
    assert set(reasons) == {(f.source, f.file) for f in report.bad_files}
    for f in report.bad_files:
        assert reasons[(f.source, f.file)].startswith(FILE_REASONS[f.kind])


def test_current_views_hold_the_expected_keys(loaded):
    report, _, con = loaded
    for source in ("crm_persons", "crm_companies", "contracts", "consents", "drive_log", "location", "kyc"):
        n = con.execute(f"select count(*) from raw.{source}_current").fetchall()[0][0]
        assert n == report.expected_keys[source], source


def test_stale_delta_rows_lose_and_corrections_win(loaded):
    report, _, con = loaded
    assert report.stale_rows and report.corrections
    for row in report.stale_rows:
        key = SOURCES[row.source].key[0]
        current = con.execute(f'select _file, _line from raw.{row.source}_current where "{key}" = ?',
                              [row.key]).fetchall()
        assert current and current[0] != (row.file, row.line)
    for row in report.corrections:
        key = SOURCES[row.source].key[0]
        current = con.execute(f'select _file, _line from raw.{row.source}_current where "{key}" = ?',
                              [row.key]).fetchall()
        assert current == [(row.file, row.line)]


def test_schema_drift_is_reported(loaded):
    report, _, con = loaded
    drift = {(s, f): list(c) for s, f, c in con.execute(
        "select source, file_name, drift_columns from raw.file_manifest where len(drift_columns) > 0").fetchall()}
    assert drift == {(d.source, d.file): list(d.extra_columns) for d in report.drift_files}


def test_a_landing_zone_without_the_driver_assistant_and_kyc_loads_the_rest(loaded, tmp_path):
    """A company without the Driver Assistant service (and KYC export) delivers no drive_log/, location/, kyc/."""
    report, outcomes, _ = loaded
    home = tmp_path / "home"
    generate_landing(home / "landing", persons=150, days=5, seed=7, as_of=AS_OF)
    absent = ("drive_log", "location", "kyc")
    for source in absent:
        shutil.rmtree(home / "landing" / source)
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        got = {name: Loader(con, LoadContext(home, home / "landing", AS_OF, "run-1")).ingest(source)
               for name, source in SOURCES.items()}
        for name in SOURCES:
            expected = 0 if name in absent else report.expected_loaded_rows[name]
            assert (got[name].rows_loaded, len(got[name].files)) == (
                expected, 0 if name in absent else len(outcomes[name].files)), name
    finally:
        con.close()
