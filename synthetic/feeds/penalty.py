"""penalty (行政处罚): the district's administrative penalties of the last four years.

GB18030, CRLF. Quirks: dates in the four contract formats, a quoted line break inside
违法事实, full-width fines (``１２.００``), padded names; bad: 自然人 rows whose 身份证号码 has
a wrong check digit. The published penalties (not the bad rows) go on to credit_repair.
"""

from __future__ import annotations

import csv
import datetime
import random
from dataclasses import dataclass
from functools import cache

from synthetic.agencies import AGENCIES, CREDIT_OFFICE, Agency
from synthetic.dates import DAY, Date, add_months, skewed_date
from synthetic.manifest import FileReport
from synthetic.quirks import FULLWIDTH, FULLWIDTH_SHARE, PADDED_SHARE, amount, pad, pick, share
from synthetic.run import Run
from synthetic.world import Entity, World
from synthetic.writers import Layout, file_name, write_csv_parts
from xinyong.runtime.config import PROJECT_ROOT

FEED = "penalty"
ENCODING = "gb18030"
BAD_RIC_SHARE = 0.005  # 自然人 身份证号码 with a wrong check digit
LINE_BREAK_SHARE = 0.003
DATE_STYLE_SHARE = 0.08  # each of the three non-ISO date styles
# The platform's policy seed: how long a penalty is published, by 失信程度.
PUBLICITY_PERIODS = PROJECT_ROOT / "dbt_project" / "seeds" / "publicity_periods.csv"

LEGAL_PERSON = "法人及非法人组织"
INDIVIDUAL_BUSINESS = "个体工商户"
NATURAL_PERSON = "自然人"


@cache
def publicity_months() -> dict[str, tuple[int, int]]:
    """Publicity of a penalty by 失信程度 (months from the decision), from the platform's seed:
    repair is possible after the minimum, publication stops at the maximum."""
    with open(PUBLICITY_PERIODS, encoding="utf-8", newline="") as handle:
        return {
            row["dishonesty_level"]: (int(row["min_months"]), int(row["max_months"]))
            for row in csv.DictReader(handle)
        }


@dataclass(frozen=True)
class PenaltyTemplate:
    agency: str
    violation: str
    facts: tuple[str, str]  # two sentences; a multi-line 违法事实 breaks between them
    basis: str
    categories: tuple[str, ...]
    fines_wan: tuple[float, ...]
    subjects: tuple[str, ...]
    licence: str = ""  # the licence a 严重 case revokes; none: a 严重 case stops business
    licence_no_prefix: str = ""


PENALTY_TEMPLATES = (
    PenaltyTemplate(
        "market",
        "违反产品质量管理规定",
        ("经查，当事人销售经抽检不合格的产品。", "货值金额较小，当事人积极配合调查。"),
        "《中华人民共和国产品质量法》第四十九条",
        ("罚款", "没收违法所得"),
        (0.2, 0.5, 1, 1.5, 2, 3, 5),
        (LEGAL_PERSON, INDIVIDUAL_BUSINESS),
    ),
    PenaltyTemplate(
        "market",
        "违反食品安全管理规定",
        ("经查，当事人经营超过保质期的食品。", "现场查扣超过保质期的预包装食品一批。"),
        "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项",
        ("罚款", "没收非法财物"),
        (0.5, 1, 2, 5, 10),
        (LEGAL_PERSON, INDIVIDUAL_BUSINESS),
        "食品经营许可证",
        "JY2500115",
    ),
    PenaltyTemplate(
        "market",
        "价格违法",
        ("经查，当事人销售商品未按规定明码标价。", "责令改正后当事人已整改。"),
        "《中华人民共和国价格法》第四十二条",
        ("警告", "罚款"),
        (0.05, 0.1, 0.2, 0.5),
        (LEGAL_PERSON, INDIVIDUAL_BUSINESS),
    ),
    PenaltyTemplate(
        "environment",
        "大气污染防治违法",
        ("经查，当事人超过大气污染物排放标准排放大气污染物。", "监测报告显示颗粒物排放浓度超标。"),
        "《中华人民共和国大气污染防治法》第九十九条第（二）项",
        ("罚款",),
        (10, 15, 20, 30, 50),
        (LEGAL_PERSON,),
        "排污许可证",
        "PW500115",
    ),
    PenaltyTemplate(
        "environment",
        "建设项目环境影响评价违法",
        ("经查，当事人建设项目环境影响报告表未经批准擅自开工建设。", "项目已建成投入生产。"),
        "《中华人民共和国环境影响评价法》第三十一条第一款",
        ("罚款",),
        (1, 2, 5, 8),
        (LEGAL_PERSON,),
    ),
    PenaltyTemplate(
        "transport",
        "道路运输违法",
        ("未取得道路运输经营许可，", "擅自从事道路运输经营。"),
        "《中华人民共和国道路运输条例》第六十三条",
        ("罚款", "没收违法所得"),
        (0.3, 0.5, 1, 2),
        (NATURAL_PERSON, LEGAL_PERSON, INDIVIDUAL_BUSINESS),
        "道路运输经营许可证",
        "渝交运管许可长字500115",
    ),
    PenaltyTemplate(
        "transport",
        "超限运输",
        ("经检测，当事人驾驶的货运车辆车货总质量超过限定标准。", "超限率在百分之三十以内。"),
        "《中华人民共和国公路法》第七十六条第（五）项",
        ("罚款",),
        (0.02, 0.05, 0.1, 0.3),
        (NATURAL_PERSON, LEGAL_PERSON),
    ),
    PenaltyTemplate(
        "emergency",
        "安全生产违法",
        ("经查，当事人未按规定对从业人员进行安全生产教育和培训。", "部分特种作业人员未持证上岗。"),
        "《中华人民共和国安全生产法》第九十七条第（三）项",
        ("警告", "罚款"),
        (1, 2, 3, 5),
        (LEGAL_PERSON,),
    ),
    PenaltyTemplate(
        "fire",
        "消防安全违法",
        ("经查，当事人消防设施、器材未保持完好有效。", "疏散通道被杂物堵塞。"),
        "《中华人民共和国消防法》第六十条第一款第（一）项",
        ("罚款",),
        (0.5, 1, 2, 3),
        (LEGAL_PERSON, INDIVIDUAL_BUSINESS),
    ),
    PenaltyTemplate(
        "urban",
        "市容环境卫生违法",
        ("经查，当事人擅自占用城市道路摆摊设点。", "经劝阻后拒不改正。"),
        "《重庆市市容环境卫生管理条例》第六十条",
        ("罚款",),
        (0.01, 0.02, 0.05, 0.1),
        (NATURAL_PERSON, INDIVIDUAL_BUSINESS),
    ),
    PenaltyTemplate(
        "urban",
        "违法建设",
        ("经查，当事人未取得建设工程规划许可证擅自建设。", "违法建设面积约六十平方米。"),
        "《中华人民共和国城乡规划法》第六十四条",
        ("罚款",),
        (0.5, 1, 3, 5),
        (NATURAL_PERSON, LEGAL_PERSON),
    ),
    PenaltyTemplate(
        "tax",
        "税收违法",
        ("经查，当事人未按照规定期限办理纳税申报和报送纳税资料。", "逾期时间较长。"),
        "《中华人民共和国税收征收管理法》第六十二条",
        ("罚款",),
        (0.02, 0.05, 0.1, 0.2),
        (LEGAL_PERSON, INDIVIDUAL_BUSINESS),
    ),
    PenaltyTemplate(
        "police",
        "违反治安管理",
        ("经查，违法行为人在公共场所与他人发生争执并殴打他人。", "造成他人轻微伤。"),
        "《中华人民共和国治安管理处罚法》第四十三条第一款",
        ("行政拘留", "罚款"),
        (0.02, 0.05),
        (NATURAL_PERSON,),
    ),
    PenaltyTemplate(
        "health",
        "医疗卫生违法",
        ("经查，当事人未取得医疗机构执业许可证擅自执业。", "违法所得数额较小。"),
        "《中华人民共和国基本医疗卫生与健康促进法》第九十九条第一款",
        ("没收违法所得", "没收非法财物", "罚款"),
        (2, 5, 10),
        (NATURAL_PERSON, INDIVIDUAL_BUSINESS),
    ),
    PenaltyTemplate(
        "agriculture",
        "农药经营违法",
        ("经查，当事人经营的农药经抽检为劣质农药。", "违法经营额较小。"),
        "《农药管理条例》第五十六条",
        ("没收违法所得", "罚款"),
        (0.5, 1, 2),
        (LEGAL_PERSON, INDIVIDUAL_BUSINESS),
        "农药经营许可证",
        "农药经许（渝）500115",
    ),
    PenaltyTemplate(
        "culture",
        "互联网上网服务违法",
        ("经查，当事人经营的上网服务营业场所接纳未成年人进入。", "现场发现未成年人上网。"),
        "《互联网上网服务营业场所管理条例》第三十一条第（二）项",
        ("警告", "罚款"),
        (0.5, 1),
        (INDIVIDUAL_BUSINESS, LEGAL_PERSON),
        "网络文化经营许可证",
        "渝网文500115",
    ),
    PenaltyTemplate(
        "labour",
        "社会保险违法",
        ("经查，当事人未按规定办理社会保险登记。", "涉及职工十余名。"),
        "《中华人民共和国社会保险法》第八十四条",
        ("罚款",),
        (0.1, 0.3, 0.5),
        (LEGAL_PERSON,),
    ),
)
SUBJECT_WEIGHTS = {LEGAL_PERSON: 52, INDIVIDUAL_BUSINESS: 33, NATURAL_PERSON: 15}


@dataclass
class Penalty:
    template: PenaltyTemplate
    category: str  # 行政相对人类别
    subject_name: str
    uscc: str
    legal_rep: str
    ric: str
    decided: Date
    valid_until: Date
    publicity_until: Date | None
    dishonesty: str  # 一般 / 严重 / "" (the platform's policy decides)
    categories: list[str]
    content: str
    fine_wan: float | None
    confiscated_wan: float | None
    licence: str
    remark: str
    doc_no: str = ""

    @property
    def agency(self) -> Agency:
        return AGENCIES[self.template.agency]


def format_date(day: Date, style: str) -> str:
    if style == "slash":
        return f"{day.year}/{day.month}/{day.day}"
    if style == "compact":
        return f"{day:%Y%m%d}"
    if style == "chinese":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def _draw_penalty(
    rng: random.Random,
    as_of: Date,
    world: World,
    legal_persons: list[Entity],
    individual_businesses: list[Entity],
) -> Penalty:
    category = rng.choices(list(SUBJECT_WEIGHTS), list(SUBJECT_WEIGHTS.values()))[0]
    template = rng.choice([t for t in PENALTY_TEMPLATES if category in t.subjects])
    earliest = as_of - datetime.timedelta(days=4 * 365)
    if category == NATURAL_PERSON:
        person = rng.choice(world.persons)
        subject_name, uscc, legal_rep, ric = person.name, "", "", person.ric
    else:
        pool = legal_persons if category == LEGAL_PERSON else individual_businesses
        while True:  # repeat offenders are common: favour the front of the pool
            entity = pool[int(len(pool) * rng.random() ** 1.5)]
            if entity.established + 30 * DAY < as_of:
                break
        subject_name, uscc, legal_rep, ric = entity.name, entity.uscc, entity.legal_rep, ""
        earliest = max(earliest, entity.established + 30 * DAY)
    decided = skewed_date(rng, earliest, as_of, 0.8)

    severe_possible = category != NATURAL_PERSON and template.fines_wan[-1] >= 1
    dishonesty = rng.choices(("", "一般", "严重"), (55, 40, 5 if severe_possible else 0))[0]
    if "警告" in template.categories and dishonesty != "严重" and rng.random() < 0.25:
        categories = ["警告"]  # a warning alone, no fine
    else:  # fines and detention always; warnings and confiscations in some cases
        categories = [c for c in template.categories if c in ("罚款", "行政拘留") or rng.random() < 0.6]
    fines = template.fines_wan
    fine = rng.choice(fines[len(fines) // 2 :] if dishonesty == "严重" else fines)
    licence = ""
    if dishonesty == "严重":
        if template.licence:
            categories.append("吊销许可证件")
            licence = f"{template.licence}（{template.licence_no_prefix}{rng.randint(1, 99999):05d}）"
        else:
            categories.append("责令停产停业")
    confiscated = round(rng.uniform(0.01, 2), 2) if any(c.startswith("没收") for c in categories) else None

    parts = []
    for c in categories:
        if c == "罚款":
            parts.append(
                f"罚款人民币{int(round(fine * 10000))}元"
                if fine < 1 and rng.random() < 0.5
                else f"罚款人民币{amount(fine)}万元"
            )
        elif c == "没收违法所得":
            parts.append(f"没收违法所得人民币{int(round(confiscated * 10000))}元")
        elif c == "行政拘留":
            parts.append(f"行政拘留{rng.choice((3, 5, 7, 10))}日")
        elif c == "吊销许可证件":
            parts.append(f"吊销{licence}")
        elif c == "责令停产停业":
            parts.append("责令停产停业整顿")
        else:
            parts.append(c)

    years = 3 if dishonesty == "严重" else 1
    valid_until = add_months(decided, 12 * years) - (DAY if rng.random() < 0.5 else datetime.timedelta())
    publicity_until = None
    if dishonesty and rng.random() < 0.15:
        low, high = publicity_months()[dishonesty]
        publicity_until = add_months(decided, rng.choice((low * 2, high)))
    return Penalty(
        template,
        category,
        subject_name,
        uscc,
        legal_rep,
        ric,
        decided,
        valid_until,
        publicity_until,
        dishonesty,
        categories,
        "；".join(parts),
        fine if "罚款" in categories else None,
        confiscated,
        licence,
        rng.choices(("", "当事人已履行处罚决定", "已缴纳罚款", "依法从轻处罚"), (85, 6, 6, 3))[0],
    )


def write(run: Run) -> list[FileReport]:
    rng, as_of, world = run.rng(FEED), run.as_of, run.world
    valid = world.valid_entities
    legal_persons = [e for e in valid if e.kind != "个体工商户"]
    individual_businesses = [e for e in valid if e.kind == "个体工商户"]
    penalties = [
        _draw_penalty(rng, as_of, world, legal_persons, individual_businesses)
        for _ in range(run.cfg["penalties"])
    ]
    penalties.sort(key=lambda p: p.decided)
    next_number: dict[tuple[str, int], int] = {}
    for p in penalties:
        key = (p.template.agency, p.decided.year)
        number = next_number.get(key) or rng.randint(1, 60)
        next_number[key] = number + 1
        p.doc_no = f"{p.agency.doc_prefix}〔{p.decided.year}〕{number}号"

    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    natural = [i for i, p in enumerate(penalties) if p.category == NATURAL_PERSON]
    # sets: membership in a list would be quadratic at city scale
    broken_rics = set(pick(rng, natural, share(len(penalties), BAD_RIC_SHARE)))
    for index in sorted(broken_rics):
        report.mark_bad(index, "ric_check_digit")
    everyone = range(len(penalties))
    styles = ["iso"] * len(penalties)
    free = list(everyone)
    for style in ("slash", "compact", "chinese"):
        chosen = pick(rng, free, share(len(penalties), DATE_STYLE_SHARE))
        for index in chosen:
            styles[index] = style
            report.mark_quirk(index, f"date_{style}")
        free = [i for i in free if styles[i] == "iso"]
    line_breaks = set(pick(rng, everyone, share(len(penalties), LINE_BREAK_SHARE)))
    fined = [i for i, p in enumerate(penalties) if p.fine_wan is not None]
    fullwidth = set(pick(rng, fined, share(len(penalties), FULLWIDTH_SHARE)))
    padded = set(
        pick(rng, [i for i in everyone if i + 2 not in report.bad], share(len(penalties), PADDED_SHARE))
    )

    def rows():
        for index, p in enumerate(penalties):
            ric = p.ric
            if index in broken_rics:
                ric = ric[:17] + rng.choice([c for c in "0123456789X" if c != ric[17]])
            facts = ("\n" if index in line_breaks else "").join(p.template.facts)
            fine = ""
            if p.fine_wan is not None:
                fine = f"{p.fine_wan:.2f}".translate(FULLWIDTH) if index in fullwidth else amount(p.fine_wan)
            subject = pad(rng, p.subject_name) if index in padded else p.subject_name
            style = styles[index]
            yield {
                "subject_name": subject,
                "subject_category": p.category,
                "uscc": p.uscc,
                "legal_representative": p.legal_rep,
                "id_type": "身份证" if p.ric else "",
                "id_number": ric,
                "decision_no": p.doc_no,
                "violation_type": p.template.violation,
                "violation_facts": facts,
                "legal_basis": p.template.basis,
                "penalty_types": rng.choices((";", "；"), (80, 20))[0].join(p.categories),
                "penalty_content": p.content,
                "fine_wan": fine,
                "confiscation_wan": "" if p.confiscated_wan is None else amount(p.confiscated_wan),
                "licence_name_no": p.licence,
                "decision_date": format_date(p.decided, style),
                "valid_until": format_date(p.valid_until, style),
                "publicity_until": "" if p.publicity_until is None else format_date(p.publicity_until, style),
                "dishonesty_level": p.dishonesty,
                "authority": p.agency.name,
                "authority_uscc": p.agency.uscc,
                "source_unit": CREDIT_OFFICE.name,
                "source_unit_uscc": CREDIT_OFFICE.uscc,
                "remarks": p.remark,
            }

    for index in sorted(line_breaks):
        report.mark_quirk(index, "line_break_in_value")
    for index in sorted(fullwidth):
        report.mark_quirk(index, "fullwidth_digits")
    for index in sorted(padded):
        report.mark_quirk(index, "padded_whitespace")
    on_row = run.progress.counter(FEED, len(penalties))
    parts = write_csv_parts(run.folder(FEED), FEED, as_of, Layout(FEED), rows(), ENCODING, on_row=on_row)
    run.penalties = [p for i, p in enumerate(penalties) if i not in broken_rics]
    return report.split(parts)
