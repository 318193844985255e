"""``fleetdw cluster up|down|status`` and ``FLEETDW_ENGINE=spark`` without the cluster: what the suite can check
without starting Spark (the whole distributed run is ``tests/scaleout/run_scaleout.py``, on demand)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dagster_project.scaleout import cluster as C
from tests.support.cli import FLEETDW, cli_env, fleetdw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_spark_cluster_binds_loopback_only(tmp_path: Path):
    cfg = C.ClusterConfig.for_home(tmp_path)
    comps = {c.name: c for c in C.components(cfg)}
    assert set(comps) == {"redis", "spark-master", "spark-worker-1", "spark-worker-2", "spark-thrift",
                          "celery-writer", "celery-spark"}
    for c in comps.values():
        text = " ".join(c.argv)
        assert "0.0.0.0" not in text, c.name
    assert comps["redis"].argv[comps["redis"].argv.index("--bind") + 1] == "127.0.0.1"
    assert "hive.server2.thrift.bind.host=127.0.0.1" in comps["spark-thrift"].argv
    assert comps["spark-master"].argv[comps["spark-master"].argv.index("--host") + 1] == "127.0.0.1"
    # DuckDB has one writer: the default queue (every DuckDB-writing step) has one worker slot
    writer = comps["celery-writer"].argv
    assert writer[writer.index("-Q") + 1] == "dagster" and writer[writer.index("--concurrency") + 1] == "1"


def test_spark_cluster_up_status_down_by_pid_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The process bookkeeping on stand-in processes: up starts and records them, a second up starts nothing,
    down stops exactly them (their process groups) and removes the PID files."""
    cfg = C.ClusterConfig.for_home(tmp_path)
    port = _free_port()
    server = ["python3", "-c", "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
              f"socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(120)"]
    monkeypatch.setattr(C, "components", lambda cfg: [C.Component("listener", server, port, 20),
                                                      C.Component("sleeper", ["sleep", "120"], None, 0.3)])
    monkeypatch.setattr(C, "spark_home", lambda: tmp_path)
    state = C.up(cfg)
    assert {n: s["up"] for n, s in state.items()} == {"listener": True, "sleeper": True}
    pids = {n: s["pid"] for n, s in state.items()}
    assert C.up(cfg) == state                                  # nothing started twice
    assert oct((cfg.root / "logs").stat().st_mode & 0o777) == "0o700"
    assert sorted(C.down(cfg)) == ["listener", "sleeper"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids.values())
    assert list(cfg.pids.glob("*.pid")) == []
    assert {n: s["up"] for n, s in C.status(cfg).items()} == {"listener": False, "sleeper": False}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:       # a zombie (exited, not yet reaped by its parent: this test process) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_spark_cluster_status_and_down_on_a_home_without_a_cluster(tmp_path: Path):
    status = fleetdw(tmp_path, "cluster", "status", "--json", check=False)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    down = fleetdw(tmp_path, "cluster", "down")
    assert "nothing was running" in down.stdout


def test_spark_engine_without_a_broker_is_a_one_line_error(tmp_path: Path):
    (tmp_path / "landing").mkdir()
    env = cli_env(tmp_path, FLEETDW_ENGINE="spark", FLEETDW_CELERY_BROKER=f"redis://127.0.0.1:{_free_port()}/0")
    proc = subprocess.run([FLEETDW, "run"], env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "fleetdw cluster up" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-300:]


def test_spark_engine_name_is_checked(tmp_path: Path):
    (tmp_path / "landing").mkdir()
    proc = subprocess.run([FLEETDW, "run"], env=cli_env(tmp_path, FLEETDW_ENGINE="hadoop"), capture_output=True,
                          text=True, cwd=str(tmp_path))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "FLEETDW_ENGINE" in proc.stderr
