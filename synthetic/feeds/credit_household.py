"""credit_household (信用农户评定): last year's rating of every household of the rated villages.

XLSX, first sheet, header in row 1; 身份证号码 as text cells, 评定年度 a number cell (as the
towns' sheets have it). Quirks: padded names and ID numbers. Good households (优/良, no
overdue loan) follow the shares the world planned per village.
"""

from __future__ import annotations

import random

from synthetic.manifest import FileReport
from synthetic.names import FARM_PRODUCTS
from synthetic.quirks import PADDED_SHARE, pad, pick, share
from synthetic.run import Run
from synthetic.writers import Layout, write_xlsx_parts

FEED = "credit_household"


def _household_values(rng: random.Random, good: bool) -> tuple[float, float, float, int, str]:
    """(income, assets, debt, overdue loans, 村委会评价): good households have 优/良 and no overdue."""
    assets = round(rng.uniform(5, 120), 1)
    if good:
        return (
            round(rng.uniform(5, 40), 1),
            assets,
            round(assets * rng.uniform(0, 0.4), 1),
            0,
            rng.choice("优良"),
        )
    rating, overdue = rng.choices(
        (("中", 0), ("中", 1), ("差", rng.randint(0, 3)), ("良", rng.randint(1, 2))), (40, 15, 25, 20)
    )[0]
    return round(rng.uniform(1, 20), 1), assets, round(assets * rng.uniform(0.2, 1.2), 1), overdue, rating


def write(run: Run) -> list[FileReport]:
    rng, as_of, households = run.rng(FEED), run.as_of, run.world.households
    year = as_of.year - 1  # a number cell
    products = [p[0] for p in FARM_PRODUCTS]
    padded = set(pick(rng, range(len(households)), share(len(households), PADDED_SHARE)))

    def rows():
        for index, household in enumerate(households):
            income, assets, debt, overdue, rating = _household_values(rng, household.good)
            head_name, ric = household.head.name, household.head.ric
            if index in padded:
                if rng.random() < 0.5:
                    head_name = pad(rng, head_name)
                else:
                    ric = pad(rng, ric)
            members = rng.choices(range(1, 8), (8, 20, 25, 22, 14, 7, 4))[0]
            yield {
                "householder_name": head_name,
                "id_number": ric,
                "town": household.town,
                "village": household.village,
                "family_size": members,
                "main_product": rng.choice(products),
                "annual_income_wan": income,
                "total_assets_wan": assets,
                "total_liabilities_wan": debt,
                "loan_overdue_count": overdue,
                "village_rating": rating,
                "rating_year": year,
            }

    reports = []
    for name, first, count in write_xlsx_parts(
        run.folder(FEED),
        FEED,
        as_of,
        Layout(FEED),
        rows(),
        len(households),
        on_row=run.progress.counter(FEED, len(households)),
    ):
        report = FileReport(FEED, name, "data", "xlsx", "", rows=count)
        for index in sorted(i for i in padded if first <= i < first + count):
            report.mark_quirk(index - first, "padded_whitespace")
        reports.append(report)
    return reports
