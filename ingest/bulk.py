"""Bulk inserts through DuckDB's ``executemany``, which refuses an empty batch: a day with nothing of a kind (no
subject due, no file to rewrite, no malformed line) is an ordinary day, so every bulk path goes through here."""

from __future__ import annotations

from typing import Iterable, Sequence

import duckdb


def insert_many(con: duckdb.DuckDBPyConnection, sql: str, rows: Iterable[Sequence]) -> int:
    """Run ``sql`` once per row; nothing at all for no rows. Returns the number of rows."""
    batch = [tuple(r) for r in rows]
    if batch:
        con.executemany(sql, batch)
    return len(batch)
