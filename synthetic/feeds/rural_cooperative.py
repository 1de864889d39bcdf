"""rural_cooperative (农民专业合作社评定): last year's ratings of the active cooperatives.

XLSX, first sheet, header in row 1; codes as text cells, 评定年度 a text cell (as the
agriculture committee's sheet has it). Quirks: padded names and codes.
"""

from __future__ import annotations

from synthetic.manifest import FileReport
from synthetic.quirks import PADDED_SHARE, pad, pick, share
from synthetic.run import Run
from synthetic.writers import Layout, file_name, write_xlsx

FEED = "rural_cooperative"


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    year = str(as_of.year - 1)  # a text cell
    rated = [
        e
        for e in run.world.valid_entities
        if e.kind == "农民专业合作社"
        and e.status not in ("注销", "迁出")
        and e.established.year <= as_of.year - 1
    ]
    rows = []
    for entity in rated:
        product, unit, _ = entity.product
        assets = round(rng.uniform(20, 2500), 1)
        rating = rng.choices("优良中差", (35, 35, 20, 10))[0]
        overdue = 0 if rating in "优良" else rng.choices((0, 1, 2, 3), (50, 25, 15, 10))[0]
        rows.append(
            {
                "uscc": entity.uscc,
                "cooperative_name": entity.name,
                "town": entity.town,
                "village": entity.village,
                "main_product": product,
                "member_households": rng.randint(5, 300),
                "annual_output": f"{rng.randint(10, 900)}{unit}",
                "total_assets_wan": assets,
                "total_liabilities_wan": round(assets * rng.uniform(0, 0.7), 1),
                "loan_overdue_count": overdue,
                "village_rating": rating,
                "rating_year": year,
            }
        )
    name = file_name(FEED, as_of, None, "xlsx")
    report = FileReport(FEED, name, "data", "xlsx", "")
    for index in pick(rng, range(len(rows)), share(len(rows), PADDED_SHARE)):
        column = rng.choice(("uscc", "cooperative_name"))
        rows[index][column] = pad(rng, rows[index][column])
        report.mark_quirk(index, "padded_whitespace")
    report.rows = write_xlsx(
        run.folder(FEED) / name,
        Layout(FEED),
        rows,
        len(rows),
        as_of,
        on_row=run.progress.counter(FEED, len(rows)),
    )
    return [report]
