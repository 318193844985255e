"""Dagster's own SQLite event log, with one SQLAlchemy engine per database file for the life of the process.

Dagster's ``SqliteEventLogStorage`` creates and disposes of an engine for every event it writes, so SQLAlchemy
compiles every INSERT afresh: 12 ms an event here, and a full ``fleetdw run`` writes about 1,100 events (a planned,
an output and an evaluation event for each of the 254 dbt tests, the same for the 50 models). Keeping the engine
(still ``NullPool``: a connection is opened per write and closed at once, so another process — the daemon, the
UI — reads and writes the same files as before) brings that to 3.5 ms; a 150-person run gains ≈ 2.5 s (most event
writes overlap the dbt process).

The files and their schema are Dagster's own: the UI and the daemon, which use the default storage, read what
``fleetdw run`` writes. Used by the instance ``fleetdw`` commands open (``defs/runs.instance_for``); dagster is
pinned to one version, and the pipeline tests run every event through this class.
"""

import os
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage


class CachedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose engines (and so their compiled statements) outlive one event."""

    def __init__(self, base_dir: str, inst_data=None):
        self.engines: dict[tuple[int, str], object] = {}     # (pid, shard) -> engine; set before the parent's init
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str):
        with self._db_lock:
            key = (os.getpid(), shard)        # an engine is never shared with a forked child
            engine = self.engines.get(key)
            if engine is None:
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
                self.engines[key] = engine
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    @classmethod
    def from_config_value(cls, inst_data, config_value):   # the parent's names its own class
        return cls(inst_data=inst_data, **config_value)

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        self.engines.clear()
        super().dispose()


def event_log_override(dagster_home) -> dict:
    """The ``overrides`` of ``InstanceRef.from_dir`` that select this storage over the same files."""
    return {"event_log_storage": {"module": __name__, "class": CachedEngineSqliteEventLogStorage.__name__,
                                  "config": {"base_dir": os.path.join(str(dagster_home), "history", "runs", "")}}}
