"""What the tests share that is not a fixture: the one as-of date, the sample files, builders of homes and rows.
Fixtures live in ``tests/conftest.py``."""

from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A copy of the source contract's sample files (../shared/contracts/samples), so the suite runs anywhere.
SAMPLES = REPO / "tests" / "fixtures" / "samples"
# The clock of every test run (loads, dbt's as_of var, retention), unless a test moves it on purpose.
AS_OF = date(2026, 11, 22)
