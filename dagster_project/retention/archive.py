"""The landing files kept after a load (``<home>/archive``, ``rejected``, ``duplicates``) under erasure and the
landing-files policy.

An archive file of a load the subjects appear in is rewritten next to itself with their lines blanked (so every
other line keeps its number for the next erasure); the lines are found by lineage (the load id and line number of every selected row, numbered as the loader numbered them, see
``ingest/lines.py``) and by identifier, and dropped by content. A rejected or duplicate file that holds an
identifier, and every file past the landing-files period, is deleted. Nothing here touches the live files: the
rewrites are written under a temporary name and the erasure records the file actions in its transaction
(``retention/swap.py`` completes them after the swap).
"""

from __future__ import annotations

import csv
import gzip
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.retention import policy as P
from dagster_project.retention.needles import PrivateQueryError, pattern, private_query
from dagster_project.settings import Settings
from ingest.contracts import SOURCES
from ingest.lines import numbered_lines_sql
from ingest.validation import q

ERASING_SUFFIX = ".erasing-"   # a rewritten archive file waiting to replace the original

FileAction = tuple[str, str, str | None]   # (path, "replace" | "delete", rewritten file for "replace")


def matching_lines(path: Path, needle: str, numbers: set[int] | None = None) -> set[str] | None:
    """The text of the lines of a landing file that hold a needle or whose number is in ``numbers`` (kept in
    memory only). None when the file cannot be read as lines."""
    scan = duckdb.connect()
    try:
        scan.execute("create temp table _n as select unnest(?::bigint[]) as n", [sorted(numbers or [])])
        return {line for (line,) in private_query(scan, f"""
            select line from ({numbered_lines_sql(path, 'n')})
            where n in (select n from _n) or regexp_matches(line, {q(needle)})""")}
    except PrivateQueryError:
        return None
    finally:
        scan.close()


def file_holds(path: Path, needles: set[str]) -> bool:
    """Whether a file's lines (or, for a file that is no text, its bytes) hold any needle."""
    if not needles:
        return False
    lines = matching_lines(path, pattern(needles))
    if lines is not None:
        return bool(lines)
    data = _file_text(path)
    return any(n.encode() in data for n in needles)


def _file_text(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError):
            return data
    return data


def blank_record(src: Path) -> bytes:
    """A line that stands in for an erased record and keeps every later line's number: the loader numbers a
    landing file's lines (lineage ``_line``), and a later erasure finds the lines of its rows by those numbers. An
    empty JSON object, or a CSV record of empty fields as wide as the header; loading it again would quarantine it
    (no required value), never load a value."""
    if src.name.endswith((".jsonl", ".jsonl.gz")):
        return b"{}"
    source = SOURCES.get(src.parent.name)
    delimiter = ";" if source is not None and source.format == "finnish_csv" else ","
    with (gzip.open(src, "rt", encoding="utf-8-sig", errors="replace") if src.name.endswith(".gz")
          else open(src, encoding="utf-8-sig", errors="replace")) as f:
        header = next(csv.reader([f.readline()], delimiter=delimiter), [])
    return (delimiter * max(len(header) - 1, 0)).encode()


def _rewrite_without(src: Path, tmp: Path, drop: set[str]) -> None:
    """Stream ``src`` into ``tmp`` with every line whose text is in ``drop`` replaced by :func:`blank_record`
    (matched by content; gzip in, gzip out at a fast level). Line numbers stay as the loader gave them."""
    gz = src.name.endswith(".gz")
    encoded = {d.encode("utf-8") for d in drop}
    blank = blank_record(src)
    opener = (lambda p, m: gzip.open(p, m, compresslevel=1)) if gz else (lambda p, m: open(p, m))
    with (gzip.open(src, "rb") if gz else open(src, "rb")) as fin, opener(tmp, "wb") as fout:
        for line in fin:
            body = line.rstrip(b"\r\n")
            fout.write(line if body not in encoded else blank + line[len(body):])


def expired_files(con: duckdb.DuckDBPyConnection, rule: P.PolicyRule, as_of: date) -> list[str]:
    """The existing files a ``delete_files`` rule names as of ``as_of``."""
    return [path for (path,) in con.execute(rule.apply_sql(), [rule.policy.cutoff(as_of)]).fetchall()
            if Path(path).exists()]


def rewrite_archive(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, needles: set[str]
                    ) -> list[FileAction]:
    """Write the archive files of the loads in temp table ``_archive_lines`` without the subjects' lines, and list
    the files to delete; returns the file actions ``(path, action, tmp_path)``."""
    needle = pattern(needles)
    loads = con.execute("""select m.load_id, m.archive_path, list(distinct l.line) from _archive_lines l
                           join raw.file_manifest m using (load_id) where m.status = 'loaded'
                           and m.archive_path is not null group by all""").fetchall()

    def one(item: tuple) -> FileAction | None:
        _, path, lines = item
        src = Path(path)
        if not src.exists():
            return None
        drop = matching_lines(src, needle or "$^", set(lines)) or set()
        tmp = src.with_name(src.name + ERASING_SUFFIX + run_id[:8])
        _rewrite_without(src, tmp, drop)
        return (str(src), "replace", str(tmp))

    with ThreadPoolExecutor(max_workers=2) as pool:
        actions = [a for a in pool.map(one, loads) if a]
    for folder in ("rejected", "duplicates"):
        root = settings.home / folder
        if root.exists():
            actions += [(str(f), "delete", None) for f in root.rglob("*") if f.is_file() and file_holds(f, needles)]
    for rule in P.SHORTER_RULES:
        if rule.action == "delete_files":
            for path in expired_files(con, rule, settings.as_of):
                if not any(a[0] == path for a in actions):
                    actions.append((path, "delete", None))
    return actions


def remove_orphan_rewrites(home: Path) -> None:
    """Delete rewritten archive files of an erasure that never swapped in."""
    archive = home / "archive"
    if archive.exists():
        for leftover in archive.rglob(f"*{ERASING_SUFFIX}*"):
            leftover.unlink(missing_ok=True)
