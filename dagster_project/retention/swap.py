"""Crash-safe replacement of the warehouse file and of the landing-archive files an erasure changed.

The live file is never modified in place: it is copied byte for byte into a work directory next to it (holding
its write lock), the erasure commits on the copy, ``COPY FROM DATABASE`` writes a fresh file from the copy (freed
blocks of the copy hold the deleted values; the fresh file holds only live rows), and the fresh file replaces the
live one with ``os.replace`` (atomic). The file actions (rewritten archive files replace the old ones, expired ones
are deleted) are recorded in ``ops.pending_file_actions`` in the erasure's transaction and completed after the
swap. A crash before the swap leaves the old state; after it, :func:`recover` finishes the recorded file actions
before anything else. Never a mix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from dagster_project.retention.archive import FileAction, remove_orphan_rewrites
from dagster_project.retention.control import ensure_control_tables
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse
from ingest.bulk import insert_many

CRASH_ENV = "FLEETDW_RETENTION_CRASH_AT"   # tests only: exit hard at a named point
WORK_PREFIX = ".retention-"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(71)


def work_files(live: Path, run_id: str) -> tuple[Path, Path, Path]:
    """An empty work directory next to the live file: ``(directory, work copy, fresh file)``."""
    work_dir = live.parent / f"{WORK_PREFIX}{run_id[:8]}"
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    return work_dir, work_dir / live.name, work_dir / ("fresh_" + live.name)


def copy_live(lock: duckdb.DuckDBPyConnection, live: Path, work: Path) -> None:
    """Checkpoint the live file through the connection holding its write lock, and copy it byte for byte."""
    lock.execute("checkpoint")
    shutil.copyfile(live, work)


def write_fresh(con: duckdb.DuckDBPyConnection, fresh: Path) -> None:
    """A fresh database file with every live row of ``con``'s database and none of its freed blocks."""
    catalog = con.execute("select current_database()").fetchall()[0][0]
    con.execute(f"attach '{fresh}' as fresh_db")
    con.execute(f"copy from database \"{catalog}\" to fresh_db")
    con.execute("detach fresh_db")


def record_file_actions(con: duckdb.DuckDBPyConnection, run_id: str, actions: list[FileAction]) -> None:
    """Inside the erasure's transaction: the file actions :func:`recover` completes after the swap."""
    insert_many(con, "insert into ops.pending_file_actions values (?, ?, ?, ?, false)",
                    [(run_id, p, a, t) for p, a, t in actions])


def swap_in(fresh: Path, live: Path, work_dir: Path) -> None:
    """Replace the live file with the fresh one (atomic; old WAL removed) and drop the work directory. Call it
    with the write lock released."""
    os.replace(fresh, live)
    for leftover in (live.with_name(live.name + ".wal"),):
        leftover.unlink(missing_ok=True)
    _fsync_dir(live.parent)
    crash_point("after_swap")
    shutil.rmtree(work_dir, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(settings: Settings) -> int:
    """Finish file actions of a swapped-in erasure; drop leftovers of one that never swapped. Returns actions done."""
    done = 0
    for work in settings.warehouse.parent.glob(f"{WORK_PREFIX}*"):
        shutil.rmtree(work, ignore_errors=True)
    if not settings.warehouse.exists():
        return 0
    with open_warehouse(settings) as con:
        ensure_control_tables(con)
        pending = con.execute("select run_id, path, action, tmp_path from ops.pending_file_actions "
                              "where not done").fetchall()
        for run_id, path, action, tmp in pending:
            if action == "replace" and tmp and Path(tmp).exists():
                os.replace(tmp, path)
            elif action == "delete" and Path(path).exists():
                Path(path).unlink()
            con.execute("update ops.pending_file_actions set done = true where run_id = ? and path = ?", [run_id, path])
            done += 1
    # Whatever rewritten file is still lying around belongs to an erasure that never swapped in: an orphan.
    remove_orphan_rewrites(settings.home)
    return done
