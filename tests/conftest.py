"""The suite's fixtures: a fleetdw home per test with landing files written by the test itself, the hand-made
fleet built once with dbt, and the generated retention baseline built once (both shared by the xdist workers
through a file lock; tests read them or work on a copy)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.loader import LoadContext, Loader
from tests.support import AS_OF, SAMPLES
from tests.support.dbt import BuiltFleet, LandingZone, run_dbt
from tests.support.fleet import write_day1, write_extract_neighbours
from tests.support.cli import fleetdw
from tests.support.retention import Home, build_baseline, copy_home
from tests.support.shared import shared_once
from dagster_project.synthetic import generate_landing



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heavy modules first, heaviest first (``pytest.mark.heavy(seconds)``), the others in their usual order: with
    ``--dist loadscope`` a worker that takes the last module then does not run it alone for minutes."""
    def weight(item: pytest.Item) -> float:
        mark = item.get_closest_marker("heavy")
        return -float(mark.args[0]) if mark else 0.0
    items.sort(key=weight)


class Landing:
    """Writes landing files and loads them, so each test states its input next to its assertions."""

    def __init__(self, home: Path):
        self.home = home
        self.root = home / "landing"
        self.root.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(home / "warehouse.duckdb"))
        self.con.execute("set TimeZone = 'UTC'")
        self.runs = 0

    def write(self, source: str, name: str, content: str | bytes) -> Path:
        folder = self.root / source
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def write_jsonl(self, source: str, name: str, rows: list[dict | str], gz: bool = False) -> Path:
        text = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)
        data = gzip.compress(text.encode(), mtime=0) if gz else text.encode()
        return self.write(source, name, data)

    def load(self, source: str | None = None, as_of: date = AS_OF):
        from ingest.contracts import SOURCES

        self.runs += 1
        loader = Loader(self.con, LoadContext(self.home, self.root, as_of, f"test-run-{self.runs}"))
        names = [source] if source else list(SOURCES)
        return {n: loader.ingest(SOURCES[n]) for n in names}

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | None = None):
        return self.rows(sql, params)[0][0]


@pytest.fixture
def landing(tmp_path: Path):
    lz = Landing(tmp_path / "home")
    yield lz
    lz.con.close()


@pytest.fixture
def samples_landing(tmp_path: Path) -> Path:
    """A home whose landing zone holds a copy of the contract's sample files."""
    home = tmp_path / "samples_home"
    shutil.copytree(SAMPLES, home / "landing")
    return home


def _shared_fleet(tmp_path_factory: pytest.TempPathFactory, name: str, writers: list,
                  dbt_args: list[str]) -> BuiltFleet:
    """A hand-made fleet written by ``writers``, loaded and built once per session (shared by the xdist workers)."""
    def build(root: Path) -> None:
        lz = LandingZone(root / "home")
        for write in writers:
            write(lz)
        lz.load()
        run_dbt(dbt_args, lz.warehouse, root / "work")

    root = shared_once(tmp_path_factory, name, build)
    return BuiltFleet(root / "home", root / "work")


@pytest.fixture(scope="session")
def built_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    """The hand-made fleet (day 1) loaded and built once with ``dbt build``, which also runs every data test and
    unit test of the project on it."""
    return _shared_fleet(tmp_path_factory, "dbt_fleet", [write_day1], ["build"])


@pytest.fixture(scope="session")
def extract_fleet(tmp_path_factory: pytest.TempPathFactory) -> BuiltFleet:
    """The hand-made fleet with what the company-extract tests add (``write_extract_neighbours``): a grandchild
    company, a neighbour with its own car, a car that moved from O to S and a private lease. Built without dbt's
    tests (``built_fleet`` runs them)."""
    return _shared_fleet(tmp_path_factory, "extract_fleet", [write_day1, write_extract_neighbours],
                         ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"])


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated warehouse (150 persons, loaded and built with dbt, no retention applied yet)."""
    os.environ.setdefault("FLEETDW_PSEUDONYM_KEY", "retention-tests-key-0123456789abcdef")
    return shared_once(tmp_path_factory, "retention_baseline", lambda root: build_baseline(root / "home")) / "home"


@pytest.fixture
def home(baseline: Path, tmp_path: Path) -> Home:
    """A private copy of the retention baseline."""
    return copy_home(baseline, tmp_path / "home")


def _operate_day_one(root: Path) -> None:
    source = root / "source_landing"
    report = generate_landing(source, persons=150, seed=7, as_of=AS_OF, days=10)
    (root / "report.json").write_text(json.dumps(report.to_dict()))
    home = root / "home"
    shutil.copytree(source, home / "landing")
    run = fleetdw(home, "run", "--json")
    (root / "run_output.txt").write_text(run.stdout + run.stderr)


@pytest.fixture(scope="session")
def day_one(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated landing zone (150 persons, seed 7, 10 days to AS_OF) after its first ``fleetdw run``, as a user
    would have it: ``<root>/home`` (copy it before changing it), the generation report and the run's output."""
    return shared_once(tmp_path_factory, "day_one", _operate_day_one)


@pytest.fixture(scope="session")
def day_two(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``day_one`` operated one more day (``tests/soak/operate.py``, day 1: the next day's deliveries, an erasure
    request under a legal hold and one without), uninterrupted: ``<root>/home``, ``<root>/work`` (the operation's
    state), ``summary.json`` of the run and ``hashes.json`` of its tables (``tests/support/faults.py``)."""
    from tests.soak.operate import Operation
    from tests.support.faults import table_hashes

    def build(shared: Path) -> None:
        home = copy_home(day_one / "home", shared / "home").path
        op = Operation(home, shared / "work", persons=150, seed=7, start=AS_OF)
        op.first_day(json.loads((day_one / "run_output.txt").read_text().split("\n", 1)[0]))
        summary = op.run(op.prepare(1))
        op.save()
        (shared / "summary.json").write_text(json.dumps(summary))
        (shared / "hashes.json").write_text(json.dumps(table_hashes(home)))

    return shared_once(tmp_path_factory, "day_two", build)
