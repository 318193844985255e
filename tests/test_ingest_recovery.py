"""A crash or kill in the middle of a load, then a rerun, gives exactly the state of an uninterrupted run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from ingest.contracts import SOURCES
from tests.support import SAMPLES

LOAD_SCRIPT = textwrap.dedent("""
    import os, sys
    from datetime import date
    from pathlib import Path
    import duckdb
    from ingest import loader

    home, crash_at, where = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    calls = {"n": 0}

    original_finish, original_move = loader.Loader._finish, loader.Loader._move

    def finish(self, source, prepared):
        # The file's rows are inserted in its open transaction; the crash comes before its commit.
        calls["n"] += 1
        if where == "before_commit" and calls["n"] == crash_at:
            os._exit(3)
        return original_finish(self, source, prepared)

    def move(self, *args):
        if where == "before_move" and calls["n"] == crash_at:
            os._exit(3)
        return original_move(self, *args)

    loader.Loader._finish, loader.Loader._move = finish, move
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    loader.ingest_sources(con, loader.LoadContext(home, home / "landing", date(2026, 11, 22), "run"))
    con.close()
""")


def _prepare(home: Path) -> None:
    shutil.copytree(SAMPLES, home / "landing")
    extra = home / "landing" / "fuel" / "fuel_2026-11-21.jsonl"
    extra.write_text((SAMPLES / "fuel" / "fuel_2026-11-20.jsonl").read_text().replace("F20261120", "F20261121"))


def _load(home: Path, crash_at: int = 0, where: str = "none") -> int:
    return subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(home), str(crash_at), where],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True).returncode


def _state(home: Path) -> dict:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    state = {name: con.execute(f"select * exclude (_loaded_at) from raw.{name} order by all").fetchall()
             for name in SOURCES}
    state["quarantine"] = con.execute(
        "select * exclude (quarantined_at) from raw.quarantine order by all").fetchall()
    state["manifest"] = con.execute(
        "select load_id, source, file_name, content_hash, status, reason, rows_in, rows_loaded, rows_quarantined, "
        "rows_withheld, replace(archive_path, ?, '') from raw.file_manifest order by load_id", [str(home)]).fetchall()
    con.close()
    state["archive"] = sorted(str(p.relative_to(home)) for p in (home / "archive").rglob("*") if p.is_file())
    state["landing_left"] = sorted(str(p.relative_to(home)) for p in (home / "landing").rglob("*") if p.is_file())
    return state


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("clean")
    _prepare(home)
    assert _load(home) == 0
    return _state(home)


@pytest.mark.parametrize("where", ["before_commit", "before_move"])
@pytest.mark.parametrize("crash_at", [1, 4, 9, 11])  # 11: location, whose archived copy drops withheld lines
def test_crash_then_rerun_equals_uninterrupted_run(tmp_path, uninterrupted, where, crash_at):
    home = tmp_path / "home"
    _prepare(home)
    assert _load(home, crash_at, where) == 3, "the load should have been killed"
    assert _load(home) == 0
    assert _state(home) == uninterrupted


def test_uninterrupted_run_loaded_every_file(uninterrupted):
    assert len(uninterrupted["manifest"]) == 12
    assert uninterrupted["landing_left"] == []
