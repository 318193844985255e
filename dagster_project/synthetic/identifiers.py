"""Finnish identifiers for synthetic data: henkilötunnus, Y-tunnus, plates, VINs and phone numbers.

Every generator takes a ``random.Random`` so that callers stay deterministic. The ``corrupt_*`` helpers
return a value of the right shape whose checksum fails, for bad-input fixtures.
"""

from __future__ import annotations

import random
from datetime import date

HETU_CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
YTUNNUS_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
# Century signs: the 1900s have '-' and (since 2023) Y, X, W, V, U; the 2000s have A and (since 2023) B-F.
CENTURY_SIGNS = {1800: ("+",), 1900: ("-", "Y", "X", "W", "V", "U"), 2000: ("A", "B", "C", "D", "E", "F")}
PLATE_LETTERS = "ABCDEFGHIJKLMNOPRSTUVXYZ"  # no Q or W on Finnish plates
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # ISO 3779: no I, O, Q
MOBILE_PREFIXES = ("040", "041", "044", "045", "050")
UNKNOWN_MOBILE_PREFIX = "046"  # never given to a CRM person: numbers here are guaranteed unknown
PHONE_STYLES = ("spaced", "intl_spaced", "compact", "e164")


def hetu_check_char(ddmmyy: str, individual: str) -> str:
    """Check character of a henkilötunnus from its date part and its three-digit individual number."""
    return HETU_CHECK_CHARS[int(ddmmyy + individual) % 31]


def make_hetu(rng: random.Random, birth_date: date, *, male: bool | None = None, modern_sign: bool = False) -> str:
    """A valid henkilötunnus for ``birth_date`` (individual number 002-899, odd for men, even for women)."""
    signs = CENTURY_SIGNS[birth_date.year // 100 * 100]
    sign = rng.choice(signs[1:]) if modern_sign and len(signs) > 1 else signs[0]
    ddmmyy = birth_date.strftime("%d%m") + f"{birth_date.year % 100:02d}"
    number = rng.randint(2, 899) if male is None else 2 * rng.randint(1, 449) + (1 if male else 0)
    individual = f"{number:03d}"
    return f"{ddmmyy}{sign}{individual}{hetu_check_char(ddmmyy, individual)}"


def corrupt_hetu(hetu: str) -> str:
    """The same henkilötunnus with a wrong check character."""
    wrong = HETU_CHECK_CHARS[(HETU_CHECK_CHARS.index(hetu[-1]) + 7) % 31]
    return hetu[:-1] + wrong


def ytunnus_check_digit(base: str) -> int | None:
    """Check digit of a seven-digit Y-tunnus base, or None when the base is never issued (r = 1)."""
    remainder = sum(int(d) * w for d, w in zip(base, YTUNNUS_WEIGHTS)) % 11
    if remainder == 1:
        return None
    return 0 if remainder == 0 else 11 - remainder


def make_ytunnus(rng: random.Random) -> str:
    """A valid Y-tunnus ``NNNNNNN-C``."""
    while True:
        base = f"{rng.randint(100000, 3399999):07d}"
        check = ytunnus_check_digit(base)
        if check is not None:
            return f"{base}-{check}"


def corrupt_ytunnus(ytunnus: str) -> str:
    """The same Y-tunnus with a wrong check digit."""
    base, check = ytunnus.split("-")
    return f"{base}-{(int(check) + 3) % 10}"


def make_plate(rng: random.Random) -> str:
    """A Finnish registration plate like ``ABC-123`` (2-3 letters, 1-3 digits, no leading zero)."""
    letters = "".join(rng.choice(PLATE_LETTERS) for _ in range(rng.choice((2, 3, 3, 3))))
    digits = str(rng.randint(1, 999)) if rng.random() < 0.15 else str(rng.randint(100, 999))
    return f"{letters}-{digits}"


def make_vin(rng: random.Random, wmi: str) -> str:
    """A 17-character VIN starting with the manufacturer code ``wmi`` (no I, O or Q)."""
    return wmi + "".join(rng.choice(VIN_CHARS) for _ in range(17 - len(wmi)))


def make_mobile(rng: random.Random, prefix: str | None = None) -> str:
    """A Finnish mobile number in national digits, e.g. ``0401234567``."""
    return (prefix or rng.choice(MOBILE_PREFIXES)) + f"{rng.randint(0, 9999999):07d}"


def format_phone(national: str, style: str) -> str:
    """Write national digits ``0401234567`` the way users type them (see ``PHONE_STYLES``)."""
    rest = national[1:]
    if style == "spaced":
        return f"{national[:3]} {national[3:6]} {national[6:]}"
    if style == "intl_spaced":
        return f"+358 {rest[:2]} {rest[2:5]} {rest[5:]}"
    if style == "compact":
        return national
    if style == "e164":
        return "+358" + rest
    raise ValueError(f"unknown phone style {style!r}")


def to_e164(national: str) -> str:
    """E.164 form of national digits."""
    return format_phone(national, "e164")
