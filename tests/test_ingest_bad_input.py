"""Bad input, generated (hypothesis): valid sample files of every source, mutated at random — truncated at any
byte, random bytes, invalid UTF-8, NUL bytes, mixed line ends, unbalanced quotes, a huge field, nested or
non-object JSON, duplicate headers, empty and header-only files. For every file the load does not crash, and
either rows in = rows loaded + rows quarantined (+ rows withheld), or the file is rejected whole with a reason."""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.contracts import SOURCES
from ingest.loader import LoadContext, Loader
from tests.support import AS_OF, SAMPLES

SAMPLE_FILES = {s: next((SAMPLES / s).iterdir()) for s in SOURCES}


def _text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _mutate(data: bytes, kind: str, draw) -> bytes:
    lines = data.split(b"\n")
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "random_bytes":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    if kind == "invalid_utf8":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\xff\xfe\xc3" + data[at:]
    if kind == "nul":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\x00" * draw(st.integers(1, 4)) + data[at:]
    if kind == "line_ends":
        ends = draw(st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=len(lines), max_size=len(lines)))
        return b"".join(line + end for line, end in zip(lines, ends))
    if kind == "unbalanced_quote":
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        lines[i] = lines[i] + b'"'
        return b"\n".join(lines)
    if kind == "huge_field":
        i = draw(st.integers(1, max(len(lines) - 1, 1)))
        lines.insert(i, b"x" * 2_000_000)
        return b"\n".join(lines)
    if kind == "json_shapes":
        shape = draw(st.sampled_from([b"[1, 2]", b"42", b'"text"', b"null", json.dumps(
            {"a": [[[[{"b": [[[[1]]]]}]]]]}).encode(), b"{" * 200]))
        i = draw(st.integers(0, len(lines)))
        lines.insert(i, shape)
        return b"\n".join(lines)
    if kind == "duplicate_header":
        return lines[0] + b"\n" + b"\n".join(lines)
    if kind == "empty":
        return b""
    if kind == "header_only":
        return lines[0] + b"\n"
    raise ValueError(kind)


KINDS = ["truncate", "random_bytes", "invalid_utf8", "nul", "line_ends", "unbalanced_quote", "huge_field",
         "json_shapes", "duplicate_header", "empty", "header_only"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(sorted(SOURCES)), kind=st.sampled_from(KINDS), data=st.data())
def test_a_mutated_file_is_loaded_with_conservation_or_rejected_whole(source: str, kind: str, data):
    sample = SAMPLE_FILES[source]
    mutated = _mutate(_text(sample), kind, data.draw)
    if sample.name.endswith(".gz"):
        mutated = gzip.compress(mutated, mtime=0)
    root = Path(tempfile.mkdtemp(prefix="fleetdw-bad-"))
    try:
        folder = root / "landing" / source
        folder.mkdir(parents=True)
        (folder / sample.name).write_bytes(mutated)
        con = duckdb.connect(str(root / "warehouse.duckdb"))
        try:
            outcome = Loader(con, LoadContext(root, root / "landing", AS_OF, "bad-input")).ingest(SOURCES[source])
        finally:
            con.close()
        assert len(outcome.files) == 1
        f = outcome.files[0]
        if f.status == "rejected":
            assert f.reason and f.rows_loaded == 0
        else:
            assert f.status == "loaded", f.status
            assert f.rows_in == f.rows_loaded + f.rows_quarantined + f.rows_withheld
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_header_name_with_quotes_is_drift_not_sql(landing):
    """A delivered header is text, never SQL: an unknown column named with quotes is reported as drift."""
    sample = _text(SAMPLE_FILES["consents"]).decode()
    header, rest = sample.split("\n", 1)
    landing.write("consents", "consents_2026-11-21.csv", header + ',x"); drop table raw.file_manifest; --\n'
                  + "\n".join(line + "," if line else line for line in rest.split("\n")))
    outcome = landing.load("consents")["consents"]
    f = outcome.files[0]
    assert f.status == "loaded" and f.rows_loaded > 0 and f.rows_in == f.rows_loaded + f.rows_quarantined
    assert len(f.drift_columns) == 1
    assert landing.scalar("select count(*) from raw.file_manifest") == 1
