"""Post-deletion verification: no erased identifier remains in any table of the fresh database file, in its bytes,
or in a rewritten landing-archive file. Only counts come back; the identifiers exist in this process's memory.
"""

from __future__ import annotations

import gzip
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.retention.archive import file_holds
from dagster_project.privacy.pseudonym import load_key, pseudonym, set_key_variables, sql_expression
from dagster_project.retention.control import ensure_control_tables, now
from dagster_project.retention.needles import MIN_LENGTH, Matcher, pattern, private_query, values
from dagster_project.retention.selection import base_tables, own_identifiers, relation_columns, relation_exists
from dagster_project.retention.swap import copy_live, recover, swap_in, work_files, write_fresh
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse
from ingest.bulk import insert_many
from ingest.contracts import SOURCES
from ingest.validation import q, qi

TEXT_TYPES = ("VARCHAR", "JSON")
# A subject's plate or VIN stays where another row still refers to it (the vehicle outlives its driver): it must be
# gone only when no raw row refers to it any more.
VEHICLE_COLUMNS = {"plate": "registration_number", "vin": "vin"}


def needles_to_verify(con: duckdb.DuckDBPyConnection, ids: dict[str, set[str]]) -> set[str]:
    """What must be gone after the erasure committed on ``con``: the subjects' own identifiers, and their plates
    and VINs that no raw row (any source whose contract has the column) still refers to — by the same value or by
    one that contains it (the subject's ``ABC-12`` is inside another car's ``ABC-123``, and the scans match text)."""
    final = own_identifiers(ids)
    for kind, column in VEHICLE_COLUMNS.items():
        still: set[str] = set()
        for rel in (f"raw.{s.name}" for s in SOURCES.values() if column in s.column_names):
            if relation_exists(con, rel) and column in relation_columns(con, rel) and ids[kind]:
                still |= _contained(con, rel, column, ids[kind])
        final |= ids[kind] - still
    return final


def _contained(con: duckdb.DuckDBPyConnection, relation: str, column: str, needles: set[str]) -> set[str]:
    """The needles that some value of ``relation.column`` equals or contains: one multi-pattern pass over the
    column's distinct values (a vehicle column repeats a few thousand plates over a million events; a
    ``contains`` per needle and row took a second). A needle with a line break, which could match across two
    values, is looked for in SQL."""
    joined = "\n".join(v for (v,) in con.execute(
        f"select distinct cast({qi(column)} as varchar) from {relation} where {qi(column)} is not null").fetchall())
    found = {n.decode() for n, _, _ in Matcher({n for n in needles if "\n" not in n}).found(joined.encode())}
    broken = [n for n in needles if "\n" in n]
    if broken:
        found |= values(con, f"select distinct n.v from (select unnest(?::varchar[]) as v) n "
                             f"where exists (select 1 from {relation} r where contains(r.{qi(column)}, n.v))",
                        [broken])
    return found


def _text_columns(cols: dict[str, str], skip: list[str]) -> list[str]:
    return [c for c, t in cols.items() if c not in skip and (t.upper().startswith(TEXT_TYPES) or t.upper().endswith("[]"))]


def legally_kept(con: duckdb.DuckDBPyConnection, needles: set[str], retained: dict[str, list[str]]) -> set[str]:
    """The needles that a legal obligation still keeps in its places (``selection.retained_places``): they stay in
    the database file's bytes, so the byte scan cannot look for them (the table scan does, everywhere else)."""
    kept: set[str] = set()
    for rel, columns in retained.items():
        have = relation_columns(con, rel) if relation_exists(con, rel) else {}
        for c in (c for c in columns if c in have):
            kept |= values(con, f'select distinct cast("{c}" as varchar) from {rel} where cast("{c}" as varchar) in '
                                f'(select unnest(?::varchar[]))', [sorted(needles)])
    return kept


def scan_tables(db: Path, needles: set[str], retained: dict[str, list[str]] | None = None) -> tuple[int, int]:
    """(tables scanned, rows holding any needle in any text column but the legally retained ones), inside DuckDB
    (counts only), in one query over every table (:func:`_count_hits`)."""
    regex = pattern(needles)
    retained = retained or {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = base_tables(con)
        scans = [(rel, _text_columns(cols, retained.get(rel, []))) for rel, cols in tables.items()]
        return len(tables), _count_hits(con, scans, regex)
    finally:
        con.close()


SAMPLE_ROWS = 20_000   # rows of a relation whose distinct values tell whether a column repeats its values


def _count_hits(con: duckdb.DuckDBPyConnection, scans: list[tuple[str, list[str]]], regex: str) -> int:
    """Rows of the relations (a table name or a reader call, each with its text columns) in which ``regex``
    matches. Counts only. A first query looks for a match at all, per relation: a column that repeats its values
    (user agents, pages, file names; judged on the first rows) by its distinct values, which DuckDB groups from
    its dictionary without reading each row's text, so the regex runs once per value (5M web events: 2.1 →
    0.5 s); the other columns row by row, joined by a line break (a needle holds none, so a match cannot
    straddle two columns). Only when something matched are the rows counted, in one regex evaluation per row."""
    scans = [(relation, text) for relation, text in scans if text]
    if not scans or not regex:
        return 0
    pattern_sql = q(regex)
    probes = []
    for relation, text in scans:
        repeating, varied = _split_by_repetition(con, relation, text)
        # ``k > 0`` keeps the regex above the grouping: DuckDB pushes a filter on the grouped value below it
        probes += [f"select count(*) as n from (select cast({qi(c)} as varchar) as v, count(*) as k from {relation} "
                   f"group by 1) where k > 0 and regexp_matches(v, {pattern_sql})" for c in repeating]
        if varied:
            probes.append(f"select count(*) as n from {relation} where {_row_match(varied, pattern_sql)}")
    if not int(private_query(con, f"select coalesce(sum(n), 0) from ({' union all '.join(probes)})")[0][0]):
        return 0
    rows = " union all ".join(f"select count(*) as n from {relation} where {_row_match(text, pattern_sql)}"
                              for relation, text in scans)
    return int(private_query(con, f"select coalesce(sum(n), 0) from ({rows})")[0][0])


def _row_match(columns: list[str], pattern_sql: str) -> str:
    return f"regexp_matches(concat_ws(chr(10), {', '.join(f'cast({qi(c)} as varchar)' for c in columns)}), " \
           f"{pattern_sql})"


def _split_by_repetition(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]
                         ) -> tuple[list[str], list[str]]:
    """(columns whose first :data:`SAMPLE_ROWS` rows hold fewer distinct values than half their number, the
    others). Only decides how a column is scanned, never whether."""
    counts = con.execute(
        f"select count(*), {', '.join(f'approx_count_distinct(cast({qi(c)} as varchar))' for c in columns)} "
        f"from (select {', '.join(qi(c) for c in columns)} from {relation} limit {SAMPLE_ROWS})").fetchall()[0]
    repeating = [c for c, n in zip(columns, counts[1:]) if n < counts[0] / 2]
    return repeating, [c for c in columns if c not in repeating]


def scan_lake(lake: Path | None, needles: set[str], retained: dict[str, list[str]] | None = None
              ) -> tuple[int, int]:
    """(lake tables scanned, rows holding any needle in a text column but the legally retained ones) of the
    Parquet copy of the raw layer that the Spark engine keeps (``dagster_project.lake``), read by DuckDB's own
    Parquet reader. No lake: (0, 0)."""
    from dagster_project.lake import TABLES_FILE, read_tables_file, table_path

    regex = pattern(needles)
    if lake is None or not (lake / TABLES_FILE).exists():
        return 0, 0
    retained = retained or {}
    scans = []
    for table, columns in read_tables_file(lake).items():
        path = table_path(lake, table)
        if any(path.rglob("*.parquet")):
            scans.append((f"read_parquet({q(str(path / '**' / '*.parquet'))}, hive_partitioning = false)",
                          _text_columns(dict(columns), retained.get(table, []))))
    con = duckdb.connect()
    try:
        return len(scans), _count_hits(con, scans, regex)
    finally:
        con.close()


def bytes_hits(paths: list[Path], needles: set[str]) -> int:
    """Occurrences of any needle in the raw bytes of files (one multi-pattern pass each, ``needles.Matcher``)."""
    matcher = Matcher(needles)
    return sum(matcher.count_in_file(p) for p in paths)


def verify(db: Path, needles: set[str], rewritten: list[Path], deleted: list[Path],
           retained: dict[str, list[str]] | None = None, archive_hits: int | None = None,
           lake: Path | None = None) -> tuple[dict[str, int], set[str]]:
    """Every table (but the legally retained columns), the file's bytes (but the values those columns keep), the
    rewritten archive files and — with the Spark engine — every table of the Parquet lake (``lake``; its hits count
    as file hits) must be free of the needles. ``archive_hits``: the rewritten files that still hold a needle,
    when the erasure already counted them (``archive.BackgroundRewrite.check``: from the scan of the text each
    rewrite wrote); otherwise the files are read here. Returns the counts and the needles legally kept."""
    kept: set[str] = set()
    if needles and retained:
        con = duckdb.connect(str(db), read_only=True)
        try:
            kept = legally_kept(con, needles, retained)
        finally:
            con.close()
    # The three scans at once: DuckDB, the matcher and the codec all work outside the GIL.
    matcher = Matcher(needles)
    with ThreadPoolExecutor(max_workers=2) as pool:
        tables = pool.submit(scan_tables, db, needles, retained)
        file_bytes = pool.submit(bytes_hits, [db, db.with_name(db.name + ".wal")], needles - kept)
        lake_scan = pool.submit(scan_lake, lake, needles, retained)
        if archive_hits is None:
            archive_hits = sum(pool.map(lambda f: f.exists() and file_holds(f, matcher), rewritten))
        (tables_scanned, table_hits), file_hits = tables.result(), file_bytes.result()
        lake_tables, lake_hits = lake_scan.result()
    file_hits += lake_hits
    return {"identifiers": len(needles), "legally_kept": len(kept), "tables_scanned": tables_scanned,
            "table_hits": table_hits, "file_hits": file_hits, "archive_hits": archive_hits, "deleted_files": len(deleted),
            "lake_tables": lake_tables, "lake_hits": lake_hits,
            "passed": int(table_hits == 0 and file_hits == 0 and archive_hits == 0)}, kept


def record_verification(con: duckdb.DuckDBPyConnection, run_id: str, as_of: date, subjects: int,
                        detail: dict[str, int]) -> None:
    """One row of ``ops.verification_results`` (the gate ``previous_verification_passed`` reads the last one)."""
    con.execute("insert into ops.verification_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, as_of, now(), subjects, detail["identifiers"], detail["tables_scanned"],
                 detail["table_hits"], detail["file_hits"], detail["archive_hits"], bool(detail["passed"])])


# --- verifying again later, without the identifiers (``fleetdw retention verify``) ------------------------------

# Tokens are what lies between the separators of CSV, JSON Lines and lists, and each of their words (an identifier
# can hold spaces, "040 123 4567", or stand in free text, "call 0401234567").
TOKEN_SEPARATORS = r'[,;"\t\r\n{}\[\]]'
WORD_SEPARATORS = r'[,;"\t\r\n{}\[\] ]'
_TOKEN_SPLIT = re.compile(rb'[,;"\t\r\n{}\[\]\x00-\x08\x0b\x0c\x0e-\x1f]+')


def fingerprints(key: bytes, needles: set[str]) -> list[str]:
    """Keyed fingerprints of identifiers (HMAC-SHA256, domain ``erased``): without the key they reveal nothing."""
    return sorted({pseudonym(key, "erased", n) for n in needles})


def record_fingerprints(con: duckdb.DuckDBPyConnection, run_id: str, prints: list[str]) -> None:
    insert_many(con, "insert into ops.erasure_fingerprints values (?, ?)", [(run_id, f) for f in prints])


def _table_hits_by_fingerprint(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(tables scanned, rows with a token whose fingerprint is in ``_prints``), computed in DuckDB."""
    tables = {r: c for r, c in base_tables(con).items() if r != "ops.erasure_fingerprints"}
    hits = 0
    for rel, cols in tables.items():
        for c in (c for c, t in cols.items() if t.upper().startswith(TEXT_TYPES) or t.upper().endswith("[]")):
            token = "trim(t.token)"
            hits += con.execute(f"""
                select count(distinct rid) from (
                    select r.rowid as rid, unnest(list_concat(
                        string_split_regex(cast(r."{c}" as varchar), {q(TOKEN_SEPARATORS)}),
                        string_split_regex(cast(r."{c}" as varchar), {q(WORD_SEPARATORS)}))) as token
                    from {rel} as r where r."{c}" is not null) as t
                where length({token}) >= {MIN_LENGTH}
                  and {sql_expression('erased', token)} in (select fingerprint from _prints)""").fetchall()[0][0]
    return len(tables), int(hits)


def _file_hits_by_fingerprint(key: bytes, prints: set[str], paths: list[Path]) -> int:
    """Files among ``paths`` whose bytes (gzip read through) hold a token with a fingerprint in ``prints``."""
    hits = 0
    for path in paths:
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                pass
        pieces = {t.strip() for t in _TOKEN_SPLIT.split(data)}
        tokens = {w for t in pieces for w in (t, *t.split(b" ")) if len(w) >= MIN_LENGTH}
        if any(pseudonym(key, "erased", t.decode("utf-8", "replace")) in prints for t in tokens):
            hits += 1
    return hits


def compact(settings: Settings) -> None:
    """Rewrite the warehouse file from its live rows (``COPY FROM DATABASE``, atomic swap), so that what a fix
    deleted or dropped is gone from its bytes too, as after an erasure."""
    recover(settings)
    work_dir, work, fresh = work_files(settings.warehouse, "reverify")
    with open_warehouse(settings) as lock:
        copy_live(lock, settings.warehouse, work)
        con = duckdb.connect(str(work))
        try:
            write_fresh(con, fresh)
        finally:
            con.close()
    swap_in(fresh, settings.warehouse, work_dir)


def reverify(settings: Settings) -> dict[str, int | str]:
    """Verify the last failed erasure again from its fingerprints — every table, the database file's bytes (after
    rewriting the file from its live rows) and every kept landing file — and record the result as the newest
    verification, which the gate ``previous_verification_passed`` reads. Fingerprints are dropped once it passes.
    Nothing is skipped: a steward fixes what the verification found, then shows it fixed with this."""
    key = load_key(settings.home)
    with open_warehouse(settings) as con:
        ensure_control_tables(con)
        last = con.execute("select run_id, passed, as_of from ops.verification_results "
                           "order by checked_at desc limit 1").fetchall()
        if not last:
            raise LookupError("no erasure has been verified yet: nothing to verify again")
        run_id, passed, as_of = last[0]
        origin = run_id.removeprefix("reverify:")
        prints = {f for (f,) in con.execute("select fingerprint from ops.erasure_fingerprints where run_id = ?",
                                            [origin]).fetchall()}
    if passed:
        return {"run_id": run_id, "verification": "passed", "already": 1}
    if not prints:
        raise LookupError(f"the failed verification of {origin} kept no fingerprints (an erasure older than this "
                          "version): erase the affected subjects again to verify them")
    compact(settings)
    with open_warehouse(settings) as con:
        set_key_variables(con, key)
        con.execute("create or replace temp table _prints as select unnest(?::varchar[]) as fingerprint",
                    [sorted(prints)])
        tables_scanned, table_hits = _table_hits_by_fingerprint(con)
    file_hits = _file_hits_by_fingerprint(key, prints, [settings.warehouse])
    kept = [f for folder in ("archive", "rejected", "duplicates") if (settings.home / folder).exists()
            for f in (settings.home / folder).rglob("*")]
    archive_hits = _file_hits_by_fingerprint(key, prints, kept)
    detail = {"identifiers": len(prints), "tables_scanned": tables_scanned, "table_hits": table_hits,
              "file_hits": file_hits, "archive_hits": archive_hits,
              "passed": int(table_hits == 0 and file_hits == 0 and archive_hits == 0)}
    with open_warehouse(settings) as con:
        record_verification(con, f"reverify:{origin}", as_of, 0, detail)
        if detail["passed"]:
            con.execute("delete from ops.erasure_fingerprints where run_id = ?", [origin])
    return {"run_id": origin, "verification": "passed" if detail["passed"] else "failed", **detail}
