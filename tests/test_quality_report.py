"""The stewards' page (``fleetdw quality report``) as a browser shows it: a copy of ``day_two`` (two runs) on which
stewards and marketing registered access requests (one answered, one overdue), an erasure request, exported a
segment and listed the subjects of a dry-run plan that a gate blocks. Real headless Chromium renders the page: the
DOM it builds holds every section and the SVG charts, and its screenshot is a real picture. The page is
standalone (inline CSS, no script, nothing fetched), shows one row per plan and readable lists instead of dicts,
and no personal value: not the persons' ids, names or contact details, not a full pseudonym, not the free text of
a request (a planted marker).

Chromium is required, not optional: ``.ci/run`` installs it (Debian package ``chromium``) and these tests fail
without it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from dagster_project.privacy.declarations import VALUE_PATTERNS
from tests.support import AS_OF
from tests.support.cli import fleetdw as _fleetdw
from tests.support.retention import copy_home

pytestmark = pytest.mark.heavy(10)   # seconds alone, on 2 cores: scheduled first (tests/conftest.py)

MARKER = "ZQXMARKER0815"
SECTIONS = ("At a glance", "Loads", "Expectation suites", "Retention", "Requests of data subjects", "Audit log",
            "Retention policy")
CHARTS = ("Rows loaded per day", "Rows quarantined per day", "Failed expectations per run",
          "Retention runs: subjects erased and outcome", "Requests by kind and state", "Data-out commands per actor",
          "Rows taken out per actor")
DAY = (AS_OF + timedelta(days=1)).isoformat()        # the as-of of day_two's second run


def fleetdw(home: Path, *args: str):
    return _fleetdw(home, *args, FLEETDW_AS_OF=DAY)


def _persons(home: Path) -> list[tuple]:
    """Three current CRM persons without an erasure request: (person_id, first and last name, email, phone, ssn)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("""select person_id, first_name, last_name, email, phone, ssn
                              from raw.crm_persons_current where relationship_end is null and email is not null
                              and person_id not in (select person_id from ops.erasure_requests)
                              order by person_id limit 3""").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def steward_day(day_two: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("quality_report")
    home = copy_home(day_two / "home", root / "home").path
    persons = _persons(home)
    answered, overdue, erased = (p[0] for p in persons)
    fleetdw(home, "dsar", "request", answered, "--actor", "steward.anna")
    fleetdw(home, "dsar", "request", overdue, "--actor", "steward.anna", "--as-of", "2026-09-01")
    fleetdw(home, "dsar", "export", answered, "--out", str(root / "answer.json"), "--actor", "steward.anna")
    fleetdw(home, "erase", erased, "--reason", f"{MARKER} ticket", "--actor", "steward.ben")
    fleetdw(home, "segments", "export", "all_contacts", "--channel", "email", "--out", str(root / "seg.csv"),
            "--actor", "marketing.mia")
    # a dry run two months on: the sources are no longer fresh, so this last plan is blocked
    fleetdw(home, "retention", "plan", "--as-of", "2027-01-22", "--show-subjects", "--actor", "steward.ben")
    page = Path(fleetdw(home, "quality", "report").stdout.strip())
    return {"home": home, "root": root, "page": page, "html": page.read_text(encoding="utf-8"),
            "persons": persons}


def _chromium(root: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    assert exe, "chromium is not installed (.ci/run installs the Debian package: apt-get install chromium)"
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={root / 'chromium'}",
                           *args], capture_output=True, text=True, timeout=240, check=True)


@pytest.fixture(scope="module")
def dom(steward_day: dict) -> str:
    """The DOM Chromium built from the page."""
    return _chromium(steward_day["root"], "--dump-dom", steward_day["page"].as_uri()).stdout


class _Text(HTMLParser):
    """Headings, figure titles (``aria-label`` of an SVG), table cells and all visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.charts: list[str] = []
        self.text: list[str] = []
        self._heading: list[str] | None = None
        self._style = False

    def handle_starttag(self, tag, attrs):
        self._style = tag == "style"
        if tag == "h2":
            self._heading = []
        if tag == "svg":
            self.charts.append(dict(attrs).get("aria-label", ""))

    def handle_endtag(self, tag):
        self._style = False
        if tag == "h2" and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._style:
            return
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


def _parse(markup: str) -> _Text:
    parser = _Text()
    parser.feed(markup)
    return parser


def test_browser_renders_every_section_and_the_charts(dom: str):
    page = _parse(dom)
    assert list(SECTIONS) == page.headings
    assert dom.count("<svg") >= 6
    assert set(CHARTS) <= set(page.charts)
    # bars were drawn, each with its exact count as a tooltip
    svgs = re.findall(r"<svg.*?</svg>", dom, flags=re.S)
    assert all("<rect" in svg for svg in svgs)
    assert len(re.findall(r"<title>[^<]*: [0-9][^<]* rows</title>", dom)) >= 10


def test_screenshot_is_a_full_page_picture(steward_day: dict):
    shot = steward_day["root"] / "report.png"
    _chromium(steward_day["root"], f"--screenshot={shot}", "--window-size=1400,3000", steward_day["page"].as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])      # IHDR
    assert (width, height) == (1400, 3000)
    assert len(data) > 60_000                              # a blank page of that size is a few kilobytes


def test_page_is_standalone_html_without_script_or_remote_resource(steward_day: dict):
    markup = steward_day["html"]
    assert markup.lower().startswith("<!doctype html>") and "<style>" in markup
    assert "<script" not in markup.lower() and "<link" not in markup.lower() and "@import" not in markup
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert "url(" not in markup


def test_plans_are_one_row_each_and_the_blocked_gate_comes_first_with_its_counts(steward_day: dict):
    markup = steward_day["html"]
    plans = markup.split("Last plans", 1)[1].split("</table>", 1)[0]
    ids = re.findall(r"<tr><td class=s>([0-9a-f]{12})</td>", plans)
    assert ids and len(ids) == len(set(ids))
    first = plans.split("</tr>", 2)[1]
    assert "blocked" in first and "sources_fresh" in first and "crm persons days since load" in first
    gates = markup.split("Gates of the last plan", 1)[1].split("</table>", 1)[0]
    assert gates.index("sources_fresh") < gates.index("relationship_end_plausible")
    text = " ".join(_parse(markup).text)
    assert '{"' not in text and "':" not in text           # lists, not dicts


def test_page_shows_requests_by_state_and_exports_per_actor(steward_day: dict):
    text = " ".join(_parse(steward_day["html"]).text)
    for state in ("overdue", "open", "answered"):
        assert state in text
    for actor in ("marketing.mia", "steward.anna", "steward.ben"):
        assert actor in text
    assert "segments export" in text and "dsar export" in text and "retention plan --show-subjects" in text


def _ids_the_page_may_show(home: Path, key: bytes) -> list[str]:
    """Every run and plan id in the ops tables, and the pseudonym of every person, with the prefixes the page uses;
    longest first, so that a prefix never leaves the rest of its id behind."""
    from dagster_project.privacy.pseudonym import pseudonym

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        columns = con.execute("""select table_name, column_name from information_schema.columns
                                 where table_schema = 'ops' and column_name in ('run_id', 'plan_id')""").fetchall()
        ids = {v for t, c in columns for (v,) in con.execute(f'select distinct "{c}" from ops."{t}"').fetchall() if v}
        ids |= {pseudonym(key, "person", p) for (p,) in con.execute("select person_id from raw.crm_persons").fetchall()}
    finally:
        con.close()
    return sorted({s for i in ids for s in (i, i[:8], i[:12])}, key=len, reverse=True)


def test_no_personal_value_on_the_page(steward_day: dict):
    from dagster_project.privacy.pseudonym import parse_key, key_path, pseudonym

    markup = steward_day["html"]
    assert MARKER not in markup
    key = parse_key(key_path(steward_day["home"]).read_bytes())      # the home's key, as its commands read it
    for person_id, first, last, email, phone, ssn in steward_day["persons"]:
        full = pseudonym(key, "person", person_id)
        assert full[:12] in markup                                       # the register shows a prefix ...
        for value in (person_id, full, full[:17], email, phone, ssn):    # ... and nothing more
            assert not value or value not in markup, "a personal value is on the page"
        for name in (first, last):
            assert not re.search(rf"\b{re.escape(name)}\b", markup), "a name is on the page"
    # the ids the page shows (run ids and their 8-character prefixes, plan ids, pseudonym prefixes) are hex: one that
    # happens to be a 0 and eight digits reads as a phone number, so they go before the patterns look for values
    text = "\n".join(_parse(markup).text)
    for shown in _ids_the_page_may_show(steward_day["home"], key):
        text = text.replace(shown, " ")
    for kind in ("email", "henkilotunnus", "phone"):
        assert not re.search(VALUE_PATTERNS[kind][1], text), kind
