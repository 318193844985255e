"""File-level bad input rejects the whole file with a reason, and the other files still load."""

from __future__ import annotations

import gzip
import json

from tests.support.rows import GOOD_PERSON, PERSON_HEADER, fuel


def _web_event(i: int) -> dict:
    return {"event_id": f"E{i}", "event_time": "2026-11-20T10:00:01Z", "event_type": "page_view",
            "cookie_id": "c-1", "user_id": None, "ip_address": "84.250.17.203", "user_agent": "UA",
            "page_url": "https://www.example.fi/", "referrer": None, "search_query": None,
            "consent_analytics": True, "consent_marketing": False}


def _rejected(landing, source: str) -> list[tuple]:
    return landing.rows("select file_name, reason from raw.file_manifest where status = 'rejected' "
                        "and source = ? order by load_id", [source])


def test_non_utf8_csv_is_rejected_and_next_file_loads(landing):
    landing.write("crm_persons", "a.csv", (PERSON_HEADER + "\n" + GOOD_PERSON.replace("Aino", "Äinö") + "\n")
                  .encode("latin-1"))
    landing.write("crm_persons", "b.csv", PERSON_HEADER + "\n" + GOOD_PERSON + "\n")
    out = landing.load("crm_persons")["crm_persons"]
    assert _rejected(landing, "crm_persons") == [("a.csv", "not UTF-8 decodable")]
    assert out.rows_loaded == 1 and landing.scalar("select count(*) from raw.quarantine") == 0


def test_non_utf8_in_header_is_rejected(landing):
    landing.write("crm_persons", "a.csv", ("nimi_ä," + PERSON_HEADER + "\n").encode("latin-1"))
    landing.load("crm_persons")
    assert _rejected(landing, "crm_persons") == [("a.csv", "not UTF-8 decodable")]


def test_missing_required_column_rejects_file(landing):
    header = PERSON_HEADER.replace(",updated_at", "")
    row = GOOD_PERSON.rsplit(",", 1)[0]
    landing.write("crm_persons", "a.csv", header + "\n" + row + "\n")
    landing.load("crm_persons")
    assert _rejected(landing, "crm_persons") == [("a.csv", "required column(s) absent: updated_at")]
    assert landing.scalar("select count(*) from raw.crm_persons") == 0


def test_binary_garbage_is_rejected(landing):
    landing.write("wash", "w.csv", bytes(range(256)) * 4)
    landing.load("wash")
    assert _rejected(landing, "wash") == [("w.csv", "not a text file (binary content)")]


def test_html_page_as_csv_is_rejected(landing):
    landing.write("robinson", "r.csv", "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
    landing.load("robinson")
    assert _rejected(landing, "robinson") == [("r.csv", "not a CSV file of this source (no known column in header)")]


def test_html_page_as_jsonl_is_rejected(landing):
    landing.write("fuel", "f.jsonl", "<html>\n<body>error</body>\n</html>\n")
    landing.load("fuel")
    assert _rejected(landing, "fuel") == [("f.jsonl", "not JSON Lines (no line is a JSON object)")]
    assert landing.scalar("select count(*) from raw.quarantine") == 0


def test_truncated_gzip_is_rejected_and_other_web_files_load(landing):
    data = gzip.compress("".join(json.dumps(_web_event(i)) + "\n" for i in range(2000)).encode(), mtime=0)
    landing.write("web", "web_1.jsonl.gz", data[: len(data) // 2])
    landing.write_jsonl("web", "web_2.jsonl.gz", [_web_event(i) for i in range(3)], gz=True)
    out = landing.load("web")["web"]
    assert _rejected(landing, "web") == [("web_1.jsonl.gz", "truncated or corrupt gzip")]
    assert out.rows_loaded == 3
    assert landing.scalar("select count(*) from raw.web") == 3


def test_rejected_file_is_moved_out_and_recorded_with_hash(landing):
    landing.write("fuel", "f.jsonl", "<html>\n")
    landing.load("fuel")
    assert not (landing.root / "fuel" / "f.jsonl").exists()
    assert list((landing.home / "rejected" / "fuel").iterdir())[0].name.endswith("f.jsonl")
    assert len(landing.scalar("select content_hash from raw.file_manifest")) == 64


def test_rejected_content_delivered_again_is_not_retried(landing):
    landing.write("fuel", "f.jsonl", "<html>\n")
    landing.load("fuel")
    landing.write("fuel", "f_again.jsonl", "<html>\n")
    out = landing.load("fuel")["fuel"]
    assert [f.status for f in out.files] == ["duplicate"]
    assert landing.scalar("select count(*) from raw.file_manifest") == 1


def test_file_with_wrong_extension_is_rejected(landing):
    landing.write("fuel", "f.csv", "transaction_id\n")
    landing.load("fuel")
    assert _rejected(landing, "fuel") == [("f.csv", "unexpected file type (expected *.jsonl)")]


def test_partial_uploads_and_hidden_files_are_left_alone(landing):
    landing.write("fuel", "f.jsonl.part", "{}")
    landing.write("fuel", ".f.jsonl", "{}")
    out = landing.load("fuel")["fuel"]
    assert out.files == []
    assert (landing.root / "fuel" / "f.jsonl.part").exists()


def test_rejection_reason_never_quotes_file_content(landing):
    marker = "SECRET-MARKER-4711"
    landing.write("fuel", "f.jsonl", f"<html>{marker}\n")
    data = gzip.compress(((json.dumps(fuel(station_name=marker)) + "\n") * 500).encode(), mtime=0)
    landing.write("web", "w.jsonl.gz", data[:200])
    landing.load()
    reasons = " ".join(r[0] for r in landing.rows("select coalesce(reason, '') from raw.file_manifest"))
    assert marker not in reasons
