"""The SQL phone normalisation (macro normalise_phone) agrees with phonenumbers' E.164 formatting for the formats
people type, and with the contract's validation rule (only numbers raw accepts are compared)."""

from __future__ import annotations

import random

import duckdb
import phonenumbers
import pytest

from dagster_project.synthetic.identifiers import MOBILE_PREFIXES, PHONE_STYLES, format_phone, make_mobile
from ingest.validation import phone_valid_sql
from tests.support.dbt import dbt_here

pytestmark = pytest.mark.heavy(5)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

SPECIAL = [
    "+358 (0)40 123 4567", "+358 040 123 4567", "00358 40 123 4567", "040-123 4567", "(040) 123 4567",
    "050.765.4321", "09 123 4567", "+358 9 1234567", "020 123 4567", "+46 70 123 45 67", "0046 70 123 45 67",
    "+46 070 123 45 67", "+44 20 7946 0958", "+44 (0)20 7946 0958", "+49 030 1234567", "+1 (212) 555-0100",
    "+372 5123 4567", " 0401234567 ", "+358401234567",
]


def phone_cases() -> list[str]:
    rng = random.Random(20261122)
    cases = list(SPECIAL)
    for _ in range(150):
        national = make_mobile(rng, rng.choice(MOBILE_PREFIXES + ("09", "02", "013")))
        cases.append(format_phone(national, rng.choice(PHONE_STYLES)))
    return cases


def compile_inline(tmp_path_factory: pytest.TempPathFactory, sql: str) -> str:
    """The SQL dbt compiles ``sql`` to (for DuckDB): ``dbt compile --inline`` in this process, on the manifest it
    parsed once (dbt takes the inline node out of it afterwards)."""
    work = tmp_path_factory.mktemp("dbt_compile")
    res = dbt_here(["compile", "--inline", sql], work / "w.duckdb", work)
    node, = [r.node for r in res.result.results if r.node.name == "inline_query"]
    return node.compiled_code.strip()


@pytest.fixture(scope="module")
def normalise_phone_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    return compile_inline(tmp_path_factory,
                          "select raw_phone, {{ normalise_phone('raw_phone') }} as e164 from phone_cases")


def test_sql_phone_normalisation_matches_phonenumbers_e164(normalise_phone_sql: str):
    cases = phone_cases()
    con = duckdb.connect()
    con.execute("create table phone_cases (raw_phone varchar)")
    con.executemany("insert into phone_cases values (?)", [[c] for c in cases])
    accepted = {r[0] for r in con.execute(
        f"select raw_phone from phone_cases where {phone_valid_sql('trim(raw_phone)')}").fetchall()}
    got = dict(con.execute(normalise_phone_sql).fetchall())
    compared = mismatches = 0
    for raw in cases:
        if raw not in accepted:
            continue
        expected = phonenumbers.format_number(phonenumbers.parse(raw, "FI"), phonenumbers.PhoneNumberFormat.E164)
        compared += 1
        mismatches += got[raw] != expected
    assert compared >= 150
    assert mismatches == 0, f"{mismatches} of {compared} numbers normalised differently from phonenumbers"


@pytest.fixture(scope="module")
def both_phone_forms(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The portable normalisation (``default__``, what Spark runs) and DuckDB's (``duckdb__``) side by side."""
    return compile_inline(tmp_path_factory,
                          "select count(*) from phone_cases where {{ fleetdw.default__normalise_phone('raw_phone') }} "
                          "is distinct from {{ fleetdw.duckdb__normalise_phone('raw_phone') }}")


def test_duckdb_phone_normalisation_equals_the_portable_one_on_any_text(both_phone_forms: str):
    """DuckDB's form computes the digits once (lambdas); for any text, typed numbers included, it gives what the
    portable form gives — NULL, empty and unaccepted values too."""
    from hypothesis import given, settings, strategies as st

    typed = st.sampled_from(phone_cases())
    digits_and_marks = st.text(alphabet="0123456789+-() .", max_size=20)
    con = duckdb.connect()
    con.execute("create table phone_cases (raw_phone varchar)")

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(st.lists(st.one_of(typed, digits_and_marks, st.text(max_size=12), st.none()), min_size=1, max_size=40))
    def agree(values: list[str | None]) -> None:
        con.execute("delete from phone_cases")
        con.executemany("insert into phone_cases values (?)", [[v] for v in values])
        assert con.execute(both_phone_forms).fetchall()[0][0] == 0

    agree()
    # and the contract's special cases, all at once
    con.execute("delete from phone_cases")
    con.executemany("insert into phone_cases values (?)", [[c] for c in [*SPECIAL, "", "+", "00", "0", "+3580"]])
    assert con.execute(both_phone_forms).fetchall()[0][0] == 0
