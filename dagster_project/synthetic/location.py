"""The Driver Assistant's location pings (SOURCES.md ``location``): gzipped JSON Lines that DuckDB builds a few days
at a time, like the other big event files (:mod:`event_sql`), so that millions of pings never sit in Python memory.

A day's pings are laid out per app user (:mod:`app_users`) in blocks: consecutive pings a few seconds apart from a
start near home, each step at a hashed speed and a heading that turns every twenty pings, so that a person's pings
of a day give a distance. The car is the person's contract car of that day (none before or after their contract, or
when the app was not paired). Which pings the loader must withhold (RULES.md §2) follows from the app users' consent
schedule: the SQL joins each ping to its user's latest ``location_tracking`` event at or before it (an ASOF join, as
the loader does over ``raw.consents``) and the report counts those without a grant in force, per file and reason.

Row defects sit only on pings of users whose grant is in force all that day, so a defect is never hidden by
withholding: a latitude out of range, a bad number, a time with a local offset instead of ``Z``, a missing
longitude, a bad plate and a speed out of range are quarantined; an unreadable time, a missing person and a broken
JSON line are withheld (the loader cannot tell whose or when they are), and the report lists them apart.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from dagster_project.synthetic.app_users import AppUser, utc_naive
from dagster_project.synthetic.event_sql import EventWriter
from dagster_project.synthetic.records import file_name
from dagster_project.synthetic.report import BadRow, GenerationReport, KeyTracker
from dagster_project.synthetic.values import HELSINKI

# internal kind -> (reported defect kind, column)
QUARANTINED_KINDS = {
    "lat_range": ("out_of_range", "lat"), "bad_lat": ("bad_number", "lat"),
    "local_ts": ("bad_timestamp", "recorded_at"),
    "missing_lon": ("missing_required", "lon"), "bad_plate": ("bad_pattern", "registration_number"),
    "speed_range": ("out_of_range", "speed_kmh"),
}
WITHHELD_KINDS = {
    "unreadable_ts": ("bad_timestamp", "recorded_at"), "missing_person": ("missing_required", "person_id"),
    "invalid_json": ("invalid_json", None),
}
# why a ping is withheld: no grant ever, before the grant, after a withdrawal; or its person or time cannot be read
WITHHELD_REASONS = ("no_grant", "before_grant", "after_withdrawal", "unreadable_time", "no_person", "malformed")
PING_SECONDS = 30          # a ping every half minute while driving (fewer when a day's block would not fit)
DRIVING_HOURS = 7          # the longest block of a user's day
_JSON_CUT = 10             # characters an invalid_json defect cuts off the end of a line


def default_location_pings(persons: int, days: int) -> int:
    """Default ping count: ~60k for 2000 persons over 90 days, as many as web events."""
    return max(20 * days, round(persons * 30 * days / 90))


def _block(n: int, users: int, j: int) -> tuple[int, int]:
    """(first seq, size) of user ``j``'s block among ``n`` pings of a day (``j = seq * users // n``)."""
    lo, hi = -(-j * n // users), -(-(j + 1) * n // users)
    return lo, hi - lo


def plan_specials(rng: random.Random, users: list[AppUser], days: list[date], counts: list[int], *, rate: float,
                  minimum: int) -> list[tuple[date, int, str]]:
    """(day, seq, kind) of the defective pings: ``rate`` of all pings (at least ``minimum``) of each kind, each on
    a ping of a user whose grant is in force all that day."""
    blocks = [(day, n, u.j) for day, n in zip(days, counts) for u in users
              if _block(n, len(users), u.j)[1] > 0 and u.granted_all_day(day)]
    out: list[tuple[date, int, str]] = []
    if not blocks:
        return out
    taken: set[tuple[date, int]] = set()
    for kind in [*QUARANTINED_KINDS, *WITHHELD_KINDS]:
        for _ in range(max(minimum, round(sum(counts) * rate))):
            for _ in range(50):
                day, n, j = rng.choice(blocks)
                lo, size = _block(n, len(users), j)
                seq = lo + rng.randrange(size)
                if (day, seq) not in taken:
                    taken.add((day, seq))
                    out.append((day, seq, kind))
                    break
    return out


def _helsinki_offset_hours(day: date) -> int:
    return int(datetime.combine(day, time(12)).replace(tzinfo=HELSINKI).utcoffset().total_seconds() // 3600)


def register_tables(writer: EventWriter, users: list[AppUser], days: list[date],
                    specials: list[tuple[date, int, str]]) -> None:
    """The small tables the ping SQL joins: users, their car per day, their consent events, the special pings."""
    con = writer.con
    con.execute("CREATE OR REPLACE TABLE app (j BIGINT, person_id VARCHAR, lat0_u BIGINT, lon0_u BIGINT, "
                "coslat DOUBLE, grants INTEGER)")
    con.execute("CREATE OR REPLACE TABLE app_day (day DATE, j BIGINT, plate VARCHAR, off_h INTEGER)")
    con.execute("CREATE OR REPLACE TABLE loc_consent (person_id VARCHAR, recorded_at TIMESTAMP, action VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE location_special (day DATE, seq BIGINT, kind VARCHAR)")
    tables = {
        "app": [(u.j, u.person_id, round(u.home[0] * 1e6), round(u.home[1] * 1e6), math.cos(math.radians(u.home[0])),
                 sum(1 for e in u.events if e.action == "grant")) for u in users],
        "app_day": [(d, u.j, u.plate_on(d), _helsinki_offset_hours(d)) for d in days for u in users],
        "loc_consent": [(e.person_id, utc_naive(e.recorded_at), e.action) for u in users for e in u.events],
        "location_special": specials,
    }
    for name, rows in tables.items():
        if rows:
            df = pd.DataFrame(rows, columns=[c for (c,) in con.execute(
                f"SELECT column_name FROM (DESCRIBE {name})").fetchall()])
            con.register(f"{name}_df", df)
            con.execute(f"INSERT INTO {name} SELECT * FROM {name}_df")
            con.unregister(f"{name}_df")


def lines_sql(seed: int, users: int, interval: int) -> str:
    """The rows (day, seq, kind, col, withheld, reason, line) of the days in table ``chunk``."""
    u = max(users, 1)
    span = 9 * 3600   # a block starts between 04:00 and 13:00 UTC and lasts at most DRIVING_HOURS
    jitter = max(1, interval // 3)

    def h(*what: str) -> str:
        return f"hash({', '.join(what[:-1])}, {seed}, 'loc_{what[-1]}')"

    kind_cols = " ".join(f"WHEN '{k}' THEN '{c}'" for k, (_, c) in {**QUARANTINED_KINDS, **WITHHELD_KINDS}.items()
                         if c)
    withheld_kinds = ", ".join(f"'{k}'" for k in WITHHELD_KINDS)
    step = f"speed_d * {interval} / 36000.0 * 1e6"   # micro-degrees of latitude per km = 1e6 / 111.32
    return f"""
    WITH b AS (SELECT c.day, c.n, unnest(range(c.n)) AS seq FROM chunk c),
    r AS (
        SELECT b.day, b.seq, b.n, coalesce(sp.kind, 'ok') AS kind, (b.seq * {u}) // b.n AS j
        FROM b LEFT JOIN location_special sp ON sp.day = b.day AND sp.seq = b.seq
    ),
    s AS (
        SELECT r.*, r.seq - (r.j * r.n + {u} - 1) // {u} AS i, a.person_id, a.lat0_u, a.lon0_u, a.coslat, a.grants,
               d.off_h, CASE WHEN {h('r.day', 'r.j', 'unpaired')} % 10 = 0 THEN NULL ELSE d.plate END AS plate,
               {h('r.day', 'r.j', 'start')} % {span} AS start_s
        FROM r JOIN app a ON a.j = r.j JOIN app_day d ON d.day = r.day AND d.j = r.j
    ),
    m AS (
        SELECT s.*,
               CASE WHEN i = 0 THEN 0 ELSE 150 + {h('day', 'seq', 'speed')} % 1000 END AS speed_d,
               radians(({h('day', 'j', 'i // 20', 'heading')} % 360)::DOUBLE) AS heading,
               day + to_seconds((4 * 3600 + start_s + i * {interval} + {h('day', 'seq', 'jitter')} % {jitter})::BIGINT)
                   AS ts,
               {h('day', 'seq', 'accuracy')} AS ha
        FROM s
    ),
    p AS (
        SELECT m.*,
               lat0_u + sum(round({step} * cos(heading) / 111.32)::BIGINT) OVER w AS lat_u,
               lon0_u + sum(round({step} * sin(heading) / (111.32 * coslat))::BIGINT) OVER w AS lon_u
        FROM m WINDOW w AS (PARTITION BY day, j ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    g AS (
        SELECT p.*, c.action
        FROM p ASOF LEFT JOIN loc_consent c ON p.person_id = c.person_id AND p.ts >= c.recorded_at
    ),
    f AS (
        SELECT g.*,
               kind IN ({withheld_kinds}) OR coalesce(action, '') <> 'grant' AS withheld,
               CASE WHEN kind = 'unreadable_ts' THEN 'unreadable_time' WHEN kind = 'missing_person' THEN 'no_person'
                    WHEN kind = 'invalid_json' THEN 'malformed'
                    WHEN action IS NULL AND grants > 0 THEN 'before_grant' WHEN action IS NULL THEN 'no_grant'
                    WHEN action <> 'grant' THEN 'after_withdrawal' END AS reason,
               concat('{{"ping_id": ', to_json('L' || strftime(day, '%Y%m%d') || lpad(seq::VARCHAR, 7, '0')),
                 ', "person_id": ', CASE WHEN kind = 'missing_person' THEN 'null' ELSE to_json(person_id) END,
                 ', "registration_number": ', CASE WHEN kind = 'bad_plate' THEN '"1234"'
                                                   ELSE coalesce(to_json(plate), 'null') END,
                 ', "recorded_at": ', to_json(CASE kind
                     WHEN 'unreadable_ts' THEN strftime(ts, '%d.%m.%Y %H:%M:%S')
                     WHEN 'local_ts' THEN strftime(ts + to_hours(off_h), '%Y-%m-%dT%H:%M:%S') || '+0' || off_h || ':00'
                     ELSE strftime(ts, '%Y-%m-%dT%H:%M:%SZ') END),
                 ', "lat": ', CASE kind WHEN 'lat_range' THEN printf('%.6f', lat_u / 1e6 + 100)
                                        WHEN 'bad_lat' THEN to_json(replace(printf('%.6f', lat_u / 1e6), '.', ','))
                                        ELSE printf('%.6f', lat_u / 1e6) END,
                 ', "lon": ', CASE WHEN kind = 'missing_lon' THEN 'null' ELSE printf('%.6f', lon_u / 1e6) END,
                 CASE WHEN ha % 10 = 0 THEN ''
                      ELSE ', "accuracy_m": ' || printf('%.1f', 3 + (ha // 10 % 220) / 10.0) END,
                 ', "speed_kmh": ', CASE WHEN kind = 'speed_range' THEN '412.0' ELSE printf('%.1f', speed_d / 10.0) END,
                 '}}') AS full_line
        FROM g
    )
    SELECT day, seq, kind, CASE kind {kind_cols} END AS col, withheld, reason,
           CASE WHEN kind = 'invalid_json' THEN left(full_line, length(full_line) - {_JSON_CUT}) ELSE full_line END
               AS line
    FROM f"""


def write_location(out: Path, report: GenerationReport, keys: KeyTracker, writer: EventWriter,
                   users: list[AppUser], days: list[date], counts: list[int], specials: list[tuple[date, int, str]],
                   chunks: Callable[[list[tuple[date, int]]], Iterable[tuple[int, list[tuple[date, int]]]]],
                   progress: Callable[[str, int, int], None] | None) -> None:
    """Write one location file per day of ``days`` (``chunks`` groups them into DuckDB batches) and report its
    defects and the pings the loader must withhold."""
    counts = counts if users else [0] * len(days)
    block = max([-(-n // len(users)) for n in counts if users] + [1])
    interval = max(1, min(PING_SECONDS, DRIVING_HOURS * 3600 // block))
    register_tables(writer, users, days, specials)
    sql = lines_sql(writer.seed, len(users), interval)
    loaded = 0
    for done, chunk in chunks(list(zip(days, counts))):
        found = writer.write_chunk(sql, chunk, [out / "location" / file_name("location", d) for d, _ in chunk], None,
                                   gz=True)
        for day, n in chunk:
            report.add_file("location", file_name("location", day), n)
            loaded += n
        for day, seq, kind, col in found:
            name = file_name("location", day)
            if kind in QUARANTINED_KINDS:
                report.bad_row("location", name, seq + 1, QUARANTINED_KINDS[kind][0], col)
                loaded -= 1
            else:
                report.withheld_lines.append(BadRow("location", name, seq + 1, *WITHHELD_KINDS[kind]))
        hidden = ", ".join(f"'{k}'" for k in QUARANTINED_KINDS)
        ((clash,),) = writer.con.execute(
            f"SELECT count(*) FROM chunk_out WHERE withheld AND kind IN ({hidden})").fetchall()
        if clash:
            raise AssertionError("a quarantine defect fell on a ping that is withheld")
        for day, reason, n in writer.con.execute(
                "SELECT day, reason, count(*) FROM chunk_out WHERE withheld GROUP BY ALL ORDER BY ALL").fetchall():
            report.withhold("location", file_name("location", day), reason, n)
            loaded -= n
        if progress:
            progress("location", done, len(days))
    keys.event_counts["location"] = loaded
