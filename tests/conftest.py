"""Shared fixtures: a fleetdw home per test, small landing files written by the test itself."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.loader import LoadContext, Loader

# A copy of the source contract's sample files (../shared/contracts/samples), so the suite runs anywhere.
SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples"
AS_OF = date(2026, 11, 22)


class Landing:
    """Writes landing files and loads them, so each test states its input next to its assertions."""

    def __init__(self, home: Path):
        self.home = home
        self.root = home / "landing"
        self.root.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(home / "warehouse.duckdb"))
        self.con.execute("set TimeZone = 'UTC'")
        self.runs = 0

    def write(self, source: str, name: str, content: str | bytes) -> Path:
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def write_jsonl(self, source: str, name: str, rows: list[dict | str], gz: bool = False) -> Path:
        text = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)
        data = gzip.compress(text.encode(), mtime=0) if gz else text.encode()
        return self.write(source, name, data)

    def load(self, source: str | None = None, as_of: date = AS_OF):
        from ingest.contracts import SOURCES

        self.runs += 1
        loader = Loader(self.con, LoadContext(self.home, self.root, as_of, f"test-run-{self.runs}"))
        names = [source] if source else list(SOURCES)
        return {n: loader.ingest(SOURCES[n]) for n in names}

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | None = None):
        return self.rows(sql, params)[0][0]


@pytest.fixture
def landing(tmp_path: Path):
    lz = Landing(tmp_path / "home")
    yield lz
    lz.con.close()


@pytest.fixture
def samples_landing(tmp_path: Path) -> Path:
    """A home whose landing zone holds a copy of the contract's sample files."""
    home = tmp_path / "samples_home"
    shutil.copytree(SAMPLES, home / "landing")
    return home
