"""Session-wide fixture: the hand-made fleet (day 1) loaded and built once with `dbt build`, which also runs
every data test and unit test of the project on it."""

from __future__ import annotations

from dataclasses import dataclass
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from tests.dbt_fixtures.fleet import write_day1
from tests.dbt_fixtures.harness import Landing, run_dbt


@dataclass(frozen=True)
class BuiltFleet:
    home: Path       # fleetdw home: landing/, archive/, warehouse.duckdb
    work: Path       # dbt target/ and logs/ of the build

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"


@pytest.fixture(scope="session")
def built_fleet(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> BuiltFleet:
    """Built once for the whole test run, also across pytest-xdist workers (a file lock guards the build);
    tests only read it or copy it."""
    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "dbt_fleet"
    with FileLock(str(root) + ".lock"):
        if not (root / "done").exists():
            shutil.rmtree(root, ignore_errors=True)
            lz = Landing(root / "home")
            write_day1(lz)
            lz.load()
            run_dbt(["build"], lz.warehouse, root / "work")
            (root / "done").write_text("ok")
    return BuiltFleet(root / "home", root / "work")
