"""fleetdw's instance writes Dagster's event log through one engine per database file
(``defs/event_log.py``), into the same files the UI and the daemon read with Dagster's default storage."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from dagster_project.defs.event_log import CachedEngineSqliteEventLogStorage
from dagster_project.defs.runs import instance_for
from dagster_project.settings import Settings


@dg.op
def _noop():
    pass


@dg.job
def _job():
    _noop()


def _events_read_elsewhere(dagster_home: Path, run_id: str) -> list[str]:
    """The engine-event messages of the run as Dagster's default storage reads them in a separate process."""
    code = ("import sys, dagster as dg\n"
            "with dg.DagsterInstance.from_config(sys.argv[1]) as i:\n"
            "    for r in i.all_logs(sys.argv[2]):\n"
            "        m = r.dagster_event.message if r.dagster_event else ''\n"
            "        if (m or '').startswith('event '): print(m)\n")
    out = subprocess.run([sys.executable, "-c", code, str(dagster_home), run_id], capture_output=True, text=True,
                         check=True, env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"})
    return out.stdout.splitlines()


def test_events_written_with_cached_engines_are_read_by_the_default_storage(tmp_path: Path):
    settings = Settings.resolve(home=str(tmp_path / "home"))
    with instance_for(settings) as instance:
        assert isinstance(instance.event_log_storage, CachedEngineSqliteEventLogStorage)
        result = _job.execute_in_process(instance=instance)
        assert result.success
        for i in range(25):
            instance.report_engine_event(f"event {i}", result.dagster_run)
        # one engine per database file (the run's shard and the index), however many events were written
        shards = {shard for _pid, shard in instance.event_log_storage.engines}
        assert shards <= {result.run_id, "index"} and result.run_id in shards
        run_id = result.run_id
        # each engine keeps its connection (no WAL checkpoint per event) and commits without an fsync
        engine = instance.event_log_storage.engines[(os.getpid(), run_id)]
        assert type(engine.pool).__name__ != "NullPool"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1      # NORMAL
        # another process's reader (the UI) sees every event while this one still holds its connections
        assert _events_read_elsewhere(settings.dagster_home, run_id) == [f"event {i}" for i in range(25)]
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as default:
        assert type(default.event_log_storage).__name__ == "SqliteEventLogStorage"
        messages = [r.dagster_event.message or "" for r in default.all_logs(run_id) if r.dagster_event]
        assert [m for m in messages if m.startswith("event ")] == [f"event {i}" for i in range(25)]
        assert default.get_run_by_id(run_id).is_success
