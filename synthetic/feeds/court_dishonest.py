"""court_dishonest (失信被执行人名单): the district court's list, GB18030 CSV. Debtors are
registered organisations, a few natural persons and a few government bodies (USCC 11…, 政务失信);
some records have left the list (移除日期, 全部履行). Quirks: old cases with only the
组织机构代码 (characters 9-17 of the USCC), 失信情形 with two values separated by `；`.
Bad: 发布日期 before 立案日期.
"""

from __future__ import annotations

from synthetic.agencies import recipient
from synthetic.codes import draw_uscc
from synthetic.dates import DAY, Date, skewed_date
from synthetic.manifest import FileReport
from synthetic.quirks import pick, share
from synthetic.run import Run
from synthetic.writers import Layout, file_name, write_csv

FEED = "court_dishonest"
ENCODING = "gb18030"
PERSON_SHARE = 0.15
OLD_CASE_SHARE = 0.05
REMOVED_SHARE = 0.25
TWO_KINDS_SHARE = 0.2
BAD_DATES_SHARE = 0.01
KINDS = (
    "有履行能力而拒不履行",
    "伪造证据",
    "暴力、威胁妨碍执行",
    "规避执行",
    "违反财产报告制度",
    "违反限制消费令",
    "无正当理由拒不履行和解协议",
)
OBLIGATIONS = (
    "支付货款人民币{n}万元",
    "偿还借款本金人民币{n}万元及利息",
    "支付工程款人民币{n}万元",
    "支付租金人民币{n}万元",
)


def _government_bodies(rng, run: Run) -> list[tuple[str, str]]:
    towns = sorted({e.town for e in run.world.valid_entities})
    count = run.cfg["court_government_cases"]
    return [
        (f"重庆市长寿区{town}人民政府", draw_uscc(rng, "11500115", Date(2000, 1, 1)))
        for town in rng.sample(towns, min(count, len(towns)))
    ]


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    court = recipient("court")
    organisations = [e for e in run.world.valid_entities if e.kind != "个体工商户"]
    bodies = _government_bodies(rng, run)
    total = run.cfg["court_cases"]
    rows = []
    for number in range(1, total + 1):
        filed = skewed_date(rng, as_of - 1500 * DAY, as_of - 30 * DAY, 0.7)
        published = min(as_of, filed + rng.randint(20, 120) * DAY)
        removed = min(as_of, published + rng.randint(30, 400) * DAY) if rng.random() < REMOVED_SHARE else None
        kinds = rng.sample(KINDS, 2 if rng.random() < TWO_KINDS_SHARE else 1)
        row = {
            "case_no": f"（{filed.year}）渝0115执{number:04d}号",
            "court": court.name,
            "filed_on": filed.isoformat(),
            "basis_no": f"（{filed.year - 1}）渝0115民初{rng.randint(100, 4999)}号",
            "obligation": rng.choice(OBLIGATIONS).format(n=round(rng.uniform(1, 200), 1)),
            "performance": "全部履行" if removed else rng.choice(("全部未履行", "部分履行")),
            "dishonesty_kinds": "；".join(kinds),
            "published_on": published.isoformat(),
            "removed_on": "" if removed is None else removed.isoformat(),
            "uscc": "",
            "organisation_code": "",
            "id_number": "",
            "legal_representative": "",
        }
        if number <= len(bodies):
            name, uscc = bodies[number - 1]
            row.update(debtor_name=name, debtor_category="法人及非法人组织", uscc=uscc)
        elif rng.random() < PERSON_SHARE:
            person = rng.choice(run.world.persons)
            row.update(debtor_name=person.name, debtor_category="自然人", id_number=person.ric)
        else:
            entity = rng.choice(organisations)
            row.update(
                debtor_name=entity.name,
                debtor_category="法人及非法人组织",
                uscc=entity.uscc,
                legal_representative=entity.legal_rep,
            )
        rows.append(row)
    rng.shuffle(rows)
    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    organisations_rows = [i for i, r in enumerate(rows) if r["uscc"] and not r["uscc"].startswith("1")]
    old = set(pick(rng, organisations_rows, share(total, OLD_CASE_SHARE)))
    for index in sorted(old):
        rows[index]["organisation_code"], rows[index]["uscc"] = rows[index]["uscc"][8:17], ""
        report.mark_quirk(index, "organisation_code_only")
    for index in pick(rng, [i for i in range(total) if i not in old], max(1, share(total, BAD_DATES_SHARE))):
        filed = Date.fromisoformat(rows[index]["filed_on"])
        rows[index]["published_on"] = (filed - rng.randint(1, 30) * DAY).isoformat()
        rows[index]["removed_on"] = ""
        report.mark_bad(index, "published_before_filed")
    for index, row in enumerate(rows):
        if row["debtor_category"] == "自然人":
            report.mark_quirk(index, "natural_person")
        elif row["uscc"].startswith("1"):
            report.mark_quirk(index, "government_body")
    report.rows = write_csv(
        run.folder(FEED) / name,
        Layout(FEED),
        rows,
        ENCODING,
        on_row=run.progress.counter(FEED, total),
    )
    return [report]
