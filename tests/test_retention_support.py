"""The retention baseline the retention, DSAR and quality tests share is what they assume."""

from pathlib import Path

from tests.support.retention import PERSONS, Home


def test_baseline_has_persons_and_built_marts(baseline: Path):
    home = Home(baseline)
    assert home.scalar("select count(*) from raw.crm_persons_current") == PERSONS
    assert home.scalar("select count(*) from marts.fct_fuel_transactions") > 0
    assert home.scalar("select count(*) from raw.contracts_current where status = 'active'") > 0
