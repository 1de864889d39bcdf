"""domain_rating (行业领域信用分级分类结果): each supervising department's ratings of a share
of the subjects in its domain, on its own scale (the four scales of the contract).

XLSX, codes as text cells. Ratings of the last two years, valid a year (some without 有效期至,
so some have expired by the as-of date); some subjects rated in two domains. Bad: a rating in
a domain that is not one of the 16 (城市管理).
"""

from __future__ import annotations

import datetime

from synthetic.agencies import supervisor
from synthetic.dates import DAY, skewed_date
from synthetic.manifest import FileReport
from synthetic.quirks import pick, share
from synthetic.run import Run
from synthetic.writers import Layout, write_xlsx_parts

FEED = "domain_rating"
RATED_SHARE = 0.15  # of the subjects a domain supervises
NO_EXPIRY_SHARE = 0.1
UNKNOWN_DOMAIN_SHARE = 0.005
LOOK_BACK_DAYS = 720
# domain: (scale, grades best first with weights, subject types or GB/T 4754 sections rated)
DOMAINS = {
    "市场监管": (
        "风险四级",
        {"低风险": 45, "一般风险": 35, "较高风险": 15, "高风险": 5},
        {"企业", "个体工商户"},
    ),
    "食品药品": ("A-D四级", {"A": 30, "B": 45, "C": 20, "D": 5}, {"H", "F"}),
    "工程建设": ("AAA-C五级", {"AAA": 10, "AA": 30, "A": 35, "B": 20, "C": 5}, {"E"}),
    "住房城乡建设": ("AAA-C五级", {"AAA": 10, "AA": 30, "A": 35, "B": 20, "C": 5}, {"K"}),
    "生态环境": ("A-D四级", {"A": 25, "B": 50, "C": 20, "D": 5}, {"B", "C", "D"}),
    "安全生产": (
        "一级-五级",
        {"一级": 10, "二级": 30, "三级": 40, "四级": 15, "五级": 5},
        {"B", "C", "D", "E"},
    ),
    "交通运输": ("AAA-C五级", {"AAA": 15, "AA": 35, "A": 30, "B": 15, "C": 5}, {"G"}),
    "税务": ("A-D四级", {"A": 30, "B": 50, "C": 15, "D": 5}, {"企业"}),
    "劳动保障": ("A-D四级", {"A": 40, "B": 40, "C": 15, "D": 5}, {"E"}),
    "文化旅游": ("风险四级", {"低风险": 50, "一般风险": 35, "较高风险": 10, "高风险": 5}, {"R", "H"}),
    "消防安全": ("风险四级", {"低风险": 40, "一般风险": 40, "较高风险": 15, "高风险": 5}, {"H"}),
    "农业农村": ("A-D四级", {"A": 35, "B": 45, "C": 15, "D": 5}, {"农民专业合作社", "A"}),
    "商务流通": ("A-D四级", {"A": 30, "B": 50, "C": 15, "D": 5}, {"F"}),
    "卫生健康": ("风险四级", {"低风险": 50, "一般风险": 35, "较高风险": 10, "高风险": 5}, {"Q"}),
    "教育培训": ("A-D四级", {"A": 40, "B": 45, "C": 10, "D": 5}, {"P"}),
    "公共资源交易": ("AAA-C五级", {"AAA": 15, "AA": 35, "A": 35, "B": 10, "C": 5}, {"E", "F"}),
}


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    subjects = [e for e in run.world.valid_entities if e.status not in ("注销", "迁出")]
    # Per rating a tuple until it is written (a city has a million and a half).
    ratings = []  # (entity, domain, scale, rater, grade, rated, expires)
    for domain, (scale, grades, scope) in DOMAINS.items():
        rater = supervisor(domain)
        names, weights = list(grades), list(grades.values())
        for entity in subjects:
            if (entity.kind in scope or entity.section in scope) and rng.random() < RATED_SHARE:
                rated = skewed_date(rng, max(entity.established, as_of - LOOK_BACK_DAYS * DAY), as_of, 0.8)
                expires = None if rng.random() < NO_EXPIRY_SHARE else rated + datetime.timedelta(days=364)
                ratings.append((entity, domain, scale, rater, rng.choices(names, weights)[0], rated, expires))
    rng.shuffle(ratings)
    unknown = set(pick(rng, range(len(ratings)), max(1, share(len(ratings), UNKNOWN_DOMAIN_SHARE))))

    def rows():
        for index, (entity, domain, scale, rater, grade, rated, expires) in enumerate(ratings):
            yield {
                "uscc": entity.uscc,
                "subject_name": entity.name,
                "domain": "城市管理" if index in unknown else domain,
                "grade": grade,
                "scale": scale,
                "rated_on": rated.isoformat(),
                "valid_until": "" if expires is None else expires.isoformat(),
                "rater": rater.name,
                "rater_uscc": rater.uscc,
            }

    reports = []
    for name, first, count in write_xlsx_parts(
        run.folder(FEED),
        FEED,
        as_of,
        Layout(FEED),
        rows(),
        len(ratings),
        on_row=run.progress.counter(FEED, len(ratings)),
    ):
        report = FileReport(FEED, name, "data", "xlsx", "", rows=count)
        for index in range(first, first + count):
            if index in unknown:
                report.mark_bad(index - first, "unknown_domain")
            if ratings[index][6] is None:
                report.mark_quirk(index - first, "no_expiry")
        reports.append(report)
    return reports
