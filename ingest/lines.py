"""A landing file's physical lines as DuckDB's reader sees them, numbered from 1.

One definition serves the loader (a JSON Lines record's ``_line`` is this number) and retention's rewrite of the
landing archive (which finds the line of a loaded or quarantined row by its ``_line``), so both count lines the
same way. gzip is read transparently; every line, blank ones included, is one field.
"""

from __future__ import annotations

from pathlib import Path

from ingest.validation import q

LINE_DELIMITER = "\x1f"  # a raw control character cannot occur in valid JSON, so each line is one field


def lines_table(path: Path) -> str:
    """The table function that reads each line of a (possibly gzipped) text file into one text column ``line``."""
    return (
        f"read_csv({q(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, delim = {q(LINE_DELIMITER)}, "
        f"quote = '', escape = '', auto_detect = false, max_line_size = 10000000)"
    )


def numbered_lines_sql(path: Path, number: str = "_line") -> str:
    """``select <number>, line``: each physical line of the file with its 1-based line number."""
    return f"select row_number() over () as {number}, line from {lines_table(path)}"
