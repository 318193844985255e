"""Which rows of which relation belong to a subject, found from the personal-data declarations. Erasure, access
requests (DSAR) and the plan share this module.

Where a subject's data lives (one :class:`Target` per relation):

* dbt relations: the column ``meta.personal_data`` declarations and model ``subject_key``/``subject_path`` of the
  manifest (``dagster_project/privacy/declarations.py``). Only tables are touched; views (staging, intermediate
  views) show whatever their tables hold.
* the raw layer: a raw table inherits the declarations of the models built on its source (same column names),
  plus :data:`RAW_ONLY` for the raw columns staging renames or drops.
* the control tables: ``dagster_project.privacy.ops_tables.OPS_TABLES`` and retention's own ``RETENTION_TABLES``.

A target says which column matches a subject (a person id, a pseudonym or a cookie id) and what happens to the
matched row: ``delete`` it, or ``anonymise`` it (the listed columns become NULL; in a control table a key column
gets the pseudonym instead, so the log line survives without the identity). Columns declared ``retain_legal``
(contract money) are never touched.

Which rows: the subjects are staged in temp tables of the connection (:func:`stage_subjects`, :func:`stage_links`):
``_erase_persons(person_id, pseudonym, reason)``, ``_erase_cookies(cookie_id, person_id)``, ``_erase_phones(phone)``
and ``_erase_events(source, key, person_id)``; :func:`select_rows` adds a target's matching rows to
``_sel(tbl, action, rid, person_id)`` (``rid`` is the rowid; ``person_id`` is NULL for rows linked by phone or by
name and address). Identifiers stay in those temp tables and in this process's memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import duckdb

from dagster_project.privacy.declarations import column_declaration, relation_nodes, subject_of
from dagster_project.privacy.ops_tables import OPS_TABLES
from dagster_project.retention.control import RETENTION_TABLES
from dagster_project.retention.needles import private_query, values
from ingest.contracts import SOURCES
from ingest.validation import q
from ingest.bulk import insert_many

# Raw columns that staging renames or drops (declared here, in the same shape as the dbt declarations).
RAW_ONLY: dict[str, dict[str, dict[str, str]]] = {
    "contracts": {"notes": {"category": "user.content.free_text", "subject": "person", "identifier": "direct",
                            "erasure": "anonymise"}},
    "web": {"ip_address": {"category": "user.device.ip_address", "subject": "person", "identifier": "direct",
                           "erasure": "delete"}},
    # precise locations: the typed places of a trip and the coordinates of a ping never leave raw
    "drive_log": {c: {"category": "user.location.precise", "subject": "person", "identifier": "quasi",
                      "erasure": "delete"} for c in ("start_point", "end_point")},
    "location": {c: {"category": "user.location.precise", "subject": "person", "identifier": "quasi",
                     "erasure": "delete"} for c in ("lat", "lon")},
}
# Event sources whose rows are linked to a person through a mart or a phone, by their own key.
EVENT_KEYS = {"fuel": "transaction_id", "wash": "wash_id", "web": "event_id"}
# The CRM's persons as staging normalises them. Named, not derived: the register of record is where a subject's
# needles (phone) and the Robinson list's name-and-address match come from, a choice no column declaration makes.
CRM_PERSONS_STAGING = "staging.stg_crm__persons"


@dataclass
class Match:
    """Rows of a table that belong to the subjects: ``column`` holds a value of kind ``kind``."""

    column: str
    kind: str            # person | pseudonym | cookie | event_key:<source> | path | staging_phone
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
    # Kept for a legal obligation (every subject key declared retain_legal, e.g. KYC records): an access request
    # lists the rows, erasure leaves them, and verification accepts the subject's values in these columns.
    retained_columns: list[str] = field(default_factory=list)

    @property
    def retained(self) -> bool:
        return bool(self.matches) and all(m.action == "retain" for m in self.matches)


# The loader's table of rejected rows. No declaration can name it: its raw_record is a line of any source, so its
# rows are found by content (:func:`select_quarantined`) and deleted whole.
QUARANTINE = Target("raw.quarantine", "raw", [], [])


# --- the catalog ------------------------------------------------------------------------------------------------

def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and "
                            "table_name = ?", [schema, name]).fetchall()[0][0])


def relation_columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """{column: type} of a table or view of the current database (empty when it does not exist)."""
    schema, name = relation.split(".")
    return dict(con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                            "and table_name = ? and table_catalog = current_database()", [schema, name]).fetchall())


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


def relation_of(node: dict[str, Any]) -> str:
    """``schema.table`` of a dbt node."""
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def models_on_source(manifest: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """The dbt models that read raw table ``source`` (or its ``_current`` view) directly, in manifest order."""
    return [node for node in relation_nodes(manifest)
            if any(d.startswith("source.") and d.split(".")[-1].removesuffix("_current") == source
                   for d in node.get("depends_on", {}).get("nodes", []))]


# --- targets: where a subject's data lives ----------------------------------------------------------------------

def _list(value: Any) -> list:
    return [] if value is None else (value if isinstance(value, list) else [value])


def _is_pseudonymous(decl: dict | None, column: str) -> bool:
    return bool(decl) and ("pseudonym" in str(decl.get("category", "")) or "pseudonym" in column)


def _person_columns(columns: dict[str, dict]) -> dict[str, dict]:
    return {c: d for c, d in columns.items() if d and d.get("subject") == "person"}


def _anonymise_columns(decls: dict[str, dict], keys: list[str]) -> list[str]:
    return sorted(c for c, d in decls.items()
                  if c not in keys and d.get("erasure") in ("anonymise", "delete"))


def _erasure_action(decl: dict) -> str:
    """What erasure does to a row matched by a subject key declared so: delete, anonymise, or retain (legal)."""
    return {"delete": "delete", "retain_legal": "retain"}.get(str(decl.get("erasure")), "anonymise")


def _retained(decls: dict[str, dict]) -> list[str]:
    return sorted(c for c, d in decls.items() if d.get("erasure") == "retain_legal")


def _key_match(column: str, decl: dict) -> Match:
    kind = "pseudonym" if _is_pseudonymous(decl, column) else "person"
    return Match(column, kind, _erasure_action(decl))


def dbt_targets(manifest: dict[str, Any], tables: dict[str, dict[str, str]]) -> list[Target]:
    nodes = {n["name"]: n for n in relation_nodes(manifest)}
    out = []
    for node in nodes.values():
        relation = relation_of(node)
        if relation not in tables:
            continue  # a view, or not built
        actual = {c.lower() for c in tables[relation]}
        decls = _person_columns({c.lower(): column_declaration(col) for c, col in node.get("columns", {}).items()
                                 if c.lower() in actual})
        if not decls:
            continue
        subject = subject_of(node)
        keys = [k.lower() for k in _list(subject.get("subject_key")) if isinstance(k, str) and k.lower() in decls]
        matches = [_key_match(k, decls[k]) for k in keys]
        row_delete = any(m.action == "delete" for m in matches)
        for c, d in decls.items():
            if d.get("category") == "user.device.cookie_id" and c == "cookie_id" and row_delete:
                matches.append(Match(c, "cookie", "delete"))
        for path in _list(subject.get("subject_path")):
            if not isinstance(path, dict) or path.get("model") not in nodes:
                continue
            via = [v.lower() for v in _list(path.get("via"))]
            if len(via) != 1 or via[0] not in actual:
                continue  # paths over several columns (plate and date) are not equality joins: views only
            matches.append(Match(via[0], "path", "anonymise", {
                "relation": relation_of(nodes[path["model"]]), "key": str(path.get("key", "")).lower(),
                "via_target": via[0]}))
        if matches:
            out.append(Target(relation, "dbt", matches, _anonymise_columns(decls, keys), keys,
                              retained_columns=_retained(decls)))
    return out


def raw_targets(manifest: dict[str, Any], tables: dict[str, dict[str, str]]) -> list[Target]:
    """Raw tables, declared through the models that read them."""
    out = []
    for source in SOURCES.values():
        relation = f"raw.{source.name}"
        if relation not in tables:
            continue
        decls: dict[str, dict] = {}
        keys: list[str] = []
        staging_relation = None
        for node in models_on_source(manifest, source.name):
            staging_relation = relation_of(node)
            for c, col in node.get("columns", {}).items():
                d = column_declaration(col)
                if d and d.get("subject") == "person" and c.lower() in tables[relation]:
                    decls[c.lower()] = d
            keys += [k.lower() for k in _list(subject_of(node).get("subject_key"))
                     if isinstance(k, str) and k.lower() in decls]
        decls.update({c: d for c, d in RAW_ONLY.get(source.name, {}).items() if c in tables[relation]})
        if not decls:
            continue
        matches = [Match(k, "person", _erasure_action(decls[k])) for k in dict.fromkeys(keys)]
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
        out.append(Target(relation, "raw", matches, _anonymise_columns(decls, keys), keys,
                          retained_columns=_retained(decls)))
    return out


def ops_targets(tables: dict[str, dict[str, str]]) -> list[Target]:
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
        matches = [_key_match(k, decls[k]) for k in keys if decls[k].get("erasure") != "retain_legal"]
        if matches:
            out.append(Target(relation, "ops", matches, _anonymise_columns(decls, keys), keys,
                              pseudonymise_keys=True))
    return out


def all_targets(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> list[Target]:
    """Every relation that holds a subject's data; an access request reads them all, erasure the ones not
    :attr:`Target.retained`."""
    tables = base_tables(con)
    return raw_targets(manifest, tables) + dbt_targets(manifest, tables) + ops_targets(tables)


def retained_places(targets: list[Target]) -> dict[str, list[str]]:
    """``relation -> columns`` where a legal obligation keeps a subject's values after an erasure (the post-deletion
    verification accepts them there, and only there)."""
    return {t.relation: t.retained_columns for t in targets if t.retained and t.retained_columns}


def subject_views(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """dbt views -> the subject key columns they have. Erasure leaves views alone (they show what their tables
    hold); an access request reads them too."""
    out: dict[str, list[str]] = {}
    for node in relation_nodes(manifest):
        if node.get("config", {}).get("materialized") != "view":
            continue
        relation = relation_of(node)
        cols = relation_columns(con, relation)
        keys = [k for k in _list(subject_of(node).get("subject_key")) if isinstance(k, str) and k in cols]
        if keys:
            out[relation] = keys
    return out


# --- the subjects, staged in temp tables ------------------------------------------------------------------------

def stage_subjects(con: duckdb.DuckDBPyConnection, subjects: Iterable[tuple[str, str, str]],
                   targets: list[Target]) -> None:
    """Temp tables ``_erase_persons`` (``(person_id, pseudonym, reason)`` rows) and ``_erase_cookies``: the cookie
    ids that raw tables link to a subject's person id (the raw targets matched both by person and by cookie)."""
    con.execute("create or replace temp table _erase_persons (person_id varchar, pseudonym varchar, reason varchar)")
    insert_many(con, "insert into _erase_persons values (?, ?, ?)", list(subjects))
    links = [f'select distinct w."{cookie.column}" as cookie_id, w."{key.column}" as person_id from {t.relation} w '
             f'join _erase_persons s on w."{key.column}" = s.person_id where w."{cookie.column}" is not null'
             for t in targets if t.layer == "raw"
             for cookie in t.matches if cookie.kind == "cookie" for key in t.matches if key.kind == "person"]
    con.execute("create or replace temp table _erase_cookies as " + " union ".join(links) if links else
                "create or replace temp table _erase_cookies (cookie_id varchar, person_id varchar)")


def subject_identifiers(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Identifiers of the staged subjects that no other person shares: the needles erasure looks for in the
    archive, the file bytes and every table. Named, not derived from the declarations: only identifiers specific
    enough to grep for count (national id, email, phone from the CRM; plates and VINs of the subjects' contracts;
    cookie ids), not names, addresses or dates."""
    subjects = "(select person_id from _erase_persons)"
    ids: dict[str, set[str]] = {"person_id": values(con, "select person_id from _erase_persons")}
    ids["pseudonym"] = set()  # pseudonyms are allowed to stay (audit trail)
    for col in ("ssn", "email", "phone"):
        ids[col] = _unshared(con, "raw.crm_persons", col, subjects)
    if relation_exists(con, CRM_PERSONS_STAGING):
        ids["phone"] |= _unshared(con, CRM_PERSONS_STAGING, "phone", subjects)
    contracts = (f"from raw.contracts where customer_person_id in {subjects} or driver_person_id in {subjects}")
    ids["plate"] = values(con, f"select registration_number {contracts}")
    ids["vin"] = values(con, f"select vin {contracts}")
    ids["cookie"] = values(con, "select cookie_id from _erase_cookies")
    return ids


# The kinds of identifier that belong to the subject alone (a plate or VIN belongs to a vehicle, which outlives its
# driver: ``verify.needles_to_verify`` decides which of those must go).
OWN_KINDS = ("person_id", "ssn", "email", "phone", "cookie")


def own_identifiers(ids: dict[str, set[str]]) -> set[str]:
    """The identifiers of :func:`subject_identifiers` of the kinds :data:`OWN_KINDS`."""
    return set().union(*(ids[kind] for kind in OWN_KINDS))


def _unshared(con: duckdb.DuckDBPyConnection, relation: str, col: str, subjects: str, inside: bool = True
              ) -> set[str]:
    """The subjects' values of ``col`` that no other person's value equals — nor, with ``inside``, contains: a
    subject's ``ari.v@x.fi`` stays inside another person's ``kari.v@x.fi``, so neither the archive's line matcher
    nor the verification's byte scan may look for it (they match text, not whole values)."""
    other = f"contains(o.{col}, s.{col})" if inside else f"o.{col} = s.{col}"
    return values(con, f"""select distinct s.{col} from {relation} s where s.person_id in {subjects}
                            and s.{col} is not null and not exists (
                              select 1 from {relation} o where o.person_id not in {subjects} and {other})""")


def linking_phones(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The staged subjects' phones that no other person has: the phones that link events (fuel, wash) to a subject
    (:func:`stage_links`). Whole values: a phone inside another person's longer one still links the subject's
    events, though it is no needle (:func:`subject_identifiers`)."""
    subjects = "(select person_id from _erase_persons)"
    phones = _unshared(con, "raw.crm_persons", "phone", subjects, inside=False)
    if relation_exists(con, CRM_PERSONS_STAGING):
        phones |= _unshared(con, CRM_PERSONS_STAGING, "phone", subjects, inside=False)
    return phones


def crm_phones(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every phone the CRM holds for the staged subjects, shared with another person or not (an access request
    shows what is linked to the person by phone)."""
    return [p for (p,) in con.execute(f"select phone from {CRM_PERSONS_STAGING} where person_id in "
                                      "(select person_id from _erase_persons) and phone is not null").fetchall()]


def stage_links(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], phones: Iterable[str]) -> None:
    """Temp tables ``_erase_phones``, ``_erase_events`` and an empty selection ``_sel``, after
    :func:`stage_subjects`."""
    con.execute("create or replace temp table _erase_phones as select distinct unnest(?::varchar[]) as phone",
                [list(phones)])
    for (table,) in con.execute("select table_name from duckdb_tables() where temporary and "
                                f"starts_with(table_name, '{PHONE_ROWS}')").fetchall():
        con.execute(f'drop table temp."{table}"')   # of an earlier selection on this connection
    _stage_events(con, manifest)
    con.execute("create or replace temp table _sel (tbl varchar, action varchar, rid bigint, person_id varchar)")


def _stage_events(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    """Temp table ``_erase_events(source, key, person_id)``: event rows linked to a subject by a table of the
    warehouse (the fuel and wash marts resolve refueller and driver) or by the subject's phone (the models built on
    the event source that carry its key and a phone)."""
    con.execute("create or replace temp table _erase_events (source varchar, key varchar, person_id varchar)")
    tables = base_tables(con)
    for source, key in EVENT_KEYS.items():
        for rel, cols in tables.items():
            if not rel.startswith(("marts.", "intermediate.")) or key not in cols:
                continue
            for col in [c for c in cols if c.endswith("person_id") or c == "user_id"]:
                con.execute(f"insert into _erase_events select '{source}', t.\"{key}\", s.person_id from {rel} t "
                            f"join _erase_persons s on t.\"{col}\" = s.person_id")
        for node in models_on_source(manifest, source):
            staging = relation_of(node)
            if {key, "phone"} <= set(relation_columns(con, staging)):
                con.execute(f"insert into _erase_events select '{source}', v.\"{key}\", null "
                            f"from {_phone_rows(con, staging)} v")


PHONE_ROWS = "_phone_rows_"


def _phone_rows(con: duckdb.DuckDBPyConnection, staging: str) -> str:
    """A temp table of the rows of the view ``staging`` whose phone is one of ``_erase_phones``, made once per
    selection (:func:`stage_links` drops those of an earlier one): a staging view normalises every row's phone as
    it is read (1M fuel events: 0.7 s a read), and the event links and the selection of the raw rows both need
    them."""
    table = PHONE_ROWS + re.sub(r"\W", "_", staging)
    con.execute(f'create temp table if not exists "{table}" as select * from {staging} '
                "where phone in (select phone from _erase_phones)")
    return f'temp."{table}"'


# --- the rows ---------------------------------------------------------------------------------------------------

def select_rows(con: duckdb.DuckDBPyConnection, target: Target, columns: dict[str, str] | None = None) -> None:
    """Add the rows of ``target`` that belong to the staged subjects to ``_sel``, each with the action erasure
    takes on it (``delete`` or ``set:<columns>``). ``columns``: the target's columns, when already known."""
    rel = target.relation
    if columns is None:
        columns = relation_columns(con, rel)
    for m in target.matches:
        if m.kind == "person":
            source = f"select t.rowid, s.person_id from {rel} t join _erase_persons s on t.\"{m.column}\" = s.person_id"
        elif m.kind == "pseudonym":
            source = f"select t.rowid, s.person_id from {rel} t join _erase_persons s on t.\"{m.column}\" = s.pseudonym"
        elif m.kind == "cookie":
            source = (f"select t.rowid, c.person_id from {rel} t join _erase_cookies c "
                      f"on t.\"{m.column}\" = c.cookie_id")
        elif m.kind.startswith("event_key:"):
            source = (f"select t.rowid, e.person_id from {rel} t join _erase_events e "
                      f"on e.source = '{m.kind.split(':')[1]}' and t.\"{m.column}\" = e.key")
        elif m.kind == "path":
            target_rel, key, via = m.extra["relation"], m.extra["key"], m.column
            tcols = relation_columns(con, target_rel)
            tvia = via if via in tcols else next((c for c in tcols if via.endswith(c) and c.endswith("_id")), None)
            if not tvia or key not in tcols:
                continue
            source = (f"select t.rowid, s.person_id from {rel} t join (select distinct \"{tvia}\" as v, \"{key}\" as p "
                      f"from {target_rel}) x on t.\"{via}\" = x.v join _erase_persons s on x.p = s.person_id")
        elif m.kind == "staging_phone":
            staging = m.extra["staging"]
            scols = relation_columns(con, staging)
            if not {"_load_id", "_line", "phone"} <= set(scols):
                continue
            name_match = ""
            if {"first_name", "last_name", "street_address"} <= set(scols):
                name_match = (f" or exists (select 1 from {CRM_PERSONS_STAGING} p join _erase_persons e using "
                              "(person_id) where lower(p.first_name) = lower(v.first_name) and lower(p.last_name) = "
                              "lower(v.last_name) and lower(p.street_address) = lower(v.street_address))")
            rows = (f"select _load_id, _line from {staging} v where v.phone in (select phone from _erase_phones)"
                    f"{name_match}" if name_match else f"select _load_id, _line from {_phone_rows(con, staging)}")
            source = (f"select t.rowid, null from {rel} t join ({rows}) x "
                      "on t._load_id = x._load_id and t._line = x._line")
        else:
            continue
        if m.action in ("delete", "retain"):
            action = m.action
        else:
            cleared = [c for c in [m.column if m.column in target.key_columns else None, *target.anonymise_columns]
                       if c and c in columns]
            if not cleared:
                continue
            action = "set:" + ",".join(cleared)
        con.execute(f"insert into _sel select ?, ?, r.* from ({source}) r", [rel, action])


def select_quarantined(con: duckdb.DuckDBPyConnection, pattern: str | None) -> None:
    """Add the quarantined records whose text matches ``pattern`` (any identifier of a subject) to ``_sel``."""
    if pattern:
        private_query(con, f"insert into _sel select '{QUARANTINE.relation}', 'delete', rowid, null from "
                           f"{QUARANTINE.relation} where regexp_matches(raw_record, {q(pattern)})")


def select_archive_lines(con: duckdb.DuckDBPyConnection, targets: list[Target],
                         columns: dict[str, dict[str, str]]) -> None:
    """Temp table ``_archive_lines(load_id, line)``: the landing-file line of every selected raw or quarantined
    row, by its lineage."""
    con.execute("create temp table _archive_lines (load_id bigint, line bigint)")
    con.execute(f"insert into _archive_lines select load_id, line from {QUARANTINE.relation} where rowid in "
                f"(select rid from _sel where tbl = '{QUARANTINE.relation}')")
    for t in targets:
        if t.layer == "raw" and {"_load_id", "_line"} <= set(columns[t.relation]):
            con.execute(f"insert into _archive_lines select _load_id, _line from {t.relation} where rowid in "
                        f"(select rid from _sel where tbl = ?)", [t.relation])


def selected_rows_sql(relation: str) -> str:
    """The selected rows of ``relation`` (one parameter: the relation)."""
    return f"select * from {relation} where rowid in (select rid from _sel where tbl = ?)"
