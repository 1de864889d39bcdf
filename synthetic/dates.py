"""Date arithmetic the feeds share."""

from __future__ import annotations

import datetime
import random
from calendar import monthrange

Date = datetime.date
DAY = datetime.timedelta(days=1)


def skewed_date(rng: random.Random, first: Date, last: Date, recent_bias: float) -> Date:
    """A date in [first, last]; recent_bias < 1 makes recent dates more likely."""
    span = (last - first).days
    return first + datetime.timedelta(days=int(span * rng.random() ** recent_bias))


def add_months(day: Date, months: int) -> Date:
    """Same day of the month, months later; the month's last day when it is shorter."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return Date(year, month, min(day.day, monthrange(year, month)[1]))
