"""Location is collected only with consent (RULES.md §2): a ping whose person had no ``location_tracking`` grant in
force at its ``recorded_at`` is withheld — counted, and stored nowhere: not in a table, not in any file under the
home (the archived copy has its line blanked), not in the database file's bytes. Messages name places, never
values."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from ingest.loader import LoadContext, ingest_sources
from tests.support import AS_OF

CONSENT_HEADER = "consent_event_id,person_id,purpose,channel,action,recorded_at,source"


def ping(ping_id: str, person_id: str, recorded_at: str, lat: float = 60.1, lon: float = 24.9, **extra) -> dict:
    return {"ping_id": ping_id, "person_id": person_id, "registration_number": "XYZ-9", "recorded_at": recorded_at,
            "lat": lat, "lon": lon, "accuracy_m": 5.0, "speed_kmh": 10.0, **extra}


def consents(*rows: str) -> str:
    return "\n".join([CONSENT_HEADER, *rows]) + "\n"


def event(event_id: str, person_id: str, action: str, at: str, purpose: str = "location_tracking",
          channel: str = "any") -> str:
    return f"{event_id},{person_id},{purpose},{channel},{action},{at},mobile_app"


def loaded_pings(landing) -> list[str]:
    return [r[0] for r in landing.rows("select ping_id from raw.location order by ping_id")]


def home_bytes(home: Path) -> dict[str, bytes]:
    """Every file under the home, gzip decompressed."""
    out = {}
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        out[str(path.relative_to(home))] = data
    return out


def places_holding(landing, needles: list[str]) -> list[str]:
    """Tables and files (the database file after a CHECKPOINT) that hold any of the needles."""
    places = []
    for schema, table in landing.rows("select table_schema, table_name from information_schema.tables"):
        text = "\n".join(map(repr, landing.rows(f'select * from "{schema}"."{table}"')))
        if any(n in text for n in needles):
            places.append(f"table {schema}.{table}")
    landing.con.execute("checkpoint")
    for name, data in home_bytes(landing.home).items():
        if any(n.encode() in data for n in needles):
            places.append(f"file {name}")
    return places


def test_the_samples_ping_without_a_grant_is_withheld_and_the_others_load(samples_landing: Path):
    con = duckdb.connect(str(samples_landing / "warehouse.duckdb"))
    out = ingest_sources(con, LoadContext(samples_landing, samples_landing / "landing", AS_OF, "samples"))
    location = out["location"]
    assert (location.rows_loaded, location.rows_quarantined, location.rows_withheld) == (2, 0, 1)
    assert [r[0] for r in con.execute("select ping_id from raw.location order by 1").fetchall()] == [
        "L000000001", "L000000002"]
    assert con.execute("select rows_in, rows_loaded, rows_quarantined, rows_withheld from raw.file_manifest "
                       "where source = 'location'").fetchall() == [(3, 2, 0, 1)]
    assert con.execute("select count(*) from raw.quarantine where source = 'location'").fetchall()[0][0] == 0
    con.close()


def test_a_withheld_ping_is_in_no_table_no_file_and_not_in_the_database_bytes(landing):
    landing.write("consents", "c.csv", consents(event("K1", "P000101", "grant", "2026-01-01T00:00:00Z")))
    kept = ping("L0000000KEPT", "P000101", "2026-11-20T06:00:00Z", lat=61.918273, lon=23.817263)
    withheld = ping("L0000WITHHELD", "P000102", "2026-11-20T06:00:00Z", lat=62.736451, lon=26.645372)
    landing.write_jsonl("location", "l.jsonl.gz", [kept, withheld], gz=True)
    out = landing.load()["location"]
    assert (out.rows_loaded, out.rows_withheld) == (1, 1)
    needles = ["L0000WITHHELD", "62.736451", "26.645372"]
    assert places_holding(landing, needles) == []
    # the same search finds the kept ping (in raw.location, the archive and the database file): it can fail
    found = places_holding(landing, ["L0000000KEPT"])
    assert "table raw.location" in found and "file warehouse.duckdb" in found
    assert any(p.startswith("file archive/location/") for p in found)


def test_the_archived_copy_blanks_the_withheld_line_and_keeps_line_numbers(landing):
    landing.write("consents", "c.csv", consents(event("K1", "P1", "grant", "2026-01-01T00:00:00Z")))
    rows = [ping("L1", "P1", "2026-11-20T06:00:00Z"), ping("L2", "P2", "2026-11-20T06:00:00Z"),
            ping("L3", "P1", "2026-11-20T06:01:00Z")]
    landing.write_jsonl("location", "l.jsonl.gz", rows, gz=True)
    landing.load()
    assert landing.rows("select ping_id, _line from raw.location order by _line") == [("L1", 1), ("L3", 3)]
    (archive,) = (landing.home / "archive" / "location").iterdir()
    lines = gzip.decompress(archive.read_bytes()).decode().splitlines()
    assert lines[1] == "{}" and '"L1"' in lines[0] and '"L3"' in lines[2] and len(lines) == 3


def test_a_grant_delivered_in_the_same_run_in_a_later_file_lets_the_pings_in(landing):
    # location files sort before the consents files; the grant is in the consents file that sorts last
    landing.write_jsonl("location", "a_location.jsonl.gz", [ping("L1", "P1", "2026-11-20T06:00:00Z"),
                                                            ping("L2", "P2", "2026-11-20T06:00:00Z")], gz=True)
    landing.write("consents", "a_consents.csv", consents(event("K1", "P2", "grant", "2026-11-19T00:00:00Z",
                                                               purpose="profiling")))
    landing.write("consents", "z_consents.csv", consents(event("K2", "P1", "grant", "2026-11-19T00:00:00Z")))
    out = landing.load()
    assert loaded_pings(landing) == ["L1"]
    assert (out["location"].rows_loaded, out["location"].rows_withheld) == (1, 1)


def test_the_raw_location_asset_depends_on_the_consents_asset():
    from dagster_project.definitions import defs
    from dagster_project.defs.raw import raw_asset_key

    graph = defs.resolve_asset_graph()
    assert raw_asset_key("consents") in graph.get(raw_asset_key("location")).parent_keys


def test_a_ping_before_the_grant_or_after_a_withdrawal_or_objection_is_withheld(landing):
    landing.write("consents", "c.csv", consents(
        event("K1", "P1", "grant", "2026-11-20T10:00:00Z"),
        event("K2", "P1", "withdraw", "2026-11-20T12:00:00+02:00"),   # 10:00 UTC, same instant: the later id wins
        event("K3", "P1", "grant", "2026-11-20T14:00:00Z"),
        event("K4", "P2", "grant", "2026-11-01T00:00:00Z"),
        event("K5", "P2", "object", "2026-11-20T08:00:00Z"),
        event("K6", "P3", "grant", "2026-11-01T00:00:00Z", purpose="direct_marketing", channel="email"),
        event("K7", "P4", "grant", "2026-11-01T00:00:00Z"),
    ))
    landing.write_jsonl("location", "l.jsonl.gz", [
        ping("L01", "P1", "2026-11-20T09:59:59Z"),   # before the grant
        ping("L02", "P1", "2026-11-20T10:00:00Z"),   # grant and withdrawal at the same instant: withdrawn
        ping("L03", "P1", "2026-11-20T13:59:59Z"),   # after the withdrawal
        ping("L04", "P1", "2026-11-20T14:00:00Z"),   # at the new grant
        ping("L05", "P2", "2026-11-20T07:59:59Z"),   # before the objection
        ping("L06", "P2", "2026-11-20T08:00:01Z"),   # after the objection
        ping("L07", "P3", "2026-11-20T08:00:00Z"),   # a marketing grant is no location grant
        ping("L08", "P9", "2026-11-20T08:00:00Z"),   # never any consent event
        ping("L09", "P4", "2026-11-20T08:00:00Z"),
    ], gz=True)
    (f,) = landing.load()["location"].files
    assert loaded_pings(landing) == ["L04", "L05", "L09"]
    assert (f.rows_in, f.rows_loaded, f.rows_quarantined, f.rows_withheld) == (9, 3, 0, 6)


def test_a_corrected_consent_event_replaces_the_earlier_version(landing):
    landing.write("consents", "a.csv", consents(event("K1", "P1", "grant", "2026-11-01T00:00:00Z")))
    landing.load()
    landing.write("consents", "b.csv", consents(event("K1", "P1", "withdraw", "2026-11-01T00:00:00Z")))
    landing.write_jsonl("location", "l.jsonl.gz", [ping("L1", "P1", "2026-11-20T06:00:00Z")], gz=True)
    out = landing.load()["location"]
    assert loaded_pings(landing) == [] and out.rows_withheld == 1


def test_conservation_with_quarantined_and_withheld_pings(landing):
    landing.write("consents", "c.csv", consents(event("K1", "P1", "grant", "2026-01-01T00:00:00Z")))
    landing.write_jsonl("location", "l.jsonl.gz", [
        ping("L1", "P1", "2026-11-20T06:00:00Z"),
        ping("L2", "P1", "2026-11-20T06:00:00Z", lat=91),              # consented, out of range: quarantined
        ping("L3", "P1", "2026-11-20T08:00:00+02:00"),                 # consented, not UTC: quarantined
        ping("L4", "P2", "2026-11-20T06:00:00Z", lat=91),              # no consent: withheld, not quarantined
        {"ping_id": "L5", "recorded_at": "2026-11-20T06:00:00Z", "lat": 1, "lon": 1},  # no person: withheld
        '{"ping_id": "L6", "person_id": "P1", "lat": ',                # malformed: withheld
        "",                                                            # a blank line is no row
    ], gz=True)
    out = landing.load()["location"]
    (f,) = out.files
    assert (f.rows_in, f.rows_loaded, f.rows_quarantined, f.rows_withheld) == (6, 1, 2, 3)
    assert f.rows_in == f.rows_loaded + f.rows_quarantined + f.rows_withheld
    assert landing.rows("select line, reason from raw.quarantine where source = 'location' order by line") == [
        (2, "range:lat"), (3, "pattern:recorded_at")]
    assert landing.rows("select rows_in, rows_loaded, rows_quarantined, rows_withheld from raw.file_manifest "
                        "where source = 'location'") == [(6, 1, 2, 3)]


def test_a_duplicate_location_file_is_kept_without_the_withheld_lines(landing):
    landing.write("consents", "c.csv", consents(event("K1", "P1", "grant", "2026-01-01T00:00:00Z")))
    rows = [ping("L1", "P1", "2026-11-20T06:00:00Z"), ping("L0DUPWITHHELD", "P2", "2026-11-20T06:00:00Z")]
    path = landing.write_jsonl("location", "a.jsonl.gz", rows, gz=True)
    data = path.read_bytes()
    landing.load()
    landing.write("location", "b.jsonl.gz", data)
    out = landing.load()["location"]
    assert out.count("duplicate") == 1
    assert places_holding(landing, ["L0DUPWITHHELD"]) == []
    (dup,) = (landing.home / "duplicates" / "location").iterdir()
    assert gzip.decompress(dup.read_bytes()).decode().splitlines()[1] == "{}"


def test_a_rejected_location_file_is_recorded_and_not_kept(landing):
    landing.write("consents", "c.csv", consents(event("K1", "P1", "grant", "2026-01-01T00:00:00Z")))
    whole = gzip.compress(b'{"ping_id": "L0REJECTED", "person_id": "P2"}\n' * 200, mtime=0)
    landing.write("location", "l.jsonl.gz", whole[: len(whole) // 2])   # truncated gzip
    out = landing.load()["location"]
    assert out.count("rejected") == 1
    assert landing.rows("select status, archive_path from raw.file_manifest where source = 'location'") == [
        ("rejected", None)]
    assert places_holding(landing, ["L0REJECTED"]) == []


def test_a_home_without_the_new_source_folders_loads_as_before(landing):
    landing.write("consents", "c.csv", consents(event("K1", "P1", "grant", "2026-01-01T00:00:00Z")))
    out = landing.load()
    assert {s for s, o in out.items() if o.files} == {"consents"}
    assert all(landing.scalar(f"select count(*) from raw.{s}") == 0 for s in ("drive_log", "location", "kyc"))


def test_the_cli_samples_run_leaves_no_trace_of_the_withheld_sample_ping(tmp_path: Path):
    """The loader's archive of the samples (also what ``fleetdw run`` archives) holds the kept pings only."""
    from tests.support import SAMPLES

    home = tmp_path / "home"
    shutil.copytree(SAMPLES, home / "landing")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    ingest_sources(con, LoadContext(home, home / "landing", AS_OF, "samples"))
    con.execute("checkpoint")
    con.close()
    files = home_bytes(home)
    assert [name for name, data in files.items() if b"L000000003" in data or b"60.2934" in data] == []
    assert any(b"L000000001" in data for name, data in files.items() if name.startswith("archive/location/"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.sampled_from(['{"a": 1}', '{"b": "x\\u00e4"}', "", " ", "{", "\ufeff{}"]), max_size=30),
       ends=st.one_of(st.sampled_from(["\n", "\r\n", "\r"]).map(lambda end: [end] * 30),
                      st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=30, max_size=30)),
       last_end=st.booleans(), piece=st.integers(1, 16), gz=st.booleans(),
       mask=st.lists(st.booleans(), min_size=30, max_size=30))
@example(lines=['{"a": 1}', '{"a": 1}', " ", '{"a": 1}'], ends=["\n", "\n", "\r\n"] + ["\n"] * 27, last_end=True,
         piece=16, gz=False, mask=[False] * 3 + [True] + [False] * 26)   # DuckDB: five lines, the last one withheld
def test_the_archived_copy_blanks_exactly_the_lines_duckdb_numbers(tmp_path: Path, monkeypatch, lines, ends,
                                                                   last_end, piece, gz, mask):
    """Whatever the line ends (``\r``, ``\r\n``, ``\n``, mixed; one at a piece's end), blank lines and the last
    line's end, the archived copy blanks the lines DuckDB's reader numbers as withheld, and DuckDB reads every other
    line of it with the same text and number; a file of ``\n`` line ends is copied byte for byte but for those
    lines. (A file DuckDB's reader cannot split is rejected whole by the loader and never gets here. Mixed ``\r``
    and ``\n`` are where a copy that split at every ``\r\n``, ``\n`` and ``\r`` blanked the wrong line.)"""
    import ingest.loader as L
    from ingest.lines import numbered_lines_sql

    monkeypatch.setattr(L, "WRITE_PIECE", piece)
    ends = ends[: len(lines)]
    if lines and not last_end:
        ends[-1] = ""
        if lines[-1] == "":   # an empty last line without a line end is no line
            lines, ends = lines[:-1], ends[:-1]
    text = "".join(line + end for line, end in zip(lines, ends))
    assume(text.count("\r\n") == ends.count("\r\n"))   # "\r" then an empty line ended by "\n" is one line end
    raw = text.encode()
    src = tmp_path / f"in{len(list(tmp_path.iterdir()))}.jsonl{'.gz' if gz else ''}"
    src.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    try:
        numbered = duckdb.connect().execute(numbered_lines_sql(src)).fetchall()
    except duckdb.InvalidInputException:
        assume(False)
    drop = {n for n, _ in numbered if mask[(n - 1) % len(mask)]}
    out = src.with_name("out_" + src.name)
    assert L.write_without_lines(src, out, drop) == len(drop)
    after = duckdb.connect().execute(numbered_lines_sql(out)).fetchall()
    assert after == [(n, "{}" if n in drop else line) for n, line in numbered]
    if "\r" not in text:   # then the copy is the file's bytes but for the blanked lines
        written = out.read_bytes()
        assert (gzip.decompress(written) if gz else written) == "".join(
            ("{}" if n + 1 in drop else line) + end for n, (line, end) in enumerate(zip(lines, ends))).encode()
