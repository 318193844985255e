"""Loss-free, idempotent loading of landing files into the ``raw`` schema.

One file is one transaction: its accepted rows, its quarantined rows and its manifest entry commit together, so a
crash at any point followed by a rerun gives the state of an uninterrupted run. A file whose content hash is
already in the manifest loads nothing. Files are read with DuckDB's native CSV reader (all columns as text),
typed and validated in one SQL pass generated from the contracts; nothing is parsed row by row in Python.

Conservation holds per file: rows in = rows loaded + rows quarantined + rows withheld (or, for a rejected file,
none loaded). A source with a consent gate (location, RULES.md §2) loads after ``consents``; its rows without a
grant in force are *withheld*: decided in the load SQL from ``raw.consents_current``, counted, and stored nowhere —
not in raw, not in quarantine, and the archived copy of the file has their lines replaced by ``{}`` (so every kept
line keeps its number). A rejected file of such a source is deleted, since its lines cannot be checked.
A row that names a person the warehouse has erased (``LoadContext.withhold``, supplied by retention, which knows
whom it erased by pseudonym only) is withheld the same way, in the file's transaction with its audit rows: an
upstream system that still holds an erased person costs a few rows' work instead of a second erasure.
Error texts from DuckDB can quote file content, so they are never stored or shown: a rejected file gets one of a
few fixed reasons.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import duckdb

from ingest.contracts import SOURCES, Source
from ingest.lines import CodecError, fast_gzip, lines_table, numbered_lines_sql
from ingest.raw_schema import ensure_raw_schema
from ingest.validation import q, qi, typed_select
from ingest.bulk import insert_many

IGNORED_SUFFIXES = (".tmp", ".part", ".partial")
MANIFEST_COLUMNS = ("load_id, source, file_name, content_hash, size_bytes, status, reason, rows_in, rows_loaded, "
                    "rows_quarantined, rows_withheld, drift_columns, run_id, as_of, loaded_at, archive_path")
HEADER_PROBE_BYTES = 1 << 20


class FileRejected(Exception):
    """A file-level defect: the whole file is rejected with ``reason`` (a fixed text without file content)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class FileOutcome:
    source: str
    file: str
    status: str  # loaded | rejected | duplicate | already_loaded
    load_id: int | None = None
    reason: str | None = None
    rows_in: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_withheld: int = 0  # rows without consent or naming an erased person, stored nowhere (RULES.md §2, §5)
    drift_columns: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)  # quarantine reason -> rows
    rows_withheld_erased: int = 0  # of rows_withheld: rows naming an erased person


@dataclass
class SourceOutcome:
    source: str
    files: list[FileOutcome] = field(default_factory=list)

    def _sum(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return self._sum("rows_loaded")

    @property
    def rows_quarantined(self) -> int:
        return self._sum("rows_quarantined")

    @property
    def rows_withheld(self) -> int:
        return self._sum("rows_withheld")

    @property
    def rows_withheld_erased(self) -> int:
        return self._sum("rows_withheld_erased")

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def quarantine_reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for reason, n in f.reasons.items():
                out[reason] = out.get(reason, 0) + n
        return dict(sorted(out.items()))

    def metadata(self) -> dict:
        """Counts only: safe for Dagster metadata and logs."""
        return {
            "files_loaded": self.count("loaded"),
            "files_rejected": self.count("rejected"),
            "files_duplicate": self.count("duplicate"),
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_withheld": self.rows_withheld,
            "rows_withheld_erased": self.rows_withheld_erased,
            "quarantine_reasons": self.quarantine_reasons,
            "drift_columns": sorted({c for f in self.files for c in f.drift_columns}),
            # file names and fixed reasons (never a file's content), in load order
            "rejected_files": [{"file": f.file, "reason": f.reason} for f in self.files if f.status == "rejected"],
            "drift_files": [{"file": f.file, "columns": list(f.drift_columns)} for f in self.files
                            if f.drift_columns],
        }

    def to_dict(self) -> dict:
        return {"source": self.source, "files": [asdict(f) for f in self.files], **self.metadata()}


@dataclass(frozen=True)
class Withhold:
    """Rows naming an erased person, withheld at the load. The caller (retention) supplies what only it knows:
    which columns of a source name a person whose rows an erasure deletes, which of a file's values are erased
    persons, the audit rows (written in the file's transaction) and the archive copy without their lines."""

    columns: dict[str, tuple[str, ...]]                                   # source -> person-id columns
    erased_among: Callable[[set[str]], set[str]]                           # the erased persons among values
    record: Callable[[duckdb.DuckDBPyConnection, str, dict[str, int]], None]   # (cursor, source, rows per person)
    rewrite: Callable[[Path, Path, set[int], set[str]], None]              # (file, copy, lines, values) -> copy


@dataclass(frozen=True)
class LoadContext:
    home: Path
    landing: Path
    as_of: date
    run_id: str
    withhold: Withhold | None = None

    @property
    def archive(self) -> Path:
        return self.home / "archive"


def landing_files(landing: Path, source: Source) -> list[Path]:
    """The files waiting in a source's landing folder, in name order (hidden and partial uploads skipped)."""
    folder = landing / source.name
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(IGNORED_SUFFIXES)
    )


def file_digest(path: Path) -> tuple[str, int, int, int | None]:
    """sha256 of the content, its size, its number of newline bytes and of lines (read once, streamed). The lines
    are None when one ends in a lone ``\r`` or the content is gzip (its bytes are no text lines)."""
    h = hashlib.sha256()
    size = newlines = cr = crlf = 0
    last, text = b"", True
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            text = text and not (size == 0 and chunk.startswith(b"\x1f\x8b"))
            size += len(chunk)
            newlines += chunk.count(b"\n")
            if text:
                cr += chunk.count(b"\r")
                if cr:   # the two-byte count only once a \r occurs (most files hold none)
                    crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    lines = newlines + (1 if size and last != b"\n" else 0)
    return h.hexdigest(), size, newlines, lines if text and cr == crlf else None


# --- readers: each builds a temp table "_stage" with _line, _raw, _malformed and one text column per column ---

def _csv_delimiter(source: Source) -> str:
    return ";" if source.format == "finnish_csv" else ","


def read_csv_header(path: Path, source: Source) -> list[str]:
    """The normalised header names of a CSV file, or FileRejected for a file that is no CSV of this source."""
    with path.open("rb") as f:
        probe = f.read(HEADER_PROBE_BYTES)
    if not probe.strip():
        raise FileRejected("empty file")
    if b"\x00" in probe:
        raise FileRejected("not a text file (binary content)")
    first = probe.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected("not UTF-8 decodable") from None
    try:
        header = next(csv.reader(io.StringIO(line), delimiter=_csv_delimiter(source)))
    except (csv.Error, StopIteration):
        raise FileRejected("not valid CSV (unreadable header)") from None
    names = [h.strip().lower() for h in header]
    if len(set(names)) != len(names):
        raise FileRejected("not valid CSV (duplicate column names in header)")
    expected = source.required_columns or source.column_names
    missing = [c for c in expected if c not in names]
    if missing:
        if not set(names) & set(source.column_names):
            raise FileRejected("not a CSV file of this source (no known column in header)")
        raise FileRejected("required column(s) absent: " + ", ".join(missing))
    return names


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, source: Source, lines: int | None) -> list[str]:
    names = read_csv_header(path, source)
    positions = {n: i for i, n in enumerate(names)}
    drift = [n for n in names if n not in source.column_names]
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names))) + "}"
    select = ", ".join(
        (f'c{positions[c]} as "{c}"' if c in positions else f'null::varchar as "{c}"') for c in source.column_names
    )
    # header names are the delivery's text: quoted as identifiers, never pasted into the SQL
    raw = "to_json(struct_pack(" + ", ".join(f"{qi(n)} := c{i}" for i, n in enumerate(names)) + "))::varchar"
    con.execute("drop table if exists _rejects; drop table if exists _rejects_scan")
    con.execute(
        f"""create temp table _read as
        select row_number() over () as _ord, {select}, {raw} as _raw, null::varchar as _malformed
        from read_csv({q(str(path))}, columns = {columns}, header = true, delim = {q(_csv_delimiter(source))},
                      quote = '"', escape = '"', auto_detect = false, store_rejects = true,
                      rejects_table = '_rejects', rejects_scan = '_rejects_scan', max_line_size = 10000000)"""
    )
    rejects = con.execute(
        "select line, error_type, csv_line from _rejects order by line"
    ).fetchall()
    if any(kind in str(r[1]).upper() for r in rejects for kind in ("UNICODE", "ENCODING")):
        raise FileRejected("not UTF-8 decodable")
    cols = ", ".join(f'"{c}"' for c in source.column_names)
    if _number_physical_lines(con, path, _csv_delimiter(source), cols, lines):
        return drift
    # Every record is one line and no line is blank: accepted rows are numbered in file order, each shifted past
    # the malformed records before it. A record's line counts the header as line 1.
    con.execute("create temp table _bad_lines (r bigint, a bigint)")
    seen: set[int] = set()
    bad_rows = []
    for i, (line, _, _) in enumerate(r for r in rejects if not (r[0] in seen or seen.add(r[0]))):
        bad_rows.append((line, line - (i + 1) - 1))
    if bad_rows:
        insert_many(con, "insert into _bad_lines values (?, ?)", bad_rows)
    con.execute(
        f"""create temp table _stage as
        select _ord + 1 + (select count(*) from _bad_lines b where b.a < _ord) as _line, _raw, _malformed, {cols}
        from _read"""
    )
    # One quarantine row per malformed record, whatever number of errors DuckDB found in it.
    con.execute(
        f"""insert into _stage (_line, _raw, _malformed)
        select line, any_value(csv_line), 'malformed:csv_' || lower(replace(min(error_type), ' ', '_'))
        from _rejects group by line"""
    )
    con.execute("drop table _read; drop table _bad_lines")
    return drift


DRIFT_SAMPLE_LINES = 2_000


def _number_physical_lines(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str, cols: str,
                           lines: int | None) -> bool:
    """Build ``_stage`` from ``_read`` and ``_rejects`` with each record's ``_line`` the physical line it starts
    on, when the file holds a record that spans lines (a quoted field with a line break) or a blank line (which
    DuckDB's reader skips): there its count of records is no line number, and a quarantined row's line, the
    lineage and retention's rewrite of the archived copy (which blanks lines by number) would point at another
    line. Returns False and does nothing when every line is one record (nearly every file: its ``lines``, from
    :func:`file_digest`, say so), when a line ends in a lone ``\r`` (``lines`` None), or when Python's CSV reader
    splits the records otherwise than DuckDB's did: DuckDB's numbering then stays."""
    records = con.execute("select count(*) from _read").fetchall()[0][0]
    rejected = con.execute("select line, min(line_byte_position) from _rejects group by line order by 1").fetchall()
    if lines is None or lines == 1 + records + len(rejected):
        return False
    data = path.read_bytes()
    starts = _csv_record_starts(data, delimiter)
    bad, physical, counted = {}, 1, 0   # a rejected record's line, from its byte position (one pass)
    for line, position in sorted(rejected, key=lambda r: r[1]):
        physical, counted = physical + data.count(b"\n", counted, position), position
        bad[line] = physical
    bad_lines = set(bad.values())
    good = [n for n in starts if n not in bad_lines]
    if len(good) != records or len(bad_lines) != len(bad):
        return False
    con.execute("create temp table _record_lines as select unnest(?::bigint[]) as _line, "
                "unnest(range(1, ? + 1)) as _ord", [good, records])
    con.execute(f"""create temp table _stage as
        select l._line, _raw, _malformed, {cols} from _read r join _record_lines l using (_ord)""")
    con.execute("create temp table _reject_lines as select unnest(?::bigint[]) as line, unnest(?::bigint[]) as _line",
                [list(bad), list(bad.values())])
    con.execute("""insert into _stage (_line, _raw, _malformed)
        select l._line, any_value(csv_line), 'malformed:csv_' || lower(replace(min(error_type), ' ', '_'))
        from _rejects j join _reject_lines l using (line) group by l._line""")
    con.execute("drop table _read; drop table _record_lines; drop table _reject_lines")
    return True


def _csv_record_starts(data: bytes, delimiter: str) -> list[int]:
    """The physical line (1-based) on which each record after the header starts, blank lines skipped, as
    Python's CSV reader splits the records."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""),
                        delimiter=delimiter, quotechar='"', doublequote=True)
    starts, consumed = [], 0
    try:
        for row in reader:
            if row:
                starts.append(consumed + 1)
            consumed = reader.line_num
    except csv.Error:
        pass
    return starts[1:]


def _stage_jsonl(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> None:
    """A view of the file's lines parsed once into text fields; lines that are no JSON object are malformed."""
    schema = "{" + ", ".join(f'"{c}": "VARCHAR"' for c in source.column_names) + "}"
    fields = ", ".join(f'j."{c}" as "{c}"' for c in source.column_names)
    con.execute(
        f"""create temp view _stage as
        select _line, line as _raw, case when j is null then 'malformed:json' end as _malformed, {fields}
        from (
            select _line, line,
                   case when json_valid(line) and starts_with(ltrim(line), '{{') then from_json(line, {q(schema)})
                   end as j
            from ({numbered_lines_sql(path)})
            where line is not null and trim(line) <> ''
        )"""
    )


def _check_jsonl(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> list[str]:
    """After typing: reject a file without a single JSON object; return unknown keys (schema drift).

    Drift is looked for in the first lines only: an exporter that adds a field adds it to every record, and
    listing the keys of every line would cost as much as parsing the file again.
    """
    total, malformed = con.execute(
        "select count(*), count(*) filter (where _reasons = 'malformed:json') from _typed").fetchall()[0]
    if total > 0 and total == malformed:
        raise FileRejected("not JSON Lines (no line is a JSON object)")
    known = "[" + ", ".join(q(c) for c in source.column_names) + "]"
    sample = _first_lines(path)
    lines = f"(select line from {lines_table(path)} limit {DRIFT_SAMPLE_LINES})" if sample is None else \
        "(select unnest(?::varchar[]) as line)"
    return [r[0] for r in con.execute(
        f"""select distinct k from (
              select unnest(json_keys(line)) as k
              from {lines}
              where json_valid(line) and starts_with(ltrim(line), '{{')
            ) where not list_contains({known}, k) order by 1""", [] if sample is None else [sample]).fetchall()]


def _first_lines(path: Path) -> list[str] | None:
    """The first :data:`DRIFT_SAMPLE_LINES` lines of a file (at most a megabyte of its text), read in Python: the
    line reader with a ``limit`` still decompressed a whole buffer of 32 MB, a tenth of a file's load. None when
    the file does not read so (the caller then asks DuckDB)."""
    try:
        with _read_bytes(path) as f:
            head = f.read(HEADER_PROBE_BYTES)
    except (OSError, EOFError, CodecError):
        return None
    parts = LINE_END.split(head)[0::2]
    if len(head) == HEADER_PROBE_BYTES and len(parts) > 1:
        parts.pop()   # the last piece may be a line cut at the megabyte
    return [line.decode("utf-8", "replace") for line in parts[:DRIFT_SAMPLE_LINES]]


def _classify_read_error(exc: Exception, path: Path) -> str | None:
    """A fixed reason for an error DuckDB raised while reading the file; None when it is not a read error."""
    message = str(exc).lower()
    if path.name.endswith(".gz") and any(w in message for w in ("gzip", "compress", "zlib", "inflate", "truncat")):
        return "truncated or corrupt gzip"
    if any(w in message for w in ("utf-8", "utf8", "unicode")):
        return "not UTF-8 decodable"
    if "csv" in message and any(w in message for w in ("parser", "state machine", "quote", "line size")):
        return "not valid CSV (its structure cannot be parsed)"
    if isinstance(exc, duckdb.IOException):
        return "unreadable file"
    return None


# --- consent: rows collected only with consent ------------------------------------------------------------------

def consent_gated_sql(source: Source, typed: str) -> str:
    """``typed`` with a boolean ``_withheld``: true for a row of a consent-gated source whose person's latest
    consent event of the gate's purpose recorded at or before the row's time (ties: the later consent event id) is
    not a grant — including rows whose person or time cannot be read, and malformed lines. Events come from
    ``raw.consents_current`` (all loaded consent files, a re-delivered event id replaced by its correction)."""
    gate = source.consent
    if gate is None:
        return f"select *, false as _withheld from ({typed})"
    return f"""select t.*, coalesce(c._action, '') <> 'grant' as _withheld from ({typed}) t
        asof left join (
            select trim(person_id) as _person, recorded_at as _at, arg_max(trim(action), consent_event_id) as _action
            from raw.consents_current
            where trim(purpose) = {q(gate.purpose)} and trim(channel) = 'any'
            group by all
        ) c on trim(t."{gate.person}") = c._person and t."{gate.at}" >= c._at"""


def _type_rows(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """The temp table ``_typed``: the staged rows typed and validated, with ``_withheld``. The consent filter joins
    the typed rows once they are a table: as one statement with the typing and the line numbering, DuckDB's as-of
    join ran the whole pipeline about twice as slowly (166k pings: 0.98 s against 0.37 + 0.10 s)."""
    if source.consent is None:
        con.execute(f"create temp table _typed as {consent_gated_sql(source, typed_select(source, '_stage'))}")
        return
    con.execute(f"create temp table _ungated as {typed_select(source, '_stage')}")
    con.execute(f"create temp table _typed as {consent_gated_sql(source, 'select * from _ungated')}")
    con.execute("drop table _ungated")


LINE_END = re.compile(rb"(\r\n|\n|\r)")
WRITE_PIECE = 1 << 20   # bytes read at a time by write_without_lines


class _CarriageReturn(Exception):
    """A piece of the file holds a ``\r``: its lines are split DuckDB's way instead."""


def write_without_lines(src: Path, target: Path, drop: set[int]) -> int:
    """Write ``src`` (JSON Lines, gzipped or not) to ``target`` with every line whose number (from 1, as DuckDB's
    line reader numbers them, which gave each record its ``_line``) is in ``drop`` replaced by ``{}`` (the
    archive's blank record, so later lines keep their numbers); returns the lines replaced.

    A file of ``\n`` line ends is copied byte for byte but for those lines, a megabyte at a time (one
    ``bytes.split`` and one write a piece; a per-line loop in Python cost ≈ 1.4 µs a line, a quarter of a
    consent-gated file's load). A file that holds a ``\r`` anywhere is written from DuckDB's own reading of its
    lines with ``\n`` line ends: where ``\r`` and ``\n`` are mixed DuckDB's reader does not split them by any
    rule a copy could follow (``"a\\n \\r\\nb"`` is four lines to it, ``"a\\nb\\r\\nc"`` no file at all), and only
    its numbering says which line was withheld."""
    try:
        return _write_split(src, target, drop)
    except _CarriageReturn:
        return _write_as_read(src, target, drop)


def _read_bytes(path: Path) -> BinaryIO:
    """A landing file's bytes, gzip read through (by its name, as the loader's reader decides)."""
    return fast_gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


@contextmanager
def _copy_writer(src: Path, target: Path) -> Iterator[BinaryIO]:
    """The owner-only ``target`` opened for writing, through ISA-L's gzip at level 1 when ``src`` is gzipped."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as raw_out:
        if not src.name.endswith(".gz"):
            yield raw_out
            return
        with fast_gzip.GzipFile(fileobj=raw_out, mode="wb", compresslevel=1, mtime=0) as out:
            yield out


def _write_as_read(src: Path, target: Path, drop: set[int]) -> int:
    replaced = 0
    con = duckdb.connect()
    try:
        cur = con.execute(f"select _line, coalesce(line, '') from ({numbered_lines_sql(src)}) order by _line")
        with _copy_writer(src, target) as out:
            while rows := cur.fetchmany(1 << 15):
                piece = []
                for number, line in rows:
                    if number in drop:
                        piece.append("{}")
                        replaced += 1
                    else:
                        piece.append(line)
                out.write(("\n".join(piece) + "\n").encode("utf-8"))
    finally:
        con.close()
    return replaced


def _write_split(src: Path, target: Path, drop: set[int]) -> int:
    """The byte-for-byte copy of a file of ``\n`` line ends; raises :class:`_CarriageReturn` at a ``\r``."""
    wanted = sorted(drop)
    replaced = next_drop = 0
    first = 1          # the number of the first line of the piece
    with _copy_writer(src, target) as out, _read_bytes(src) as fin:
        carry = b""
        while True:
            chunk = fin.read(WRITE_PIECE)
            if b"\r" in chunk:
                raise _CarriageReturn
            # lines: the texts of lines that each end with \n (but a last line without one)
            lines = (carry + chunk).split(b"\n")
            if chunk:
                carry, tail = lines.pop(), b"\n"
            elif lines[-1] == b"":
                lines.pop()
                tail = b"\n"
            else:
                tail = b""
            while next_drop < len(wanted) and wanted[next_drop] < first + len(lines):
                if wanted[next_drop] >= first:
                    lines[wanted[next_drop] - first] = b"{}"
                    replaced += 1
                next_drop += 1
            if lines:
                out.write(b"\n".join(lines) + tail)
            first += len(lines)
            if not chunk:
                break
    return replaced


# --- one file -----------------------------------------------------------------------------------------------

@dataclass
class _Planned:
    """A file the loader will read: its content hash and the load id it commits under."""

    path: Path
    digest: str
    size: int
    newlines: int
    load_id: int
    duplicate_of: int | None = None
    lines: int | None = None   # its physical lines, None when one ends in a lone \r (``file_digest``)


@dataclass
class _Prepared:
    """A file read into an open transaction on its own cursor, waiting for its turn to commit."""

    planned: _Planned
    cursor: duckdb.DuckDBPyConnection | None
    outcome: FileOutcome | None = None
    reject_reason: str | None = None
    erased: set[str] = field(default_factory=set)   # erased persons its withheld rows name (memory only)
    withheld_lines: set[int] | None = None   # line numbers of its withheld rows (a JSON Lines file's)


class Loader:
    """Loads the landing files of sources into an open read-write DuckDB connection.

    Files of a source are read by ``workers`` threads at once, each in its own transaction on its own cursor
    (DuckDB appends from concurrent transactions do not conflict), but they commit strictly in name order: the
    committed state is always a prefix of the files, so a crash followed by a rerun equals an uninterrupted run.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, ctx: LoadContext, workers: int = 2):
        self.con = con
        self.ctx = ctx
        self.workers = max(1, workers)
        ensure_raw_schema(con)

    def _now(self) -> datetime:
        return datetime.now(timezone.utc)

    def _move(self, path: Path, folder: Path, name: str) -> Path:
        """Move a landing file into the home (archive, rejected, duplicates): owner-only there, whatever mode the
        upstream system delivered it with, since it holds personal data."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / name
        shutil.move(str(path), str(target))
        os.chmod(target, 0o600)
        return target

    def ingest(self, source: Source, progress: Callable[[str], None] | None = None) -> SourceOutcome:
        outcome = SourceOutcome(source.name)
        to_load: list[_Planned] = []
        for item in self._plan(source, outcome):
            to_load.append(item)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            window: deque[Future] = deque()
            queue = deque(to_load)
            while queue or window:
                while queue and len(window) < self.workers:
                    window.append(pool.submit(self._prepare, source, queue.popleft()))
                prepared = window.popleft().result()
                if progress:
                    progress(prepared.planned.path.name)
                outcome.files.append(self._finish(source, prepared))
        return outcome

    def _plan(self, source: Source, outcome: SourceOutcome) -> list[_Planned]:
        """Hash every waiting file; settle duplicates now; give each new file its load id (name order)."""
        next_id = self.con.execute("select coalesce(max(load_id), 0) + 1 from raw.file_manifest").fetchall()[0][0]
        planned: list[_Planned] = []
        in_batch: dict[str, int] = {}
        for path in landing_files(self.ctx.landing, source):
            digest, size, newlines, lines = file_digest(path)
            known = self.con.execute(
                "select load_id, file_name, archive_path from raw.file_manifest "
                "where source = ? and content_hash = ? order by load_id limit 1",
                [source.name, digest],
            ).fetchall()
            if known:
                load_id, name, archive_path = known[0]
                if name == path.name and archive_path and not Path(archive_path).exists():
                    # Committed by an earlier run that stopped before moving the file: finish the move only.
                    self._store(source, path, Path(archive_path), load_id)
                    outcome.files.append(FileOutcome(source.name, path.name, "already_loaded", load_id))
                else:
                    outcome.files.append(self._record_duplicate(source, path, digest, load_id))
                continue
            if digest in in_batch:
                planned.append(_Planned(path, digest, size, newlines, in_batch[digest],
                                        duplicate_of=in_batch[digest], lines=lines))
                continue
            in_batch[digest] = next_id
            planned.append(_Planned(path, digest, size, newlines, next_id, lines=lines))
            next_id += 1
        return planned

    def _record_duplicate(self, source: Source, path: Path, digest: str, load_id: int) -> FileOutcome:
        self.con.execute(
            "insert into raw.duplicate_deliveries values (?, ?, ?, ?, ?, ?, ?)",
            [source.name, path.name, digest, load_id, self.ctx.run_id, self.ctx.as_of, self._now()],
        )
        self._store(source, path, self.ctx.home / "duplicates" / source.name / f"{load_id:06d}_{path.name}", load_id)
        return FileOutcome(source.name, path.name, "duplicate", load_id)

    def _store(self, source: Source, path: Path, target: Path, load_id: int,
               erased: set[str] | None = None, withheld_lines: set[int] | None = None) -> Path:
        """Move a landing file of load ``load_id`` (its own load, or the one it duplicates) into the home. For a
        consent-gated source, and for a load that withheld rows naming an erased person, the stored copy keeps
        only the lines that load kept (loaded or quarantined): every other record is a withheld row and is
        blanked (``{}``; a CSV record through ``Withhold.rewrite``, which also blanks any line holding one of
        ``erased``). Decided from the committed lineage, so a rerun after a crash between the commit and the move
        stores the same copy. A JSON Lines load that has just committed passes ``withheld_lines`` (its withheld
        rows' line numbers, the same set as the lineage gives), which saves reading the file once more."""
        withheld, rows_in = self.con.execute(
            "select coalesce(max(rows_withheld), 0), coalesce(max(rows_in), 0) from raw.file_manifest "
            "where load_id = ?", [load_id]).fetchall()[0]
        if source.consent is None and not withheld:
            return self._move(path, target.parent, target.name)
        if source.format != "jsonl":
            return self._store_csv_without(source, path, target, load_id, rows_in, erased or set())
        drop = withheld_lines if withheld_lines is not None else {line for (line,) in self.con.execute(
            f"""select n._line from ({numbered_lines_sql(path)}) n
                where n.line is not null and trim(n.line) <> ''
                  and n._line not in (select _line from raw.{source.name} where _load_id = ?)
                  and n._line not in (select line from raw.quarantine where load_id = ? and source = ?)""",
            [load_id, load_id, source.name]).fetchall()}
        if not drop:
            return self._move(path, target.parent, target.name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{target.name}.withholding")
        replaced = write_without_lines(path, tmp, drop)
        if replaced != len(drop):
            tmp.unlink()
            raise RuntimeError(f"{source.name}/{path.name}: withheld lines not found in the file as read; "
                               "the file stays in the landing zone")
        self._move(tmp, target.parent, target.name)
        path.unlink()
        return target

    def _store_csv_without(self, source: Source, path: Path, target: Path, load_id: int, rows_in: int,
                           erased: set[str]) -> Path:
        """The archived copy of a CSV load without its withheld records: the record lines (the header is line 1)
        that neither loaded nor went to quarantine, blanked by ``Withhold.rewrite``."""
        if self.ctx.withhold is None:
            raise RuntimeError(f"{source.name}/{path.name}: the load withheld rows, but this loader cannot blank "
                               "them in the archived copy; the file stays in the landing zone")
        kept = {n for (n,) in self.con.execute(
            f"select _line from raw.{source.name} where _load_id = ? union all "
            "select line from raw.quarantine where load_id = ? and source = ?",
            [load_id, load_id, source.name]).fetchall()}
        lines = set(range(2, rows_in + 2)) - kept
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{target.name}.withholding")
        self.ctx.withhold.rewrite(path, tmp, lines, erased)
        self._move(tmp, target.parent, target.name)
        path.unlink()
        return target

    def _archive_path(self, source: Source, item: _Planned) -> Path:
        return self.ctx.archive / source.name / f"{item.load_id:06d}_{item.path.name}"

    def _prepare(self, source: Source, item: _Planned) -> _Prepared:
        """Read, type and validate one file inside an open transaction (runs on a worker thread)."""
        if item.duplicate_of is not None:
            return _Prepared(item, None)
        if not item.path.name.endswith(source.suffix):
            return _Prepared(item, None, reject_reason=f"unexpected file type (expected *{source.suffix})")
        cur = self.con.cursor()
        cur.execute("set TimeZone = 'UTC'")
        cur.execute("begin transaction")
        try:
            if source.format == "jsonl":
                _stage_jsonl(cur, item.path, source)
                _type_rows(cur, source)
                drift = _check_jsonl(cur, item.path, source)
            else:
                drift = _stage_csv(cur, item.path, source, item.lines)
                _type_rows(cur, source)
            erased, withheld_erased = self._withhold_erased(cur, source)
            withheld_lines = ({n for (n,) in cur.execute("select _line from _typed where _withheld").fetchall()}
                              if source.format == "jsonl" else None)
            outcome = self._insert_rows(cur, source, item, drift)
            outcome.rows_withheld_erased = withheld_erased
        except FileRejected as rejected:
            cur.execute("rollback")
            cur.close()
            return _Prepared(item, None, reject_reason=rejected.reason)
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            # Raised while reading the file (corrupt gzip, undecodable bytes): a file-level defect. Any other
            # DuckDB error is a bug of ours and propagates.
            cur.execute("rollback")
            cur.close()
            reason = _classify_read_error(exc, item.path)
            if reason is None:
                raise
            return _Prepared(item, None, reject_reason=reason)
        except BaseException:
            cur.execute("rollback")
            cur.close()
            raise
        return _Prepared(item, cur, outcome, erased=erased, withheld_lines=withheld_lines)

    def _withhold_erased(self, cur: duckdb.DuckDBPyConnection, source: Source) -> tuple[set[str], int]:
        """Mark the rows of ``_typed`` that name an erased person (``LoadContext.withhold``) as withheld and
        record them (``Withhold.record``, in the file's transaction); returns those persons and the row count."""
        w = self.ctx.withhold
        columns = w.columns.get(source.name, ()) if w else ()
        if not columns:
            return set(), 0
        value = {c: f'trim(cast("{c}" as varchar))' for c in columns}
        present = {v for c in columns for (v,) in cur.execute(
            f"select distinct {value[c]} from _typed where {value[c]} is not null").fetchall()}
        erased = w.erased_among(present) if present else set()
        if not erased:
            return set(), 0
        names = sorted(erased)
        counts: dict[str, int] = {}
        for c in columns:
            for person, n in cur.execute(f"select {value[c]}, count(*) from _typed where {value[c]} in "
                                         "(select unnest(?::varchar[])) group by 1", [names]).fetchall():
                counts[person] = counts.get(person, 0) + n
        hit = " or ".join(f"{value[c]} in (select unnest(?::varchar[]))" for c in columns)
        rows = cur.execute(f"select count(*) from _typed where {hit}", [names] * len(columns)).fetchall()[0][0]
        cur.execute(f"update _typed set _withheld = true where {hit}", [names] * len(columns))
        w.record(cur, source.name, counts)
        return erased, int(rows)

    def _finish(self, source: Source, prepared: _Prepared) -> FileOutcome:
        """Commit (or record the rejection of) one prepared file, then move it out of the landing zone."""
        item = prepared.planned
        if item.duplicate_of is not None:
            return self._record_duplicate(source, item.path, item.digest, item.duplicate_of)
        if prepared.cursor is None:
            rows_in = None if item.path.name.endswith(".gz") else max(
                item.newlines - (0 if source.format == "jsonl" else 1), 0)
            return self._reject(source, item, rows_in, prepared.reject_reason or "unreadable file")
        prepared.cursor.execute("commit")
        prepared.cursor.close()
        self._store(source, item.path, self._archive_path(source, item), item.load_id, prepared.erased,
                    prepared.withheld_lines)
        return prepared.outcome

    def _insert_rows(self, con: duckdb.DuckDBPyConnection, source: Source, item: _Planned,
                     drift: list[str]) -> FileOutcome:
        now = self._now()
        cols = ", ".join(f'"{c}"' for c in source.column_names)
        con.execute(
            f"insert into raw.{source.name} select {cols}, ?, ?, _line, ? from _typed "
            "where _reasons = '' and not _withheld order by _line",
            [item.load_id, item.path.name, now],
        )
        con.execute(
            "insert into raw.quarantine select ?, ?, ?, _line, _reasons, _raw, ?, ? from _typed "
            "where _reasons <> '' and not _withheld order by _line",
            [item.load_id, source.name, item.path.name, now, self.ctx.as_of],
        )
        loaded, quarantined, withheld = con.execute(
            "select count(*) filter (where _reasons = '' and not _withheld), "
            "count(*) filter (where _reasons <> '' and not _withheld), count(*) filter (where _withheld) from _typed"
        ).fetchall()[0]
        reasons = dict(con.execute(
            "select r, count(*) from (select unnest(string_split(_reasons, ';')) as r from _typed "
            "where _reasons <> '' and not _withheld) group by r order by r"
        ).fetchall())
        con.execute(
            f"insert into raw.file_manifest ({MANIFEST_COLUMNS}) "
            "values (?, ?, ?, ?, ?, 'loaded', null, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [item.load_id, source.name, item.path.name, item.digest, item.size, loaded + quarantined + withheld,
             loaded, quarantined, withheld, drift, self.ctx.run_id, self.ctx.as_of, now,
             str(self._archive_path(source, item))],
        )
        con.execute("drop table _typed")
        con.execute(f"drop {'view' if source.format == 'jsonl' else 'table'} _stage")
        return FileOutcome(source.name, item.path.name, "loaded", item.load_id, None,
                           loaded + quarantined + withheld, loaded, quarantined, withheld, drift, reasons)

    def _reject(self, source: Source, item: _Planned, rows_in: int | None, reason: str) -> FileOutcome:
        target = self.ctx.home / "rejected" / source.name / f"{item.load_id:06d}_{item.path.name}"
        # A rejected file of a consent-gated source is not kept: none of its lines can be checked for consent.
        kept = source.consent is None
        self.con.execute(
            f"insert into raw.file_manifest ({MANIFEST_COLUMNS}) "
            "values (?, ?, ?, ?, ?, 'rejected', ?, ?, 0, 0, 0, [], ?, ?, ?, ?)",
            [item.load_id, source.name, item.path.name, item.digest, item.size, reason, rows_in, self.ctx.run_id,
             self.ctx.as_of, self._now(), str(target) if kept else None],
        )
        if kept:
            self._move(item.path, target.parent, target.name)
        else:
            item.path.unlink()
        return FileOutcome(source.name, item.path.name, "rejected", item.load_id, reason, rows_in)


def ingest_sources(con: duckdb.DuckDBPyConnection, ctx: LoadContext, names: list[str] | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, SourceOutcome]:
    loader = Loader(con, ctx)
    return {name: loader.ingest(SOURCES[name], progress) for name in (names or list(SOURCES))}
