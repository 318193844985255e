"""Erased subjects that a later delivery brings back.

An erased person stays erased even when an upstream system still holds them: a full CRM re-export, the corrected
re-delivery of a rejected file or a late contract file can carry their person id again. The warehouse knows whom
it erased only by pseudonym (``ops.erasure_audit``), so each new load's person-keyed raw columns (the same
declarations that drive erasure, ``selection.raw_targets``) are pseudonymised and compared with that set.

Where the declarations delete a row that names a person (CRM persons, consents, web events, drive log, location),
:func:`withhold_erased` has the loader withhold such rows at the load (``ingest.loader.Withhold``): stored nowhere,
their lines blanked in the archived copy, audited per pseudonym (action ``withhold``) in the file's transaction.
That costs a few rows' work, where erasing them again costs a rewrite of the database file. What the loader
cannot withhold — a row an erasure anonymises rather than deletes (a contract naming an erased driver keeps its
money), or rows loaded by an older version — is caught here after the load: the
persons found are erased again at once — through every layer, the new archive files included, with the same
verification — before dbt builds anything from them. No gate applies: the erasure was planned, gated and carried
out before; this removes a new copy of data that must not exist. Each re-erasure is audited like the first.

The check costs what arrived: ``ops.reappeared_checks`` keeps, per raw relation, the newest load already checked
(advanced only after the check found nothing or the re-erasure was verified), so a run reads only the rows of
loads no check has seen — also those of a run killed between its load and its check.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path

import duckdb

from dagster_project.manifest import load_manifest
from dagster_project.retention import selection as S
from dagster_project.retention.archive import rewrite_without
from dagster_project.retention.control import ensure_control_tables, now
from dagster_project.retention.erasure import Outcome, apply_plan
from dagster_project.retention.plan import Plan, pseudonymiser, shorter_policy_counts
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse
from ingest.bulk import insert_many
from ingest.loader import Withhold

REASON = "erased_before"


def person_key_columns(con, manifest) -> dict[str, list[str]]:
    """Raw relation -> its columns that hold a person id (from the column declarations). Records a legal
    obligation keeps (KYC) may name an erased person: they are not a reappearance."""
    tables = S.base_tables(con)
    return {t.relation: [m.column for m in t.matches if m.kind == "person" and m.action != "retain"]
            for t in S.raw_targets(manifest, tables)
            if any(m.kind == "person" and m.action != "retain" for m in t.matches)}


def withheld_columns(con, manifest) -> dict[str, tuple[str, ...]]:
    """Source -> its raw columns holding a person id whose rows an erasure deletes (the loader withholds those)."""
    tables = S.base_tables(con)
    out = {t.relation.removeprefix("raw."): tuple(m.column for m in t.matches
                                                 if m.kind == "person" and m.action == "delete")
           for t in S.raw_targets(manifest, tables)}
    return {source: columns for source, columns in out.items() if columns}


def withhold_erased(con, settings: Settings, run_id: str) -> Withhold | None:
    """What the loader needs to withhold rows naming an erased person; None when nobody was ever erased. The
    erased persons are known by pseudonym only: a file's distinct person ids are pseudonymised in memory."""
    erased = erased_pseudonyms(con)
    if not erased:
        return None
    columns = withheld_columns(con, load_manifest())
    pseudo = pseudonymiser(settings.home)

    def among(values: set[str]) -> set[str]:
        return {v for v in values if pseudo(v) in erased}

    def record(cur: duckdb.DuckDBPyConnection, source: str, rows: dict[str, int]) -> None:
        at = now()
        insert_many(cur, "insert into ops.erasure_audit values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, settings.as_of, pseudo(p), REASON, f"raw.{source}", "withhold", n, at)
                     for p, n in sorted(rows.items())])

    def rewrite(src: Path, tmp: Path, lines: set[int], values: set[str]) -> None:
        rewrite_without(src, tmp, lines, values)

    return Withhold(columns, among, record, rewrite)


def erased_pseudonyms(con) -> set[str]:
    if not S.relation_exists(con, "ops.erasure_audit"):
        return set()
    return {p for (p,) in con.execute(
        "select distinct person_pseudonym from ops.erasure_audit where person_pseudonym is not null").fetchall()}


CHECKS_DDL = "create table if not exists ops.reappeared_checks (relation varchar primary key, load_id bigint not null)"


def _newest_loads(con, relations: list[str]) -> dict[str, int]:
    return {r: int(con.execute(f"select coalesce(max(_load_id), 0) from {r}").fetchall()[0][0]) for r in relations}


def _checked(con) -> dict[str, int]:
    if not S.relation_exists(con, "ops.reappeared_checks"):
        return {}
    return dict(con.execute("select relation, load_id from ops.reappeared_checks").fetchall())


def _seen(checked: dict[str, int], newest: dict[str, int]) -> bool:
    """Every relation's newest load is one a check has already seen."""
    return all(checked.get(r, -1) >= n for r, n in newest.items())


def _record_checked(con, newest: dict[str, int]) -> None:
    con.execute(CHECKS_DDL)
    for relation, load_id in newest.items():
        con.execute("insert or replace into ops.reappeared_checks values (?, ?)", [relation, load_id])


def reappeared(con, settings: Settings, manifest, relations: list[str] | None = None,
               since: dict[str, int] | None = None) -> dict[str, str]:
    """person_id -> pseudonym of every erased person whose id is in the raw layer again (in the rows of loads
    newer than ``since[relation]`` when given)."""
    erased = erased_pseudonyms(con)
    if not erased:
        return {}
    ids: set[str] = set()
    for relation, columns in person_key_columns(con, manifest).items():
        if relations is not None and relation not in relations:
            continue
        newer = f" and _load_id > {int(since[relation])}" if since and relation in since else ""
        for column in columns:
            ids |= {v for (v,) in con.execute(
                f'select distinct "{column}" from {relation} where "{column}" is not null{newer}').fetchall()}
    pseudo = pseudonymiser(settings.home)
    return {p: s for p in sorted(ids) if (s := pseudo(p)) in erased}


@dataclass
class Found:
    """Erased persons a delivery brought back, and the loads checked to find them (nothing personal leaves memory)."""

    plan: Plan
    newest: dict[str, int]
    manifest: dict


def find_reappeared(con, settings: Settings, relations: list[str] | None = None) -> Found | None:
    """Check the loads of ``relations`` (all raw relations when None) that no check has seen, on an open
    connection; records a clean check and returns None, or returns what to erase again (:func:`erase_found`)."""
    if not erased_pseudonyms(con):          # the usual case: nothing was ever erased
        return None
    checked = _checked(con)
    given = _newest_loads(con, relations) if relations is not None else {}
    if relations is not None and _seen(checked, given):
        return None                         # no load since the last check
    manifest = load_manifest()
    keyed = [r for r in person_key_columns(con, manifest) if relations is None or r in relations]
    # relations without a person key are recorded too, so the next check of them stops at the first test
    newest = {**given, **_newest_loads(con, [r for r in keyed if r not in given])}
    found = {} if _seen(checked, {r: newest[r] for r in keyed}) else reappeared(con, settings, manifest, keyed, checked)
    if not found:
        _record_checked(con, newest)
        return None
    persons = con.execute("select count(*) from raw.crm_persons_current").fetchall()[0][0]
    plan = Plan(settings.as_of, persons, {p: REASON for p in found}, found)
    ensure_control_tables(con)   # the shorter policies' counts read ops.legal_retention, made by the first erasure
    plan.shorter = shorter_policy_counts(con, settings.as_of)
    return Found(plan, newest, manifest)


def erase_found(settings: Settings, found: Found, run_id: str | None) -> Outcome:
    """Erase again what :func:`find_reappeared` found (the warehouse must not be open in this process)."""
    outcome = apply_plan(settings, found.plan, run_id, found.manifest)
    if outcome.verification == "passed":
        with open_warehouse(settings) as con:
            _record_checked(con, found.newest)
    return outcome


def erase_reappeared(settings: Settings, run_id: str | None, relations: list[str] | None = None) -> Outcome | None:
    """Erase again every erased person a delivery brought back; ``None`` when there is none."""
    with open_warehouse(settings) as con:
        found = find_reappeared(con, settings, relations)
    return erase_found(settings, found, run_id) if found else None
