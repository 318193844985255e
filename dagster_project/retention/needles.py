"""Identifiers of the subjects being erased, used as needles: which values are worth looking for, the pattern that
finds them, and queries that carry them without letting them leak.

The values exist only in the memory of the erasing process. A pattern is inlined into the SQL as a literal, not
bound: DuckDB compiles a constant regex once, a bound parameter once per row. A query that carries one and fails
raises :class:`PrivateQueryError`, because DuckDB's message could quote the identifiers. Byte scans (landing files,
the database file) use a :class:`Matcher`, which finds every needle in one pass, in this process.
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path

import ahocorasick_rs
import duckdb

MIN_LENGTH = 5   # shorter values (ids like "1", "NA") would match everywhere


class PrivateQueryError(RuntimeError):
    """A query that carried identifiers failed; DuckDB's message could quote them, so it is withheld."""


def values(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> set[str]:
    """The first column of a query as a set of needles (NULLs and values too short to look for dropped)."""
    return {str(v) for (v,) in con.execute(sql, params or []).fetchall() if v is not None and len(str(v)) >= MIN_LENGTH}


def pattern(needles: set[str]) -> str | None:
    """A regex that matches any of the needles (None for no needle)."""
    return "|".join(re.escape(v) for v in sorted(needles)) if needles else None


def private_query(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise PrivateQueryError(f"an identifier scan failed ({type(exc).__name__}; message withheld)") from None


class Matcher:
    """Every needle at once over bytes: one Aho-Corasick automaton (a DFA; ``ahocorasick_rs``), one pass over a
    text whatever the number of needles, the GIL released while it searches. An identifier is matched as its
    UTF-8 bytes. What it finds stays in this process's memory."""

    def __init__(self, needles: set[str]):
        patterns = self._patterns = sorted({n.encode() for n in needles if n})
        self.patterns = frozenset(patterns)
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            patterns, implementation=ahocorasick_rs.Implementation.DFA) if patterns else None

    def spans(self, data: bytes | memoryview | mmap.mmap) -> list[tuple[int, int]]:
        """``(start, end)`` of the (non-overlapping) occurrences of needles in ``data``."""
        if self._automaton is None or not len(data):
            return []
        return [(start, end) for _, start, end in self._automaton.find_matches_as_indexes(data)]

    def found(self, data: bytes | memoryview | mmap.mmap) -> list[tuple[bytes, int, int]]:
        """``(needle, start, end)`` of every occurrence of every needle in ``data``, overlapping ones too (a
        needle inside or across another is reported as well)."""
        if self._automaton is None or not len(data):
            return []
        return [(self._patterns[i], start, end)
                for i, start, end in self._automaton.find_matches_as_indexes(data, overlapping=True)]

    def holds(self, data: bytes | memoryview | mmap.mmap) -> bool:
        return bool(self.spans(data))

    def count_in_file(self, path: Path) -> int:
        """Occurrences of needles in the raw bytes of a file (mapped, not read into memory)."""
        if self._automaton is None or not path.exists() or not path.stat().st_size:
            return 0
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return len(self.spans(data))
