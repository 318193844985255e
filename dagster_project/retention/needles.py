"""Identifiers of the subjects being erased, used as needles: which values are worth looking for, the pattern that
finds them, and queries that carry them without letting them leak.

The values exist only in the memory of the erasing process. A pattern is inlined into the SQL as a literal, not
bound: DuckDB compiles a constant regex once, a bound parameter once per row. A query that carries one and fails
raises :class:`PrivateQueryError`, because DuckDB's message could quote the identifiers.
"""

from __future__ import annotations

import re

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
