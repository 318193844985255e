"""Pseudonyms: HMAC-SHA256 under a secret key that never enters the warehouse (RULES.md §2).

The key comes from ``FLEETDW_PSEUDONYM_KEY`` (hex, at least 32 hex digits, or any other text taken as UTF-8
bytes), else from ``<home>/secrets/pseudonym.key``, which is created once with 32 random bytes (mode 0600) and a
warning on stderr. Pseudonyms are computed inside DuckDB SQL: the key's HMAC inner and outer pads are set as
**session variables** on the connection (``SET VARIABLE``), which live in the connection's memory only — never in
a table, the database file, a dbt artefact or a log — and the SQL reads them with ``getvariable()``::

    sha256(getvariable('fleetdw_pk_opad') || unhex(sha256(getvariable('fleetdw_pk_ipad') || encode('person:P1'))))

Inputs are domain-separated (``person:``, ``vehicle:``, ``company:``), so a person id and a plate that happen to
be equal never share a pseudonym. The same key gives the same pseudonym in every table and run; another key gives
unlinkable ones.

For dbt, ``dagster_project/privacy/dbt_plugin.py`` holds a dbt-duckdb plugin that sets the variables on dbt's
connection and on every cursor dbt opens, so compiled SQL only says ``getvariable(...)``. It is a module of its own
so that importing this one (every ``fleetdw`` command does) does not import dbt (≈ 1 s).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import Any

KEY_ENV = "FLEETDW_PSEUDONYM_KEY"
KEY_FILE = Path("secrets") / "pseudonym.key"
IPAD_VARIABLE = "fleetdw_pk_ipad"
OPAD_VARIABLE = "fleetdw_pk_opad"
# "erased": fingerprints of erased identifiers, kept only until a failed verification is shown fixed
DOMAINS = ("person", "vehicle", "company", "erased")


class PseudonymKeyError(ValueError):
    """The key is unusable (empty, unreadable). The message never quotes the key."""


def parse_key(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        raw = text.strip()
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return raw  # a binary key file
    text = text.strip()
    if not text:
        raise PseudonymKeyError("the pseudonym key is empty")
    if len(text) >= 32 and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    return text.encode("utf-8")


def key_path(home: str | Path) -> Path:
    return Path(home) / KEY_FILE


def load_key(home: str | Path | None = None) -> bytes:
    """The pseudonym key: ``FLEETDW_PSEUDONYM_KEY``, else ``<home>/secrets/pseudonym.key`` (created once)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return parse_key(env)
    path = key_path(home if home is not None else default_home())
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(32).hex() + "\n")
        print(f"fleetdw: warning: no {KEY_ENV} set; created a new pseudonym key at {path} (mode 0600). "
              "Keep it outside the warehouse and back it up: another key gives other pseudonyms.", file=sys.stderr)
    return parse_key(path.read_bytes())


def default_home() -> Path:
    """``FLEETDW_HOME``; without it (a bare ``dbt`` call) the directory of ``FLEETDW_WAREHOUSE``; else ./.fleetdw."""
    if os.environ.get("FLEETDW_HOME"):
        return Path(os.environ["FLEETDW_HOME"]).expanduser().absolute()
    if os.environ.get("FLEETDW_WAREHOUSE"):
        return Path(os.environ["FLEETDW_WAREHOUSE"]).expanduser().absolute().parent
    return Path(".fleetdw").absolute()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256 inner and outer pads of a key (RFC 2104)."""
    k = key if len(key) <= 64 else hashlib.sha256(key).digest()
    k = k.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def pseudonym(key: bytes, domain: str, value: str) -> str:
    """The pseudonym of ``value`` in ``domain`` (hex HMAC-SHA256 of ``domain:value``), as the SQL computes it."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown pseudonym domain {domain!r}")
    return hmac.new(key, f"{domain}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def set_key_variables(con: Any, key: bytes) -> None:
    """Put the key's pads into session variables of a DuckDB connection (not a table: nothing is persisted)."""
    ipad, opad = hmac_pads(key)
    # Parameters keep the pads out of the statement text (and so out of any query log or profile).
    con.execute(f"set variable {IPAD_VARIABLE} = ?::blob", [ipad])
    con.execute(f"set variable {OPAD_VARIABLE} = ?::blob", [opad])


def sql_expression(domain: str, expr: str) -> str:
    """The SQL of a pseudonym (the same as the dbt macro ``pseudonym``), for fleetdw's own Python queries."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown pseudonym domain {domain!r}")
    return (f"(case when ({expr}) is not null then sha256(getvariable('{OPAD_VARIABLE}') || "
            f"unhex(sha256(getvariable('{IPAD_VARIABLE}') || encode('{domain}:' || cast(({expr}) as varchar))))) end)")
