"""Identifiers: 统一社会信用代码 (USCC) and 居民身份证号码, with their check characters."""

from __future__ import annotations

import random
from collections.abc import Callable
from operator import mul

from synthetic.dates import Date

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DIGITS = "0123456789"
USCC_LETTERS = USCC_ALPHABET[10:]
MODERN_CODES_FROM = Date(2015, 10, 1)  # organisation codes of the form MA... since the USCC reform


def uscc_check_char(body: str) -> str:
    """Check character of a USCC from its first 17 characters (ISO 7064 MOD 31-3)."""
    total = sum(map(mul, map(_USCC_VALUES.__getitem__, body[:17]), _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def ric_check_char(body: str) -> str:
    """Check character of a 居民身份证号码 from its first 17 digits (MOD 11-2)."""
    return "10X98765432"[sum(map(mul, map(int, body[:17]), _RIC_WEIGHTS)) % 11]


def draw_ric(rng: random.Random, region: str, first_year: int, last_year: int) -> str:
    birth = Date.fromordinal(
        rng.randint(Date(first_year, 1, 1).toordinal(), Date(last_year, 12, 31).toordinal())
    )
    body = f"{region}{birth.year}{birth.month:02d}{birth.day:02d}{rng.randint(1, 999):03d}"
    return body + ric_check_char(body)


def draw_uscc(rng: random.Random, prefix: str, established: Date) -> str:
    """A USCC with the given 8-character prefix (authority, type, region).

    Its organisation code (characters 9-17) looks like the real ones: since the 2015 reform
    MA followed by digits and letters; before, the old 9-digit organisation code, whose
    check character is sometimes a letter. About a third of old codes are all digits,
    which is what lets Excel turn them into numbers.
    """
    if established >= MODERN_CODES_FROM:
        tail = "".join(
            rng.choice(DIGITS) if rng.random() < 0.6 else rng.choice(USCC_LETTERS) for _ in range(7)
        )
        body = prefix + "MA" + tail
    else:
        body = prefix + "".join(rng.choices(DIGITS, k=8)) + rng.choice(DIGITS * 3 + "X")
    return body + uscc_check_char(body)


class Uniques:
    """Draws values until one is new: codes and names must not repeat.

    With `draws` > 0, after that many draws that all repeat, the last one gets the lowest
    free number appended (a branch: 老王餐馆2), for name parts a city outgrows; 0 draws
    for ever, as at district scale.
    """

    def __init__(self, draws: int = 0) -> None:
        self._seen: set[str] = set()
        self._draws = draws

    def draw(self, make: Callable[[], str]) -> str:
        drawn = 0
        while True:
            value = make()
            if value not in self._seen:
                self._seen.add(value)
                return value
            drawn += 1
            if drawn == self._draws:
                number = 2
                while f"{value}{number}" in self._seen:
                    number += 1
                value = f"{value}{number}"
                self._seen.add(value)
                return value
