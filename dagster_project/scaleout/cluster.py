"""A local Spark cluster and Celery for trying the distributed path on one machine (``fleetdw cluster up|down|status``).

Started from the installed wheels only — the ``pyspark`` wheel carries Spark itself (``spark-class``,
``spark-submit``, the Thrift server's jar), Redis comes from the system (``redis-server``), Celery from the
``dagster-celery`` install:

* Redis on 127.0.0.1 (no persistence): the Celery broker and result backend;
* a Spark standalone master and two workers on 127.0.0.1;
* the Spark Thrift server (dbt's ``spark`` target), its metastore (Derby) and warehouse directory under the home;
* two Celery workers running Dagster steps: dagster-celery's default queue ``dagster`` with one slot — every step
  that writes the DuckDB file goes there, and DuckDB has one writer, so they run one at a time — and queue
  ``spark`` with two slots (steps that write no DuckDB: the dbt build on Spark).

Every process binds loopback only and is remembered by a PID file under ``<home>/cluster/pids``; ``down`` stops
exactly those processes (their process groups). Logs go to ``<home>/cluster/logs`` at WARN level: Spark would log
statements at INFO, and a session's statements include the pseudonym key's ``SET``. No Dagster import here.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
LOG4J2 = """# fleetdw cluster: warnings only (INFO lines would carry SQL statements, and a session's SET of the key)
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


CLUSTER_PARTS = ("redis", "spark-master", "spark-worker-1", "spark-worker-2", "spark-thrift", "celery-writer",
                 "celery-spark")


class ClusterError(RuntimeError):
    """A prerequisite is missing or a process did not come up (one line for the user)."""


@dataclass(frozen=True)
class ClusterConfig:
    root: Path
    host: str = LOOPBACK
    master_port: int = 7077
    thrift_port: int = 10000
    redis_port: int = 6379
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "1g"
    driver_memory: str = "1g"
    env: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def for_home(cls, home: Path) -> "ClusterConfig":
        """Ports from ``FLEETDW_SPARK_PORT`` (Thrift), ``FLEETDW_SPARK_MASTER_PORT``, ``FLEETDW_REDIS_PORT``; memory
        of each worker and of the Thrift server's driver from ``FLEETDW_SPARK_WORKER_MEMORY`` /
        ``FLEETDW_SPARK_DRIVER_MEMORY`` (default 1g each)."""
        return cls(root=home / "cluster", thrift_port=int(os.environ.get("FLEETDW_SPARK_PORT", 10000)),
                   master_port=int(os.environ.get("FLEETDW_SPARK_MASTER_PORT", 7077)),
                   redis_port=int(os.environ.get("FLEETDW_REDIS_PORT", 6379)),
                   worker_memory=os.environ.get("FLEETDW_SPARK_WORKER_MEMORY", "1g"),
                   driver_memory=os.environ.get("FLEETDW_SPARK_DRIVER_MEMORY", "1g"))

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    @property
    def broker_url(self) -> str:
        return f"redis://{self.host}:{self.redis_port}/0"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    port: int | None          # what "up" means: this port accepts connections (None: the process is alive)
    timeout: float = 30.0


def spark_home() -> Path:
    try:
        import pyspark
    except ImportError:
        raise ClusterError("pyspark is not installed: pip install -e '.[spark]'") from None
    return Path(pyspark.__file__).parent


def _require(program: str, hint: str) -> str:
    path = shutil.which(program)
    if not path:
        raise ClusterError(f"{program} not found: {hint}")
    return path


def require_prerequisites() -> None:
    """One-line errors for what ``up`` needs and the machine lacks."""
    spark_home()
    _require("java", "install Java 17 (apt-get install openjdk-17-jre-headless)")
    _require("redis-server", "apt-get install redis-server")
    if not Path(sys.executable).with_name("celery").exists():
        raise ClusterError("celery not found: pip install -e '.[spark]'")


def components(cfg: ClusterConfig) -> list[Component]:
    spark = spark_home()
    redis = shutil.which("redis-server") or "redis-server"
    celery = str(Path(sys.executable).with_name("celery"))
    spark_class = str(spark / "bin" / "spark-class")
    out = [Component("redis", [redis, "--bind", cfg.host, "--port", str(cfg.redis_port), "--save", "",
                               "--appendonly", "no", "--dir", str(cfg.root), "--protected-mode", "yes"],
                     cfg.redis_port, 10),
           Component("spark-master", [spark_class, "org.apache.spark.deploy.master.Master", "--host", cfg.host,
                                      "--port", str(cfg.master_port), "--webui-port", "8080"], cfg.master_port, 60)]
    for i in range(1, cfg.workers + 1):
        out.append(Component(f"spark-worker-{i}", [
            spark_class, "org.apache.spark.deploy.worker.Worker", cfg.master_url, "--host", cfg.host,
            "--cores", str(cfg.worker_cores), "--memory", cfg.worker_memory, "--webui-port", str(8080 + i),
            "--work-dir", str(cfg.root / "work" / f"worker-{i}")], None, 10))
    out.append(Component("spark-thrift", [
        str(spark / "bin" / "spark-submit"), "--master", cfg.master_url,
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2", "--name", "fleetdw-thrift",
        "--driver-memory", cfg.driver_memory, "--executor-memory", cfg.worker_memory,
        "--conf", f"spark.sql.warehouse.dir={cfg.root / 'spark-warehouse'}",
        "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName="
                  f"{cfg.root / 'metastore_db'};create=true",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", f"spark.driver.host={cfg.host}", "--conf", f"spark.driver.bindAddress={cfg.host}",
        "--hiveconf", f"hive.server2.thrift.port={cfg.thrift_port}",
        "--hiveconf", f"hive.server2.thrift.bind.host={cfg.host}", "spark-internal"], cfg.thrift_port, 180))
    worker = [celery, "-A", "dagster_project.defs.celery_worker", "worker", "--loglevel", "WARNING",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]
    out.append(Component("celery-writer", [*worker, "-Q", "dagster", "--concurrency", "1",
                                           "--hostname", "writer@%h"], None, 5))
    out.append(Component("celery-spark", [*worker, "-Q", "spark", "--concurrency", "2",
                                          "--hostname", "spark@%h"], None, 5))
    return out


def _environment(cfg: ClusterConfig) -> dict[str, str]:
    conf = cfg.root / "conf"
    return {**os.environ, **cfg.env, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": cfg.host,
            "SPARK_CONF_DIR": str(conf), "SPARK_LOG_DIR": str(cfg.logs), "SPARK_WORKER_DIR": str(cfg.root / "work"),
            "FLEETDW_CELERY_BROKER": cfg.broker_url, "PYSPARK_PYTHON": sys.executable}


def _pid(cfg: ClusterConfig, name: str) -> int | None:
    path = cfg.pids / f"{name}.pid"
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def status(cfg: ClusterConfig) -> dict[str, dict]:
    """Each component: its PID when alive and whether its port accepts connections."""
    try:
        comps = components(cfg)
    except ClusterError:
        comps = []
    out = {}
    for c in comps:
        pid = _pid(cfg, c.name)
        out[c.name] = {"pid": pid, "up": pid is not None and (c.port is None or _listening(cfg.host, c.port)),
                       "port": c.port}
    return out


def up(cfg: ClusterConfig, progress=None) -> dict[str, dict]:
    """Start every component that is not running, in order, waiting until each is up."""
    comps = components(cfg)
    if any(not _pid(cfg, c.name) for c in comps if c.name in CLUSTER_PARTS):
        require_prerequisites()
    for path in (cfg.root, cfg.pids, cfg.logs, cfg.root / "conf", cfg.root / "work"):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    (cfg.root / "conf" / "log4j2.properties").write_text(LOG4J2)
    env = _environment(cfg)
    for c in comps:
        if _pid(cfg, c.name):
            continue
        if c.port is not None and _listening(cfg.host, c.port):
            raise ClusterError(f"port {c.port} on {cfg.host} is taken by another process ({c.name} cannot start)")
        if progress:
            progress(f"starting {c.name}")
        log = open(cfg.logs / f"{c.name}.log", "ab")
        proc = subprocess.Popen(c.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(cfg.root), env=env, start_new_session=True)
        log.close()
        (cfg.pids / f"{c.name}.pid").write_text(str(proc.pid))
        deadline = time.monotonic() + c.timeout
        while True:
            if proc.poll() is not None:
                raise ClusterError(f"{c.name} exited with status {proc.returncode}; see {cfg.logs / c.name}.log")
            if c.port is None:      # no port to ask: alive after its start-up time (Celery connects to Redis)
                time.sleep(c.timeout)
                if proc.poll() is None:
                    break
                continue
            elif _listening(cfg.host, c.port):
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"{c.name} did not come up within {c.timeout:.0f} s; see {cfg.logs / c.name}.log")
            time.sleep(0.5)
    return status(cfg)


def down(cfg: ClusterConfig, timeout: float = 30.0) -> list[str]:
    """Stop the processes ``up`` started (reverse order: SIGTERM to the group, SIGKILL after ``timeout``)."""
    stopped = []
    names = [p.stem for p in sorted(cfg.pids.glob("*.pid"))] if cfg.pids.is_dir() else []
    order = {c: i for i, c in enumerate(CLUSTER_PARTS)}
    for name in sorted(names, key=lambda n: -order.get(n, 99)):
        pid = _pid(cfg, name)
        if pid is not None:
            _stop(pid, timeout)
            stopped.append(name)
        (cfg.pids / f"{name}.pid").unlink(missing_ok=True)
    return stopped


def _stop(pid: int, timeout: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:                      # reap it when it is this process's child (``up`` and ``down`` in one process)
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
