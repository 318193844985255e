"""Five days of operation after the first run (``tests/soak/operate.py``; the on-demand month is
``tests/soak/soak.py``): an approval and a legal hold, an erasure request, a rejected CRM file and a consent
withdrawal, the corrected re-delivery and the release, the erased person delivered again — every run succeeds and
every day's checks hold."""

from __future__ import annotations

import json
from pathlib import Path

from tests.soak.operate import HEADER, Operation
from tests.support import AS_OF
from tests.support.retention import copy_home


def test_five_days_of_operation_are_green(day_one: Path, tmp_path: Path):
    home = copy_home(day_one / "home", tmp_path / "home").path
    first = json.loads((day_one / "run_output.txt").read_text().split("\n", 1)[0])
    op = Operation(home, tmp_path / "work", persons=150, seed=7, start=AS_OF)
    days = [op.first_day(first)] + [op.operate(k) for k in range(1, 5)]
    table = "\n".join([HEADER, *(d.row() for d in days)])
    assert all(d.green for d in days), table
    assert [d.retention for d in days[2:4]] == ["blocked", "applied"], table
    assert days[4].erased_again == 1 and days[2].rejected_files == 1, table
    assert all(d.rows_in == d.loaded + d.quarantined and d.files > 0 for d in days[1:]), table
