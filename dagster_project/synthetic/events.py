"""The event files (fuel, wash, web; the location pings in :mod:`location`): which rows are special, and writing
the days through DuckDB.

A plan picks, per source, the few (day, seq) rows that carry a defect, a correction of an earlier day's event, a
second refuel minutes after the first (``twin``) or another business-rule case; :mod:`event_sql` builds every line.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dagster_project.synthetic.app_users import AppUser
from dagster_project.synthetic.event_sql import EventWriter, event_id
from dagster_project.synthetic.location import default_location_pings, plan_specials, write_location
from dagster_project.synthetic.population import Model
from dagster_project.synthetic.records import file_name
from dagster_project.synthetic.report import GenerationReport, KeyedLine, KeyTracker
from ingest.contracts import SOURCES

# Approximate share of defects / anomalies in the big event files (each kind appears at least once in master).
EVENT_DEFECT_RATE = 0.0003

FUEL_KINDS = {  # internal kind -> reported defect kind
    "invalid_json": "invalid_json", "missing_plate": "missing_required", "missing_qty": "missing_required",
    "bad_ts": "bad_timestamp", "bad_qty": "bad_number", "bad_product": "bad_enum", "qty_range": "out_of_range",
    "neg_amount": "out_of_range", "bad_plate": "bad_pattern",
}
WASH_KINDS = {"missing_program": "missing_required", "bad_ts": "bad_timestamp", "bad_plate": "bad_pattern",
              "field_count": "wrong_field_count"}
WEB_KINDS = {"invalid_json": "invalid_json", "missing_id": "missing_required", "bad_ts": "bad_timestamp",
             "bad_enum": "bad_enum", "bad_bool": "bad_bool"}
# Special rows that load but break a business rule, by the name the report counts them under.
BUSINESS_RULE_NAMES = {"twin": "double_refuel", "orphan": "plate_without_contract"}


CHUNK_ROWS = 150_000  # event rows materialised at once (a few days of the big files)


def _chunks(days: list[tuple[date, int]], rows: int) -> Iterable[tuple[int, list[tuple[date, int]]]]:
    """Consecutive days grouped so that each group has about ``rows`` rows; yields (days done, group)."""
    group: list[tuple[date, int]] = []
    done = 0
    for item in days:
        if group and sum(n for _, n in group) + item[1] > rows:
            done += len(group)
            yield done, group
            group = []
        group.append(item)
    if group:
        yield done + len(group), group


def _split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal whole parts."""
    return [total * (k + 1) // parts - total * k // parts for k in range(parts)]


@dataclass
class _EventPlan:
    """Which (day, seq) rows of an event source are special, and how."""

    days: list[date]
    counts: list[int]
    rows: list[tuple[date, int, str, date, int]] = field(default_factory=list)  # day, seq, kind, h_day, h_seq


def _plan_specials(rng: random.Random, days: list[date], counts: list[int], kinds: Sequence[str], *,
                   rate: float, minimum: int, corrections: int, twins: int = 0) -> _EventPlan:
    """Pick distinct rows: ``twins`` second refuels, ``corrections`` re-deliveries of the day before's events, and
    ``rate`` of all rows (at least ``minimum``) of each of ``kinds``."""
    plan = _EventPlan(days, counts)
    starts = [0]
    for n in counts:
        starts.append(starts[-1] + n)
    total = starts[-1]
    taken: set[int] = set()

    def locate(g: int) -> tuple[int, int]:
        d = bisect.bisect_right(starts, g) - 1
        return d, g - starts[d]

    def free_index(cond: Callable[[int, int, int], bool]) -> int | None:
        for _ in range(200):
            g = rng.randrange(total)
            d, s = locate(g)
            if g not in taken and cond(g, d, s):
                return g
        return None

    for _ in range(twins):
        g = free_index(lambda g, d, s: s > 0 and g - 1 not in taken)
        if g is not None:
            d, s = locate(g)
            taken.update((g, g - 1))
            plan.rows.append((days[d], s, "twin", days[d], s - 1))
    for _ in range(corrections if len(days) > 1 else 0):
        g = free_index(lambda g, d, s: d > 0 and counts[d - 1] > 0)
        if g is None:
            continue
        d, s = locate(g)
        src = free_index(lambda g2, d2, s2: d2 == d - 1)
        if src is None:
            continue
        taken.update((g, src))
        plan.rows.append((days[d], s, "correction", days[d - 1], src - starts[d - 1]))
    for kind in kinds:
        for _ in range(max(minimum, round(total * rate))):
            g = free_index(lambda g, d, s: True)
            if g is not None:
                taken.add(g)
                d, s = locate(g)
                plan.rows.append((days[d], s, kind, days[d], s))
    return plan


def write_events(out: Path, report: GenerationReport, keys: KeyTracker, writer: EventWriter, source: str,
                 plan: _EventPlan, kinds: dict[str, str], progress: Callable[[str, int, int], None] | None) -> None:
    """Write the days of ``plan``, one file a day, and report its special rows (``kinds``: which are defects)."""
    writer.register(f"{source}_special", ("day", "seq", "kind", "h_day", "h_seq"), plan.rows)
    contract = SOURCES[source]
    header = ",".join(contract.column_names) if contract.format == "csv" else None
    first_line = 2 if header else 1
    corrected = {(d, s): (hd, hs) for d, s, kind, hd, hs in plan.rows if kind == "correction"}
    loaded = 0
    sql = writer.lines_sql(source)
    for done, chunk in _chunks(list(zip(plan.days, plan.counts)), CHUNK_ROWS):
        specials = writer.write_chunk(sql, chunk, [out / source / file_name(source, d) for d, _ in chunk], header,
                                      gz=contract.suffix.endswith(".gz"))
        for day, n in chunk:
            report.add_file(source, file_name(source, day), n)
            loaded += n
        for day, seq, kind, col in specials:
            name = file_name(source, day)
            if kind in kinds:
                report.bad_row(source, name, seq + first_line, kinds[kind], col)
                loaded -= 1
            elif kind == "correction":
                h_day, h_seq = corrected[(day, seq)]
                report.corrections.append(KeyedLine(source, name, seq + first_line, event_id(source, h_day, h_seq),
                                                    file_name(source, h_day)))
                loaded -= 1
            else:
                label = f"{source}.{BUSINESS_RULE_NAMES.get(kind, kind)}"
                report.business_rule_rows[label] = report.business_rule_rows.get(label, 0) + 1
        if source == "fuel":
            ((unknown,),) = writer.con.execute("SELECT count(*) FROM chunk_out WHERE unknown_phone").fetchall()
            rules = report.business_rule_rows
            rules["fuel.unknown_phone"] = rules.get("fuel.unknown_phone", 0) + unknown
        if progress:
            progress(source, done, len(plan.days))
    keys.event_counts[source] = loaded


def default_event_counts(persons: int, days: int) -> tuple[int, int]:
    """Default (fuel, web) row counts: ~20k fuel and ~60k web events for 2000 persons over 90 days."""
    fuel = max(20 * days, round(persons * 10 * days / 90))
    web = max(60 * days, round(persons * 30 * days / 90))
    return fuel, web


def generate_events(out: Path, report: GenerationReport, keys: KeyTracker, model: Model, seed: int,
                    window: list[date], fuel_rows: int | None, web_events: int | None, master: bool,
                    rng: random.Random, progress: Callable[[str, int, int], None] | None, app: list[AppUser],
                    location_pings: int | None) -> None:
    """The fuel, wash, web and (the app users' ``app``) location files of the days of ``window`` (a master run has
    at least one of every anomaly)."""
    fuel_default, web_default = default_event_counts(len(model.persons), len(window))
    fuel_total = fuel_default if fuel_rows is None else fuel_rows
    web_total = web_default if web_events is None else web_events
    wash_total = max(6 * len(window), fuel_total // 12)  # about one wash for twelve refuels
    minimum = 1 if master else 0
    writer = EventWriter(model, seed, window)
    try:
        counts = _split(fuel_total, len(window))
        plan = _plan_specials(rng, window, counts, list(FUEL_KINDS) + ["wrong_product", "orphan", "unknown_phone"],
                              rate=EVENT_DEFECT_RATE, minimum=minimum, corrections=max(minimum * 2, fuel_total // 3000),
                              twins=max(minimum * 2, fuel_total // 1000))
        write_events(out, report, keys, writer, "fuel", plan, FUEL_KINDS, progress)
        plan = _plan_specials(rng, window, _split(wash_total, len(window)), list(WASH_KINDS),
                              rate=EVENT_DEFECT_RATE, minimum=minimum, corrections=max(minimum, wash_total // 3000))
        write_events(out, report, keys, writer, "wash", plan, WASH_KINDS, progress)
        plan = _plan_specials(rng, window, _split(web_total, len(window)), list(WEB_KINDS),
                              rate=EVENT_DEFECT_RATE / 3, minimum=minimum, corrections=max(minimum, web_total // 20000))
        write_events(out, report, keys, writer, "web", plan, WEB_KINDS, progress)
        pings = default_location_pings(len(model.persons), len(window)) if location_pings is None else location_pings
        counts = _split(pings, len(window))
        # its own stream: the other sources' files do not depend on whether and how many pings are written
        loc_rng = random.Random(f"{seed}:location:{window[-1].isoformat()}:{len(window)}:{master}")
        specials = plan_specials(loc_rng, app, window, counts, rate=EVENT_DEFECT_RATE, minimum=minimum)
        write_location(out, report, keys, writer, app, window, counts, specials,
                       lambda days: _chunks(days, CHUNK_ROWS), progress)
    finally:
        writer.close()
