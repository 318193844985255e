"""Erased subjects that a later delivery brings back.

An erased person stays erased even when an upstream system still holds them: a full CRM re-export, the corrected
re-delivery of a rejected file or a late contract file can carry their person id again. The warehouse knows whom
it erased only by pseudonym (``ops.erasure_audit``), so each new load's person-keyed raw columns (the same
declarations that drive erasure, ``selection.raw_targets``) are pseudonymised and compared with that set. The
persons found are erased again at once — through every layer, the new archive files included, with the same
verification — before dbt builds anything from them. No gate applies: the erasure was planned, gated and carried
out before; this removes a new copy of data that must not exist. Each re-erasure is audited like the first.
"""

from __future__ import annotations

from dagster_project.manifest import load_manifest
from dagster_project.retention import selection as S
from dagster_project.retention.erasure import Outcome, apply_plan
from dagster_project.retention.plan import Plan, pseudonymiser, shorter_policy_counts
from dagster_project.settings import Settings
from dagster_project.warehouse import open_warehouse

REASON = "erased_before"


def person_key_columns(con, manifest) -> dict[str, list[str]]:
    """Raw relation -> its columns that hold a person id (from the column declarations). Records a legal
    obligation keeps (KYC) may name an erased person: they are not a reappearance."""
    tables = S.base_tables(con)
    return {t.relation: [m.column for m in t.matches if m.kind == "person" and m.action != "retain"]
            for t in S.raw_targets(manifest, tables)
            if any(m.kind == "person" and m.action != "retain" for m in t.matches)}


def erased_pseudonyms(con) -> set[str]:
    if not S.relation_exists(con, "ops.erasure_audit"):
        return set()
    return {p for (p,) in con.execute(
        "select distinct person_pseudonym from ops.erasure_audit where person_pseudonym is not null").fetchall()}


def reappeared(con, settings: Settings, manifest, relations: list[str] | None = None) -> dict[str, str]:
    """person_id -> pseudonym of every erased person whose id is in the raw layer again."""
    erased = erased_pseudonyms(con)
    if not erased:
        return {}
    ids: set[str] = set()
    for relation, columns in person_key_columns(con, manifest).items():
        if relations is not None and relation not in relations:
            continue
        for column in columns:
            ids |= {v for (v,) in con.execute(
                f'select distinct "{column}" from {relation} where "{column}" is not null').fetchall()}
    pseudo = pseudonymiser(settings.home)
    return {p: s for p in sorted(ids) if (s := pseudo(p)) in erased}


def erase_reappeared(settings: Settings, run_id: str | None, relations: list[str] | None = None) -> Outcome | None:
    """Erase again every erased person a delivery brought back; ``None`` when there is none."""
    with open_warehouse(settings) as con:
        if not erased_pseudonyms(con):      # the usual case: nothing was ever erased
            return None
        manifest = load_manifest()
        found = reappeared(con, settings, manifest, relations)
        if not found:
            return None
        persons = con.execute("select count(*) from raw.crm_persons_current").fetchall()[0][0]
        plan = Plan(settings.as_of, persons, {p: REASON for p in found}, found)
        plan.shorter = shorter_policy_counts(con, settings.as_of)
    return apply_plan(settings, plan, run_id, manifest)
