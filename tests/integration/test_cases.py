"""Objections and repair applications (xinyong/app/cases.py) on one warehouse built from the
shared samples: the flag in the next publication, an upheld objection withdrawing a penalty
without any new feed file, repair rules refusing and granting, deadlines across 国庆."""

import datetime as dt

import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, ingested_samples, query
from xinyong import ingest
from xinyong.app import cases, cli, pipeline
from xinyong.ingest import contracts

pytestmark = pytest.mark.integration

DAY = dt.date.fromisoformat(EVALUATION_DATE)
PENALTY = "渝长市场罚〔2026〕100号"  # 91500115EGC964D31Y, 一般, decided 2026-10-21: public
PENALTY_USCC = "91500115EGC964D31Y"
GREY_WITH_REPAIR_COMMITMENT = "915001151HDD9D579M"  # broken 2026-11-01; signs a 信用修复型 commitment below
GREY_WITHOUT = "92500115GCFF5HF27F"


def _repair_commitment_file(landing):
    """The subject signs a 信用修复型 commitment (a commitment file, as any other day's)."""
    header = (SAMPLES / "commitment_20261120.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    row = (
        "CN-500115-000030,重庆长江兴隆建筑工程有限公司,法人及非法人组织,915001151HDD9D579M,,信用修复型,"
        "信用修复（践诺灰名单）,承诺补交施工图审查合格书并不再发生同类失信行为。,2026-11-21,,"
        "重庆市长寿区发展和改革委员会,1150011545B735D073,工程建设,履约中,,"
    )
    (landing / "commitment" / "commitment_20261122.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("cases")
    with ingested_samples(pg_server, home) as (url, settings):
        _repair_commitment_file(settings.landing)
        ingest.ingest_feed(contracts.load("commitment"), settings, url)
        first = pipeline.publish_candidate(
            pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
        )
        yield url, first


def _explained(url, uscc):
    return query(
        url,
        """select e.rule_id, e.points, e.source_feed, e.source_row from publish.credit_score_explanation e
           join publish.entity_credit_profile p using (entity_key) where p.uscc = %s order by 1, 4""",
        (uscc,),
    )


def test_an_objection_flags_the_penalty_and_once_upheld_withdraws_it(published):
    url, first = published
    score_before = query(
        url, "select score from publish.entity_credit_profile where uscc = %s", (PENALTY_USCC,)
    )
    assert {r[0] for r in _explained(url, PENALTY_USCC)} >= {"PEN_GENERAL", "PEN_RECENT"}
    case = cases.open_case(
        url,
        "objection",
        "penalty",
        PENALTY,
        "重庆绿野宏泰商贸有限公司",
        "该处罚已被行政复议撤销",
        ["复议决定书.pdf"],
        by="clerk",
        on=DAY,
    )
    assert case["decided_by"] == "credit_office" and case["state"] == "received"
    # not before the next publication, which the opening alone makes due
    assert query(
        url, "select under_objection from publish.penalty_disclosure where decision_no = %s", (PENALTY,)
    ) == [(False,)]
    second = cases.publish_now(DAY)
    assert second["publication_id"] == first["publication_id"] + 1
    assert query(
        url,
        "select under_objection, objection_case_id from publish.penalty_disclosure where decision_no = %s",
        (PENALTY,),
    ) == [(True, case["case_id"])]
    assert query(url, "select count(*) from publish.penalty_disclosure where under_objection") == [(1,)]

    cases.forward(url, case["case_id"], by="officer", on=DAY)
    decided = cases.decide(url, case["case_id"], "upheld", "复议决定撤销原处罚", by="officer", on=DAY)
    assert [e["to_state"] for e in decided["events"]] == ["received", "forwarded", "upheld"]
    assert {e["recorded_by"] for e in decided["events"]} == {"clerk", "officer"}
    third = cases.publish_now(DAY)
    assert third["publication_id"] == second["publication_id"] + 1
    assert query(
        url, "select count(*) from publish.penalty_disclosure where decision_no = %s", (PENALTY,)
    ) == [(0,)]
    explained = _explained(url, PENALTY_USCC)
    assert ("CASE_CORRECTED", 0, "case", case["case_id"]) in explained
    assert not {r[0] for r in explained} & {"PEN_GENERAL", "PEN_RECENT"}
    [(score_after,)] = query(
        url, "select score from publish.entity_credit_profile where uscc = %s", (PENALTY_USCC,)
    )
    assert score_after == score_before[0][0] + 80  # PEN_GENERAL -50 and PEN_RECENT -30 no longer count
    assert query(url, "select count(*) from raw.penalty where decision_no = %s", (PENALTY,)) == [
        (1,)
    ]  # raw untouched
    # nothing new since: the decision was published once
    assert pipeline.build_reason(EVALUATION_DATE) is None


def test_a_refused_repair_names_the_rule_and_a_granted_one_ends_the_grey_listing(published):
    url, _ = published
    grey = {u for (u,) in query(url, "select uscc from publish.commitment_grey_list")}
    assert {GREY_WITHOUT, GREY_WITH_REPAIR_COMMITMENT} <= grey
    refused = cases.open_case(
        url, "repair", "commitment_grey_list", GREY_WITHOUT, "天健兴隆物流", "已补交材料", on=DAY
    )
    refused = cases.decide(url, refused["case_id"], "granted", "申请修复", by="officer", on=DAY)
    assert (refused["state"], refused["failed_rule"]) == ("refused", "GREY_REPAIR_COMMITMENT")
    assert "GREY_REPAIR_COMMITMENT" in refused["events"][-1]["note"]

    granted = cases.open_case(
        url,
        "repair",
        "commitment_grey_list",
        GREY_WITH_REPAIR_COMMITMENT,
        "长江兴隆建筑",
        "已补交并作出修复承诺",
        on=DAY,
    )
    granted = cases.decide(url, granted["case_id"], "granted", "符合修复条件", by="officer", on=DAY)
    assert granted["state"] == "granted" and granted["failed_rule"] is None

    # the same publication: a tax grade is the tax bureau's (forwarded, its answer recorded,
    # flagged until a tax file corrects it); a parking debt the office finds paid is settled
    [(tax_uscc, tax_grade)] = query(
        url,
        "select uscc, tax_grade from publish.entity_credit_profile where tax_grade = 'D' order by uscc limit 1",
    )
    tax = cases.open_case(url, "objection", "tax_grade", tax_uscc, "申请人", "评价年度有误", on=DAY)
    assert tax["decided_by"] == "tax"
    with pytest.raises(cases.CaseError, match="forward the case"):
        cases.decide(url, tax["case_id"], "upheld", "x", on=DAY)
    cases.forward(url, tax["case_id"], on=DAY)
    cases.decide(url, tax["case_id"], "upheld", "税务局确认有误", on=DAY, source_answer="将于下期数据更正")
    [(owner, arrears)] = query(
        url,
        "select entity_key, arrears_amount_yuan from publish.parking_credit where arrears_amount_yuan > 0 limit 1",
    )
    parking = cases.open_case(
        url, "objection", "parking", owner, "车主", "欠费已现场缴纳", ["收据.jpg"], on=DAY
    )
    cases.decide(url, parking["case_id"], "upheld", "停车场确认已缴", on=DAY)

    cases.publish_now(DAY)
    assert query(
        url,
        "select tax_grade, under_objection, objection_case_id from publish.entity_credit_profile where uscc = %s",
        (tax_uscc,),
    ) == [(tax_grade, True, tax["case_id"])]
    assert query(
        url,
        "select arrears_amount_yuan, arrears_after_reminder_count, under_objection from publish.parking_credit "
        "where entity_key = %s",
        (owner,),
    ) == [(0, 0, False)]
    grey_after = {u for (u,) in query(url, "select uscc from publish.commitment_grey_list")}
    assert grey_after == grey - {GREY_WITH_REPAIR_COMMITMENT}
    assert ("CASE_CORRECTED", 0, "case", granted["case_id"]) in _explained(url, GREY_WITH_REPAIR_COMMITMENT)


def test_deadlines_count_working_days_across_national_day_and_show_overdue(published, capsys):
    url, _ = published
    opened = dt.date(2026, 9, 29)  # Tuesday before 国庆 (2026-10-01..07; Saturday 10-10 is worked)
    case = cases.open_case(
        url, "objection", "commitment", "CN-500115-000016", "川渝鑫旺科技", "承诺已撤回", on=opened
    )
    assert case["acknowledge_by"] == dt.date(2026, 10, 8)
    assert case["decide_by"] == dt.date(2026, 10, 14)  # 9-30, 10-8, 10-9, 10-10, 10-12, 10-13, 10-14

    def late(day):
        return [c["deadline_kind"] for c in cases.overdue(url, day) if c["case_id"] == case["case_id"]]

    assert late(dt.date(2026, 10, 8)) == [] and late(dt.date(2026, 10, 9)) == ["acknowledge"]
    cases.forward(url, case["case_id"], on=dt.date(2026, 9, 30))
    assert late(dt.date(2026, 10, 14)) == []
    assert late(dt.date(2026, 10, 15)) == ["decide"]  # the working day after the deadline
    extended = cases.extend(url, case["case_id"], "需来源部门补充材料", on=dt.date(2026, 10, 12))
    assert extended["decide_by"] == dt.date(2026, 10, 23)
    with pytest.raises(cases.CaseError, match="extended 1 time"):
        cases.extend(url, case["case_id"], "again")
    # `xinyong status` (evaluating 2026-11-22) lists it overdue, `xinyong case list` marks it
    assert cli.main(["status"]) == 0
    assert f"case {case['case_id']} objection commitment:CN-500115-000016" in capsys.readouterr().out
    assert cli.main(["case", "list", "--state", "open"]) == 0
    assert "OVERDUE (decide)" in capsys.readouterr().out
