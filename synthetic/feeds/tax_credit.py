"""tax_credit (纳税信用评价与欠税): the last two evaluation years of every taxed entity.

GB18030, CRLF. Quirks: arrears with thousands separators and full-width digits, padded
names and codes; bad: USCCs Excel turned into numbers, ``9.15001E+17`` and 18 digits
ending in ``000``. The department drops the same bytes again as ``tax_credit_<date>_2.csv``.
"""

from __future__ import annotations

import math
import shutil

from synthetic.codes import uscc_check_char
from synthetic.dates import Date, add_months
from synthetic.manifest import FileReport
from synthetic.quirks import (
    FULLWIDTH,
    FULLWIDTH_SHARE,
    PADDED_SHARE,
    THOUSANDS_SHARE,
    amount,
    pad,
    pick,
    share,
)
from synthetic.run import Run
from synthetic.world import Entity
from synthetic.writers import Layout, file_name, write_csv_parts

FEED = "tax_credit"
ENCODING = "gb18030"
BAD_USCC_SHARE = 0.005  # codes Excel turned into numbers, both forms together


def _data_date(as_of: Date) -> Date:
    """Arrears are reported monthly, as of the 15th."""
    return as_of.replace(day=15) if as_of.day >= 15 else add_months(as_of.replace(day=15), -1)


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    taxed = [
        e
        for e in run.world.valid_entities
        if e.kind in ("企业", "农民专业合作社") or (e.kind == "个体工商户" and rng.random() < 0.4)
    ]
    data_date = _data_date(as_of).isoformat()
    # Per row a tuple, not a dict, until it is written: a city has four million rows.
    records: list[tuple[Entity, str, str, str, str]] = []  # entity, year, grade, score, arrears
    arrears: list[int] = []  # cents, per row
    for year in (as_of.year - 2, as_of.year - 1):
        year_text = str(year)
        for entity in taxed:
            if entity.established.year > year:
                continue
            if entity.established.year == year:
                grade = "M"  # newly established: not yet graded
            elif entity.status == "吊销" and rng.random() < 0.5:
                grade = "D"
            else:
                grade = rng.choices("ABMCD", (24, 46, 12, 16, 2))[0]
            score = {"A": (90, 100), "B": (70, 89), "C": (40, 69), "D": (0, 39)}.get(grade)
            score_text = (
                "" if score is None or (grade == "D" and rng.random() < 0.3) else str(rng.randint(*score))
            )
            owes = rng.random() < (0.3 if grade in "CD" else 0.04)
            cents = int(math.exp(rng.uniform(9, 17))) // 10 * 10 if owes else 0  # 80 元 to 240,000 元
            arrears_text = amount(cents / 100) if owes else rng.choice(("0", "0", "0", ""))
            records.append((entity, year_text, grade, score_text, arrears_text))
            arrears.append(cents)
    changed: dict[int, dict[str, str]] = {}  # row -> columns that deviate from the record

    # About a third of this year's D grades are also listed as major tax violators.
    latest_d = [i for i, r in enumerate(records) if r[1] == str(as_of.year - 1) and r[2] == "D"]
    for index in pick(rng, latest_d, max(1, round(len(latest_d) * 0.35))):
        changed[index] = {"major_tax_violator": "是"}

    def value(index: int, column: str) -> str:
        entity = records[index][0]
        default = {"uscc": entity.uscc, "taxpayer_name": entity.name}.get(column)
        return changed.get(index, {}).get(column, default)

    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    numeric = [i for i, r in enumerate(records) if r[0].numeric_code]
    per_form = share(len(records), BAD_USCC_SHARE / 2)
    scientific = pick(rng, numeric, per_form)
    for index in scientific:
        changed.setdefault(index, {})["uscc"] = f"{int(records[index][0].uscc):.5E}"  # Excel: 9.15001E+17
        report.mark_bad(index, "uscc_excel_scientific")
    truncated = 0
    unused = [i for i in numeric if i + 2 not in report.bad]
    for index in rng.sample(unused, len(unused)):
        if truncated == per_form:
            break
        mangled = records[index][0].uscc[:15] + "000"  # Excel keeps 15 significant digits
        if uscc_check_char(mangled[:17]) != mangled[17]:
            changed.setdefault(index, {})["uscc"] = mangled
            report.mark_bad(index, "uscc_excel_truncated")
            truncated += 1
    fine = [i for i in range(len(records)) if i + 2 not in report.bad]
    for index in pick(rng, fine, share(len(records), PADDED_SHARE)):
        column = rng.choice(("uscc", "taxpayer_name"))
        changed.setdefault(index, {})[column] = pad(rng, value(index, column))
        report.mark_quirk(index, "padded_whitespace")
    owing = [i for i in fine if arrears[i] >= 100_000]
    separated = pick(rng, owing, share(len(records), THOUSANDS_SHARE))
    for index in separated:
        changed.setdefault(index, {})["tax_arrears_yuan"] = f"{arrears[index] / 100:,.2f}"
        report.mark_quirk(index, "thousands_separator")
    separated_set = set(separated)  # membership in a list would be quadratic at city scale
    for index in pick(
        rng, [i for i in owing if i not in separated_set], share(len(records), FULLWIDTH_SHARE)
    ):
        changed.setdefault(index, {})["tax_arrears_yuan"] = f"{arrears[index] / 100:.2f}".translate(FULLWIDTH)
        report.mark_quirk(index, "fullwidth_digits")

    def rows():
        for index, (entity, year_text, grade, score_text, arrears_text) in enumerate(records):
            row = {
                "uscc": entity.uscc,
                "taxpayer_name": entity.name,
                "evaluation_year": year_text,
                "tax_grade": grade,
                "tax_score": score_text,
                "tax_arrears_yuan": arrears_text,
                "major_tax_violator": "否",
                "data_date": data_date,
            }
            if index in changed:
                row.update(changed[index])
            yield row

    folder = run.folder(FEED)
    on_row = run.progress.counter(FEED, len(records))
    reports = report.split(
        write_csv_parts(folder, FEED, as_of, Layout(FEED), rows(), ENCODING, on_row=on_row)
    )

    # The department drops the (first) file of the export a second time.
    first = reports[0]
    duplicate_name = file_name(FEED, as_of, len(reports) + 1, "csv")
    shutil.copyfile(folder / first.file, folder / duplicate_name)
    duplicate = FileReport(
        FEED,
        duplicate_name,
        "duplicate",
        ENCODING,
        "CRLF",
        rows=first.rows,
        bad=dict(first.bad),
        quirks={k: list(v) for k, v in first.quirks.items()},
        extra={"duplicate_of": first.file},
    )
    return [*reports, duplicate]
