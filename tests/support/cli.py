"""``fleetdw`` driven from a test: in this process (the Dagster and dbt imports are paid once per worker) or as a
subprocess (what a user's shell does; needed to kill it)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import AS_OF

FLEETDW = str(Path(sys.executable).with_name("fleetdw"))


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user of ``home``: no FLEETDW_/DAGSTER_ variable of the caller leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETDW_", "DAGSTER_"))}
    env.update({"FLEETDW_HOME": str(home), "FLEETDW_AS_OF": AS_OF.isoformat(), "USER": "marketing.tester"})
    env.update(extra)
    return env


def fleetdw(home: Path, *args: str, check: bool = True, **env: str) -> Result:
    """``fleetdw`` in this process; the environment the command changes (DAGSTER_HOME, FLEETDW_*) is restored."""
    from click.testing import CliRunner

    from dagster_project.cli.main import cli

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(cli_env(home, **env))
        res = CliRunner().invoke(cli, list(args), prog_name="fleetdw", catch_exceptions=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result = Result(res.exit_code, res.stdout, res.stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"fleetdw {args[0]} exited {result.returncode}: {result.stderr.strip()[-300:]}")
    return result


def fleetdw_subprocess(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([FLEETDW, *args], env=cli_env(home, **env), capture_output=True, text=True, cwd=str(home))
    if proc.returncode != 0:
        raise AssertionError(f"fleetdw {args[0]} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc
