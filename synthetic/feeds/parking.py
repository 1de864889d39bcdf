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


def _plates(rng: random.Random, count: int, uniques: Uniques) -> list[str]:
    """渝A12345 style, or 渝AD12345 for new-energy cars."""

    def plate() -> str:
        city = rng.choices("ABDG", (50, 25, 15, 10))[0]
        energy = rng.choice("DF") if rng.random() < 0.25 else ""
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


def write(run: Run) -> list[FileReport]:
    rng, as_of, world, cfg = run.rng(FEED), run.as_of, run.world, run.cfg
    folder, layout = run.folder(FEED), Layout(FEED)
    plates = Uniques()
    people = rng.sample(world.persons, cfg["car_owners"])
    person_cars = list(zip(_plates(rng, len(people), plates), (p.ric for p in people), strict=False))
    units = [
        e
        for e in world.valid_entities
        if e.kind in ("企业", "事业单位", "社会组织") and e.status in ("存续", "在业")
    ]
    unit_owners = [rng.choice(units).uscc for _ in range(cfg["unit_vehicles"])]
    unit_cars = list(zip(_plates(rng, len(unit_owners), plates), unit_owners, strict=False))

    days = cfg["parking_days"]
    last_day = days - 1  # index of as_of
    stamps = _ParkingDays(as_of - last_day * DAY, days)
    end_minute = days * 1440 - 1  # as_of 23:59
    berths = [f"CS-{b:04d}" for b in range(cfg["parking_berths"])]
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

    random_ = rng.random
    expovariate = rng.expovariate
    triangular = rng.triangular
    person_count, unit_count, berth_count = len(person_cars), len(unit_cars), len(berths)
    fee_text = [yuan(cents) for cents in range(MAX_DUE_CENTS + 1)]

    def below(n: int) -> int:
        """Uniform in [0, n): random.randrange is several times slower, and this loop is hot."""
        return int(random_() * n)

    def rows():
        seen_arrears = 0
        written = 0
        for day in range(days):
            count = per_day[day]
            entries = sorted(int(triangular(300, 1439, 660)) for _ in range(count))
            prefix = "BSP" + stamps.compact[day]
            for seq, entry_of_day in enumerate(entries):
                if random_() < 0.85:
                    plate, owner = person_cars[int(person_count * random_() ** 2)]
                    owner_type = "个人"
                else:
                    plate, owner = unit_cars[int(unit_count * random_() ** 2)]
                    owner_type = "单位"
                entry = day * 1440 + entry_of_day
                entered = stamps.text(entry, below(60))
                record = f"{prefix}{seq:05d}"
                berth = berths[below(berth_count)]
                if day == last_day and seq >= count - still_parked:
                    row = _record(
                        record, plate, owner_type, owner, berth, entered, "", "0.00", "0.00", "已缴", "0", ""
                    )
                    parked.append(row)
                    report.mark_quirk(written, "still_parked")
                else:
                    minutes = min(5 + int(expovariate(1 / 110)), end_minute - entry)
                    exit_minute = entry + minutes
                    left = stamps.text(exit_minute, below(60))
                    due = fee_text[min(minutes * CENTS_PER_MINUTE, MAX_DUE_CENTS)]
                    age = last_day - exit_minute // 1440
                    draw = random_()
                    if draw < 0.055:
                        row = _record(
                            record,
                            plate,
                            owner_type,
                            owner,
                            berth,
                            entered,
                            left,
                            due,
                            "0.00",
                            "欠费",
                            str(min(5, age // 7)),
                            "",
                        )
                        seen_arrears += 1
                        if len(arrears) < wanted:
                            arrears.append(row)
                        else:
                            slot = below(seen_arrears)
                            if slot < wanted:
                                arrears[slot] = row
                    elif draw < 0.095 and age >= 7:
                        reminders = 1 + below(min(5, age // 7))
                        paid_day = (
                            exit_minute // 1440 + 7 * reminders + below(min(7, age - 7 * reminders + 1))
                        )
                        paid = stamps.text(paid_day * 1440 + 480 + below(720), below(60))
                        row = _record(
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
                        )
                    else:
                        row = _record(
                            record,
                            plate,
                            owner_type,
                            owner,
                            berth,
                            entered,
                            left,
                            due,
                            due,
                            "已缴",
                            "0",
                            left,
                        )
                yield row
                written += 1
                on_row(written)

    report.rows = write_csv(folder / name, layout, rows(), ENCODING, line_end="\n")

    # Next day's file: settled arrears and the cars that were still parked, now gone and paid.
    next_day = last_day + 1
    updates = []
    for row in sorted(arrears, key=lambda r: r["record_no"]):  # record numbers are unique
        settled = dict(
            row,
            amount_paid_yuan=row["amount_due_yuan"],
            payment_status="催缴后补缴",
            reminder_count=str(int(row["reminder_count"]) + 1),
        )
        settled["last_paid_at"] = stamps.text(next_day * 1440 + 480 + rng.randrange(600), rng.randrange(60))
        updates.append(settled)
    for row in parked:
        entered = datetime.datetime.fromisoformat(row["entered_at"])
        entry = (entered.date() - stamps.first_day).days * 1440 + entered.hour * 60 + entered.minute
        exit_minute = max(entry + 5, next_day * 1440 + rng.randrange(600))
        due = yuan(min((exit_minute - entry) * CENTS_PER_MINUTE, MAX_DUE_CENTS))
        left = stamps.text(exit_minute, rng.randrange(60))
        updates.append(
            dict(
                row,
                left_at=left,
                amount_due_yuan=due,
                amount_paid_yuan=due,
                payment_status="已缴",
                reminder_count="0",
                last_paid_at=left,
            )
        )
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
        plate, owner = person_cars[rng.randrange(person_count)]
        left = stamps.text(entry + 30, 0)
        lines.append(
            ",".join(
                layout.values(
                    _record(
                        f"BSP{stamps.compact[next_day + 1]}{seq:05d}",
                        plate,
                        "个人",
                        owner,
                        berths[rng.randrange(berth_count)],
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
