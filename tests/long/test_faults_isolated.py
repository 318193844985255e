"""On demand (``python -m pytest tests/long``): each kill point of ``tests/support/faults.py`` on its own — kill -9
of ``fleetdw run`` during ingestion, ``dbt build``, the quality step or erasure, then one run — against the tables
of the same run not interrupted. The suite runs the four kills in a row (``tests/test_faults.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.faults import KILL_POINTS, differing_tables, kill_during, prepare, run, uninterrupted
from tests.support.shared import shared_root


@pytest.fixture(scope="session")
def reference(day_one: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return uninterrupted(day_one, shared_root(tmp_path_factory, "faults_reference"))


@pytest.mark.parametrize("phase", list(KILL_POINTS))
def test_after_a_kill_the_next_run_gives_the_tables_of_the_uninterrupted_run(
        phase: str, day_one: Path, reference: dict[str, str], tmp_path: Path):
    home = prepare(day_one, tmp_path / "home")
    step_prefix, delay = KILL_POINTS[phase]
    started = kill_during(home, step_prefix, delay)
    # The kill landed in the step: it had started, and the run had not gone on to a later step.
    assert started and started[-1].startswith(step_prefix), started[-3:]
    after = run(home)
    assert after["status"] == "success", after.get("failed_steps")
    assert not differing_tables(home, reference)
