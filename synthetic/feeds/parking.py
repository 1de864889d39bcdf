"""parking (路内停车): on-street parking records of the last ``parking_days`` days.

UTF-8 without BOM, LF. Quirks: cars still parked (no 离场时间); a second file dated
as_of + 1 repeating some records with a newer state (欠费 → 催缴后补缴, parked → paid); a
``.csv.part`` file dated as_of + 2 cut off mid-line (an upload in progress).
"""

from __future__ import annotations

import datetime
import random

from synthetic.codes import Uniques
from synthetic.dates import DAY, Date
from synthetic.manifest import FileReport
from synthetic.quirks import yuan
from synthetic.run import Run
from synthetic.world import split
from synthetic.writers import Layout, file_name, write_csv

FEED = "parking"
ENCODING = "utf-8"
CENTS_PER_MINUTE = 5
MAX_DUE_CENTS = 6000  # a stay costs at most 60 元


# Plates of five digits number 1.2 M (4 offices × 100,000 × plain or two new-energy
# prefixes); a city's 2.6 M cars need the lettered serials real plates use (渝AQR123).
DIGIT_PLATES = 1_200_000
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, as on real plates


def _plates(rng: random.Random, count: int, uniques: Uniques) -> list[str]:
    """渝A12345 style, or 渝AD12345 for new-energy cars; past a quarter of the digit-only
    space (a city), 渝AQR123 with two serial letters, so unique draws stay cheap."""
    lettered = count > DIGIT_PLATES // 4

    def plate() -> str:
        city = rng.choices("ABDG", (50, 25, 15, 10))[0]
        energy = rng.choice("DF") if rng.random() < 0.25 else ""
        if lettered:
            serial = f"{rng.choice(SERIAL_LETTERS)}{rng.choice(SERIAL_LETTERS)}{rng.randint(0, 999):03d}"
            return f"渝{city}{energy}{serial}"
        return f"渝{city}{energy}{rng.randint(0, 99999):05d}"

    return [uniques.draw(plate) for _ in range(count)]


class _ParkingDays:
    """Text of every date and minute a parking record can carry, so the hot loop only indexes."""

    def __init__(self, first_day: Date, days: int) -> None:
        self.first_day = first_day
        self.dates = [(first_day + d * DAY).isoformat() for d in range(days + 3)]
        self.compact = [(first_day + d * DAY).strftime("%Y%m%d") for d in range(days + 3)]
        self.clock = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
        self.seconds = [f"{s:02d}" for s in range(60)]

    def text(self, minute: int, second: int) -> str:
        day, minute_of_day = divmod(minute, 1440)
        return f"{self.dates[day]} {self.clock[minute_of_day]}{self.seconds[second]}"


def _record(
    record_no: str,
    plate: str,
    owner_type: str,
    owner: str,
    berth: str,
    entered: str,
    left: str,
    due: str,
    paid: str,
    status: str,
    reminders: str,
    last_paid: str,
) -> dict[str, str]:
    return {
        "record_no": record_no,
        "plate_no": plate,
        "owner_type": owner_type,
        "owner_id": owner,
        "berth_no": berth,
        "entered_at": entered,
        "left_at": left,
        "amount_due_yuan": due,
        "amount_paid_yuan": paid,
        "payment_status": status,
        "reminder_count": reminders,
        "last_paid_at": last_paid,
    }


class _Stays:
    """Draws parking records: the cars, owners and berths of the run, and one stay at a time."""

    def __init__(self, run: Run, rng: random.Random, days: int) -> None:
        world, cfg, as_of = run.world, run.cfg, run.as_of
        plates = Uniques()
        people = rng.sample(world.persons, cfg["car_owners"])
        self.person_cars = list(zip(_plates(rng, len(people), plates), (p.ric for p in people), strict=False))
        units = [
            e
            for e in world.valid_entities
            if e.kind in ("企业", "事业单位", "社会组织") and e.status in ("存续", "在业")
        ]
        unit_owners = [rng.choice(units).uscc for _ in range(cfg["unit_vehicles"])]
        self.unit_cars = list(zip(_plates(rng, len(unit_owners), plates), unit_owners, strict=False))
        self.berths = [f"CS-{b:04d}" for b in range(cfg["parking_berths"])]
        self.last_day = days - 1  # index of as_of
        self.stamps = _ParkingDays(as_of - self.last_day * DAY, days)
        self.end_minute = days * 1440 - 1  # as_of 23:59
        self.fee_text = [yuan(cents) for cents in range(MAX_DUE_CENTS + 1)]
        self.random = rng.random
        self.expovariate = rng.expovariate

    def below(self, n: int) -> int:
        """Uniform in [0, n): random.randrange is several times slower, and this loop is hot."""
        return int(self.random() * n)

    def stay(self, day: int, seq: int, entry_of_day: int, prefix: str, parked: bool) -> tuple[dict, str]:
        """One record entered on `day`; its kind: parked (still), arrears (欠费) or settled."""
        random_, below, stamps = self.random, self.below, self.stamps
        if random_() < 0.85:
            cars, owner_type = self.person_cars, "个人"
        else:
            cars, owner_type = self.unit_cars, "单位"
        plate, owner = cars[int(len(cars) * random_() ** 2)]
        entry = day * 1440 + entry_of_day
        entered = stamps.text(entry, below(60))
        record = f"{prefix}{seq:05d}"
        berth = self.berths[below(len(self.berths))]
        if parked:
            return _record(
                record, plate, owner_type, owner, berth, entered, "", "0.00", "0.00", "已缴", "0", ""
            ), "parked"
        minutes = min(5 + int(self.expovariate(1 / 110)), self.end_minute - entry)
        exit_minute = entry + minutes
        left = stamps.text(exit_minute, below(60))
        due = self.fee_text[min(minutes * CENTS_PER_MINUTE, MAX_DUE_CENTS)]
        age = self.last_day - exit_minute // 1440
        draw = random_()
        if draw < 0.055:
            reminders = str(min(5, age // 7))
            return _record(
                record, plate, owner_type, owner, berth, entered, left, due, "0.00", "欠费", reminders, ""
            ), "arrears"
        if draw < 0.095 and age >= 7:
            reminders = 1 + below(min(5, age // 7))
            paid_day = exit_minute // 1440 + 7 * reminders + below(min(7, age - 7 * reminders + 1))
            paid = stamps.text(paid_day * 1440 + 480 + below(720), below(60))
            return _record(
                record,
                plate,
                owner_type,
                owner,
                berth,
                entered,
                left,
                due,
                due,
                "催缴后补缴",
                str(reminders),
                paid,
            ), "settled"
        return _record(
            record, plate, owner_type, owner, berth, entered, left, due, due, "已缴", "0", left
        ), "settled"

    def settled_later(self, row: dict, day: int, rng: random.Random) -> dict:
        """A 欠费 record paid after one more reminder on `day`."""
        settled = dict(
            row,
            amount_paid_yuan=row["amount_due_yuan"],
            payment_status="催缴后补缴",
            reminder_count=str(int(row["reminder_count"]) + 1),
        )
        settled["last_paid_at"] = self.stamps.text(day * 1440 + 480 + rng.randrange(600), rng.randrange(60))
        return settled

    def left_later(self, row: dict, day: int, rng: random.Random) -> dict:
        """A car still parked at the end of the file, gone and paid on `day`."""
        entered = datetime.datetime.fromisoformat(row["entered_at"])
        entry = (entered.date() - self.stamps.first_day).days * 1440 + entered.hour * 60 + entered.minute
        exit_minute = max(entry + 5, day * 1440 + rng.randrange(600))
        due = yuan(min((exit_minute - entry) * CENTS_PER_MINUTE, MAX_DUE_CENTS))
        left = self.stamps.text(exit_minute, rng.randrange(60))
        return dict(
            row,
            left_at=left,
            amount_due_yuan=due,
            amount_paid_yuan=due,
            payment_status="已缴",
            reminder_count="0",
            last_paid_at=left,
        )


def write(run: Run) -> list[FileReport]:
    if run.cfg.get("parking_daily_files"):
        return _write_daily(run)
    rng, as_of, cfg = run.rng(FEED), run.as_of, run.cfg
    folder, layout = run.folder(FEED), Layout(FEED)
    days = cfg["parking_days"]
    stays = _Stays(run, rng, days)
    last_day, stamps = stays.last_day, stays.stamps
    per_day = split(rng, cfg["parking_records"], days)
    total = cfg["parking_records"]
    # The last cars of as_of are still parked when the file is cut.
    still_parked = max(2, per_day[-1] // 100)
    on_row = run.progress.counter(FEED, total)
    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "LF")
    arrears: list[dict[str, str]] = []  # reservoir sample of 欠费 records to settle in the next file
    parked: list[dict[str, str]] = []
    wanted = cfg["parking_updates"]
    triangular, below = rng.triangular, stays.below

    def rows():
        seen_arrears = 0
        written = 0
        for day in range(days):
            count = per_day[day]
            entries = sorted(int(triangular(300, 1439, 660)) for _ in range(count))
            prefix = "BSP" + stamps.compact[day]
            for seq, entry_of_day in enumerate(entries):
                row, kind = stays.stay(
                    day, seq, entry_of_day, prefix, day == last_day and seq >= count - still_parked
                )
                if kind == "parked":
                    parked.append(row)
                    report.mark_quirk(written, "still_parked")
                elif kind == "arrears":
                    seen_arrears += 1
                    if len(arrears) < wanted:
                        arrears.append(row)
                    else:
                        slot = below(seen_arrears)
                        if slot < wanted:
                            arrears[slot] = row
                yield row
                written += 1
                on_row(written)

    report.rows = write_csv(folder / name, layout, rows(), ENCODING, line_end="\n")

    # Next day's file: settled arrears and the cars that were still parked, now gone and paid.
    next_day = last_day + 1
    updates = [
        stays.settled_later(row, next_day, rng) for row in sorted(arrears, key=lambda r: r["record_no"])
    ]
    updates += [stays.left_later(row, next_day, rng) for row in parked]
    second_name = file_name(FEED, as_of + DAY, None, "csv")
    second = FileReport(
        FEED,
        second_name,
        "data",
        ENCODING,
        "LF",
        extra={
            "updates_of": name,
            "records_settled_after_reminders": len(arrears),
            "records_no_longer_parked": len(parked),
        },
    )
    second.rows = write_csv(folder / second_name, layout, updates, ENCODING, line_end="\n")

    # An upload still in progress: the temporary name and a last line cut in two.
    partial_name = file_name(FEED, as_of + 2 * DAY, None, "csv") + ".part"
    lines = [",".join(layout.header)]
    for seq in range(20):
        entry = (next_day + 1) * 1440 + 420 + 11 * seq
        plate, owner = stays.person_cars[rng.randrange(len(stays.person_cars))]
        left = stamps.text(entry + 30, 0)
        lines.append(
            ",".join(
                layout.values(
                    _record(
                        f"BSP{stamps.compact[next_day + 1]}{seq:05d}",
                        plate,
                        "个人",
                        owner,
                        stays.berths[rng.randrange(len(stays.berths))],
                        stamps.text(entry, 0),
                        left,
                        "1.50",
                        "1.50",
                        "已缴",
                        "0",
                        left,
                    )
                )
            )
        )
    content = ("\n".join(lines)).encode("utf-8")
    (folder / partial_name).write_bytes(content[: len(content) - 37])
    partial = FileReport(
        FEED, partial_name, "partial", ENCODING, "LF", extra={"note": "upload in progress: not data"}
    )
    return [report, second, partial]


def _write_daily(run: Run) -> list[FileReport]:
    """City scale: one file a day, for the `parking_days` days up to as_of and for as_of + 1
    (the daily delta), each of parking_records / parking_days rows: first the day's state
    changes of earlier records (欠费 settled after one more reminder, the cars still parked
    when the day before was cut now gone and paid), then the day's new records. Written one
    file at a time; only a bounded pool of unsettled records is kept between days."""
    rng, cfg = run.rng(FEED), run.cfg
    folder, layout = run.folder(FEED), Layout(FEED)
    days = cfg["parking_days"]
    day_rows = cfg["parking_records"] // days
    stays = _Stays(run, rng, days)
    wanted = cfg["parking_updates"]
    pool: list[dict[str, str]] = []  # 欠费 records waiting to be settled, at most 2 × wanted
    parked: list[dict[str, str]] = []
    reports = []
    for day in range(days + 1):
        updates: list[dict[str, str]] = []
        if pool:
            chosen = set(rng.sample(range(len(pool)), min(wanted, len(pool))))
            settled = sorted((pool[i] for i in chosen), key=lambda r: r["record_no"])
            updates = [stays.settled_later(row, day, rng) for row in settled]
            pool[:] = [row for i, row in enumerate(pool) if i not in chosen]
        updates += [stays.left_later(row, day, rng) for row in parked]
        parked.clear()
        stays.last_day, stays.end_minute = day, day * 1440 + 1439  # a stay ends on its day
        name = file_name(FEED, stays.stamps.first_day + day * DAY, None, "csv")
        report = FileReport(
            FEED,
            name,
            "data",
            ENCODING,
            "LF",
            extra={"records_updated": len(updates), "records_new": day_rows - len(updates)},
        )
        on_row = run.progress.counter(f"{FEED} {stays.stamps.compact[day]}", day_rows)
        rows = _day_rows(stays, rng, day, day_rows, updates, report, parked, pool, 2 * wanted)
        report.rows = write_csv(folder / name, layout, rows, ENCODING, line_end="\n", on_row=on_row)
        reports.append(report)
    return reports


def _day_rows(
    stays: _Stays,
    rng: random.Random,
    day: int,
    day_rows: int,
    updates: list[dict[str, str]],
    report: FileReport,
    parked: list[dict[str, str]],
    pool: list[dict[str, str]],
    pool_size: int,
):
    """A day's file: its updates, then its new records (the last 1% still parked); fills
    `parked` and `pool` for the next day."""
    yield from updates
    count = day_rows - len(updates)
    still_parked = max(2, count // 100)
    entries = sorted(int(rng.triangular(300, 1439, 660)) for _ in range(count))
    prefix = "BSP" + stays.stamps.compact[day]
    for seq, entry_of_day in enumerate(entries):
        row, kind = stays.stay(day, seq, entry_of_day, prefix, seq >= count - still_parked)
        if kind == "parked":
            parked.append(row)
            report.mark_quirk(len(updates) + seq, "still_parked")
        elif kind == "arrears":
            if len(pool) < pool_size:
                pool.append(row)
            else:  # a sample of every day's arrears, bounded
                slot = stays.below(2 * pool_size)
                if slot < pool_size:
                    pool[slot] = row
        yield row
