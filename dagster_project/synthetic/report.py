"""The report of a generation run: what was written, what was broken on purpose, and what should load.

It names sources, files, line numbers, keys and kinds, never a personal value, so it can be printed and kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from dagster_project.synthetic.records import GENERATED_SOURCES


@dataclass(frozen=True)
class BadRow:
    source: str
    file: str
    line: int  # CSV: header is line 1, first data row line 2. JSONL: first line is line 1.
    kind: str  # one of defects.DEFECT_KINDS
    column: str | None


@dataclass(frozen=True)
class BadFile:
    source: str
    file: str
    kind: str  # one of defects.FILE_DEFECT_KINDS


@dataclass(frozen=True)
class DuplicateFile:
    source: str
    file: str
    duplicate_of: str


@dataclass(frozen=True)
class DriftFile:
    source: str
    file: str
    extra_columns: tuple[str, ...]


@dataclass(frozen=True)
class HeaderVariant:
    source: str
    file: str
    kind: str  # "bom" or "header_case_order"


@dataclass(frozen=True)
class KeyedLine:
    """A row that is well-formed but special: an event correction or a stale CRM row."""

    source: str
    file: str
    line: int
    key: str
    original_file: str | None = None


@dataclass
class GenerationReport:
    seed: int
    persons: int
    as_of: str
    days: int
    master: bool
    files: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> file name -> data lines
    rows_written: dict[str, int] = field(default_factory=dict)
    files_written: dict[str, int] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)
    bad_files: list[BadFile] = field(default_factory=list)
    duplicate_files: list[DuplicateFile] = field(default_factory=list)
    drift_files: list[DriftFile] = field(default_factory=list)
    header_variants: list[HeaderVariant] = field(default_factory=list)
    corrections: list[KeyedLine] = field(default_factory=list)  # event id re-delivered with changed content
    stale_rows: list[KeyedLine] = field(default_factory=list)  # CRM delta rows older than what was delivered
    business_rule_rows: dict[str, int] = field(default_factory=dict)
    # Rows a consent-gated source (location) must withhold at load (RULES.md §2): per source and file, per
    # "<source>.<reason>" (no_grant, before_grant, after_withdrawal; unreadable_time, no_person, malformed), and the
    # broken lines among them (withheld rather than quarantined: their person or time cannot be read).
    withheld: dict[str, dict[str, int]] = field(default_factory=dict)
    withheld_reasons: dict[str, int] = field(default_factory=dict)
    withheld_lines: list[BadRow] = field(default_factory=list)
    expected_loaded_rows: dict[str, int] = field(default_factory=dict)
    expected_withheld_rows: dict[str, int] = field(default_factory=dict)
    expected_keys: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)

    def add_file(self, source: str, name: str, data_lines: int) -> None:
        self.files.setdefault(source, {})[name] = data_lines

    def bad_row(self, source: str, name: str, line: int, kind: str, column: str | None) -> None:
        self.bad_rows.append(BadRow(source, name, line, kind, column))

    def withhold(self, source: str, name: str, reason: str, lines: int) -> None:
        """``lines`` lines of file ``name`` that the loader must withhold for ``reason``."""
        files = self.withheld.setdefault(source, {})
        files[name] = files.get(name, 0) + lines
        label = f"{source}.{reason}"
        self.withheld_reasons[label] = self.withheld_reasons.get(label, 0) + lines


class KeyTracker:
    """Keys of the rows that should load, per source (for ``expected_keys``)."""

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {}
        self.event_counts: dict[str, int] = {}

    def add(self, source: str, key: str) -> None:
        self.keys.setdefault(source, set()).add(key)


def finalise(report: GenerationReport, keys: KeyTracker) -> GenerationReport:
    rejected = {(f.source, f.file) for f in report.bad_files} | {(d.source, d.file) for d in report.duplicate_files}
    bad_by_file: dict[tuple[str, str], int] = {}
    for b in report.bad_rows:
        bad_by_file[(b.source, b.file)] = bad_by_file.get((b.source, b.file), 0) + 1
    for source in GENERATED_SOURCES:
        files = report.files.get(source, {})
        report.files_written[source] = len(files)
        report.rows_written[source] = sum(files.values())
        withheld = report.withheld.get(source, {})
        report.expected_loaded_rows[source] = sum(
            n - bad_by_file.get((source, name), 0) - withheld.get(name, 0)
            for name, n in files.items() if (source, name) not in rejected
        )
        if source in report.withheld:
            report.expected_withheld_rows[source] = sum(withheld.values())
        if source in keys.keys:
            report.expected_keys[source] = len(keys.keys[source])
        elif source in keys.event_counts:
            report.expected_keys[source] = keys.event_counts[source]
    report.bad_rows.sort(key=lambda b: (b.source, b.file, b.line))
    report.withheld_lines.sort(key=lambda b: (b.source, b.file, b.line))
    report.withheld = {s: dict(sorted(f.items())) for s, f in sorted(report.withheld.items())}
    report.withheld_reasons = dict(sorted(report.withheld_reasons.items()))
    report.files = {s: dict(sorted(f.items())) for s, f in sorted(report.files.items())}
    return report

