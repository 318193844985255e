"""The SQL identifier checks agree with python-stdnum, the reference implementation."""

from __future__ import annotations

import random

import duckdb
import pytest
from stdnum.fi import hetu, ytunnus

from ingest.validation import RULE_SQL, hetu_valid_sql, ytunnus_valid_sql

CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def _random_hetu(rng: random.Random) -> str:
    day, month, year = rng.randint(0, 32), rng.randint(0, 13), rng.randint(0, 99)
    century = rng.choice("+-YXWVUABCDEF")
    individual = rng.randint(0, 999)
    body = f"{day:02d}{month:02d}{year:02d}{century}{individual:03d}"
    good = CHECK[int(f"{day:02d}{month:02d}{year:02d}{individual:03d}") % 31]
    return body + (good if rng.random() < 0.6 else rng.choice(CHECK))


def _random_ytunnus(rng: random.Random) -> str:
    return f"{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9)}"


def _sql_results(expr_of, values: list[str]) -> list[bool]:
    con = duckdb.connect()
    con.execute("create table t (i integer, v varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(values)))
    return [r[0] for r in con.execute(f"select {expr_of('v')} from t order by i").fetchall()]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hetu_sql_agrees_with_stdnum(seed):
    rng = random.Random(seed)
    values = [_random_hetu(rng) for _ in range(4000)] + ["131052-308T", "131052-308U", "310252-308Y",
                                                         "010101-0013", "010101-9005", "131052a308t"]
    expected = [hetu.is_valid(v) for v in values]
    assert sum(expected) > 300  # the sample holds many valid codes, not only invalid ones
    mismatches = sum(a != b for a, b in zip(_sql_results(hetu_valid_sql, values), expected))
    assert mismatches == 0


def test_ytunnus_sql_agrees_with_stdnum():
    rng = random.Random(7)
    values = [_random_ytunnus(rng) for _ in range(5000)] + ["2077474-0", "2077474-1", "1234567-1", "0737546-2"]
    expected = [ytunnus.is_valid(v) for v in values]
    assert sum(expected) > 300
    mismatches = sum(a != b for a, b in zip(_sql_results(ytunnus_valid_sql, values), expected))
    assert mismatches == 0


@pytest.mark.parametrize("rule, good, bad", [
    ("plate", ["ABC-123", "xyz-9", "AB-1", "ÅÄÖ-12", "abc -123"], ["1234", "ABCD-1", "AB-1234", "AB123"]),
    ("vin", ["WVWZZZAUZPW123456", "yv1xzk9v1r2345678"], ["WVWZZZAUZPW12345O", "SHORT", "WVWZZZAUZPW1234567"]),
    ("email", ["a@b.fi", "first.last@sub.example.com"], ["a.b.fi", "a@b", "a@@b.fi", "a b@c.fi"]),
    ("phone", ["040 123 4567", "+358 50 765 4321", "0451112223", "+358401234567", "00358401234567",
               "(09) 123 4567"], ["12", "abc", "+0401234567", "040-12"]),
    ("ip", ["84.250.17.203", "2001:14ba:a0bd:dd00:1c2:3ff:fe4:5", "::1"], ["256.1.1.1", "1.2.3", "host"]),
])
def test_pattern_rules(rule, good, bad):
    assert _sql_results(RULE_SQL[rule], good) == [True] * len(good)
    assert _sql_results(RULE_SQL[rule], bad) == [False] * len(bad)
