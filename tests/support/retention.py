"""The retention, DSAR and quality tests' home: a generated warehouse (150 persons, loaded and built with dbt, no
retention applied yet; the ``baseline`` fixture builds it once) and helpers that craft inputs by writing new
versions of raw rows, the way a corrected CRM export would. Assertions compare counts only, never values."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from tests.support import AS_OF
from tests.support.dbt import LandingZone as Landing, run_dbt

PERSONS = 150


@dataclass(frozen=True)
class Home:
    path: Path

    @property
    def warehouse(self) -> Path:
        return self.path / "warehouse.duckdb"

    @property
    def settings(self):
        from dagster_project.settings import Settings

        return Settings.resolve(str(self.path), as_of=AS_OF)

    def con(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.warehouse), read_only=read_only)
        con.execute("set TimeZone = 'UTC'")
        return con

    def scalar(self, sql: str, params: list | None = None):
        con = self.con(read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()[0][0]
        finally:
            con.close()

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        con = self.con(read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def build_baseline(root: Path) -> None:
    from dagster_project.synthetic import generate_landing

    lz = Landing(root)
    generate_landing(lz.root, persons=PERSONS, seed=7, as_of=AS_OF)
    lz.load(as_of=AS_OF)
    os.environ.setdefault("FLEETDW_PSEUDONYM_KEY", "retention-tests-key-0123456789abcdef")
    run_dbt(["build", "--exclude", "resource_type:test", "resource_type:unit_test"], lz.warehouse, root.parent / "dbt_work")


def copy_home(src: Path, dst: Path) -> Home:
    """A private copy of a home; archive paths in the manifest are moved to the copy."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock"))
    home = Home(dst)
    con = home.con()
    con.execute("update raw.file_manifest set archive_path = replace(archive_path, ?, ?)", [str(src), str(dst)])
    con.close()
    return home


def cutoff() -> date:
    return date(AS_OF.year - 10, AS_OF.month, AS_OF.day)


def set_relationship_end(home: Home, person_ids: list[str], end: date | None, start: date | None = None) -> None:
    """A newer CRM version of each person with the given relationship_end (as a corrected export would)."""
    con = home.con()
    con.execute("""insert into raw.crm_persons select * replace (
                       ?::date as relationship_end,
                       coalesce(?::date, least(relationship_start, ?::date - interval 5 year)::date) as relationship_start,
                       updated_at + interval 1 day as updated_at)
                   from raw.crm_persons_current where person_id in (select unnest(?::varchar[]))""",
                [end, start, end, person_ids])
    con.close()


def persons_without_contracts(home: Home, n: int) -> list[str]:
    return [r[0] for r in home.rows(
        """select person_id from raw.crm_persons_current where person_id not in
           (select customer_person_id from raw.contracts_current where customer_person_id is not null
            union select driver_person_id from raw.contracts_current where driver_person_id is not null)
           and (relationship_end is null or relationship_end > date '2020-01-01')
           order by person_id limit ?""", [n])]


def active_drivers(home: Home, n: int, *, private_customer: bool = False) -> list[str]:
    column = "customer_person_id" if private_customer else "driver_person_id"
    return [r[0] for r in home.rows(
        f"""select {column} from raw.contracts_current where status = 'active' and {column} is not null
            and {column} in (select person_id from raw.crm_persons_current)
            group by 1 order by 1 limit ?""", [n])]


def due_now(home: Home) -> set[str]:
    return {r[0] for r in home.rows("select person_id from raw.crm_persons_current where relationship_end < ?",
                                    [cutoff()])}


def run_retention(home: Home):
    from dagster_project.retention.erasure import run_retention as run

    return run(home.settings, "test-run-0001")
