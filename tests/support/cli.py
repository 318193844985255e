"""``fleetdw`` driven from a test, in this process: the Dagster and dbt imports and dbt's parse are paid once per
worker, not once per command (a subprocess ``fleetdw run`` of the 150-person home costs about 6 s more). What only a
process of its own shows is tested with one: the command's exit and streams (``tests/test_cli_run.py``, which runs
``python -m dagster_project.cli``) and kill -9 (``tests/support/faults.py``, :data:`FLEETDW`)."""

from __future__ import annotations

import os
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
