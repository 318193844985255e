"""Session-wide fixture: the hand-made fleet (day 1) loaded and built once with `dbt build`, which also runs
every data test and unit test of the project on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

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
def built_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    root = tmp_path_factory.mktemp("dbt_fleet")
    lz = Landing(root / "home")
    write_day1(lz)
    lz.load()
    run_dbt(["build"], lz.warehouse, root / "work")
    return BuiltFleet(lz.home, root / "work")
