"""Five days of operation after the first run (``tests/soak/operate.py``; the on-demand month is
``tests/soak/soak.py``): an approval, erasure requests with a legal hold on one, a rejected CRM file and a consent
withdrawal, the corrected re-delivery and the release, the erased person delivered again — every run succeeds and
every day's checks hold. Days 0 and 1 are the shared ``day_one`` and ``day_two`` homes."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tests.soak.operate import HEADER, Day, Operation
from tests.support import AS_OF
from tests.support.retention import copy_home

pytestmark = pytest.mark.heavy(130)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def test_five_days_of_operation_are_green(day_one: Path, day_two: Path, tmp_path: Path):
    home = copy_home(day_two / "home", tmp_path / "home").path
    shutil.copytree(day_two / "work", tmp_path / "work")
    op = Operation(home, tmp_path / "work", persons=150, seed=7, start=AS_OF)
    op.load()
    first = Day(0, AS_OF)
    op.check(first, json.loads((day_one / "run_output.txt").read_text().split("\n", 1)[0]))
    second = Day(1, AS_OF + timedelta(days=1))
    op.check(second, json.loads((day_two / "summary.json").read_text()))
    days = [first, second] + [op.operate(k) for k in range(2, 5)]
    table = "\n".join([HEADER, *(d.row() for d in days)])
    assert all(d.green for d in days), table
    assert [d.retention for d in days[1:4]] == ["applied", "blocked", "applied"], table
    # the re-delivered requester (and any erased person a daily delta carries again, e.g. as a contract's driver)
    assert days[4].withheld_erased >= 1 and days[2].rejected_files == 1, table
    assert all(d.rows_in == d.loaded + d.quarantined + d.withheld and d.files > 0 for d in days[1:]), table
    assert all(d.withheld > 0 for d in days), table   # the app sends pings of users without a location grant
