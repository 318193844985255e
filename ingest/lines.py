"""A landing file's physical lines as DuckDB's reader sees them, numbered from 1.

One definition serves the loader (a JSON Lines record's ``_line`` is this number) and retention's rewrite of the
landing archive (which finds the line of a loaded or quarantined row by its ``_line``), so both count lines the
same way. gzip is read transparently; every line, blank ones included, is one field.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from ingest.validation import q

# The gzip codec of every archived copy fleetdw writes (the loader's copy of a consent-gated file, retention's
# rewrite of the archive): ISA-L's, the same format 3-4x faster than zlib at level 1, else the standard library's.
try:
    from isal import igzip as fast_gzip
    from isal.isal_zlib import error as CodecError
except ImportError:   # a platform without its wheel
    fast_gzip, CodecError = gzip, zlib.error

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
