"""Faults: kill -9 of ``fleetdw run`` during ingestion, then of the next attempt during ``dbt build``, of the next
during the quality step and of the next during erasure — then one run finishes with exactly the tables of the
same day run without interruption (``day_two``; ``tests/support/faults.py``). Each kill on its own, against an
uninterrupted run, on demand: ``python -m pytest tests/long``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.soak.operate import Operation
from tests.support import AS_OF
from tests.support.faults import KILL_POINTS, differing_tables, kill_during
from tests.support.retention import copy_home

pytestmark = pytest.mark.heavy(55)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)


def test_four_kills_in_a_row_then_one_run_give_the_tables_of_the_uninterrupted_day(
        day_one: Path, day_two: Path, tmp_path: Path):
    home = copy_home(day_one / "home", tmp_path / "home").path
    op = Operation(home, tmp_path / "work", persons=150, seed=7, start=AS_OF)
    day = op.prepare(1)                  # the same deliveries and requests as day_two's run
    for phase, (step_prefix, delay) in KILL_POINTS.items():
        started = kill_during(home, step_prefix, delay, day.as_of)
        # The kill landed in the step: it had started, and the attempt had not gone on to a later step.
        assert started and started[-1].startswith(step_prefix), (phase, started[-3:])
    after = op.run(day)
    assert after["status"] == "success", after.get("failed_steps")
    # the erasure was carried out by the killed attempt (the kill landed after its swap) or by this run
    assert after["retention"]["verification"] in ("passed", "not_run")
    assert not differing_tables(home, json.loads((day_two / "hashes.json").read_text()))
