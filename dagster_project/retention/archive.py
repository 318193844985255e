"""The landing files kept after a load (``<home>/archive``, ``rejected``, ``duplicates``) under erasure and the
landing-files policy.

An archive file of a load the subjects appear in is rewritten next to itself with their lines blanked (so every
other line keeps its number for the next erasure); the lines are found by lineage (the load id and line number of
every selected row, numbered as the loader numbered them, see ``ingest/lines.py``) and by identifier (one
multi-pattern pass over the file's text, ``needles.Matcher``), and dropped by content. The rewrite reads the
file in large pieces (no per-line I/O; gzip at level 1), scans the text it writes for every identifier of the
subjects (what the verification needs, without reading the file again) and runs on two threads (the codec and the
matcher work outside the GIL). A rejected or duplicate file that holds an identifier, and every file past the
landing-files period, is deleted. Nothing here touches the live files: the rewrites are written under a temporary
name and the erasure records the file actions in its transaction (``retention/swap.py`` completes them after the
swap).
"""

from __future__ import annotations

import csv
import gzip
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from pathlib import Path

import duckdb

from dagster_project.retention import policy as P
from dagster_project.retention.needles import Matcher
from dagster_project.settings import Settings
from ingest.contracts import SOURCES
from ingest.lines import CodecError, fast_gzip

ERASING_SUFFIX = ".erasing-"   # a rewritten archive file waiting to replace the original

FileAction = tuple[str, str, str | None]   # (path, "replace" | "delete", rewritten file for "replace")


CHUNK = 32 << 20   # bytes of a file's text held at a time (a piece ends at a line break)


def _separator(first: bytes) -> bytes:
    """The line break of a file, from its first piece: ``\n`` (``\r\n`` included, the ``\r`` stays with the line),
    or ``\r`` for a file that has no ``\n`` at all (the loader's reader counts those lines too)."""
    return b"\r" if b"\n" not in first and b"\r" in first else b"\n"


def _is_gzip(path: Path) -> bool:
    """By the file's first bytes, not its name: a rewritten file waits under a name that ends in its run id."""
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _pieces(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """``(piece, line break)``: the (gzip read through) text of a file in pieces of about :data:`CHUNK` bytes,
    each ending with a line break but the last. Streams: at most one piece is in memory."""
    with (fast_gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")) as f:
        rest, sep = b"", None
        while block := f.read(CHUNK):
            block, sep = rest + block, sep or _separator(block)
            cut = block.rfind(sep) + 1
            if cut:
                yield block[:cut], sep
            rest = block[cut:]
        if rest:
            yield rest, sep or _separator(rest)


def lines_holding(text: bytes, sep: bytes, matcher: Matcher) -> set[bytes]:
    """The text (without ``\r``) of each line of ``text`` (split at ``sep``) that holds any needle: one pass."""
    return {_line_of(text, sep, start, end) for start, end in matcher.spans(text)}


def _body(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def file_holds(path: Path, needles: set[str] | Matcher) -> bool:
    """Whether the bytes of a file (gzip read through) hold any needle: one multi-pattern pass per piece. A file
    that does not decompress is scanned as it is and as far as it decompresses."""
    matcher = needles if isinstance(needles, Matcher) else Matcher(needles)
    try:
        return any(matcher.holds(text) for text, _ in _pieces(path))
    except (OSError, EOFError, zlib.error, CodecError):
        data = path.read_bytes()
        try:
            data += b"\n" + zlib.decompressobj(wbits=47).decompress(data)   # a truncated file's readable start
        except zlib.error:
            pass
        return matcher.holds(data)


def _is_jsonl(src: Path) -> bool:
    return src.name.endswith((".jsonl", ".jsonl.gz"))


def blank_record(src: Path) -> bytes:
    """A line that stands in for an erased record and keeps every later line's number: the loader numbers a
    landing file's lines (lineage ``_line``), and a later erasure finds the lines of its rows by those numbers. An
    empty JSON object, or a CSV record of empty fields as wide as the header; loading it again would quarantine it
    (no required value), never load a value."""
    if _is_jsonl(src):
        return b"{}"
    source = SOURCES.get(src.parent.name)
    delimiter = ";" if source is not None and source.format == "finnish_csv" else ","
    with (gzip.open(src, "rt", encoding="utf-8-sig", errors="replace") if src.name.endswith(".gz")
          else open(src, encoding="utf-8-sig", errors="replace")) as f:
        header = next(csv.reader([f.readline()], delimiter=delimiter), [])
    return (delimiter * max(len(header) - 1, 0)).encode()


def rewrite_without(src: Path, tmp: Path, numbers: set[int], needles: set[str] | Matcher,
                    check: Matcher | None = None) -> set[bytes]:
    """Write ``src`` to ``tmp`` with the lines numbered in ``numbers`` (the lineage) and those holding a needle
    replaced by :func:`blank_record`, and every other line with the same text as one of them too (dropped by
    content, as the lineage of a row points at its text). Line numbers stay as the loader gave them. Returns the
    needles of ``check`` (default: ``needles``) that the written text still holds — its scan, on the text as it
    goes to the codec, so that the file is not read again to be checked.

    A file of one piece (:data:`CHUNK`; nearly all) is read once and, unless a line holds a needle that its
    lineage missed, scanned once: the scan of the text to write finds such lines too, which are then blanked and
    the text scanned again. A larger file streams: a first pass finds the lines' texts, a second writes (gzip in,
    gzip out at level 1 through ISA-L, one write per piece). A CSV record that spans lines is blanked whole
    (:func:`_continuations`) when its lineage leads to it, and in a file of one piece also when a needle lies on
    any of its lines."""
    matcher = needles if isinstance(needles, Matcher) else Matcher(needles)
    check = check or matcher
    if not matcher.patterns <= check.patterns:
        raise ValueError("the check must look for every needle the rewrite blanks lines for")
    pieces = _pieces(src)
    first = next(pieces, None)
    rest = next(pieces, None) if first else None
    blank = blank_record(src)
    records = not _is_jsonl(src)   # CSV: a record can span lines
    if rest is None:
        text, sep = first or (b"", b"\n")
        lines = text.split(sep)
        count = len(lines) - text.endswith(sep)
        drop = {_body(lines[n - 1]) for n in numbers if 0 < n <= count}
        empty = _continuations(lines, [n - 1 for n in numbers if 0 < n <= count])[0] if records else set()
        while True:
            drop.discard(b"")
            out = sep.join(_blanked(lines, drop, blank, empty))
            hits = check.found(out)
            holding = {_line_of(out, sep, start, end) for needle, start, end in hits if needle in matcher.patterns}
            if not holding - drop:
                break
            drop |= holding
            if records:   # the whole record of a line that holds a needle, when the record spans lines
                starts = _record_starts(lines)
                at = _line_indexes(out, sep, [start for needle, start, _ in hits if needle in matcher.patterns])
                firsts = {starts[i] for i in at}
                drop |= {_body(lines[i]) for i in firsts}
                empty |= _continuations(lines, firsts)[0]
        _write(src, tmp, [out])
        return {needle for needle, _, _ in hits}
    drop: set[bytes] = set()
    emptied: set[int] = set()   # line numbers of the continuation lines of the records to blank
    offset = parity = 0
    for text, sep in chain([first, rest], pieces):
        lines = text.split(sep)
        count = len(lines) - text.endswith(sep)
        drop |= lines_holding(text, sep, matcher)
        here = [n - offset - 1 for n in numbers if offset < n <= offset + count]
        drop |= {_body(lines[i]) for i in here}
        if records:
            empty, parity = _continuations(lines[:count], here, parity)
            emptied |= {offset + i + 1 for i in empty}
        offset += count
    drop.discard(b"")
    found: set[bytes] = set()

    def written() -> Iterator[bytes]:
        start = 0
        for text, sep in _pieces(src):
            lines = text.split(sep)
            count = len(lines) - text.endswith(sep)
            out = sep.join(_blanked(lines, drop, blank, {n - start - 1 for n in emptied if start < n <= start + count}))
            start += count
            found.update(needle for needle, _, _ in check.found(out))
            yield out
    _write(src, tmp, written())
    return found


def _blanked(lines: list[bytes], drop: set[bytes], blank: bytes, empty: set[int] = frozenset()) -> list[bytes]:
    """``lines`` with each whose text (without ``\r``) is in ``drop`` replaced by ``blank``, and the lines at the
    indexes ``empty`` (the continuation lines of a blanked CSV record) by empty lines; ``\r`` line ends kept."""
    replace = {**{d: blank for d in drop}, **{d + b"\r": blank + b"\r" for d in drop}}
    out = [replace.get(line, line) for line in lines]
    for i in empty:
        out[i] = b"\r" if lines[i].endswith(b"\r") else b""
    return out


def _record_starts(lines: list[bytes]) -> list[int]:
    """For each line of a CSV text, the index of the line its record starts on (quote parity, as in
    :func:`_continuations`)."""
    starts, parity, first = [], 0, 0
    for i, line in enumerate(lines):
        if not parity:
            first = i
        starts.append(first)
        parity = (parity + line.count(b'"')) & 1
    return starts


def _line_indexes(text: bytes, sep: bytes, offsets: list[int]) -> set[int]:
    """The 0-based indexes of the lines of ``text`` (split at ``sep``) that the byte ``offsets`` lie on."""
    out, line, counted = set(), 0, 0
    for offset in sorted(offsets):
        line, counted = line + text.count(sep, counted, offset), offset
        out.add(line)
    return out


def _continuations(lines: list[bytes], firsts: Iterable[int], parity: int = 0) -> tuple[set[int], int]:
    """The indexes of the lines that continue the CSV records starting at the indexes ``firsts``: a quoted field
    holds a line break, and a record ends at the first line break after an even number of quotes (a quote inside
    a field is doubled). ``parity``: 1 when a record of the previous piece continues at the first line. Returns
    them with the parity still open after the last line (a record that goes on in the next piece). The loader
    numbers a record by the line it starts on; blanking only that line would leave the rest of its fields."""
    out: set[int] = set()

    def follow(i: int, parity: int) -> int:   # the lines from ``i`` on while the record is open
        while parity and i < len(lines):
            out.add(i)
            parity = (parity + lines[i].count(b'"')) & 1
            i += 1
        return parity

    parity = follow(0, parity)
    for first in sorted(firsts):
        if first not in out:
            parity = follow(first + 1, lines[first].count(b'"') & 1)
    return out, parity


def _line_of(text: bytes, sep: bytes, start: int, end: int) -> bytes:
    stop = text.find(sep, end)
    return _body(text[text.rfind(sep, 0, start) + 1:stop if stop >= 0 else len(text)])


def _write(src: Path, tmp: Path, pieces: Iterable[bytes]) -> None:
    with (fast_gzip.open(tmp, "wb", compresslevel=1) if src.name.endswith(".gz") else open(tmp, "wb")) as out:
        for piece in pieces:
            out.write(piece)


def expired_files(con: duckdb.DuckDBPyConnection, rule: P.PolicyRule, as_of: date) -> list[str]:
    """The existing files a ``delete_files`` rule names as of ``as_of``."""
    return [path for (path,) in con.execute(rule.apply_sql(), [rule.policy.cutoff(as_of)]).fetchall()
            if Path(path).exists()]


@dataclass
class ArchiveWork:
    """What an erasure does to the kept landing files: the file actions it records (``(path, action, tmp)``) and
    the rewrites behind its ``replace`` actions (``(archive file, rewritten file, lineage line numbers)``). Lines
    holding one of ``needles`` are blanked; the written text is scanned for those and for ``checked`` (the
    verification's candidates), and what each rewritten file still holds is kept in ``found``."""
    actions: list[FileAction]
    rewrites: list[tuple[Path, Path, set[int]]]
    needles: set[str]
    checked: set[str] = field(default_factory=set)
    found: dict[Path, set[bytes]] = field(default_factory=dict)


def plan_archive(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, needles: set[str],
                 checked: set[str] | None = None) -> ArchiveWork:
    """The archive files of the loads in temp table ``_archive_lines`` to write without the subjects' lines, and
    the files to delete (rejected or duplicate files that hold a needle, files past the landing-files period).
    ``checked``: further identifiers the written files are scanned for (:class:`ArchiveWork`). Writes nothing:
    :func:`write_archive` does (or :class:`BackgroundRewrite`, beside the transaction)."""
    loads = con.execute("""select m.archive_path, list(distinct l.line) from _archive_lines l
                           join raw.file_manifest m using (load_id) where m.status = 'loaded'
                           and m.archive_path is not null group by all order by 1""").fetchall()
    rewrites = [(src, src.with_name(src.name + ERASING_SUFFIX + run_id[:8]), set(lines))
                for src, lines in ((Path(path), lines) for path, lines in loads) if src.exists()]
    actions: list[FileAction] = [(str(src), "replace", str(tmp)) for src, tmp, _ in rewrites]
    matcher = Matcher(needles)
    for folder in ("rejected", "duplicates"):
        root = settings.home / folder
        if root.exists():
            actions += [(str(f), "delete", None) for f in sorted(root.rglob("*"))
                        if f.is_file() and file_holds(f, matcher)]
    for rule in P.SHORTER_RULES:
        if rule.action == "delete_files":
            for path in expired_files(con, rule, settings.as_of):
                if not any(a[0] == path for a in actions):
                    actions.append((path, "delete", None))
    return ArchiveWork(actions, rewrites, needles, set(checked or ()))


def write_archive(work: ArchiveWork, stop: threading.Event | None = None) -> None:
    """Write every rewritten file of ``work`` (two at a time: the codec and the matcher run outside the GIL),
    recording in ``work.found`` what each still holds; stops early, leaving orphans for
    :func:`remove_orphan_rewrites`, once ``stop`` is set."""
    matcher = Matcher(work.needles)
    check = Matcher(work.needles | work.checked)

    def one(item: tuple[Path, Path, set[int]]) -> None:
        if not (stop and stop.is_set()):
            work.found[item[1]] = rewrite_without(*item, matcher, check)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, work.rewrites))


class BackgroundRewrite:
    """:func:`write_archive` on a thread of its own, so that it overlaps the erasure's transaction and its
    ``COPY FROM DATABASE`` (DuckDB also works outside the GIL). :meth:`wait` returns once every file is written
    (or raises what the writing raised) and must come before anything reads the rewritten files or swaps them
    in; leaving the ``with`` block any other way stops the writing and waits for it, so no file is written after.
    :meth:`check` queues the post-deletion count of the written files that still hold an identifier behind the
    writing (on the same thread, so it sees only complete files)."""

    def __init__(self, work: ArchiveWork):
        self.work, self.seconds = work, 0.0
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-rewrite")
        self._future = self._pool.submit(self._run)
        self._check: Future[int] | None = None

    def _run(self) -> None:
        started = time.monotonic()
        write_archive(self.work, self._stop)
        self.seconds = round(time.monotonic() - started, 2)

    def wait(self) -> None:
        self._future.result()

    def check(self, needles: set[str]) -> None:
        """Count, once every file is written, the written files that still hold any of ``needles``: by what the
        writing found in the text it wrote (:func:`rewrite_without`), and by reading the files for any needle it
        did not look for."""
        looked_for = self.work.needles | self.work.checked
        wanted, rest = {n.encode() for n in needles & looked_for}, Matcher(needles - looked_for)

        def count() -> int:
            return sum(1 for _, tmp, _ in self.work.rewrites
                       if not self._stop.is_set() and tmp.exists()
                       and (self.work.found.get(tmp, set()) & wanted or (rest.patterns and file_holds(tmp, rest))))
        self._check = self._pool.submit(count)

    def archive_hits(self) -> int:
        """The result of :meth:`check` (after :meth:`wait`)."""
        if self._check is None:
            raise RuntimeError("archive_hits() before check(): the written files were not scanned")
        return self._check.result()

    def __enter__(self) -> BackgroundRewrite:
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)


def remove_orphan_rewrites(home: Path) -> None:
    """Delete rewritten archive files of an erasure that never swapped in."""
    archive = home / "archive"
    if archive.exists():
        for leftover in archive.rglob(f"*{ERASING_SUFFIX}*"):
            leftover.unlink(missing_ok=True)
