"""commitment (信用承诺及履约): the commitments the district's departments and associations
accepted, and their fulfilment; two files, the second (the next day) carrying a newer
state of some commitments of the first.

The first file is UTF-8 without BOM, LF; the next day's GB18030, CRLF. Quirks: dates in the
four contract formats, padded subject names, 自然人 subjects (身份证号码, no USCC), 主动型
and 行业自律型 without 履约期限, commitments without 监管领域; bad: 履约期限 before 承诺日期.
Generated after penalty: some subjects are penalised in a commitment's domain after it
(broken by a penalty), and 信用修复型 commitments follow published penalties.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, replace

from synthetic.agencies import CREDIT_OFFICE, Agency, recipient
from synthetic.dates import DAY, Date, skewed_date
from synthetic.feeds.penalty import format_date
from synthetic.manifest import FileReport
from synthetic.quirks import PADDED_SHARE, pad, pick, share
from synthetic.run import Run
from synthetic.writers import Layout, file_name, write_csv
from xinyong.runtime import calendar

FEED = "commitment"
ENCODING, NEXT_DAY_ENCODING = "utf-8", "gb18030"
BAD_DEADLINE_SHARE = 0.004  # 履约期限 before 承诺日期
DATE_STYLE_SHARE = 0.03  # each of the three non-ISO date styles
NO_DOMAIN_SHARE = 0.05
PENALISED_SHARE = 0.03  # subjects penalised in the commitment's domain after committing
NATURAL_PERSON_SHARE = 0.08
LOOK_BACK_DAYS = 540  # commitments of the last year and a half
GRACE_WORKING_DAYS = 15  # 容缺受理: the missing material is due within 15 working days

LEGAL_PERSON, INDIVIDUAL_BUSINESS, NATURAL_PERSON = "法人及非法人组织", "个体工商户", "自然人"


@dataclass(frozen=True)
class Template:
    kind: str  # 承诺类型
    acceptor: str  # department_code of the departments seed
    domain: str
    matter: str
    content: str
    due_days: int | None  # 审批替代型: days to the check; 容缺受理型: working days; else no deadline
    persons: bool = False


TEMPLATES = (
    Template(
        "审批替代型",
        "market",
        "市场监管",
        "食品经营许可（告知承诺）",
        "承诺经营场所、设施设备和食品安全管理制度符合许可条件，接受三个月内的现场核查。",
        90,
    ),
    Template(
        "审批替代型",
        "housing",
        "工程建设",
        "建筑工程施工许可（告知承诺）",
        "承诺于履约期限前补交施工图审查合格书，并落实施工现场安全措施。",
        90,
    ),
    Template(
        "审批替代型",
        "fire",
        "消防安全",
        "公众聚集场所投入使用、营业前消防安全检查（告知承诺）",
        "承诺场所符合消防技术标准和管理规定，接受事后核查。",
        90,
    ),
    Template(
        "审批替代型",
        "agriculture",
        "农业农村",
        "动物防疫条件合格证核发（告知承诺）",
        "承诺场所选址、布局和防疫设施符合动物防疫条件。",
        180,
    ),
    Template(
        "审批替代型",
        "transport",
        "交通运输",
        "出租汽车驾驶员从业资格证核发（告知承诺）",
        "承诺无交通肇事犯罪、危险驾驶犯罪记录，无吸毒记录，无饮酒后驾驶记录。",
        90,
        persons=True,
    ),
    Template(
        "容缺受理型",
        "market",
        "市场监管",
        "变更登记（容缺：股东会决议原件）",
        "承诺在15个工作日内补交股东会决议原件。",
        GRACE_WORKING_DAYS,
    ),
    Template(
        "容缺受理型",
        "transport",
        "交通运输",
        "道路运输经营许可（容缺：车辆技术等级评定报告）",
        "承诺在15个工作日内补交车辆技术等级评定报告。",
        GRACE_WORKING_DAYS,
    ),
    Template(
        "容缺受理型",
        "agriculture",
        "农业农村",
        "农药经营许可（容缺：仓储场所证明）",
        "承诺在15个工作日内补交仓储场所产权证明。",
        GRACE_WORKING_DAYS,
    ),
    Template("主动型", "market", "市场监管", "诚信经营承诺", "承诺依法诚信经营，不销售假冒伪劣商品。", None),
    Template(
        "主动型",
        "market",
        "食品药品",
        "食品安全主体责任承诺",
        "承诺落实食品安全自查制度，每年报告自查情况。",
        None,
    ),
    Template(
        "主动型",
        "labour",
        "劳动保障",
        "农民工工资支付承诺",
        "承诺按月足额支付农民工工资，实行工资专用账户管理。",
        None,
    ),
    Template("主动型", "environment", "生态环境", "污染防治承诺", "承诺达标排放，自觉接受环境监管。", None),
    Template(
        "主动型", "commerce", "商务流通", "诚信经营承诺", "承诺诚信经营、公平交易，不进行虚假宣传。", None
    ),
    Template(
        "行业自律型",
        "tourism_association",
        "文化旅游",
        "旅游行业诚信经营自律承诺",
        "承诺明码标价、不组织不合理低价游、不强迫购物。",
        None,
    ),
    Template(
        "行业自律型",
        "catering_association",
        "食品药品",
        "餐饮行业食品安全自律承诺",
        "承诺落实食品安全主体责任，后厨公开，不使用来源不明的食材。",
        None,
    ),
)
KIND_WEIGHTS = {"审批替代型": 35, "容缺受理型": 25, "主动型": 20, "行业自律型": 10, "信用修复型": 10}


@dataclass
class Commitment:
    kind: str
    category: str
    subject_name: str
    uscc: str
    ric: str
    acceptor: Agency
    domain: str
    matter: str
    content: str
    committed: Date
    due: Date | None
    state: str
    verified: Date | None
    note: str
    number: str = ""


def _due(template: Template, committed: Date) -> Date | None:
    if template.due_days is None:
        return None
    if template.kind == "容缺受理型":
        try:
            return calendar.add_working_days(committed, template.due_days)
        except calendar.CalendarError:  # outside the working-day calendar: three weeks
            return committed + 21 * DAY
    return committed + template.due_days * DAY


def _state(
    rng: random.Random, kind: str, committed: Date, due: Date | None, as_of: Date
) -> tuple[str, Date | None, str]:
    """The state a department reports on as_of: mostly kept; some not, some checks late."""
    if due is not None and due < as_of:
        state = rng.choices(("已履约", "未履约", "履约中"), (82, 8, 10))[0]  # 履约中: overdue, not checked
    elif due is not None:
        state = rng.choices(("已履约", "履约中"), (15, 85))[0]
    else:  # ongoing promises: an annual check now and then; a repair commitment is checked once
        state = rng.choices(
            ("已履约", "未履约", "履约中"), (60, 5, 35) if kind == "信用修复型" else (20, 3, 77)
        )[0]
    if state == "履约中":
        return state, None, ""
    last = min(as_of, due + 10 * DAY) if (due is not None and state == "未履约") else min(as_of, due or as_of)
    first = committed if state == "已履约" or due is None else min(due + DAY, as_of)
    verified = first + datetime.timedelta(days=rng.randint(0, max(0, (last - first).days)))
    note = "经核查，承诺内容属实。" if state == "已履约" else "经核查，未按承诺履行。"
    return state, verified, note


def _draw(rng: random.Random, run: Run, entities, persons, penalties) -> Commitment:
    as_of = run.as_of
    kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
    if kind == "信用修复型" and penalties:
        p = rng.choice(penalties)
        committed = min(as_of, p.decided + rng.randint(30, 400) * DAY)
        domain = p.agency.domains[0] if p.agency.domains else ""
        return _commitment(
            rng,
            run,
            kind,
            p.category,
            p.subject_name,
            p.uscc,
            p.ric,
            CREDIT_OFFICE,
            domain,
            f"信用修复（{p.doc_no}）",
            "承诺已纠正违法行为并消除不良影响，一年内不再发生同类违法行为。",
            committed,
            None,
        )
    template = rng.choice([t for t in TEMPLATES if t.kind == (kind if kind != "信用修复型" else "主动型")])
    committed = skewed_date(rng, as_of - LOOK_BACK_DAYS * DAY, as_of, 0.9)
    if template.persons and rng.random() < NATURAL_PERSON_SHARE * 5:
        person = rng.choice(persons)
        category, name, uscc, ric = NATURAL_PERSON, person.name, "", person.ric
    else:
        entity = rng.choice(entities)
        category = INDIVIDUAL_BUSINESS if entity.kind == "个体工商户" else LEGAL_PERSON
        name, uscc, ric = entity.name, entity.uscc, ""
    return _commitment(
        rng,
        run,
        template.kind,
        category,
        name,
        uscc,
        ric,
        recipient(template.acceptor),
        template.domain,
        template.matter,
        template.content,
        committed,
        _due(template, committed),
    )


def _commitment(
    rng, run, kind, category, name, uscc, ric, acceptor, domain, matter, content, committed, due
) -> Commitment:
    state, verified, note = _state(rng, kind, committed, due, run.as_of)
    return Commitment(
        kind,
        category,
        name,
        uscc,
        ric,
        acceptor,
        domain,
        matter,
        content,
        committed,
        due,
        state,
        verified,
        note,
    )


def _penalised_candidates(run: Run, penalties) -> list:
    """Penalties of organisations, in a domain, late enough for a commitment made before them."""
    return [
        p
        for p in penalties
        if p.uscc and p.agency.domains and p.decided - 60 * DAY > run.as_of - LOOK_BACK_DAYS * DAY
    ]


def _penalised(rng: random.Random, candidates) -> Commitment | None:
    """A 主动型 commitment of a penalised organisation, in the penalty's domain, made before it."""
    if not candidates:
        return None
    p = rng.choice(candidates)
    committed = p.decided - rng.randint(20, 200) * DAY
    return Commitment(
        "主动型",
        p.category,
        p.subject_name,
        p.uscc,
        "",
        p.agency,
        p.agency.domains[0],
        "诚信守法经营承诺",
        "承诺依法诚信经营，自觉接受监督，不发生违法违规行为。",
        committed,
        None,
        "履约中",
        None,
        "",
    )


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    entities = run.world.valid_entities
    persons = run.world.persons
    penalties = [p for p in run.penalties if p.decided <= as_of]
    total = run.cfg["commitments"]
    candidates = _penalised_candidates(run, penalties)  # once: a city has a million penalties
    commitments = [
        (_penalised(rng, candidates) if rng.random() < PENALISED_SHARE else None)
        or _draw(rng, run, entities, persons, penalties)
        for _ in range(total)
    ]
    commitments.sort(key=lambda c: c.committed)
    for number, c in enumerate(commitments, start=1):
        c.number = f"CN-500115-{number:06d}"

    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "LF")
    everyone = range(len(commitments))
    with_deadline = [i for i, c in enumerate(commitments) if c.due is not None]
    bad_deadlines = set(pick(rng, with_deadline, share(total, BAD_DEADLINE_SHARE)))
    for index in sorted(bad_deadlines):
        report.mark_bad(index, "due_before_commitment")
    styles = ["iso"] * total
    free = [i for i in everyone if i not in bad_deadlines]
    for style in ("slash", "compact", "chinese"):
        for index in pick(rng, free, share(total, DATE_STYLE_SHARE)):
            styles[index] = style
            report.mark_quirk(index, f"date_{style}")
        free = [i for i in free if styles[i] == "iso"]
    no_domain = set(
        pick(rng, [i for i, c in enumerate(commitments) if c.kind == "主动型"], share(total, NO_DOMAIN_SHARE))
    )
    padded = set(pick(rng, [i for i in everyone if i not in bad_deadlines], share(total, PADDED_SHARE)))
    for quirk, rows in (
        ("no_domain", no_domain),
        ("padded_whitespace", padded),
        ("no_deadline", {i for i in everyone if commitments[i].due is None}),
        ("natural_person", {i for i in everyone if commitments[i].category == NATURAL_PERSON}),
    ):
        for index in sorted(rows):
            report.mark_quirk(index, quirk)

    def row(index: int, c: Commitment, style: str = "iso") -> dict:
        due = c.due
        if index in bad_deadlines:
            due = c.committed - rng.randint(1, 20) * DAY
        return {
            "commitment_no": c.number,
            "subject_name": pad(rng, c.subject_name) if index in padded else c.subject_name,
            "subject_category": c.category,
            "uscc": c.uscc,
            "id_number": c.ric,
            "commitment_type": c.kind,
            "matter": c.matter,
            "content": c.content,
            "committed_on": format_date(c.committed, style),
            "due_on": "" if due is None else format_date(due, style),
            "acceptor": c.acceptor.name,
            "acceptor_uscc": c.acceptor.uscc,
            "domain": "" if index in no_domain else c.domain,
            "reported_state": c.state,
            "verified_on": "" if c.verified is None else format_date(c.verified, style),
            "verification_note": c.note,
        }

    report.rows = write_csv(
        run.folder(FEED) / name,
        Layout(FEED),
        (row(i, c, styles[i]) for i, c in enumerate(commitments)),
        ENCODING,
        line_end="\n",
        on_row=run.progress.counter(FEED, total),
    )

    # The next day: some commitments still 履约中 are checked, kept or not.
    next_day = as_of + DAY
    open_ones = [i for i, c in enumerate(commitments) if c.state == "履约中" and i not in bad_deadlines]
    updated = pick(rng, open_ones, run.cfg["commitment_updates"])
    next_name = file_name(FEED, next_day, None, "csv")
    next_report = FileReport(FEED, next_name, "data", NEXT_DAY_ENCODING, "CRLF")
    changes = []
    for index in updated:
        state = rng.choices(("已履约", "未履约"), (80, 20))[0]
        note = "经核查，承诺内容属实。" if state == "已履约" else "经核查，未按承诺履行。"
        changes.append((index, replace(commitments[index], state=state, verified=next_day, note=note)))
    next_report.rows = write_csv(
        run.folder(FEED) / next_name,
        Layout(FEED),
        (row(index, c) for index, c in changes),
        NEXT_DAY_ENCODING,
        on_row=run.progress.counter(FEED, len(changes)),
    )
    next_report.extra["updates_of"] = name
    return [report, next_report]
