"""The privacy layer end to end on generated data: the marketing export contains exactly the persons RULES.md §1
allows (computed here in plain Python from the landing files), exports are logged Dagster runs without person
identifiers, profiling tables hold no direct identifier and no objector and are k-anonymous, the analyst copy is
clean, manual reviews are recorded under pseudonyms, and the pseudonym key is nowhere on disk but its key file.

The pipeline is built once per test session (under a file lock, so the two xdist workers share it) and copied per
worker; assertions compare counts and sets of ids only, never contact details.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import shutil
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import phonenumbers
import pytest

from dagster_project.privacy.declarations import VALUE_PATTERNS, scan_values
from tests.support import AS_OF, REPO
from tests.support.cli import fleetdw
from tests.support.dbt import read_rows

pytestmark = pytest.mark.heavy(5)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

HELSINKI = ZoneInfo("Europe/Helsinki")


# --------------------------------------------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def home(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This worker's own copy of the built home (DuckDB allows one writing process per file)."""
    dst = tmp_path_factory.mktemp("privacy") / "home"
    shutil.copytree(day_one / "home", dst)
    return dst


@pytest.fixture(scope="module")
def report(day_one: Path) -> dict:
    return json.loads((day_one / "report.json").read_text())


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    return read_rows(home / "warehouse.duckdb", sql, params)


def key_of(home: Path) -> bytes:
    return bytes.fromhex((home / "secrets" / "pseudonym.key").read_text().strip())


def read_export(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------------------------------
# RULES.md §1 in plain Python over the landing files (independent of the loader and of dbt)

def _e164(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    try:
        return phonenumbers.format_number(phonenumbers.parse(raw, "FI"), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return None


def _rows(landing: Path, source: str, report: dict) -> list[tuple[str, int, dict]]:
    """(file, line, row) of every row that loads: files in name order, rejected files and broken lines skipped."""
    skipped_files = {f["file"] for f in report["bad_files"] + report["duplicate_files"] if f["source"] == source}
    bad_lines = {(b["file"], b["line"]) for b in report["bad_rows"] if b["source"] == source}
    out = []
    for path in sorted((landing / source).iterdir()):
        if path.name in skipped_files:
            continue
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        header = [h.strip().lower() for h in next(reader)]
        for values in reader:
            if (path.name, reader.line_num) in bad_lines or not any(values):
                continue
            out.append((path.name, reader.line_num, {h: (v if v != "" else None) for h, v in zip(header, values)}))
    return out


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expected_eligible(landing: Path, report: dict, channel: str) -> dict[str, str]:
    """person_id -> contact detail of every person RULES.md §1 allows on ``channel`` (email or phone)."""
    persons: dict[str, tuple] = {}
    for file, line, row in _rows(landing, "crm_persons", report):
        rank = (_ts(row["updated_at"]), file, line)       # greatest updated_at, ties: later file
        if row["person_id"] not in persons or rank >= persons[row["person_id"]][0]:
            persons[row["person_id"]] = (rank, row)
    consents: dict[str, tuple] = {}
    for file, line, row in _rows(landing, "consents", report):
        consents[row["consent_event_id"]] = row             # a re-delivered event id replaces the earlier one
    robinson_files = sorted({f for f, _, _ in _rows(landing, "robinson", report)})
    robinson = [r for f, _, r in _rows(landing, "robinson", report) if f == robinson_files[-1]]
    listed_phones = {_e164(r.get("phone")) for r in robinson} - {None}
    norm = lambda v: (v or "").strip().lower()  # noqa: E731
    listed_names = {(norm(r.get("first_name")), norm(r.get("last_name")), norm(r.get("street_address")),
                     norm(r.get("postal_code"))) for r in robinson if r.get("street_address")}

    decisive: dict[str, tuple] = {}
    for row in consents.values():
        if row["purpose"] != "direct_marketing" or row["channel"] not in (channel, "any"):
            continue
        if _ts(row["recorded_at"]).astimezone(HELSINKI).date() > AS_OF:
            continue
        rank = (_ts(row["recorded_at"]), row["consent_event_id"])
        if row["person_id"] not in decisive or rank > decisive[row["person_id"]][0]:
            decisive[row["person_id"]] = (rank, row["action"])

    out: dict[str, str] = {}
    for person_id, (_, p) in persons.items():
        private = p["customer_type"] == "private" or (p["customer_type"] == "prospect" and not (p["business_id"] or "").strip())
        contact = (p["email"] or "").strip().lower() if channel == "email" else _e164(p["phone"])
        if not contact:
            continue
        state = {"grant": "granted", None: "none"}.get(decisive.get(person_id, (None, None))[1], "refused")
        on_list = _e164(p["phone"]) in listed_phones or (
            norm(p["first_name"]), norm(p["last_name"]), norm(p["street_address"]), norm(p["postal_code"])) in listed_names
        if not private:
            allowed = state != "refused"
        elif channel in ("email", "sms"):
            allowed = state == "granted"
        else:
            allowed = state != "refused" and not on_list
        if allowed:
            out[person_id] = contact
    return out


# --------------------------------------------------------------------------------------------------------------
# §1 marketing exports

def spreadsheet_text(value: str) -> str:
    """OWASP: a cell that begins with =, +, -, @, a tab or a carriage return gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_export_contains_exactly_the_persons_the_rules_allow(home: Path, day_one: Path, report: dict,
                                                             channel: str):
    out = home / f"all_contacts_{channel}.csv"
    fleetdw(home, "segments", "export", "all_contacts", "--channel", channel, "--out", str(out))
    rows = read_export(out)
    allowed = expected_eligible(day_one / "source_landing", report, channel)
    # Erased persons are never eligible: those the run's retention erased are gone from the raw CRM table.
    still_held = {r[0] for r in query(home, "select person_id from raw.crm_persons_current")}
    expected = {p: c for p, c in allowed.items() if p in still_held}
    assert len(allowed) - len(expected) < len(allowed) // 5
    got = {r["person_id"] for r in rows}
    assert len(expected) > 20, "the generated data must hold eligible persons"
    assert len(rows) == len(got), "one row per person"
    assert got == set(expected), f"{len(got - set(expected))} too many, {len(set(expected) - got)} missing"
    wrong_contact = sum(1 for r in rows if r["contact"] != spreadsheet_text(expected[r["person_id"]]))
    assert wrong_contact == 0, "the contact column holds the channel's own contact detail"
    assert {r["channel"] for r in rows} == {channel}


def test_export_columns_are_only_the_channels_contact_and_segment_columns(home: Path):
    out = home / "contract_ending_post.csv"
    fleetdw(home, "segments", "export", "contract_ending", "--channel", "post", "--out", str(out))
    with open(out, encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == ["person_id", "channel", "contact", "contract_role", "contract_id", "contract_end_date"]
    rows = read_export(out)
    assert sum(1 for r in rows if "@" in r["contact"] or r["contact"].startswith("+")) == 0
    ineligible = query(home, "select count(*) from privacy.marketing_eligibility where channel = 'post' "
                             "and not eligible and person_id in (select unnest(?))", [[r["person_id"] for r in rows]])
    assert ineligible[0][0] == 0


def test_contract_ending_holds_customers_and_drivers_of_active_contracts_ending_within_180_days(home: Path):
    expected = {r[0] for r in query(home, """
        select unnest([customer_person_id, driver_person_id]) from marts.dim_contract
        where status = 'active' and end_date between date '2026-11-22' and date '2026-11-22' + 180""") if r[0]}
    got = {r[0] for r in query(home, "select person_id from privacy.segment_contract_ending")}
    assert got == expected and len(got) > 0


def test_every_export_is_logged_and_is_a_dagster_run_without_person_identifiers(home: Path):
    out = home / "ev_email.csv"
    proc = fleetdw(home, "segments", "export", "ev_prospects", "--channel", "email", "--out", str(out))
    rows = read_export(out)
    log = query(home, "select export_id, segment, channel, as_of, row_count, exported_by from ops.segment_exports "
                      "where segment = 'ev_prospects' and channel = 'email'")
    assert len(log) == 1
    export_id, _, _, as_of, row_count, by = log[0]
    assert (as_of, row_count, by) == (AS_OF, len(rows), "marketing.tester")
    assert export_id in proc.stdout
    # The Dagster run exists in the home's run storage, and no exported person id is anywhere in that storage.
    ids = {r["person_id"] for r in rows}
    blob = b"".join(p.read_bytes() for p in (home / "dagster").rglob("*") if p.is_file())
    assert export_id.encode() in blob
    assert sum(1 for i in ids if i.encode() in blob) == 0, "person ids leaked into Dagster storage"


def test_unknown_segment_is_a_one_line_error(home: Path):
    proc = fleetdw(home, "segments", "export", "no_such", "--channel", "email", "--out", str(home / "x.csv"),
                   check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_segments_list_names_the_three_segments(home: Path):
    out = fleetdw(home, "segments", "list").stdout
    assert all(name in out for name in ("all_contacts", "contract_ending", "ev_prospects"))


# --------------------------------------------------------------------------------------------------------------
# §2 profiling

PROFILING_TABLES = ("customer_profile", "vehicle_usage_profile", "renewal_offer_decisions")


def _manifest():
    from dagster_project.manifest import load_manifest
    return load_manifest()


def test_profiling_holds_no_direct_identifier(home: Path):
    from dagster_project.privacy.audit import direct_identifier_findings

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        found = direct_identifier_findings(con, _manifest())
        columns = {r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'profiling'").fetchall()}
    finally:
        con.close()
    assert found == {}
    assert not columns & {"person_id", "email", "phone", "first_name", "last_name", "ssn", "street_address",
                          "registration_number", "vin", "birth_date", "ip_address", "cookie_id", "postal_code"}


def test_profiling_tables_are_k_anonymous(home: Path):
    from dagster_project.privacy.audit import k_anonymity_violations

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        bad = k_anonymity_violations(con, _manifest())
    finally:
        con.close()
    assert set(bad) == set(PROFILING_TABLES)
    assert sum(bad.values()) == 0


def test_every_profiling_column_is_a_quasi_identifier_or_declared_non_identifying():
    import copy

    from dagster_project.privacy.audit import quasi_identifiers, undeclared_profiling_columns

    manifest = _manifest()
    assert undeclared_profiling_columns(manifest) == []
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n.get("schema") == "profiling"}
    # spend bands are quasi-identifiers (RULES.md §2), in every profiling table that publishes one
    assert {"fuel_spend_band", "power_source", "vehicle_class"} <= set(quasi_identifiers(nodes["vehicle_usage_profile"]))
    # a new band column without a declaration is found
    planted = copy.deepcopy(manifest)
    node = next(n for n in planted["nodes"].values() if n.get("name") == "vehicle_usage_profile")
    node["columns"]["tyre_wear_band"] = {"name": "tyre_wear_band", "meta": {}, "config": {"meta": {}}}
    assert undeclared_profiling_columns(planted) == ["vehicle_usage_profile.tyre_wear_band"]


def test_objectors_are_absent_from_every_profiling_table(home: Path):
    key = key_of(home)
    objectors = {r[0] for r in query(home, "select person_id from privacy.profiling_subjects where not is_profiled")}
    assert objectors, "the generated data holds profiling objectors"
    pseudonyms = {hmac.new(key, f"person:{p}".encode(), hashlib.sha256).hexdigest() for p in objectors}
    for table in ("customer_profile", "renewal_offer_decisions"):
        present = {r[0] for r in query(home, f"select person_pseudonym from profiling.{table}")}
        assert len(present & pseudonyms) == 0, f"objector in {table}"


def test_profile_pseudonym_is_the_hmac_of_the_person_id(home: Path):
    key = key_of(home)
    persons = [r[0] for r in query(home, "select person_id from privacy.profiling_subjects where is_profiled")]
    expected = {hmac.new(key, f"person:{p}".encode(), hashlib.sha256).hexdigest() for p in persons}
    published = {r[0] for r in query(home, "select person_pseudonym from profiling.customer_profile")}
    assert published and published <= expected


def test_location_derived_data_only_with_a_current_grant(home: Path):
    key = key_of(home)
    granted = {hmac.new(key, f"person:{p}".encode(), hashlib.sha256).hexdigest() for (p,) in query(
        home, "select person_id from privacy.profiling_subjects where has_location_grant")}
    rows = query(home, "select person_pseudonym, mobility_band from profiling.customer_profile")
    assert sum(1 for p, band in rows if band is not None and p not in granted) == 0
    assert sum(1 for p, band in rows if band is not None) > 0


def test_run_summary_reports_privacy_counts(day_one: Path):
    out = (day_one / "run_output.txt").read_text()
    summary = json.loads(out[: out.index("\n") if "\n" in out else None])
    assert summary["status"] == "success"
    assert summary["privacy"]["profiled"] > 0 and "k_suppressed" in summary["privacy"]


def test_privacy_asset_checks_pass_with_counts_only(day_one: Path):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(day_one / "home" / "dagster")) as instance:
        records = instance.get_event_records(dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1000)
        ours = [r.event_log_entry.dagster_event.event_specific_data for r in records]
        ours = [e for e in ours if e.asset_key == dg.AssetKey(["privacy", "audit"])]
    assert {e.check_name for e in ours} == {"k_anonymity", "no_direct_identifiers", "objectors_absent"}
    assert all(e.passed for e in ours)
    assert all(isinstance(v.value, (int, float)) for e in ours for v in e.metadata.values())


# --------------------------------------------------------------------------------------------------------------
# §2 automated decisions: manual review

def test_review_request_stores_the_pseudonym_only(home: Path):
    person = query(home, "select person_id from privacy.profiling_subjects where is_profiled order by 1 limit 1")[0][0]
    proc = fleetdw(home, "review", "request", person)
    assert person not in proc.stdout + proc.stderr
    expected = hmac.new(key_of(home), f"person:{person}".encode(), hashlib.sha256).hexdigest()
    stored = query(home, "select person_pseudonym from ops.review_requests")
    assert [r[0] for r in stored].count(expected) == 1
    queue = [json.loads(line) for line in fleetdw(home, "review", "list", "--json").stdout.splitlines()]
    assert any(q["person_pseudonym"] == expected for q in queue)
    blob = (home / "warehouse.duckdb").read_bytes()
    assert person.encode() in blob  # the person is in the CRM tables, of course ...
    assert query(home, "select count(*) from ops.review_requests where person_pseudonym = ?", [person])[0][0] == 0


def test_review_of_an_unknown_person_is_a_one_line_error(home: Path):
    proc = fleetdw(home, "review", "request", "P999999999", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "P999999999" not in proc.stderr


# --------------------------------------------------------------------------------------------------------------
# §7 analyst copy

def test_published_copy_holds_marts_and_profiling_only_without_direct_identifiers(home: Path):
    out = home / "analyst.duckdb"
    fleetdw(home, "publish", "--out", str(out))
    con = duckdb.connect(str(out), read_only=True)
    try:
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
        text_columns = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                                   "where data_type like 'VARCHAR%'").fetchall()
        hits: dict[str, int] = defaultdict(int)
        pseudonym_columns = 0
        for schema, table, column in text_columns:
            not_hex = con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" is not null and '
                                  f'not regexp_full_match("{column}", \'[0-9a-f]{{64}}\')').fetchall()[0][0]
            if not_hex == 0 and con.execute(f'select count("{column}") from "{schema}"."{table}"').fetchall()[0][0]:
                pseudonym_columns += 1      # HMAC pseudonyms only (hex digits can look like a phone number)
                continue
            for kind, n in scan_values(con, schema, table, column, sample_size=1_000_000).items():
                hits[kind] += n
            hits["person_id"] += con.execute(
                f'select count(*) from "{schema}"."{table}" where regexp_full_match("{column}", \'P[0-9]{{6}}\')'
            ).fetchall()[0][0]
    finally:
        con.close()
    assert schemas == {"marts", "profiling"}
    assert len(text_columns) > 20 and pseudonym_columns >= 8
    assert {k: n for k, n in hits.items() if n} == {}, "direct identifiers in the analyst copy"
    assert set(VALUE_PATTERNS) <= {"email", "henkilotunnus", "phone", "plate", "ipv4", "ipv6", "vin"}


# --------------------------------------------------------------------------------------------------------------
# the key never leaves its file

def test_pseudonym_key_is_nowhere_but_its_key_file(home: Path, day_one: Path):
    key = key_of(home)
    needles = [key, key.hex().encode(), key.hex().upper().encode()]
    places = [home / "warehouse.duckdb", *(p for p in (home / "dagster").rglob("*") if p.is_file()),
              *(p for d in ("target", "logs") for p in (REPO / "dbt" / d).rglob("*") if p.is_file()),
              *(p for p in (home / "reports").rglob("*") if p.is_file()), day_one / "run_output.txt"]
    wal = home / "warehouse.duckdb.wal"
    places += [wal] if wal.exists() else []
    def contains_key(path: Path) -> bool:
        try:
            data = path.read_bytes()
        except FileNotFoundError:      # dbt/target is shared with concurrent tests
            return False
        return any(n in data for n in needles)

    leaks = sum(1 for p in places if contains_key(p))
    assert len(places) > 10
    assert leaks == 0, f"the key was found in {leaks} file(s)"


def test_export_refuses_to_replace_a_file_without_force(home: Path):
    out = home / "existing.csv"
    out.write_text("someone else's file\n")
    proc = fleetdw(home, "segments", "export", "all_contacts", "--channel", "email", "--out", str(out), check=False)
    assert proc.returncode == 2 and "--force" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert out.read_text() == "someone else's file\n"
    fleetdw(home, "segments", "export", "all_contacts", "--channel", "email", "--out", str(out), "--force")
    assert read_export(out) and (out.stat().st_mode & 0o077) == 0


@pytest.mark.parametrize("value", ["=HYPERLINK(\"x\")", "+358401234567", "-1+1", "@SUM(A1)", "\tcmd", "\rcmd",
                                   "plain", "a=b", None])
def test_export_cells_that_a_spreadsheet_would_evaluate_are_written_as_text(value):
    from dagster_project.privacy.segments import spreadsheet_safe

    con = duckdb.connect()
    got = con.execute(f"select {spreadsheet_safe('v')} from (select ?::varchar as v)", [value]).fetchall()[0][0]
    assert got == (None if value is None else spreadsheet_text(value))
