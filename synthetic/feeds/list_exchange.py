"""list_exchange (红黑名单互认): the partner regions' red and black lists (agreements of the
seed list_exchange_agreements), GB18030 CSV. About half the entries are subjects registered
in the district (they apply here), the rest subjects registered in the partner region (kept
and counted, not applied); some left the list there (移出日期).
"""

from __future__ import annotations

import csv
from pathlib import Path

from synthetic.codes import draw_uscc
from synthetic.dates import DAY, Date, skewed_date
from synthetic.manifest import FileReport
from synthetic.run import Run
from synthetic.writers import Layout, file_name, write_csv

FEED = "list_exchange"
ENCODING = "gb18030"
AGREEMENTS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "list_exchange_agreements.csv"
REGISTERED_HERE_SHARE = 0.5
REMOVED_SHARE = 0.15
# (名单类型, 名单名称, 列入事由, 认定单位, years valid)
LISTS = (
    ("红名单", "纳税信用A级纳税人", "上一年度纳税信用评价为A级", "税务局", 1),
    ("红名单", "守合同重信用企业", "连续两年公示为守合同重信用企业", "市场监督管理局", 2),
    ("黑名单", "严重违法失信企业名单", "提交虚假材料骗取许可", "市场监督管理局", 3),
    ("黑名单", "拖欠农民工工资失信联合惩戒对象名单", "拖欠农民工工资数额较大", "人力资源和社会保障局", 3),
)
# the partner's code prefix (authority 1/9, region) by agreement order
REGION_CODES = ("510114", "511600", "510100")


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    with AGREEMENTS.open(encoding="utf-8", newline="") as fh:
        agreements = list(csv.DictReader(fh))
    here = [e for e in run.world.valid_entities if e.kind == "企业" and e.status in ("存续", "在业")]
    rows = []
    for count in range(run.cfg["exchange_entries"]):
        index = count % len(agreements)
        agreement, region = agreements[index], REGION_CODES[index % len(REGION_CODES)]
        list_type, list_name, reason, decider_kind, years = rng.choice(LISTS)
        listed = skewed_date(rng, as_of - 700 * DAY, as_of - DAY, 0.7)
        removed = min(as_of, listed + rng.randint(30, 300) * DAY) if rng.random() < REMOVED_SHARE else None
        if rng.random() < REGISTERED_HERE_SHARE:
            entity = rng.choice(here)
            uscc, name = entity.uscc, entity.name
        else:
            uscc = draw_uscc(rng, "91" + region, Date(2018, 1, 1))
            name = f"{agreement['partner_region'][-3:]}{rng.choice(('恒信', '宝光', '天府', '渠江'))}{rng.choice(('建材', '商贸', '物流', '科技'))}有限公司"
        rows.append(
            {
                "list_type": list_type,
                "list_name": list_name,
                "uscc": uscc,
                "subject_name": name,
                "reason": reason,
                "listed_on": listed.isoformat(),
                "valid_until": (listed + years * 365 * DAY).isoformat(),
                "removed_on": "" if removed is None else removed.isoformat(),
                "decider": f"{agreement['partner_region']}{decider_kind}",
                "decider_uscc": draw_uscc(rng, "11" + region, Date(2000, 1, 1)),
                "source_region": agreement["partner_region"],
                "agreement_no": agreement["agreement_no"],
            }
        )
    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    for index, row in enumerate(rows):
        if row["removed_on"]:
            report.mark_quirk(index, "removed_there")
    report.rows = write_csv(
        run.folder(FEED) / name,
        Layout(FEED),
        rows,
        ENCODING,
        on_row=run.progress.counter(FEED, len(rows)),
    )
    return [report]
