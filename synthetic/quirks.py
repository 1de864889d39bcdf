"""How department files write values, and the deviations real files show.

Shares are of a file's rows; every quirk a file carries appears at least once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from synthetic.codes import DIGITS

PADDED_SHARE = 0.01  # names and codes with ASCII or full-width spaces around
THOUSANDS_SHARE = 0.02
FULLWIDTH_SHARE = 0.01

FULLWIDTH = str.maketrans(DIGITS, "０１２３４５６７８９")
_PADDINGS = ("{} ", "{}  ", "\u3000{}", "{}\u3000", " {}\u3000")


def pick(rng: random.Random, candidates: Sequence[int], count: int) -> list[int]:
    return sorted(rng.sample(list(candidates), min(count, len(candidates))))


def share(rows: int, fraction: float) -> int:
    return max(1, round(rows * fraction))


def pad(rng: random.Random, text: str) -> str:
    return rng.choice(_PADDINGS).format(text)


def amount(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
