"""Where a subject's data lives: erasure targets derived from the personal-data declarations.

* dbt relations: the column ``meta.personal_data`` declarations and model ``subject_key``/``subject_path`` of the
  manifest (``dagster_project/privacy/declarations.py``). Only tables are touched; views (staging, intermediate views) show
  whatever their tables hold.
* the raw layer: a raw table inherits the declarations of the staging model built on it (same column names),
  plus :data:`RAW_ONLY` for the raw columns staging renames or drops.
* the control tables: ``dagster_project.privacy.ops_tables.OPS_TABLES`` and retention's own ``RETENTION_TABLES``.

A target says which column matches a subject (a person id, a pseudonym or a cookie id) and what happens to the
matched row: ``delete`` it, or ``anonymise`` it (the listed columns become NULL; in a control table a key column
gets the pseudonym instead, so the log line survives without the identity). Columns declared ``retain_legal``
(contract money) are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from dagster_project.privacy.declarations import column_declaration, relation_nodes, subject_of

# Raw columns that staging renames or drops (declared here, in the same shape as the dbt declarations).
RAW_ONLY: dict[str, dict[str, dict[str, str]]] = {
    "contracts": {"notes": {"category": "user.content.free_text", "subject": "person", "identifier": "direct",
                            "erasure": "anonymise"}},
    "web": {"ip_address": {"category": "user.device.ip_address", "subject": "person", "identifier": "direct",
                           "erasure": "delete"}},
}
# Event sources whose rows are linked to a person through a mart or a phone, by their own key.
EVENT_KEYS = {"fuel": "transaction_id", "wash": "wash_id", "web": "event_id"}


@dataclass
class Match:
    """Rows of a table that belong to the subjects: ``column`` holds a value of kind ``kind``."""

    column: str
    kind: str            # person | pseudonym | cookie | event_key:<source> | path:<n> | phone | text
    action: str          # delete | anonymise
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    relation: str                     # schema.table
    layer: str                        # raw | dbt | ops
    matches: list[Match]
    anonymise_columns: list[str]      # columns nulled (or pseudonymised) when a row is anonymised
    key_columns: list[str] = field(default_factory=list)   # subject keys (only the matched one is cleared)
    pseudonymise_keys: bool = False   # control tables: a cleared key gets the pseudonym


def base_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """``schema.table`` -> {column: type} of every base table."""
    out: dict[str, dict[str, str]] = {}
    for schema, table, column, dtype in con.execute(
            """select c.table_schema, c.table_name, c.column_name, c.data_type
               from information_schema.columns c join information_schema.tables t
                 on t.table_schema = c.table_schema and t.table_name = c.table_name
               where t.table_type = 'BASE TABLE' and t.table_catalog = current_database()
               order by c.table_schema, c.table_name, c.ordinal_position""").fetchall():
        out.setdefault(f"{schema}.{table}", {})[column] = dtype
    return out


def _list(value: Any) -> list:
    return [] if value is None else (value if isinstance(value, list) else [value])


def _is_pseudonymous(decl: dict | None, column: str) -> bool:
    return bool(decl) and ("pseudonym" in str(decl.get("category", "")) or "pseudonym" in column)


def _person_columns(columns: dict[str, dict]) -> dict[str, dict]:
    return {c: d for c, d in columns.items() if d and d.get("subject") == "person"}


def _anonymise_columns(decls: dict[str, dict], keys: list[str]) -> list[str]:
    return sorted(c for c, d in decls.items()
                  if c not in keys and d.get("erasure") in ("anonymise", "delete"))


def dbt_targets(manifest: dict[str, Any], tables: dict[str, dict[str, str]]) -> list[Target]:
    nodes = {n["name"]: n for n in relation_nodes(manifest)}
    out = []
    for node in nodes.values():
        relation = f"{node['schema']}.{node.get('alias') or node['name']}"
        if relation not in tables:
            continue  # a view, or not built
        actual = {c.lower() for c in tables[relation]}
        decls = _person_columns({c.lower(): column_declaration(col) for c, col in node.get("columns", {}).items()
                                 if c.lower() in actual})
        if not decls:
            continue
        subject = subject_of(node)
        keys = [k.lower() for k in _list(subject.get("subject_key")) if isinstance(k, str) and k.lower() in decls]
        matches = []
        for k in keys:
            decl = decls[k]
            kind = "pseudonym" if _is_pseudonymous(decl, k) else "person"
            matches.append(Match(k, kind, "delete" if decl.get("erasure") == "delete" else "anonymise"))
        row_delete = any(m.action == "delete" for m in matches)
        for c, d in decls.items():
            if d.get("category") == "user.device.cookie_id" and c == "cookie_id" and row_delete:
                matches.append(Match(c, "cookie", "delete"))
        for path in _list(subject.get("subject_path")):
            if not isinstance(path, dict) or path.get("model") not in nodes:
                continue
            target = nodes[path["model"]]
            via = [v.lower() for v in _list(path.get("via"))]
            if len(via) != 1 or via[0] not in actual:
                continue  # paths over several columns (plate and date) are not equality joins: views only
            matches.append(Match(via[0], f"path", "anonymise", {
                "relation": f"{target['schema']}.{target.get('alias') or target['name']}",
                "key": str(path.get("key", "")).lower(), "via_target": via[0]}))
        if matches:
            out.append(Target(relation, "dbt", matches, _anonymise_columns(decls, keys), keys))
    return out


def raw_targets(manifest: dict[str, Any], tables: dict[str, dict[str, str]]) -> list[Target]:
    """Raw tables, declared through the staging model that reads them."""
    from ingest.contracts import SOURCES

    out = []
    for source in SOURCES.values():
        relation = f"raw.{source.name}"
        if relation not in tables:
            continue
        decls: dict[str, dict] = {}
        keys: list[str] = []
        staging_relation = None
        for node in relation_nodes(manifest):
            deps = node.get("depends_on", {}).get("nodes", [])
            if not any(d.split(".")[-1].removesuffix("_current") == source.name and d.startswith("source.")
                       for d in deps):
                continue
            staging_relation = f"{node['schema']}.{node.get('alias') or node['name']}"
            for c, col in node.get("columns", {}).items():
                d = column_declaration(col)
                if d and d.get("subject") == "person" and c.lower() in tables[relation]:
                    decls[c.lower()] = d
            keys += [k.lower() for k in _list(subject_of(node).get("subject_key"))
                     if isinstance(k, str) and k.lower() in decls]
        decls.update({c: d for c, d in RAW_ONLY.get(source.name, {}).items() if c in tables[relation]})
        if not decls:
            continue
        matches = [Match(k, "person", "delete" if decls[k].get("erasure") == "delete" else "anonymise")
                   for k in dict.fromkeys(keys)]
        row_delete = any(m.action == "delete" for m in matches)
        if "cookie_id" in decls and row_delete:
            matches.append(Match("cookie_id", "cookie", "delete"))
        if source.name in EVENT_KEYS:
            matches.append(Match(EVENT_KEYS[source.name], f"event_key:{source.name}",
                                 "delete" if row_delete else "anonymise"))
        if not keys and staging_relation and "phone" in decls:
            # Rows linked by phone or name and address (Robinson list): matched on the staging view's lineage.
            matches.append(Match("_line", "staging_phone", "delete" if all(
                d.get("erasure") == "delete" for d in decls.values()) else "anonymise",
                {"staging": staging_relation}))
        out.append(Target(relation, "raw", matches, _anonymise_columns(decls, keys), keys))
    return out


def ops_targets(tables: dict[str, dict[str, str]]) -> list[Target]:
    from dagster_project.retention.control import RETENTION_TABLES

    from dagster_project.privacy.ops_tables import OPS_TABLES

    declared: dict[str, dict[str, Any]] = {t.name: {"subject_key": t.subject_key, "columns": t.columns}
                                           for t in OPS_TABLES.values()}
    declared.update(RETENTION_TABLES)
    out = []
    for name, spec in declared.items():
        relation = f"ops.{name}"
        if relation not in tables:
            continue
        decls = {c: (m or {}).get("personal_data") for c, m in spec["columns"].items()}
        decls = {c: d for c, d in decls.items() if d and d.get("subject") == "person" and d.get("role") != "employee"}
        keys = [k for k in spec["subject_key"] if k in decls]
        matches = []
        for k in keys:
            d = decls[k]
            if d.get("erasure") == "retain_legal":
                continue
            kind = "pseudonym" if _is_pseudonymous(d, k) else "person"
            matches.append(Match(k, kind, "delete" if d.get("erasure") == "delete" else "anonymise"))
        if matches:
            out.append(Target(relation, "ops", matches, _anonymise_columns(decls, keys), keys,
                              pseudonymise_keys=True))
    return out


def all_targets(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> list[Target]:
    tables = base_tables(con)
    return raw_targets(manifest, tables) + dbt_targets(manifest, tables) + ops_targets(tables)
