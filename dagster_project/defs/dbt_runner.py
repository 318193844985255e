"""dbt in the pipeline's own process, behind the process interface dagster-dbt reads.

dagster-dbt's ``DbtCliResource.cli`` starts dbt as a subprocess and turns the structured log lines on its stdout
into Dagster events (materialisations, asset checks). A new dbt process costs about 4 s of imports and parsing
before it builds anything — more than dbt's own work in a day's build of a small warehouse, and paid by every
``dbt build`` of every run, twice when an erasure's rebuild follows. Here the same invocation runs on a thread of
this process with dbt's programmatic runner (``dbtRunner``) and a manifest parsed once per process and project
version, and its events reach dagster-dbt as the same JSON lines: what Dagster records is unchanged.

Only fleetdw's own invocations run here: ``dbt_cli`` (``defs/dbt.py``) marks them with
``FLEETDW_DBT_IN_PROCESS=1`` in the environment dagster-dbt hands to its ``Popen``; any other call starts a
process as before. ``FLEETDW_DBT_SUBPROCESS=1`` makes fleetdw use the subprocess (``fleetdw-dbt``) again.

What the subprocess did for us and how it is kept:
- dbt ends with its process: a killed run ends its dbt with it (the thread dies with the process), so no dbt is left
  holding the warehouse; dbt-duckdb keeps its DuckDB connection for the life of a process, so it is closed when the
  invocation ends (:func:`_close_duckdb`), before the pipeline opens the file again;
- nothing reaches the CLI's output: dbt logs nothing to stdout or a file (``--log-level none``, ``--log-level-file
  none``); its events go only to the callback, which keeps what dbt would have printed at info level;
- the environment: dbt reads its flags and copies the environment when it starts; the invocation's variables are set
  until then and restored before ``Popen`` returns, as a subprocess would have taken them.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import orjson

from dagster_project.manifest import DBT_DIR, MANIFEST_PATH, PARSE_ENV, TARGET_DIR, ensure_manifest

IN_PROCESS_VARIABLE = "FLEETDW_DBT_IN_PROCESS"
SUBPROCESS_VARIABLE = "FLEETDW_DBT_SUBPROCESS"
QUIET = ["--log-level", "none"]   # dbt prints nothing; its events reach the callback

_parse_lock = threading.Lock()
_parsed: tuple[float, Any] | None = None   # (manifest.json's mtime, dbt's Manifest)


def in_process() -> bool:
    """Whether fleetdw's dbt builds run in this process (the default) rather than in a ``fleetdw-dbt`` process."""
    return os.environ.get(SUBPROCESS_VARIABLE) != "1"


def parsed_manifest():
    """dbt's ``Manifest`` of the project, parsed once per process and version of the project (the same partial-parse
    cache and rendering as ``manifest.ensure_manifest``, so a parse is a load of that cache: about 1.5 s)."""
    global _parsed
    ensure_manifest()
    with _parse_lock:
        mtime = MANIFEST_PATH.stat().st_mtime
        if _parsed is not None and _parsed[0] == mtime:
            return _parsed[1]
        from dbt.cli.main import dbtRunner

        work = Path(tempfile.mkdtemp(prefix="fleetdw-dbt-parse-"))
        cache = TARGET_DIR / "partial_parse.msgpack"
        try:
            if cache.exists():
                shutil.copy(cache, work / cache.name)
            with environment(PARSE_ENV):
                result = dbtRunner().invoke([*QUIET, "--log-level-file", "none", "parse", "--no-write-json",
                                             "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                                             "--target-path", str(work)])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if not result.success or result.result is None:
            raise RuntimeError("dbt could not parse the project (run `dbt parse` in dbt/ to see why)")
        _parsed = (mtime, result.result)
        return result.result


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in ``os.environ`` inside the block, the previous values (or their absence) restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _close_duckdb() -> None:
    """Close the DuckDB connection dbt-duckdb keeps for the life of its process (class state of its connection
    manager), so that the warehouse file is free when the invocation ends."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager

    with manager._LOCK:
        env, manager._ENV = manager._ENV, None
    if env is not None:
        env.close()


def invoke(args: list[str], env: Mapping[str, str]):
    """``dbt <args>`` in this process, now, on the manifest parsed once, with ``env`` set while dbt runs; dbt's
    ``dbtRunnerResult``. Its DuckDB connection is closed when it returns."""
    from dbt.cli.main import dbtRunner

    manifest = parsed_manifest()
    with environment(env):
        try:
            return dbtRunner(manifest=manifest).invoke([*QUIET, *args])
        finally:
            _close_duckdb()


class _Lines:
    """The stdout of an in-process dbt: its JSON log lines as dbt fires them, ended by ``None``."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.closed = False

    def put(self, line: bytes | None) -> None:
        self._queue.put(line)

    def __iter__(self):
        while not self.closed and (line := self._queue.get()) is not None:
            yield line

    def __enter__(self) -> "_Lines":
        return self

    def __exit__(self, *exc) -> None:
        self.closed = True


class InProcessDbt:
    """``dbt <args>`` on a thread of this process, shaped like the ``subprocess.Popen`` that dagster-dbt's
    ``DbtCliInvocation`` reads: ``args``, ``stdout`` (dbt's structured log lines), ``wait``, ``returncode``.
    The return code follows dbt's: 0 success, 1 a failing node, 2 dbt could not run."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: str | os.PathLike | None = None):
        self.args = list(args)
        self.returncode: int | None = None
        self.stdout = _Lines()
        self._started = threading.Event()
        manifest = parsed_manifest()
        self._results_path = _target_path(self.args, env, cwd) / "run_results.json"
        with environment({k: v for k, v in env.items() if os.environ.get(k) != v}):
            self._thread = threading.Thread(target=self._run, args=(manifest,), name="fleetdw-dbt", daemon=True)
            self._thread.start()
            # dbt has read its flags and copied the environment once it fires its first event
            self._started.wait()

    def _emit(self, msg) -> None:
        self._started.set()
        if msg.info.level == "debug":     # dagster-dbt reads what dbt prints at its default level, info
            return
        from dbt_common.events.functions import msg_to_dict

        self.stdout.put(orjson.dumps(msg_to_dict(msg)) + b"\n")

    def _run(self, manifest) -> None:
        from dbt.cli.main import dbtRunner

        try:
            # dbt would write the whole manifest.json after every invocation (about 1 s of this process's time for a
            # day's build); the pipeline reads only run_results.json, written here from the result as dbt writes it
            result = dbtRunner(manifest=manifest, callbacks=[self._emit]).invoke(
                [*QUIET, "--no-write-json", *self.args[1:]])
            if hasattr(result.result, "write"):
                self._results_path.parent.mkdir(parents=True, exist_ok=True)
                result.result.write(str(self._results_path))
            self.returncode = 0 if result.success else 2 if result.exception is not None else 1
        except BaseException:   # dbtRunner returns its errors; anything else is dbt's crash, as a process's exit 2
            self.returncode = 2
        finally:
            try:
                _close_duckdb()
            finally:
                self._started.set()
                self.stdout.put(None)

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """A thread cannot be interrupted: an interrupted run's dbt ends with its process."""


def _target_path(args: list[str], env: Mapping[str, str], cwd: str | os.PathLike | None) -> Path:
    """Where dbt would write this invocation's artefacts: ``--target-path`` or ``DBT_TARGET_PATH`` (dagster-dbt's
    unique path per invocation), relative to the project directory, or the project's ``target``."""
    def option(name: str) -> str | None:
        return args[args.index(name) + 1] if name in args[:-1] else None

    project = Path(option("--project-dir") or env.get("DBT_PROJECT_DIR") or cwd or DBT_DIR)
    return project / (option("--target-path") or env.get("DBT_TARGET_PATH") or "target")


class _Subprocess:
    """The ``subprocess`` module as dagster-dbt's ``DbtCliInvocation`` uses it: ``Popen`` of an invocation that
    ``dbt_cli`` marked runs dbt in this process; every other one starts a process."""

    PIPE, STDOUT = subprocess.PIPE, subprocess.STDOUT

    @staticmethod
    def Popen(args, **kwargs):  # noqa: N802 (the name dagster-dbt calls)
        env = kwargs.get("env") or {}
        if env.get(IN_PROCESS_VARIABLE) == "1":
            return InProcessDbt(list(args), env, cwd=kwargs.get("cwd"))
        return subprocess.Popen(args, **kwargs)


def install() -> None:
    """Route dagster-dbt's ``Popen`` through :class:`_Subprocess` (idempotent)."""
    from dagster_dbt.core import dbt_cli_invocation

    dbt_cli_invocation.subprocess = _Subprocess
