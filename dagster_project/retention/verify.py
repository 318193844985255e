"""Post-deletion verification: no erased identifier remains in any table of the fresh database file, in its bytes,
or in a rewritten landing-archive file. Only counts come back; the identifiers exist in this process's memory.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.retention.archive import file_holds
from dagster_project.retention.control import now
from dagster_project.retention.needles import pattern, private_query, values
from dagster_project.retention.selection import base_tables, relation_columns, relation_exists
from ingest.contracts import SOURCES
from ingest.validation import q

TEXT_TYPES = ("VARCHAR", "JSON")
# A subject's plate or VIN stays where another row still refers to it (the vehicle outlives its driver): it must be
# gone only when no raw row refers to it any more.
VEHICLE_COLUMNS = {"plate": "registration_number", "vin": "vin"}


def needles_to_verify(con: duckdb.DuckDBPyConnection, ids: dict[str, set[str]]) -> set[str]:
    """What must be gone after the erasure committed on ``con``: the subjects' own identifiers, and their plates
    and VINs that no raw row (any source whose contract has the column) still refers to."""
    final = ids["person_id"] | ids["ssn"] | ids["email"] | ids["phone"] | ids["cookie"]
    for kind, column in VEHICLE_COLUMNS.items():
        still: set[str] = set()
        for rel in (f"raw.{s.name}" for s in SOURCES.values() if column in s.column_names):
            if relation_exists(con, rel) and column in relation_columns(con, rel) and ids[kind]:
                still |= values(con, f"select distinct \"{column}\" from {rel} where \"{column}\" in "
                                     f"(select unnest(?::varchar[]))", [list(ids[kind])])
        final |= ids[kind] - still
    return final


def scan_tables(db: Path, needles: set[str]) -> tuple[int, int]:
    """(tables scanned, rows holding any needle in any text column), inside DuckDB (counts only)."""
    regex = pattern(needles)
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = base_tables(con)
        hits = 0
        for rel, cols in tables.items():
            text = [c for c, t in cols.items() if t.upper().startswith(TEXT_TYPES) or t.upper().endswith("[]")]
            if not text or not regex:
                continue
            cond = " or ".join(f"regexp_matches(cast(\"{c}\" as varchar), {q(regex)})" for c in text)
            hits += private_query(con, f"select count(*) from {rel} where {cond}")[0][0]
        return len(tables), int(hits)
    finally:
        con.close()


def grep_bytes(paths: list[Path], needles: set[str]) -> int:
    """Occurrences of any needle in the raw bytes of files (GNU grep -F, patterns on stdin, output kept in memory)."""
    existing = [str(p) for p in paths if p.exists()]
    if not needles or not existing:
        return 0
    proc = subprocess.run(["grep", "-a", "-o", "-F", "-c", "-f", "-", *existing], input="\n".join(sorted(needles)),
                          capture_output=True, text=True)
    total = 0
    for line in proc.stdout.splitlines():
        count = line.rsplit(":", 1)[-1]
        total += int(count) if count.isdigit() else 0
    return total


def verify(db: Path, needles: set[str], rewritten: list[Path], deleted: list[Path]) -> dict[str, int]:
    tables_scanned, table_hits = scan_tables(db, needles)
    file_hits = grep_bytes([db, db.with_name(db.name + ".wal")], needles)
    archive_hits = sum(1 for f in rewritten if f.exists() and file_holds(f, needles))
    return {"identifiers": len(needles), "tables_scanned": tables_scanned, "table_hits": table_hits,
            "file_hits": file_hits, "archive_hits": archive_hits, "deleted_files": len(deleted),
            "passed": int(table_hits == 0 and file_hits == 0 and archive_hits == 0)}


def record_verification(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, subjects: int,
                        detail: dict[str, int]) -> None:
    """One row of ``ops.verification_results`` (the gate ``previous_verification_passed`` reads the last one)."""
    con.execute("insert into ops.verification_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, as_of, now(), subjects, detail["identifiers"], detail["tables_scanned"],
                 detail["table_hits"], detail["file_hits"], detail["archive_hits"], bool(detail["passed"])])
