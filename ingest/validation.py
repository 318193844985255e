"""SQL that types and validates landing rows, generated from the contracts in :mod:`ingest.contracts`.

Every landing row is first read as text (one VARCHAR per contract column). This module produces, per source,
one SELECT that casts every column to its declared type and computes ``_reasons``: a ``;``-separated list of
every rule the row breaks (``required:<col>``, ``type:<col>``, ``enum:<col>``, ``range:<col>``,
``pattern:<col>``, ``checksum:<col>``, ``rule:<name>``). Rows with an empty list load; the others go to
quarantine with that list as their reason. The identifier checks agree with ``python-stdnum`` (tests prove it).
"""

from __future__ import annotations

from ingest.contracts import Column, Source

HETU_CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def q(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def qi(name: str) -> str:
    """A SQL identifier for any text (a landing file's header can hold quotes, or nothing at all)."""
    return '"' + (name or "_unnamed").replace('"', '""') + '"'


def text(col: str) -> str:
    """The trimmed text of a landing column, NULL when empty."""
    return f"nullif(trim(s.\"{col}\"), '')"


# --- identifier predicates (argument: a SQL expression of trimmed text) -------------------------------------

def hetu_pattern_sql(v: str) -> str:
    return rf"regexp_full_match(upper({v}), '[0-3][0-9][01][0-9][0-9]{{2}}[-+A-FU-Y][0-9]{{3}}[0-9A-FHJ-NPR-Y]')"


def hetu_valid_sql(v: str) -> str:
    """Format, birth date, individual number 002-899 and check character, like ``stdnum.fi.hetu.is_valid``."""
    u = f"upper({v})"
    century = (
        f"(case substr({u}, 7, 1) when '+' then 1800 when '-' then 1900 when 'Y' then 1900 when 'X' then 1900 "
        f"when 'W' then 1900 when 'V' then 1900 when 'U' then 1900 else 2000 end)"
    )
    birth = (
        f"try(make_date({century} + cast(substr({u}, 5, 2) as integer), cast(substr({u}, 3, 2) as integer), "
        f"cast(substr({u}, 1, 2) as integer)))"
    )
    individual = f"cast(substr({u}, 8, 3) as integer)"
    check = (
        f"substr('{HETU_CHECK_CHARS}', cast(cast(substr({u}, 1, 6) || substr({u}, 8, 3) as bigint) % 31 as integer)"
        f" + 1, 1)"
    )
    return (
        f"coalesce(case when {hetu_pattern_sql(v)} then {birth} is not null and {individual} between 2 and 899 "
        f"and {check} = substr({u}, 11, 1) else false end, false)"
    )


def ytunnus_pattern_sql(v: str) -> str:
    return f"regexp_full_match({v}, '[0-9]{{7}}-[0-9]')"


def ytunnus_valid_sql(v: str) -> str:
    """Weights 7,9,10,5,8,4,2; r = sum mod 11; r = 1 never issued; check = 0 if r = 0 else 11 - r."""
    weights = (7, 9, 10, 5, 8, 4, 2)
    total = " + ".join(f"{w} * cast(substr({v}, {i + 1}, 1) as integer)" for i, w in enumerate(weights))
    r = f"(({total}) % 11)"
    return (
        f"coalesce(case when {ytunnus_pattern_sql(v)} then {r} <> 1 and "
        f"(case when {r} = 0 then 0 else 11 - {r} end) = cast(substr({v}, 9, 1) as integer) else false end, false)"
    )


def phone_digits_sql(v: str) -> str:
    return rf"regexp_replace({v}, '[\s\-().]', '', 'g')"


def phone_valid_sql(v: str) -> str:
    """A Finnish number (leading 0) or an international one (+ or 00 prefix), 7-15 digits."""
    return rf"regexp_full_match({phone_digits_sql(v)}, '(\+|00)[1-9][0-9]{{6,14}}|0[1-9][0-9]{{4,11}}')"


def plate_normalised_sql(v: str) -> str:
    return f"upper(replace({v}, ' ', ''))"


RULE_SQL = {
    "person_id": lambda v: f"regexp_full_match({v}, 'P[0-9]+')",
    "contract_id": lambda v: f"regexp_full_match({v}, 'C[0-9]+')",
    "email": lambda v: rf"regexp_full_match({v}, '[^@\s]+@[^@\s]+\.[^@\s]+')",
    "phone": phone_valid_sql,
    "postal_code": lambda v: f"regexp_full_match({v}, '[0-9]{{5}}')",
    "plate": lambda v: f"regexp_full_match({plate_normalised_sql(v)}, '[A-ZÅÄÖ]{{2,3}}-[0-9]{{1,3}}')",
    "vin": lambda v: f"regexp_full_match(upper({v}), '[A-HJ-NPR-Z0-9]{{17}}')",
    "ip": lambda v: (
        rf"(regexp_full_match({v}, '((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){{3}}"
        rf"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])') or "
        rf"(regexp_full_match({v}, '[0-9A-Fa-f:.]+') and contains({v}, ':')))"
    ),
    "utc": lambda v: f"(ends_with(upper({v}), 'Z') or ends_with({v}, '+00:00'))",
}

# Rules whose format is checked first (reason "pattern") and whose check character second (reason "checksum").
CHECKSUM_RULES = {
    "hetu": (hetu_pattern_sql, hetu_valid_sql),
    "ytunnus": (ytunnus_pattern_sql, ytunnus_valid_sql),
}

def has_offset_sql(v: str) -> str:
    """An ISO 8601 date-time that states its offset (``Z``, ``+HH:MM``, ``+HHMM`` or ``+HH``); cheaper than a regex."""
    return (
        f"(length({v}) >= 16 and substr({v}, 5, 1) = '-' and substr({v}, 11, 1) in ('T', ' ') and "
        f"(right({v}, 1) in ('Z', 'z') or substr({v}, -6, 1) in ('+', '-') or substr({v}, -5, 1) in ('+', '-') "
        f"or substr({v}, -3, 1) in ('+', '-')))"
    )


def typed_sql(col: Column, finnish: bool) -> str:
    """SQL casting the trimmed text of ``col`` to its type; NULL when empty or not parseable."""
    v = text(col.name)
    if col.type in ("string", "enum"):
        return f's."{col.name}"'  # text is kept exactly as delivered
    if col.type == "integer":
        return rf"case when regexp_full_match({v}, '-?[0-9]+') then try_cast({v} as bigint) end"
    if col.type == "decimal":
        num = rf"regexp_replace({v}, '[\s\x{{00a0}}]', '', 'g')"
        if finnish:
            num = f"replace({num}, ',', '.')"
        return rf"case when regexp_full_match({num}, '-?[0-9]+(\.[0-9]+)?') then try_cast({num} as decimal(18, 2)) end"
    if col.type == "number":
        return f"try_cast({v} as double)"
    if col.type == "date":
        if finnish:
            return f"try_strptime({v}, '%d.%m.%Y')::date"
        return rf"case when regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') then try_cast({v} as date) end"
    if col.type == "timestamp":
        if finnish:
            return f"timezone('Europe/Helsinki', try_strptime({v}, '%d.%m.%Y %H:%M:%S'))"
        return f"case when {has_offset_sql(v)} then try_cast({v} as timestamptz) end"
    if col.type == "bool":
        true, false = ("1", "0") if finnish else ("true", "false")
        return f"case lower({v}) when '{true}' then true when '{false}' then false end"
    raise ValueError(f"unknown column type {col.type}")


SQL_TYPES = {
    "string": "varchar", "enum": "varchar", "integer": "bigint", "decimal": "decimal(18, 2)",
    "number": "double", "date": "date", "timestamp": "timestamptz", "bool": "boolean",
}


def rule_checks(col: Column) -> list[tuple[str, str]]:
    """(condition, reason) pairs: the condition is true when ``col`` breaks that rule (on the typed row ``t``)."""
    v = f"t.\"_v_{col.name}\""
    typed = f"t.\"{col.name}\""
    out = []
    if col.required:
        out.append((f"{v} is null", f"required:{col.name}"))
    if col.type not in ("string", "enum"):
        out.append((f"{v} is not null and {typed} is null", f"type:{col.name}"))
    if col.type == "enum":
        allowed = ", ".join(q(x) for x in col.values)
        out.append((f"{v} is not null and {v} not in ({allowed})", f"enum:{col.name}"))
    if col.min is not None:
        op = "<=" if col.min_exclusive else "<"
        out.append((f"{typed} {op} {col.min}", f"range:{col.name}"))
    if col.max is not None:
        out.append((f"{typed} > {col.max}", f"range:{col.name}"))
    if col.rule in CHECKSUM_RULES:
        pattern, valid = CHECKSUM_RULES[col.rule]
        out.append((f"{v} is not null and not {pattern(v)}", f"pattern:{col.name}"))
        out.append((f"{v} is not null and {pattern(v)} and not {valid(v)}", f"checksum:{col.name}"))
    elif col.rule is not None:
        out.append((f"{v} is not null and not coalesce({RULE_SQL[col.rule](v)}, false)", f"pattern:{col.name}"))
    return out


def typed_select(source: Source, stage: str) -> str:
    """SELECT over the text stage ``stage`` producing the typed columns, ``_line``, ``_reasons`` and ``_raw``.

    A row is checked once with one boolean over all rules; only the rare failing row gets its reasons spelled
    out (CASE evaluates its branch on those rows only). ``_raw`` (the record as delivered) is kept only for
    rows that break a rule: it is what quarantine stores.
    """
    finnish = source.format == "finnish_csv"
    inner_cols = ",\n    ".join(
        f"{typed_sql(c, finnish)} as \"{c.name}\"" + (
            "" if c.type == "string" and c.rule is None and not c.required
            else f", {text(c.name)} as \"_v_{c.name}\"")
        for c in source.columns
    )
    checks = [chk for c in source.columns for chk in rule_checks(c)]
    checks += [(f"not coalesce({r.sql_ok}, true)", f"rule:{r.name}") for r in source.cross_rules]
    ok_sql = " and ".join(["t._malformed is null"] + [f"not coalesce({cond}, false)" for cond, _ in checks])
    reasons = ", ".join(f"case when {cond} then '{label}' end" for cond, label in checks)
    typed_cols = ", ".join(f'"{c}"' for c in source.column_names)
    return (
        f"select {typed_cols}, _line,\n"
        f"  case when _ok then '' else coalesce(_malformed, concat_ws(';', {reasons})) end as _reasons,\n"
        f"  case when not _ok then _raw end as _raw\n"
        f"from (select t.*, {ok_sql} as _ok from (\n  select s._line, s._raw, s._malformed,\n"
        f"    {inner_cols}\n  from {stage} s\n) t) t"
    )
