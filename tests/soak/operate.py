"""Operating fleetdw day by day, as a data team would (the soak).

Each day the generator delivers that day's files (events, a persons, a contracts and a consents delta: ``generate --start``
semantics) and ``fleetdw run --as-of <day>`` loads them. Around the runs the team does what stewards do, on fixed
days of the scenario:

* day 0 (after the first run): a steward approves the backlog plan if the volume gate stopped it;
* day 1: a customer asks for erasure (Art. 17) while a legal hold is on them: they are kept; another customer's
  request is carried out;
* day 2: the CRM delivers a broken persons file (rejected whole) and a customer withdraws email consent: retention
  is blocked that day;
* day 3: the CRM re-delivers the file corrected and the hold is released: retention runs and erases the requester;
* day 4: the CRM, which still holds the erased requester, delivers them again: their rows are withheld at the load
  (or, where a row is anonymised rather than deleted, erased again at once);
* later days: deliveries and runs only.

After every run the day is checked: the run succeeded, rows in = loaded + quarantined + withheld (location pings
without consent) for every file of the day (or the file was rejected with a reason), retention did what the day
expects (blocked only on the day of the rejected file), no erased person is anywhere in the
raw layer or the marketing tables, and the Dagster run history holds exactly one run for the day. Person ids stay
in this process's memory; what is reported are counts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from dagster_project.synthetic import generate_landing
from dagster_project.synthetic.records import file_name
from ingest.contracts import SOURCES
from tests.support.cli import fleetdw

# Raw columns that hold a person id (checked for erased persons independently of the code under test).
PERSON_COLUMNS = {"raw.crm_persons": ["person_id"], "raw.contracts": ["customer_person_id", "driver_person_id"],
                  "raw.consents": ["person_id"]}
EXPECTED_RETENTION = {1: {"applied"}, 2: {"blocked"}, 3: {"applied"}}


@dataclass
class Day:
    day: int
    as_of: date
    wall_s: float = 0.0
    status: str = ""
    files: int = 0
    rows_in: int = 0
    loaded: int = 0
    quarantined: int = 0
    withheld: int = 0
    rejected_files: int = 0
    retention: str = ""
    blocked_by: list[str] = field(default_factory=list)
    erased: int = 0
    erased_again: int = 0      # erased persons erased again after a load
    withheld_erased: int = 0   # rows naming an erased person, withheld at the load
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def green(self) -> bool:
        return not self.problems

    def row(self) -> str:
        retention = self.retention + (f" ({','.join(self.blocked_by)})" if self.blocked_by else "")
        return (f"{self.day:>3} {self.as_of} {self.wall_s:>7.1f} {self.files:>5} {self.rows_in:>8} {self.loaded:>8} "
                f"{self.quarantined:>6} {self.withheld:>6} {self.rejected_files:>4} {retention:<34} {self.erased:>4} "
                f"{self.erased_again:>4} {self.withheld_erased:>4}  {'ok' if self.green else 'FAIL: ' + '; '.join(self.problems)}")


HEADER = (f"{'day':>3} {'as_of':<10} {'wall_s':>7} {'files':>5} {'rows_in':>8} {'loaded':>8} {'quar':>6} {'whld':>6} "
          f"{'rej':>4} {'retention':<34} {'ers':>4} {'agn':>4} {'wers':>4}  check")


class Operation:
    """A home operated from ``start`` (its first run already done) onwards, one day at a time."""

    def __init__(self, home: Path, work: Path, *, persons: int, seed: int, start: date):
        self.home = home
        self.work = work
        self.persons = persons
        self.seed = seed
        self.start = start
        self.watch: set[str] = set()          # persons the soak has seen (ids, in memory only)
        self.requester: str | None = None
        self.withdrawn: str | None = None
        self.broken: tuple[Path, bytes] | None = None
        self.work.mkdir(parents=True, exist_ok=True, mode=0o700)

    # --- reading the warehouse (read-only, between runs) ------------------------------------------------------
    def con(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.home / "warehouse.duckdb"), read_only=True)

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        con = self.con()
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def _pseudonym(self, person_id: str) -> str:
        from dagster_project.privacy.pseudonym import parse_key, key_path, pseudonym

        # the home's own key file, as the runs (whose environment holds no FLEETDW_PSEUDONYM_KEY) read it
        self._key = getattr(self, "_key", None) or parse_key(key_path(self.home).read_bytes())
        return pseudonym(self._key, "person", person_id)

    # --- the steward's actions ---------------------------------------------------------------------------------
    def cli(self, day: Day, *args: str) -> str:
        """A steward's command on ``day``: the request or hold is dated the day operated, not the suite's date."""
        return fleetdw(self.home, *args, FLEETDW_AS_OF=day.as_of.isoformat()).stdout

    def after_first_run(self, day: Day) -> None:
        """The steward approves a backlog plan the volume gate stopped (``fleetdw retention approve``)."""
        plan = self.rows("select plan_id, blocked_by from ops.retention_plans order by created_at desc limit 1")
        if plan and plan[0][1] == ["volume_within_limit"]:
            self.cli(day, "retention", "approve", plan[0][0])
            day.actions.append("approve")

    def request_erasure_under_hold(self, day: Day) -> None:
        """A customer asks for erasure (Art. 17) while a legal hold (a dispute) is on them: kept until released."""
        eligible = [r[0] for r in self.rows(
            """select e.person_id from privacy.marketing_eligibility e
               join raw.crm_persons_current p using (person_id)
               where e.channel = 'email' and e.eligible and p.relationship_end is null
               order by e.person_id""")]
        self.requester, self.withdrawn, other = eligible[0], eligible[1], eligible[2]
        # The CRM keeps the person: their row as it is now, to be delivered again after the erasure.
        columns = ", ".join(f'"{c}"' for c in SOURCES["crm_persons"].column_names)
        con = self.con()
        try:
            con.execute(f"copy (select {columns} from raw.crm_persons_current where person_id = ?) to "
                        f"'{self.work / 'requester.csv'}' (header, delimiter ',')", [self.requester])
        finally:
            con.close()
        (self.work / "requester.csv").chmod(0o600)
        self.cli(day, "erase", self.requester, "--reason", "soak: customer request")
        self.cli(day, "hold", self.requester, "--reason", "soak: open dispute")
        self.cli(day, "erase", other, "--reason", "soak: another customer request")   # no hold: erased today
        day.actions.append("erase + hold, erase")

    def break_crm_delivery(self, day: Day) -> None:
        path = self.home / "landing" / "crm_persons" / file_name("crm_persons", day.as_of)
        good = path.read_bytes()
        header, _, rest = good.partition(b"\n")
        path.write_bytes(header.replace(b"person_id", b"henkilo_id") + b"\n" + rest)
        self.broken = (path, good)
        day.actions.append("broken crm file")

    def withdraw_consent(self, day: Day) -> None:
        path = self.home / "landing" / "consents" / file_name("consents", day.as_of, "_2")
        path.write_text(",".join(SOURCES["consents"].column_names) + "\n"
                        + f"soak-withdraw-{day.as_of},{self.withdrawn},direct_marketing,email,withdraw,"
                          f"{day.as_of}T09:00:00Z,customer_service\n")
        day.actions.append("withdraw")

    def redeliver_corrected(self, day: Day) -> None:
        assert self.broken
        path, good = self.broken
        path.write_bytes(good)
        self.cli(day, "release", self.requester)
        day.actions.append("corrected re-delivery, release")

    def redeliver_requester(self, day: Day) -> None:
        path = self.home / "landing" / "crm_persons" / file_name("crm_persons", day.as_of, "_2")
        path.write_bytes((self.work / "requester.csv").read_bytes())
        day.actions.append("erased person re-delivered")

    # --- one day -----------------------------------------------------------------------------------------------
    def deliver(self, as_of: date) -> None:
        generate_landing(self.home / "landing", persons=self.persons, seed=self.seed, as_of=as_of, days=1,
                         master=False, start=self.start)

    def _known_persons(self) -> set[str]:
        if not (self.home / "warehouse.duckdb").exists():
            return set()
        return {v for relation, columns in PERSON_COLUMNS.items() for c in columns
                for (v,) in self.rows(f'select distinct "{c}" from {relation} where "{c}" is not null')}

    def run(self, day: Day) -> dict:
        self.watch |= self._known_persons()     # whoever this run erases is checked from now on
        t = time.monotonic()
        result = fleetdw(self.home, "run", "--json", "--as-of", day.as_of.isoformat(), check=False)
        day.wall_s = time.monotonic() - t
        return json.loads(result.stdout) if result.stdout.startswith("{") else {"status": "crashed"}

    def first_day(self, summary: dict | None = None, master_days: int = 90) -> Day:
        """Day 0: the first run's summary, given (a home already run once) or by generating the full first
        delivery and running it."""
        day = Day(0, self.start)
        if summary is None:
            generate_landing(self.home / "landing", persons=self.persons, seed=self.seed, as_of=self.start,
                             days=master_days)
            summary = self.run(day)
        self.check(day, summary)
        self.after_first_run(day)
        return day

    def operate(self, k: int) -> Day:
        """Day ``k`` >= 1: deliver, do the day's steward actions, run, check."""
        day = self.prepare(k)
        self.check(day, self.run(day))
        return day

    def prepare(self, k: int) -> Day:
        """Day ``k`` >= 1 up to its run: the deliveries and the steward's actions before it."""
        day = Day(k, self.start + timedelta(days=k))
        self.deliver(day.as_of)
        if k == 1:
            self.request_erasure_under_hold(day)
        if k == 2:
            self.break_crm_delivery(day)
            self.withdraw_consent(day)
        if k == 3:
            self.redeliver_corrected(day)
        if k == 4:
            self.redeliver_requester(day)
        return day

    # --- handing a home over (a copy operated on by another test) -------------------------------------------
    STATE = "operation.json"

    def save(self) -> None:
        path = self.work / self.STATE
        path.write_text(json.dumps({"requester": self.requester, "withdrawn": self.withdrawn,
                                    "watch": sorted(self.watch)}))
        path.chmod(0o600)

    def load(self) -> None:
        state = json.loads((self.work / self.STATE).read_text())
        self.requester, self.withdrawn, self.watch = state["requester"], state["withdrawn"], set(state["watch"])

    def check(self, day: Day, summary: dict) -> None:
        day.status = summary.get("status", "")
        retention = summary.get("retention", {})
        day.retention = retention.get("status", "")
        day.blocked_by = list(retention.get("blocked_by", []))
        day.erased = int(retention.get("erased_subjects", 0))
        day.erased_again = int(summary.get("erased_again", 0))
        day.withheld_erased = sum(int(n) for n in summary.get("withheld_erased_rows", {}).values())
        if day.status != "success":
            day.problems.append(f"run {day.status}")
        for status, rows_in, loaded, quarantined, withheld, reason in self.rows(
                "select status, rows_in, rows_loaded, rows_quarantined, rows_withheld, reason from raw.file_manifest "
                "where as_of = ?", [day.as_of]):
            day.files += 1
            if status == "rejected":
                day.rejected_files += 1
                if not reason:
                    day.problems.append("file rejected without a reason")
                continue
            day.rows_in += rows_in
            day.loaded += loaded
            day.quarantined += quarantined
            day.withheld += withheld
            if rows_in != loaded + quarantined + withheld:
                day.problems.append("rows in != loaded + quarantined + withheld")
        expected = EXPECTED_RETENTION.get(day.day)
        if day.day > 0 and day.retention == "blocked" and day.day != 2:
            day.problems.append(f"retention blocked by {','.join(day.blocked_by)}")
        if expected and day.retention not in expected:
            day.problems.append(f"retention {day.retention}, expected {'/'.join(sorted(expected))}")
        if day.day == 2 and "sources_fresh" not in day.blocked_by:
            day.problems.append("the rejected CRM file did not block retention")
        if day.day == 2 and self.rows("select count(*) from privacy.marketing_eligibility where person_id = ? "
                                      "and channel = 'email' and eligible", [self.withdrawn])[0][0]:
            day.problems.append("a withdrawn consent still eligible")
        if day.day == 4 and day.erased_again + day.withheld_erased < 1:
            day.problems.append("the re-delivered erased person was neither withheld nor erased again")
        self._check_erased(day)
        runs = self._runs_for(day.as_of)
        if runs != 1:
            day.problems.append(f"{runs} Dagster runs for the day")

    def _check_erased(self, day: Day) -> None:
        erased = {p for (p,) in self.rows("select distinct person_pseudonym from ops.erasure_audit "
                                          "where person_pseudonym is not null")}
        gone = [p for p in self.watch if self._pseudonym(p) in erased]     # every person erased so far
        if day.day >= 3 and self.requester not in gone:
            day.problems.append("the requester was not erased after the release")
        if day.day in (1, 2) and (self.requester in gone or not self.rows(
                "select count(*) from raw.crm_persons where person_id = ?", [self.requester])[0][0]):
            day.problems.append("the requester on legal hold was erased")
        for relation, columns in PERSON_COLUMNS.items():
            for column in columns:
                n = self.rows(f'select count(*) from {relation} where "{column}" in (select unnest(?::varchar[]))',
                              [gone])[0][0]
                if n:
                    day.problems.append(f"{n} row(s) of erased persons in {relation}")
        n = self.rows("select count(*) from privacy.marketing_eligibility where person_id in "
                      "(select unnest(?::varchar[]))", [gone])[0][0]
        if n:
            day.problems.append(f"{n} eligibility row(s) of erased persons")

    def _runs_for(self, as_of: date) -> int:
        import dagster as dg
        from dagster._core.instance.ref import InstanceRef

        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(self.home / "dagster"))) as instance:
            return len(instance.get_run_records(dg.RunsFilter(tags={"fleetdw/as_of": as_of.isoformat(),
                                                                    "fleetdw/trigger": "cli"})))
