"""The landing-archive rewrite and the post-deletion verification on small files: lines found by lineage and by
identifier are blanked in one pass, every other line keeps its number, and a leaked identifier is found in the
tables, the database file and the archive files alike. The identifiers are made up; assertions compare counts."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from dagster_project.retention import archive as A

SUBJECT = "P990001"
EMAIL = "erased.subject@example.invalid"
OTHER = "P990002"


def _jsonl(rows: list[str], crlf: bool = False) -> bytes:
    return ("\r\n" if crlf else "\n").join(rows).encode() + (b"\r\n" if crlf else b"\n")


ROWS = [f'{{"person_id": "{OTHER}", "n": 1}}',
        f'{{"person_id": "{SUBJECT}", "n": 2}}',          # by identifier
        '{"person_id": null, "n": 3}',                    # by lineage only
        "",                                               # a blank line keeps its number
        f'{{"person_id": "{OTHER}", "email": "{EMAIL}", "n": 5}}',   # by identifier (another kind)
        f'{{"person_id": "{OTHER}", "n": 6}}']


def _text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / "web" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def _blanked(path: Path) -> list[int]:
    return [i for i, line in enumerate(_text(path).splitlines(), 1) if line == b"{}"]


@pytest.mark.parametrize("name,crlf,chunk", [("a.jsonl", False, None), ("a.jsonl.gz", False, None),
                                             ("a.jsonl", True, None), ("a.jsonl.gz", False, 40)])
def test_lines_found_by_identifier_but_not_by_lineage_are_blanked_too(tmp_path: Path, monkeypatch, name: str,
                                                                      crlf: bool, chunk: int | None):
    if chunk:   # a file of several pieces: line numbers carry over from piece to piece
        monkeypatch.setattr(A, "CHUNK", chunk)
    src = _write(tmp_path, name, _jsonl(ROWS, crlf))
    tmp = src.with_name(src.name + A.ERASING_SUFFIX + "test")
    A._rewrite_without(src, tmp, {3}, {SUBJECT, EMAIL})
    assert _blanked(tmp) == [2, 3, 5]
    assert len(_text(tmp).splitlines()) == len(ROWS)
    assert _text(tmp).count(b"\r\n") == (len(ROWS) if crlf else 0)
    assert (tmp.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    assert not A.file_holds(tmp, {SUBJECT, EMAIL})
    assert A.file_holds(tmp, {OTHER})   # read through gzip under its waiting name too


def test_a_line_with_the_text_of_a_lineage_line_is_blanked_wherever_it_is(tmp_path: Path):
    rows = ['{"n": 1}', '{"plate": "XZZ-999"}', '{"n": 3}', '{"plate": "XZZ-999"}']
    src = _write(tmp_path, "b.jsonl", _jsonl(rows))
    tmp = src.with_name(src.name + A.ERASING_SUFFIX + "test")
    A._rewrite_without(src, tmp, {2}, set())
    assert _blanked(tmp) == [2, 4]


def test_a_csv_record_is_blanked_as_empty_fields_as_wide_as_the_header(tmp_path: Path):
    path = tmp_path / "crm_persons" / "persons.csv"
    path.parent.mkdir()
    path.write_bytes(f"person_id,email,city\n{OTHER},,Oulu\n{SUBJECT},{EMAIL},Oulu\n".encode())
    tmp = path.with_name(path.name + A.ERASING_SUFFIX + "test")
    A._rewrite_without(path, tmp, set(), {EMAIL})
    assert tmp.read_bytes().splitlines()[2] == b",,"
    assert len(tmp.read_bytes().splitlines()) == 3


def test_file_holds_reads_gzip_through_and_a_broken_gzip_as_bytes(tmp_path: Path):
    packed = _write(tmp_path, "c.jsonl.gz", _jsonl(ROWS))
    broken = tmp_path / "d.jsonl.gz"
    broken.write_bytes(f"not gzip {EMAIL}".encode())
    assert A.file_holds(packed, {EMAIL}) and A.file_holds(broken, {EMAIL})
    assert not A.file_holds(packed, {"P990999"}) and not A.file_holds(broken, {"P990999"})
