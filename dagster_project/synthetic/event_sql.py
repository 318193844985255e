"""The event files' SQL: DuckDB builds every fuel, wash and web line from hashes, a few days at a time.

Every field of event ``seq`` on ``day`` is derived from ``hash(day, seq, seed, '<field>')``, so the output is
deterministic and nothing big is held in Python memory. The small tables it joins (the cars running on each day with
their drivers' phones, stations, web users, UTC offsets) come from the population.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.population import CITIES, Model
from dagster_project.synthetic.values import HELSINKI

STATION_AREAS = ("Keskusta", "Itä", "Länsi", "Pohjoinen", "Etelä", "Moottoritie", "Kauppakeskus", "Satama")
FUEL_COMPANIES = ("Neste", "St1", "ABC", "Teboil", "Shell", "Gulf")
WASH_PROGRAMS = ("Juhlapesu", "Juhlapesu Premium", "Juhlapesu + vahaus", "Juhlapesu + pohjapesu")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/140.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 15_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.0 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 19_0 like Mac OS X)",
    "Mozilla/5.0 (Linux; Android 16; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (iPad; CPU OS 19_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Edg/141.0",
)
SEARCH_QUERIES = (
    "täyssähkö volvo", "sähköauto", "tesla", "tesla model y", "käytetty sähköauto", "hybridi farmari",
    "diesel pakettiauto", "toyota corolla", "volkswagen id.4", "skoda octavia", "kia niro", "audi a4 avant",
    "sähköauto alle 30000", "leasing yksityiselle", "pakettiauto", "farmari automaatti", "\"rav4\" plug-in",
)
LANDING_PAGES = (
    "https://www.example.fi/", "https://www.example.fi/leasing/", "https://www.example.fi/vaihtoautot/",
    "https://www.example.fi/yritysleasing/", "https://www.example.fi/yksityisleasing/",
    "https://www.example.fi/sahkoautot/",
)
REFERRERS = ("https://www.google.com/", "https://www.bing.com/", "https://www.facebook.com/", "https://duckduckgo.com/")


# Event ids: a prefix, the day (yyyymmdd) and the zero-padded sequence number of the event on that day.
EVENT_IDS = {"fuel": ("F", 6), "wash": ("W", 5), "web": ("E", 7)}
_JSON_CUT = {"fuel": 12, "web": 9}  # characters an invalid_json defect cuts off the end of a line


def event_id(source: str, day: date, seq: int) -> str:
    prefix, width = EVENT_IDS[source]
    return f"{prefix}{day.strftime('%Y%m%d')}{seq:0{width}d}"


def _event_id_sql(source: str) -> str:
    """SQL for :func:`event_id` of the row's ``id_day`` and ``id_seq``."""
    prefix, width = EVENT_IDS[source]
    return f"'{prefix}' || strftime(id_day, '%Y%m%d') || lpad(id_seq::VARCHAR, {width}, '0')"


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: Sequence[str], h: str) -> str:
    """SQL choosing one of ``values`` by the hash expression ``h``."""
    return f"{_sql_list(values)}[(1 + ({h}) % {len(values)})::BIGINT]"


# identifiers.PHONE_STYLES in SQL: the national digits {p} written one of the four ways, chosen by the hash {h}.
PHONE_SQL = """CASE ({h}) % 4
    WHEN 0 THEN substr({p}, 1, 3) || ' ' || substr({p}, 4, 3) || ' ' || substr({p}, 7)
    WHEN 1 THEN '+358 ' || substr({p}, 2, 2) || ' ' || substr({p}, 4, 3) || ' ' || substr({p}, 7)
    WHEN 2 THEN {p}
    ELSE '+358' || substr({p}, 2) END"""


def _phone_sql(national: str, h: str) -> str:
    return PHONE_SQL.format(p=national, h=h)


class EventWriter:
    """Holds the DuckDB connection with the small lookup tables and writes one event file per day."""

    def __init__(self, model: Model, seed: int, window: list[date]) -> None:
        self.seed = seed
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET threads = 2")
        self._vehicles(model, window)
        self._lookups(model, window)

    def register(self, name: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """A table ``name`` holding ``rows``."""
        df = pd.DataFrame(rows, columns=list(columns))
        self.con.register(f"{name}_df", df)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_df")
        self.con.unregister(f"{name}_df")

    def _vehicles(self, model: Model, window: list[date]) -> None:
        periods = []
        for c in model.contracts:
            if c.vehicle is None or c.start_date is None:
                continue
            driver = model.person(c.driver_person_id)
            periods.append((c.vehicle.plate, c.start_date, c.end_date or date(2999, 1, 1), c.vehicle.power,
                            driver.phone))
        self.register("veh", ("plate", "vfrom", "vto", "power", "phone"), periods)
        self.register("win", ("day",), [(d,) for d in window])
        self.con.execute("""
            CREATE TABLE act AS
            SELECT w.day, (row_number() OVER (PARTITION BY w.day ORDER BY v.plate, v.vfrom) - 1)::BIGINT AS j,
                   v.plate, v.power, v.phone
            FROM win w JOIN veh v ON v.vfrom <= w.day AND v.vto >= w.day""")
        self.con.execute("CREATE TABLE cnt AS SELECT w.day, count(a.j) AS n FROM win w LEFT JOIN act a USING (day) "
                         "GROUP BY w.day")
        # plates that have no running contract anywhere in the window
        active = {p for (p,) in self.con.execute("SELECT DISTINCT plate FROM act").fetchall()}
        ended = sorted({(c.vehicle.plate, c.vehicle.power) for c in model.contracts
                        if c.vehicle and c.vehicle.plate not in active})[:40]
        rng = random.Random(f"{self.seed}:orphans")
        ended += [(ids.make_plate(rng), "petrol"), (ids.make_plate(rng), "diesel")]
        self.register("orph", ("j", "plate", "power"), [(j, p, w) for j, (p, w) in enumerate(ended)])
        self.n_orph = len(ended)

    def _lookups(self, model: Model, window: list[date]) -> None:
        rng = random.Random(f"{self.seed}:stations")
        stations = [(i, company, f"{company} {city} {rng.choice(STATION_AREAS)}", city)
                    for i, (company, city) in enumerate((rng.choice(FUEL_COMPANIES), rng.choice(CITIES))
                                                        for _ in range(120))]
        self.register("stations", ("sid", "company", "name", "city"), stations)
        users = [p.person_id for p in model.persons if p.rel_start and p.rel_end is None]
        self.register("web_users", ("j", "person_id"), list(enumerate(users or ["P000001"])))
        self.n_users = max(1, len(users))
        days = [window[0] - timedelta(days=1)] + window
        self.register("offsets", ("day", "off"),
                      [(d, datetime.combine(d, time(12)).replace(tzinfo=HELSINKI).strftime("%z")[:3] + ":00")
                       for d in days])

    def close(self) -> None:
        self.con.close()

    @staticmethod
    def _rows_sql(table: str) -> str:
        """Rows (day, seq) of the days in table ``chunk``; ``h_*`` say whose content a row carries."""
        return f"""
            WITH b AS (SELECT c.day, unnest(range(c.n)) AS seq FROM chunk c)
            SELECT b.day, b.seq, coalesce(sp.kind, 'ok') AS kind,
                   coalesce(sp.h_day, b.day) AS h_day, coalesce(sp.h_seq, b.seq) AS h_seq,
                   CASE WHEN sp.kind = 'correction' THEN sp.h_day ELSE b.day END AS id_day,
                   CASE WHEN sp.kind = 'correction' THEN sp.h_seq ELSE b.seq END AS id_seq,
                   b.day AS q_day, b.seq AS q_seq
            FROM b LEFT JOIN {table} sp ON sp.day = b.day AND sp.seq = b.seq"""

    def _hasher(self, source: str) -> Callable[[str], str]:
        """SQL for the hash that field ``what`` of a ``source`` row comes from (keyed by the row's h_day, h_seq)."""
        return lambda what: f"hash(h_day, h_seq, {self.seed}, '{source}_{what}')"

    def write_chunk(self, sql: str, days: list[tuple[date, int]], paths: list[Path], header: str | None,
                    gz: bool) -> list[tuple]:
        """Materialise a few days of :meth:`lines_sql` at once, write one file per day, return the special rows
        (day, seq, kind, column)."""
        self.register("chunk", ("day", "n"), days)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE chunk_out AS {sql}")
        compression = ", COMPRESSION gzip" if gz else ""
        for (day, _), path in zip(days, paths):
            body = f"SELECT seq, line FROM chunk_out WHERE day = DATE '{day}'"
            if header is not None:
                body = f"SELECT -1 AS seq, '{header}' AS line UNION ALL {body}"
            self.con.execute(f"COPY (SELECT line FROM ({body}) ORDER BY seq) TO {_sql_str(path)} "
                             f"(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x1f'{compression})")
        return self.con.execute(
            "SELECT day, seq, kind, col FROM chunk_out WHERE kind <> 'ok' ORDER BY day, seq").fetchall()

    def lines_sql(self, source: str) -> str:
        """The rows (day, seq, kind, col, line) of the days in table ``chunk`` (fuel also ``unknown_phone``).

        A JSON line whose kind is ``invalid_json`` loses its end, so that it no longer parses.
        """
        sql = {"fuel": self._fuel_sql, "wash": self._wash_sql, "web": self._web_sql}[source]()
        if source not in _JSON_CUT:
            return sql
        return f"""SELECT * EXCLUDE (full_line), CASE WHEN kind = 'invalid_json'
            THEN left(full_line, length(full_line) - {_JSON_CUT[source]}) ELSE full_line END AS line
            FROM ({sql})"""

    def _fuel_sql(self) -> str:
        h = self._hasher("fuel")
        return f"""
        WITH r AS ({self._rows_sql('fuel_special')}),
        v AS (
            SELECT r.*, coalesce(o.plate, a.plate) AS plate, coalesce(o.power, a.power) AS power,
                   CASE WHEN o.plate IS NULL AND r.kind <> 'unknown_phone' AND {h('unknown')} % 100 >= 3
                        THEN a.phone END AS driver_phone,
                   st.company, st.name AS station, st.city, off.off,
                   {h('product')} AS hp, hash(q_day, q_seq, {self.seed}, 'fuel_qty') AS hq
            FROM r
            JOIN cnt c ON c.day = r.h_day
            LEFT JOIN act a ON a.day = r.h_day AND a.j = {h('veh')} % greatest(c.n, 1)
            LEFT JOIN orph o ON r.kind = 'orphan' AND o.j = {h('orph')} % {self.n_orph}
            JOIN stations st ON st.sid = {h('station')} % 120
            JOIN offsets off ON off.day = r.h_day
        ),
        p AS (
            SELECT *,
              CASE WHEN kind = 'wrong_product' THEN CASE WHEN power = 'diesel' THEN '95E10' ELSE 'Diesel' END
                   WHEN power = 'electric' THEN 'EV'
                   WHEN power = 'plug_in_hybrid' THEN CASE WHEN hp % 10 < 4 THEN 'EV' ELSE '95E10' END
                   WHEN power = 'diesel' THEN CASE WHEN hp % 10 < 8 THEN 'Diesel' ELSE 'HVO100' END
                   ELSE {_pick(['95E10'] * 6 + ['98E5'] * 3 + ['E85'], 'hp')} END AS product,
              h_day + to_seconds((6 * 3600 + {h('time')} % (16 * 3600))::BIGINT)
                  + CASE WHEN kind = 'twin' THEN to_minutes((2 + hq % 8)::BIGINT) ELSE INTERVAL 0 SECOND END AS ts,
              coalesce(driver_phone, '046' || lpad(({h('phone')} % 10000000)::VARCHAR, 7, '0')) AS phone_nat
            FROM v
        ),
        q AS (
            SELECT *, CASE WHEN product = 'EV' THEN 'kwh' ELSE 'liters' END AS qcol,
              CASE WHEN product = 'EV' THEN 5 + (hq % 7000) / 100.0 ELSE 12 + (hq % 58000) / 1000.0 END AS qty,
              CASE product WHEN 'EV' THEN 0.29 + (hq // 7 % 30) / 100.0 WHEN 'Diesel' THEN 1.69 + (hq // 7 % 25) / 100.0
                   WHEN 'HVO100' THEN 2.02 + (hq // 7 % 20) / 100.0 WHEN 'E85' THEN 1.35 + (hq // 7 % 15) / 100.0
                   ELSE 1.79 + (hq // 7 % 25) / 100.0 END AS price
            FROM p
        )
        SELECT day, seq, kind,
          CASE kind WHEN 'missing_plate' THEN 'registration_number' WHEN 'bad_plate' THEN 'registration_number'
                    WHEN 'bad_ts' THEN 'refueled_at' WHEN 'bad_product' THEN 'product'
                    WHEN 'neg_amount' THEN 'amount_eur'
                    WHEN 'missing_qty' THEN qcol WHEN 'bad_qty' THEN qcol WHEN 'qty_range' THEN qcol END AS col,
          driver_phone IS NULL AS unknown_phone,
          concat('{{"transaction_id": ', to_json({_event_id_sql('fuel')}),
            ', "refueled_at": ', CASE WHEN kind = 'bad_ts' THEN to_json(strftime(ts, '%d.%m.%Y klo %H.%M'))
                                     ELSE to_json(strftime(ts, '%Y-%m-%dT%H:%M:%S') || off) END,
            ', "phone": ', to_json({_phone_sql('phone_nat', h('fmt'))}),
            ', "registration_number": ', CASE kind WHEN 'missing_plate' THEN 'null' WHEN 'bad_plate' THEN '"1234"'
                ELSE to_json(CASE WHEN {h('case')} % 20 = 0 THEN lower(plate) ELSE plate END) END,
            ', "product": ', CASE WHEN kind = 'bad_product' THEN '"Bensa 95"' ELSE to_json(product) END,
            ', "fuel_company": ', to_json(company), ', "station_name": ', to_json(station), ', "city": ', to_json(city),
            CASE WHEN kind = 'missing_qty' THEN NULL
                 ELSE ', "' || qcol || '": ' || CASE
                    WHEN kind = 'bad_qty' THEN to_json(replace(printf('%.1f', qty), '.', ','))
                    WHEN kind = 'qty_range' THEN CASE WHEN product = 'EV' THEN '400.5' ELSE '301.0' END
                    WHEN product = 'EV' THEN printf('%.1f', qty) ELSE printf('%.3f', qty) END END,
            ', "amount_eur": ', CASE WHEN kind = 'neg_amount' THEN '-' ELSE '' END
                || printf('%.2f', qty * price * CASE WHEN kind = 'correction' THEN 1.1 ELSE 1 END),
            '}}') AS full_line
        FROM q"""

    def _wash_sql(self) -> str:
        h = self._hasher("wash")
        return f"""
        WITH r AS ({self._rows_sql('wash_special')}),
        v AS (
            SELECT r.*, a.plate, a.phone, st.name AS location, off.off,
                   h_day + to_seconds((8 * 3600 + {h('time')} % (13 * 3600))::BIGINT) AS ts,
                   {h('program')} % {len(WASH_PROGRAMS)} AS prog
            FROM r JOIN cnt c ON c.day = r.h_day
            LEFT JOIN act a ON a.day = r.h_day AND a.j = {h('veh')} % greatest(c.n, 1)
            JOIN stations st ON st.sid = {h('station')} % 120
            JOIN offsets off ON off.day = r.h_day
        )
        SELECT day, seq, kind,
          CASE kind WHEN 'missing_program' THEN 'wash_program' WHEN 'bad_ts' THEN 'washed_at'
                    WHEN 'bad_plate' THEN 'registration_number' END AS col,
          concat_ws(',', {_event_id_sql('wash')},
            CASE WHEN kind = 'bad_plate' THEN '1234' ELSE coalesce(plate, '') END,
            CASE WHEN phone IS NULL OR {h('nophone')} % 10 < 3 THEN '' ELSE {_phone_sql('phone', h('fmt'))} END,
            CASE WHEN kind = 'bad_ts' THEN strftime(ts, '%Y-%m-%d klo %H') ELSE strftime(ts, '%Y-%m-%dT%H:%M:%S') || off END,
            CASE WHEN kind = 'missing_program' THEN ''
                 ELSE {_sql_list(WASH_PROGRAMS)}[(1 + (prog + CASE WHEN kind = 'correction' THEN 1 ELSE 0 END)
                      % {len(WASH_PROGRAMS)})::BIGINT] END,
            location || CASE WHEN kind = 'field_count' THEN ', halli 2' ELSE '' END) AS line
        FROM v"""

    def _web_sql(self) -> str:
        h = self._hasher("web")
        sess = f"hash(h_day, h_seq // 6, {self.seed}, 'session')"  # six events a session
        pages_logged = ("https://www.example.fi/oma/", "https://www.example.fi/oma/sopimukset",
                        "https://www.example.fi/oma/ajopaivakirja", "https://www.example.fi/oma/laskut")
        return f"""
        WITH r AS ({self._rows_sql('web_special')}),
        s AS (
            SELECT r.*, h_seq % 6 AS pos, {sess} AS hs, {h('event')} AS he,
                   hash(h_day, h_seq // 6, {self.seed}, 'user') % {self.n_users} AS uj
            FROM r
        ),
        t AS (
            SELECT s.*, u.person_id,
                   hs % 100 < 15 AS logged,
                   hs // 100 % 10 >= 2 AS c_analytics,
                   hs // 100 % 10 >= 2 AND hs // 1000 % 10 >= 4 AS c_marketing,
                   h_day + to_seconds((hs // 10000 % 85000 + pos * 70 + he % 60)::BIGINT) AS ts
            FROM s LEFT JOIN web_users u ON u.j = s.uj
        ),
        e AS (
            SELECT t.*,
              CASE WHEN pos = 0 THEN 'page_view'
                   WHEN pos = 1 THEN 'search'
                   WHEN pos = 2 THEN 'page_view'
                   WHEN logged AND pos = 3 THEN 'login'
                   WHEN logged AND pos = 5 THEN 'logout'
                   WHEN logged THEN 'page_view'
                   WHEN pos = 4 AND he % 20 = 0 THEN 'form_submit'
                   WHEN pos = 5 AND he % 40 = 0 THEN 'registration'
                   WHEN he % 3 = 0 THEN 'search' ELSE 'page_view' END AS etype,
              logged AND pos >= 3 AS with_user,
              CASE WHEN logged THEN 'c-' || format('{{:08x}}', hash(uj, {self.seed}, 'cookie') % 4294967296)
                   ELSE 'c-' || format('{{:08x}}', hs % 4294967296) END AS cookie,
              CASE WHEN hs // 100000 % 4 = 0
                   THEN '2001:14ba:' || format('{{:x}}', hs // 7 % 65536) || ':' || format('{{:x}}', hs // 11 % 65536)
                        || '::' || format('{{:x}}', hs // 13 % 65536)
                   ELSE {_pick(('84', '88', '91', '62', '85', '193', '176', '80'), 'hs // 17')} || '.'
                        || (hs // 19 % 256) || '.' || (hs // 23 % 256) || '.' || (1 + hs // 29 % 254) END AS ip,
              {_pick(USER_AGENTS, 'hs // 31')} AS ua
            FROM t
        ),
        f AS (
            SELECT e.*,
              CASE WHEN etype = 'search' THEN 'https://www.example.fi/vaihtoautot/haku'
                   WHEN etype = 'login' THEN 'https://www.example.fi/oma/kirjaudu'
                   WHEN etype = 'logout' THEN 'https://www.example.fi/oma/kirjaudu-ulos'
                   WHEN etype = 'form_submit' THEN 'https://www.example.fi/yhteydenotto/'
                   WHEN etype = 'registration' THEN 'https://www.example.fi/rekisteroidy/'
                   WHEN with_user THEN {_pick(pages_logged, 'he')}
                   WHEN pos = 0 THEN {_pick(LANDING_PAGES, 'hs // 37')}
                   WHEN pos = 2 THEN 'https://www.example.fi/vaihtoautot/auto/' || (10000 + he % 90000)
                   ELSE {_pick(LANDING_PAGES, 'he')} END AS url,
              CASE WHEN pos = 0 THEN CASE WHEN hs // 41 % 3 = 0 THEN NULL ELSE {_pick(REFERRERS, 'hs // 43')} END
                   WHEN pos = 1 THEN 'https://www.example.fi/vaihtoautot/'
                   WHEN pos = 2 THEN 'https://www.example.fi/vaihtoautot/haku'
                   ELSE 'https://www.example.fi/' END AS ref,
              CASE WHEN etype = 'search' THEN {_pick(SEARCH_QUERIES, 'he // 3')} END AS query
            FROM e
        )
        SELECT day, seq, kind,
          CASE kind WHEN 'missing_id' THEN 'event_id' WHEN 'bad_ts' THEN 'event_time' WHEN 'bad_enum' THEN 'event_type'
                    WHEN 'bad_bool' THEN 'consent_analytics' END AS col,
          concat('{{"event_id": ', CASE WHEN kind = 'missing_id' THEN 'null'
                     ELSE to_json({_event_id_sql('web')}) END,
            ', "event_time": ', CASE WHEN kind = 'bad_ts' THEN to_json(strftime(ts, '%d.%m.%Y %H:%M:%S'))
                                     ELSE to_json(strftime(ts, '%Y-%m-%dT%H:%M:%SZ')) END,
            ', "event_type": ', CASE WHEN kind = 'bad_enum' THEN '"click"' ELSE to_json(etype) END,
            ', "cookie_id": ', CASE WHEN c_analytics OR hs // 47 % 5 = 0 THEN to_json(cookie) ELSE 'null' END,
            ', "user_id": ', CASE WHEN with_user THEN to_json(person_id) ELSE 'null' END,
            ', "ip_address": ', to_json(ip),
            ', "user_agent": ', to_json(ua || CASE WHEN kind = 'correction' THEN ' (corrected)' ELSE '' END),
            ', "page_url": ', to_json(url), ', "referrer": ', coalesce(to_json(ref), 'null'),
            ', "search_query": ', coalesce(to_json(query), 'null'),
            ', "consent_analytics": ', CASE WHEN kind = 'bad_bool' THEN '"yes"' ELSE c_analytics::VARCHAR END,
            ', "consent_marketing": ', c_marketing::VARCHAR, '}}') AS full_line
        FROM f"""
