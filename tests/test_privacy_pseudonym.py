"""Pseudonyms: the SQL HMAC equals Python's, domains are separated, another key is unlinkable, and the key file is
created once with mode 0600 and a warning."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
from pathlib import Path

import duckdb
import pytest

from dagster_project.privacy.pseudonym import KEY_ENV, load_key, pseudonym, set_key_variables, sql_expression

KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
OTHER_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")
IDS = [f"P{n:06d}" for n in range(100, 400)]


def sql_pseudonyms(key: bytes, domain: str, values: list[str]) -> list[str]:
    con = duckdb.connect()
    try:
        set_key_variables(con, key)
        con.execute("create table t (v varchar)")
        con.executemany("insert into t values (?)", [[v] for v in values])
        return [r[0] for r in con.execute(f"select {sql_expression(domain, 'v')} from t order by v").fetchall()]
    finally:
        con.close()


def test_sql_pseudonym_equals_python_hmac():
    expected = hmac.new(KEY, b"person:P000101", hashlib.sha256).hexdigest()
    assert sql_pseudonyms(KEY, "person", ["P000101"]) == [expected]
    assert pseudonym(KEY, "person", "P000101") == expected


@pytest.mark.parametrize("key", [b"short", bytes(range(64)), bytes(range(100)), "avain-äö".encode()])
def test_sql_hmac_matches_for_any_key_length(key: bytes):
    assert sql_pseudonyms(key, "vehicle", ["ABC-123", "äöå"]) == [
        pseudonym(key, "vehicle", "ABC-123"), pseudonym(key, "vehicle", "äöå")]


def test_domains_are_separated():
    assert pseudonym(KEY, "person", "X1") != pseudonym(KEY, "vehicle", "X1") != pseudonym(KEY, "company", "X1")


def test_another_key_gives_unlinkable_pseudonyms():
    a = set(sql_pseudonyms(KEY, "person", IDS))
    b = set(sql_pseudonyms(OTHER_KEY, "person", IDS))
    assert len(a) == len(b) == len(IDS)
    assert not a & b, "pseudonyms under two keys must not overlap"


def test_key_variables_are_not_persisted(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    set_key_variables(con, KEY)
    con.execute("create table t as select 1 as x")
    con.close()
    con = duckdb.connect(str(db))
    assert con.execute("select getvariable('fleetdw_pk_ipad')").fetchall() == [(None,)]
    con.close()
    data = db.read_bytes()
    assert KEY not in data and KEY.hex().encode() not in data


def test_key_file_is_created_once_with_mode_0600_and_a_warning(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = load_key(tmp_path)
    err = capsys.readouterr().err
    path = tmp_path / "secrets" / "pseudonym.key"
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "warning" in err and key.hex() not in err
    assert load_key(tmp_path) == key
    assert capsys.readouterr().err == ""


def test_environment_key_wins_over_the_file(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY.hex())
    assert load_key(tmp_path) == KEY
    assert not (tmp_path / "secrets").exists()


def test_no_pseudonym_key_is_tracked_in_the_repository():
    """A key file once reached git (``dbt/secrets/``, created by a dbt call whose home was the project directory)."""
    repo = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    assert len(tracked) > 100
    assert [f for f in tracked if Path(f).name.endswith(".key") or "secrets/" in f] == []
