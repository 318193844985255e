"""Identifiers of the subjects being erased, used as needles: which values are worth looking for, the pattern that
finds them, and queries that carry them without letting them leak.

The values exist only in the memory of the erasing process. A pattern is inlined into the SQL as a literal, not
bound: DuckDB compiles a constant regex once, a bound parameter once per row. A query that carries one and fails
raises :class:`PrivateQueryError`, because DuckDB's message could quote the identifiers. Byte scans (landing files,
the database file) run GNU ``grep -F``, which finds many fixed strings in one pass (Aho-Corasick); it reads the
needles from a pipe, never from its command line or a file, and its output stays in this process's memory.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading

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


def fixed_strings(needles: set[str]) -> tuple[bytes, set[bytes]]:
    """The needles as a ``grep -f`` pattern list (one per line) and, apart, those that hold a line break (a pattern
    list cannot carry them; a caller that scans bytes looks for them itself)."""
    lines = sorted(n.encode() for n in needles if n and "\n" not in n)
    return b"\n".join(lines), {n.encode() for n in needles if "\n" in n}


def grep_fixed(needles: set[str], args: list[str], data: bytes | None = None) -> tuple[bool, bytes]:
    """``grep -a -F <args>`` with the needles as patterns on a pipe and ``data`` (if any) on stdin, matching bytes
    (``LC_ALL=C``: an identifier is its UTF-8 bytes). Returns whether any line matched and grep's output (kept in
    memory). A failing grep raises :class:`PrivateQueryError` without its message."""
    patterns, _ = fixed_strings(needles)
    if not patterns:
        return False, b""
    read, write = os.pipe()

    def feed() -> None:
        try:
            with os.fdopen(write, "wb") as pipe:
                pipe.write(patterns + b"\n")
        except BrokenPipeError:
            pass   # grep stopped reading (it exits early only on an error, reported below)

    try:
        proc = subprocess.Popen(["grep", "-a", "-F", "-f", f"/dev/fd/{read}", *args], pass_fds=(read,),
                                stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, "LC_ALL": "C"})
    except OSError:
        os.close(write)
        raise
    finally:
        os.close(read)
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out, _ = proc.communicate(data)
    writer.join()
    if proc.returncode not in (0, 1):   # 1: nothing matched
        raise PrivateQueryError(f"an identifier scan failed (grep exit {proc.returncode}; message withheld)")
    return proc.returncode == 0, out
