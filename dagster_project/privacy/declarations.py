"""Personal-data declarations of the dbt project: read them, and check them against the built warehouse.

Every dbt column that holds personal data declares it in its ``meta``::

    meta:
      personal_data:
        category: user.contact.email      # Fides-like data category
        subject: person                   # person | company
        identifier: direct                # direct | key | quasi | none
        erasure: delete                   # delete | anonymise | retain_legal (then legal_basis: is required)

and every model with such a column names its subject in model ``meta``: ``subject_key`` (a column, or a list of
columns, holding the subject's key) or ``subject_path`` (a mapping, or a list of them, with ``via``: columns of
this model, ``model``: the model they are looked up in, ``key``: the subject key column there).

:func:`check_declarations` compares the declarations in a dbt ``manifest.json`` with the relations in the DuckDB
warehouse and returns :class:`Finding` s:

* a column that is not declared although its **values** look like personal data (emails, phone numbers,
  henkilötunnus, plates, IP addresses, VINs) or its **name** is a known personal-data name;
* a model with declared personal data but no ``subject_key``/``subject_path``, or one that does not resolve;
* a declared column that does not exist in the built relation; a malformed declaration;
* a direct identifier in the ``marts`` schema other than a plate or VIN (RULES.md: marts hold no names, emails,
  phones, henkilötunnus, addresses, IPs, cookie ids or free text).

Values are matched inside DuckDB (``regexp_matches`` over a sample); only counts come back to Python, so a finding
never carries the personal data that triggered it. The same declarations are meant to drive pseudonymisation,
allow-lists, DSAR export and erasure: :func:`declarations` lists them for those consumers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import duckdb

IDENTIFIER_CLASSES = ("direct", "key", "quasi", "none")
ERASURE_ACTIONS = ("delete", "anonymise", "retain_legal")
SUBJECTS = ("person", "company")
MART_SCHEMA = "marts"
# Direct identifiers that marts may hold where fleet reporting needs them (RULES.md "direct identifiers").
MART_ALLOWED_DIRECT = ("user.government_id.vehicle_registration", "user.vehicle.vin")

# Regexes over sampled values (DuckDB RE2 syntax). "search" finds the pattern anywhere in the value (free text
# that embeds an email or a henkilötunnus), "full" needs the whole trimmed value to match.
VALUE_PATTERNS: dict[str, tuple[str, str]] = {
    "email": ("search", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "henkilotunnus": ("search", r"(^|[^0-9A-Za-z])[0-3][0-9][01][0-9]{3}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y]($|[^0-9A-Za-z])"),
    # Y-tunnus values (NNNNNNN-N) are removed before this test, see _value_sql
    "phone": ("search", r"(^|[^0-9A-Za-z])(\+|0)[0-9]([ ()-]{0,2}[0-9]){6,14}($|[^0-9A-Za-z])"),
    "plate": ("full", r"(?i)[a-zåäö]{2,3}-[0-9]{1,3}"),
    "ipv4": ("full", r"[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?"),
    "ipv6": ("full", r"(?i)([0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(/[0-9]{1,3})?"),
    "vin": ("full", r"(?i)[a-hj-npr-z0-9]{17}"),
}
# VIN candidates must mix letters and digits (a 17-digit number is not a VIN).
VIN_EXTRA = r"regexp_matches({v}, '[0-9]') and regexp_matches({v}, '(?i)[a-z]')"

# Column names that hold personal data wherever they occur (matched on the whole name or its last words).
PII_NAME = re.compile(
    r"(^|_)(first_name|last_name|full_name|ssn|hetu|henkilotunnus|email|phone|street_address|postal_code|"
    r"ip|ip_address|ip_network|cookie_id|user_agent|user_id|person_id|registration_number|plate|vin|notes|"
    r"notes_scrubbed|birth_date|search_query|visitor_key|visitor_hash)$"
)


@dataclass(frozen=True)
class Declaration:
    model: str
    column: str
    category: str
    subject: str
    identifier: str
    erasure: str
    legal_basis: str | None = None


@dataclass(frozen=True)
class Finding:
    """One problem. Carries names and counts only, never a value."""

    model: str
    column: str | None
    problem: str
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.model}.{self.column}" if self.column else self.model
        return f"{where}: {self.problem}" + (f" ({self.detail})" if self.detail else "")


def load_manifest(target_dir: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` written by ``dbt parse``/``build`` into ``target_dir``."""
    return json.loads((Path(target_dir) / "manifest.json").read_text())


def relation_nodes(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Models, seeds and snapshots of the project (the relations dbt builds), in a stable order."""
    for unique_id in sorted(manifest["nodes"]):
        node = manifest["nodes"][unique_id]
        if node["resource_type"] in ("model", "seed", "snapshot") and node.get("config", {}).get("enabled", True):
            yield node


def model_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """The meta of a node or column: its config's meta overlaid with its own."""
    return {**((obj.get("config", {}) or {}).get("meta") or {}), **(obj.get("meta") or {})}


def column_declaration(column: dict[str, Any]) -> dict[str, Any] | None:
    return model_meta(column).get("personal_data")


def declarations(manifest: dict[str, Any]) -> list[Declaration]:
    """Every personal-data declaration of every model, seed and snapshot."""
    out = []
    for node in relation_nodes(manifest):
        for name, column in node.get("columns", {}).items():
            decl = column_declaration(column)
            if isinstance(decl, dict):
                out.append(Declaration(
                    node["name"], name, decl.get("category", ""), decl.get("subject", ""),
                    decl.get("identifier", ""), decl.get("erasure", ""), decl.get("legal_basis"),
                ))
    return out


def subject_of(node: dict[str, Any]) -> dict[str, Any]:
    """The model-level subject declaration: ``{'subject_key': ...}`` and/or ``{'subject_path': ...}``."""
    meta = model_meta(node)
    return {k: meta[k] for k in ("subject_key", "subject_path") if k in meta}


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _relation_columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> dict[str, str]:
    rows = con.execute(
        "select lower(column_name), data_type from information_schema.columns "
        "where lower(table_schema) = lower(?) and lower(table_name) = lower(?)",
        [schema, name],
    ).fetchall()
    return dict(rows)


def _is_flag_or_number(data_type: str) -> bool:
    """Booleans and numbers (``has_valid_phone``, ``persons_with_phone``) cannot hold an identifier's value."""
    t = data_type.upper()
    return t == "BOOLEAN" or t.startswith(("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE",
                                           "FLOAT", "REAL", "DECIMAL"))


def _value_sql(kind: str) -> str:
    mode, pattern = VALUE_PATTERNS[kind]
    v = "v"
    if kind == "phone":
        v = r"regexp_replace(v, '(^|[^0-9])[0-9]{7}-[0-9]($|[^0-9])', ' ', 'g')"
    if mode == "full":
        test = f"regexp_full_match(trim({v}), '{pattern}')"
    else:
        test = f"regexp_matches({v}, '{pattern}')"
    if kind == "vin":
        test += " and " + VIN_EXTRA.format(v="v")
    return f"count(*) filter (where {test})"


def scan_values(con: duckdb.DuckDBPyConnection, schema: str, name: str, column: str,
                sample_size: int = 500) -> dict[str, int]:
    """How many of up to ``sample_size`` distinct non-null values of a text column look like each kind of
    personal data. Only the counts leave the database."""
    kinds = list(VALUE_PATTERNS)
    counts = ", ".join(_value_sql(k) for k in kinds)
    rel = f'"{schema}"."{name}"'
    sql = (
        f'select {counts} from (select distinct cast("{column}" as varchar) as v from {rel} '
        f'where "{column}" is not null limit {int(sample_size)})'
    )
    row = con.execute(sql).fetchall()[0]
    return {k: int(n) for k, n in zip(kinds, row) if n}


def _check_declaration_shape(model: str, column: str, decl: Any) -> list[Finding]:
    if not isinstance(decl, dict):
        return [Finding(model, column, "invalid_declaration", "personal_data is not a mapping")]
    problems = []
    category = decl.get("category")
    if not isinstance(category, str) or not category.startswith("user."):
        problems.append("category")
    if decl.get("subject") not in SUBJECTS:
        problems.append("subject")
    if decl.get("identifier") not in IDENTIFIER_CLASSES:
        problems.append("identifier")
    if decl.get("erasure") not in ERASURE_ACTIONS:
        problems.append("erasure")
    elif decl["erasure"] == "retain_legal" and not decl.get("legal_basis"):
        problems.append("legal_basis")
    return [Finding(model, column, "invalid_declaration", field) for field in problems]


def check_declarations(manifest: dict[str, Any], con: duckdb.DuckDBPyConnection,
                       sample_size: int = 500) -> list[Finding]:
    """All declaration problems of the project against the warehouse ``con`` (empty list = all good)."""
    findings: list[Finding] = []
    nodes = list(relation_nodes(manifest))
    columns_by_model: dict[str, dict[str, str]] = {}
    for node in nodes:
        schema, name = node["schema"], node.get("alias") or node["name"]
        columns_by_model[node["name"]] = _relation_columns(con, schema, name)

    for node in nodes:
        model = node["name"]
        schema, name = node["schema"], node.get("alias") or node["name"]
        actual = columns_by_model[model]
        if not actual:
            findings.append(Finding(model, None, "relation_missing", f"{schema}.{name} is not built"))
            continue
        declared = {c.lower(): column_declaration(col) for c, col in node.get("columns", {}).items()}
        declared = {c: d for c, d in declared.items() if d is not None}

        # (c) declared columns must exist; declarations must be well-formed
        for column, decl in sorted(declared.items()):
            if column not in actual:
                findings.append(Finding(model, column, "declared_column_missing"))
            findings.extend(_check_declaration_shape(model, column, decl))
            if (schema == MART_SCHEMA and isinstance(decl, dict) and decl.get("identifier") == "direct"
                    and decl.get("category") not in MART_ALLOWED_DIRECT):
                findings.append(Finding(model, column, "direct_identifier_in_mart", str(decl.get("category"))))

        # (a) undeclared columns that look like personal data, by name or by value
        for column, data_type in sorted(actual.items()):
            if column in declared:
                continue
            if PII_NAME.search(column) and not _is_flag_or_number(data_type):
                findings.append(Finding(model, column, "undeclared_personal_data", "name"))
                continue
            if data_type.upper().startswith("VARCHAR"):
                hits = scan_values(con, schema, name, column, sample_size)
                if hits:
                    kinds = ", ".join(f"{k}={n}" for k, n in sorted(hits.items()))
                    findings.append(Finding(model, column, "undeclared_personal_data", f"values: {kinds}"))

        # (b) a model with personal data must say whose it is, and that must resolve
        if declared:
            findings.extend(_check_subject(node, actual, columns_by_model))
    return findings


def _check_subject(node: dict[str, Any], actual: dict[str, str],
                   columns_by_model: dict[str, dict[str, str]]) -> list[Finding]:
    model = node["name"]
    subject = subject_of(node)
    if not subject:
        return [Finding(model, None, "no_subject", "personal data without subject_key or subject_path")]
    findings = []
    for key in _as_list(subject.get("subject_key")):
        if not isinstance(key, str) or key.lower() not in actual:
            findings.append(Finding(model, str(key), "subject_key_missing_column"))
    for path in _as_list(subject.get("subject_path")):
        if not isinstance(path, dict):
            findings.append(Finding(model, None, "subject_path_invalid", "not a mapping"))
            continue
        via = _as_list(path.get("via"))
        missing = [c for c in via if not isinstance(c, str) or c.lower() not in actual]
        if not via or missing:
            findings.append(Finding(model, None, "subject_path_invalid", f"via columns missing: {len(missing)}"))
        target = columns_by_model.get(str(path.get("model")))
        if not target:
            findings.append(Finding(model, None, "subject_path_invalid", f"unknown model {path.get('model')}"))
        elif str(path.get("key", "")).lower() not in target:
            findings.append(Finding(model, None, "subject_path_invalid", f"no key column in {path.get('model')}"))
    return findings
