"""loan_outcome (融资授信结果反馈): what the banks on the district's 信易贷 platform did with
the applications of the district's businesses; two files, the second (the next day)
carrying a newer state of some applications still under review in the first.

Both files are UTF-8 with BOM, CRLF. Borrowers are active enterprises, 个体工商户 and
cooperatives of the register. Quirks: amounts with thousands separators, dates in the four
contract formats, padded borrower names, approvals with nothing lent yet; bad: 放款金额
more than the 授信金额.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from synthetic.dates import DAY, Date, skewed_date
from synthetic.feeds.penalty import format_date
from synthetic.manifest import FileReport
from synthetic.quirks import PADDED_SHARE, THOUSANDS_SHARE, amount, pad, pick, share
from synthetic.run import Run
from synthetic.writers import Layout, file_name, write_csv

FEED = "loan_outcome"
ENCODING = "utf-8-sig"
BAD_LENT_SHARE = 0.005  # 放款金额 more than the 授信金额
DATE_STYLE_SHARE = 0.02  # each of the three non-ISO date styles
LOOK_BACK_DAYS = 450  # applications of the last year and a quarter
REVIEW_DAYS = 30  # an application is decided within a month


@dataclass(frozen=True)
class Lender:
    name: str
    uscc: str
    products: tuple[str, ...]


LENDERS = (
    Lender("中国建设银行股份有限公司重庆长寿支行", "915001159D62H8FE0E", ("渝快贷", "知识价值信用贷")),
    Lender("重庆三峡银行股份有限公司长寿支行", "91500115B19B28GH47", ("渝快贷", "知识价值信用贷")),
    Lender("重庆农村商业银行股份有限公司长寿支行", "9150011567E0CD1E70", ("旺农贷", "渝快贷")),
    Lender("中国邮政储蓄银行股份有限公司重庆长寿区支行", "91500115MA5U7PDX11", ("旺农贷", "渝快贷")),
)
# (smallest, largest) credit line in 万元, and the share lent without collateral
PRODUCTS = {"渝快贷": (10, 300, 0.9), "知识价值信用贷": (100, 2000, 1.0), "旺农贷": (5, 100, 0.8)}
REFUSALS = (
    "近一年经营流水不足，负债率偏高",
    "申请人已被列入失信被执行人名单",
    "征信记录存在多次逾期",
    "经营年限不足一年",
    "担保条件不足",
)


@dataclass
class Application:
    number: str
    uscc: str
    borrower: str
    lender: Lender
    product: str
    applied: Date
    decision: str
    granted: float | None
    lent: float | None
    lent_on: Date | None
    first_loan: str
    credit_loan: str
    state: str
    refusal: str


def _decide(rng: random.Random, app: Application, as_of: Date) -> Application:
    """The outcome a bank reports on as_of: recent ones may still be under review."""
    if app.applied > as_of - REVIEW_DAYS * DAY and rng.random() < 0.6:
        return app
    if rng.random() < 0.22:
        return replace(app, decision="未通过", refusal=rng.choice(REFUSALS))
    low, high, credit_share = PRODUCTS[app.product]
    granted = float(rng.randint(low, high))
    decided = app.applied + rng.randint(3, REVIEW_DAYS) * DAY
    lent_on = decided + rng.randint(1, 20) * DAY
    if lent_on > as_of or rng.random() < 0.08:  # approved, nothing drawn yet
        lent, lent_on, state = None, None, ""
    else:
        lent = granted if rng.random() < 0.7 else float(rng.randint(1, int(granted)))
        age = (as_of - lent_on).days
        state = rng.choices(("正常", "结清", "逾期", "不良"), (80, 12 if age > 180 else 0, 5, 1))[0]
    return replace(
        app,
        decision="通过",
        granted=granted,
        lent=lent,
        lent_on=lent_on,
        first_loan="是" if rng.random() < 0.3 else "否",
        credit_loan="是" if rng.random() < credit_share else "否",
        state=state,
    )


def _decided_next_day(rng: random.Random, app: Application) -> Application:
    """An application under review, decided: approved with nothing drawn yet, or refused."""
    if rng.random() < 0.25:
        return replace(app, decision="未通过", refusal=rng.choice(REFUSALS))
    low, high, credit_share = PRODUCTS[app.product]
    return replace(
        app,
        decision="通过",
        granted=float(rng.randint(low, high)),
        first_loan="是" if rng.random() < 0.3 else "否",
        credit_loan="是" if rng.random() < credit_share else "否",
    )


def _applications(rng: random.Random, run: Run) -> list[Application]:
    borrowers = [
        e
        for e in run.world.valid_entities
        if e.kind in ("企业", "个体工商户", "农民专业合作社") and e.status in ("存续", "在业")
    ]
    drafts = []
    for _ in range(run.cfg["loan_applications"]):
        entity = rng.choice(borrowers)
        farming = entity.kind == "农民专业合作社"
        lender = rng.choice([x for x in LENDERS if "旺农贷" in x.products] if farming else LENDERS)
        product = "旺农贷" if farming else rng.choice(lender.products)
        applied = skewed_date(rng, run.as_of - LOOK_BACK_DAYS * DAY, run.as_of, 0.8)
        draft = Application(
            "", entity.uscc, entity.name, lender, product, applied, "审批中", None, None, None, "", "", "", ""
        )
        drafts.append(_decide(rng, draft, run.as_of))
    drafts.sort(key=lambda a: a.applied)
    for number, app in enumerate(drafts, start=1):
        app.number = f"XYD-500115-{number:06d}"
    return drafts


def _amount(value: float | None, separated: bool) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if separated and value >= 1000 else amount(value)


def write(run: Run) -> list[FileReport]:
    rng, as_of = run.rng(FEED), run.as_of
    apps = _applications(rng, run)
    total = len(apps)
    name = file_name(FEED, as_of, None, "csv")
    report = FileReport(FEED, name, "data", ENCODING, "CRLF")
    everyone = range(total)
    lent = [i for i, a in enumerate(apps) if a.lent]
    bad_lent = set(pick(rng, lent, share(total, BAD_LENT_SHARE)))
    for index in sorted(bad_lent):
        report.mark_bad(index, "lent_more_than_granted")
    styles = ["iso"] * total
    free = [i for i in everyone if i not in bad_lent]
    for style in ("slash", "compact", "chinese"):
        for index in pick(rng, free, share(total, DATE_STYLE_SHARE)):
            styles[index] = style
            report.mark_quirk(index, f"date_{style}")
        free = [i for i in free if styles[i] == "iso"]
    large = [i for i, a in enumerate(apps) if (a.granted or 0) >= 1000 and i not in bad_lent]
    separated = set(pick(rng, large, share(total, THOUSANDS_SHARE))) if large else set()
    padded = set(pick(rng, [i for i in everyone if i not in bad_lent], share(total, PADDED_SHARE)))
    for quirk, rows in (
        ("thousands_separator", separated),
        ("padded_whitespace", padded),
        ("approved_nothing_lent", {i for i in everyone if apps[i].decision == "通过" and not apps[i].lent}),
    ):
        for index in sorted(rows):
            report.mark_quirk(index, quirk)

    def row(index: int, a: Application, day: Date, style: str = "iso") -> dict:
        lent_value = a.lent
        if index in bad_lent:
            lent_value = (a.granted or 0) + rng.randint(1, 50)
        return {
            "application_no": a.number,
            "uscc": a.uscc,
            "borrower_name": pad(rng, a.borrower) if index in padded else a.borrower,
            "lender": a.lender.name,
            "lender_uscc": a.lender.uscc,
            "product": a.product,
            "applied_on": format_date(a.applied, style),
            "decision": a.decision,
            "granted_wan": _amount(a.granted, index in separated),
            "lent_wan": _amount(lent_value, index in separated),
            "lent_on": "" if a.lent_on is None else format_date(a.lent_on, style),
            "is_first_loan": a.first_loan,
            "is_credit_loan": a.credit_loan,
            "loan_state": a.state,
            "refusal_reason": a.refusal,
            "data_date": format_date(day, style),
        }

    report.rows = write_csv(
        run.folder(FEED) / name,
        Layout(FEED),
        (row(i, a, as_of, styles[i]) for i, a in enumerate(apps)),
        ENCODING,
        on_row=run.progress.counter(FEED, total),
    )

    # The next day: some applications under review are decided.
    next_day = as_of + DAY
    reviewing = [i for i, a in enumerate(apps) if a.decision == "审批中"]
    changes = []
    for index in pick(rng, reviewing, run.cfg["loan_updates"]):
        changes.append((index, _decided_next_day(rng, apps[index])))
    next_name = file_name(FEED, next_day, None, "csv")
    next_report = FileReport(FEED, next_name, "data", ENCODING, "CRLF")
    next_report.rows = write_csv(
        run.folder(FEED) / next_name,
        Layout(FEED),
        (row(index, a, next_day) for index, a in changes),
        ENCODING,
        on_row=run.progress.counter(FEED, len(changes)),
    )
    next_report.extra["updates_of"] = name
    return [report, next_report]
