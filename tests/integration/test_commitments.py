"""Commitments (信用承诺) on the shared samples: the states NOTES.md describes, the rejected
row, the 践诺 lists, the score rows, each 受理单位's list, the report, past-day rebuilds and
the gates on a crafted violation; on a real database."""

import csv

import pytest

from tests.conftest import SAMPLES, drop_samples, ingested_samples, new_database, query
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts, departments
from xinyong.publication import gates, schemas
from xinyong.runtime import config

pytestmark = pytest.mark.integration

FIRST, SECOND = "commitment_20261120.csv", "commitment_20261121.csv"

# What NOTES.md says each commitment is, as judged on 2026-11-20 (first file only) and on
# 2026-11-21 (both files): (state, reason code). CN-500115-000014 is rejected.
ON_20 = {
    "CN-500115-000001": ("履约中", None),  # 履约期限 2027-01-10 still ahead
    "CN-500115-000002": ("失信", "deadline"),  # 履约期限 2026-10-31 passed while 履约中
    "CN-500115-000003": ("履约中", None),  # due 2026-11-30
    "CN-500115-000004": ("失信", "reported"),  # 未履约 with 核查日期
    "CN-500115-000005": ("失信", "penalty"),  # 渝长市场罚〔2026〕106号 after the commitment, 市场监管
    "CN-500115-000006": ("履约中", None),  # the later penalty is the ecology bureau's: another domain
    "CN-500115-000007": ("已履约", None),  # 信用修复型; the penalty predates it
    "CN-500115-000008": ("履约中", None),
    "CN-500115-000009": ("履约中", None),
    "CN-500115-000010": ("已履约", None),  # 自然人
    "CN-500115-000011": ("已履约", None),
    "CN-500115-000012": ("已履约", None),
    "CN-500115-000013": ("履约中", None),  # 承诺日期 written 2026年9月1日
    "CN-500115-000015": ("已履约", None),
    "CN-500115-000016": ("履约中", None),  # 主动型 without 监管领域 or 履约期限
    "CN-500115-000017": ("履约中", None),
    "CN-500115-000018": ("已履约", None),
    "CN-500115-000019": ("已履约", None),
    "CN-500115-000020": ("履约中", None),
}
ON_21 = {
    **ON_20,
    "CN-500115-000001": ("失信", "reported"),  # the newer as-of wins: 未履约
    "CN-500115-000003": ("已履约", None),
    "CN-500115-000021": ("履约中", None),  # 信用修复型; its penalty was decided before it
}
PENALTY_BROKEN = (
    "CN-500115-000005",
    "渝长市场罚〔2026〕106号",
    "11500115820C05051L",
    "penalty_20261120.csv",
    8,
)
GREY_20 = {"915001151HDD9D579M", "92500115GCFF5HF27F", "91500115B501GD678P"}
GREY_21 = GREY_20 | {"9250011543B7H03E35"}
RED_20 = {
    "915001153BCBACBB1J",
    "935001154A7GC98718",
    "91500115E2FA291G9E",
    "935001158DC3AD799U",
    "N2500115C303796B2J",
    "91500115FC8CB0E16X",
}
RED_21 = RED_20 | {"91500115D7AC8HG445"}


def states(url: str, schema: str = schemas.LIVE) -> dict:
    return {
        no: (state, reason)
        for no, state, reason in query(
            url, f"select commitment_no, fulfilment_state, broken_reason_code from {schema}.commitment_status"
        )
    }


def listed(url: str, kind: str, schema: str = schemas.LIVE) -> set[str]:
    return {u for (u,) in query(url, f"select uscc from {schema}.commitment_{kind}_list")}


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    """Every sample (both commitment files) ingested, built for 2026-11-21 and published."""
    home = tmp_path_factory.mktemp("commitments")
    with ingested_samples(pg_server, home) as (url, settings), pytest.MonkeyPatch.context() as env:
        env.setenv("XINYONG_EVALUATION_DATE", "2026-11-21")
        result = pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate("2026-11-21")))
        yield url, settings, result


def test_the_samples_give_the_states_the_notes_describe(published):
    url, _, _ = published
    assert states(url) == ON_21
    assert query(
        url,
        """select commitment_no, penalty_decision_no, penalty_authority_uscc, penalty_source_file,
                                penalty_source_row from publish.commitment_status
                         where broken_reason_code = 'penalty'""",
    ) == [PENALTY_BROKEN]
    # the bad row is rejected with its reason; both files load
    assert query(
        url,
        """select file_name, row_number, column_name, reason from audit.rejected_rows
                         where feed = 'commitment'""",
    ) == [(FIRST, 15, "履约期限", "履约期限早于承诺日期")]
    assert query(
        url,
        """select file_name, status, rows_loaded, rows_rejected from audit.feed_files
                         where feed = 'commitment' order by file_name""",
    ) == [(FIRST, "loaded_with_rejects", 19, 1), (SECOND, "loaded", 3, 0)]
    # the natural person appears masked only, without a 统一社会信用代码
    [(name, id_masked, uscc)] = query(
        url,
        """select subject_name, id_number_masked, uscc from publish.commitment_status
                                             where commitment_no = 'CN-500115-000010'""",
    )
    assert name == "吴**" and id_masked == "500115********0191" and uscc is None


def test_the_lists_are_disjoint_and_follow_the_policy(published):
    url, _, _ = published
    assert listed(url, "grey") == GREY_21 and listed(url, "red") == RED_21
    [(reason, nos, start, end)] = query(
        url,
        """select reason, commitment_nos, start_date::text, end_date::text
                                               from publish.commitment_grey_list where uscc = '915001151HDD9D579M'""",
    )
    assert nos == "CN-500115-000002" and "履约期限已过仍未履约" in reason
    assert (start, end) == ("2026-11-01", "2027-10-31")  # 12 months (scoring_parameters) from the break


def test_kept_and_broken_commitments_move_scores_and_grey_caps_the_tier(published):
    url, _, _ = published
    rows = query(
        url,
        """select p.uscc, e.rule_id, e.points, e.source_file, e.source_row
                         from publish.credit_score_explanation e join publish.entity_credit_profile p using (entity_key)
                         where e.source_feed = 'commitment' order by 1, 2""",
    )
    assert ("91500115D7AC8HG445", "COMMIT_KEPT", 10, FIRST, 4) not in rows  # the older version's row...
    assert ("91500115D7AC8HG445", "COMMIT_KEPT", 10, SECOND, 3) in rows  # ...the newer wins
    assert ("9250011543B7H03E35", "COMMIT_BROKEN", -50, SECOND, 2) in rows
    assert ("9250011543B7H03E35", "COMMIT_GREY_LIST", 0, SECOND, 2) in rows
    assert ("91500115B501GD678P", "COMMIT_BROKEN", -50, FIRST, 6) in rows
    # a grey-listed subject is never A, and names the cap when it would have been
    assert query(
        url,
        """select count(*) from publish.entity_credit_profile p join publish.commitment_grey_list g
                         using (entity_key) where p.tier = 'A'""",
    ) == [(0,)]
    # explanations still add up to every score
    assert query(
        url,
        """select count(*) from publish.entity_credit_profile p
                         where p.score <> (select sum(points) from publish.credit_score_explanation e
                                           where e.entity_key = p.entity_key)""",
    ) == [(0,)]


def test_each_acceptor_gets_its_list_in_its_outbox(published):
    url, settings, result = published
    files = result["artifacts"]["commitment_lists"]
    market = next(d for d in departments.recipients() if d.department_code == "market")
    path = (
        market.outbox(settings)
        / "commitment"
        / f"commitment_list_2026-11-21_publication_{result['publication_id']}.csv"
    )
    assert files["market"] == str(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [(r["名单"], r["承诺编号"]) for r in csv.DictReader(fh)]
    # no previous publication: every broken commitment is new
    assert rows == [("新增失信", "CN-500115-000001"), ("新增失信", "CN-500115-000005")]
    with open(files["housing"], encoding="utf-8-sig", newline="") as fh:
        assert [(r["名单"], r["承诺编号"]) for r in csv.DictReader(fh)] == [
            ("已逾期", "CN-500115-000002"),
            ("新增失信", "CN-500115-000002"),
        ]
    # an association of the seed gets its own; every acceptor of the samples is in the seed
    assert {"tourism_association", "catering_association", "credit_office"} <= set(files)
    assert not list(path.parent.glob(".*"))  # no partial file left behind
    report = open(result["artifacts"]["report"], encoding="utf-8").read()
    assert (
        "践诺红名单：7" in report and "践诺灰名单：4" in report and "重庆长江兴隆建筑工程有限公司" in report
    )


def test_a_past_evaluation_date_rebuilds_the_states_of_that_day(published):
    url, _, _ = published
    pipeline.build_candidate("2026-11-20")
    assert states(url, schemas.CANDIDATE) == ON_20
    assert (
        listed(url, "grey", schemas.CANDIDATE) == GREY_20 and listed(url, "red", schemas.CANDIDATE) == RED_20
    )
    # a later day: the 容缺受理 commitment due 2026-12-03 and still 履约中 is broken from 2026-12-04
    pipeline.build_candidate("2026-12-04")
    assert states(url, schemas.CANDIDATE)["CN-500115-000017"] == ("失信", "deadline")


def test_the_gates_fail_on_a_broken_link_to_a_penalty_and_on_a_subject_on_both_lists(published):
    url, _, _ = published
    pipeline.build_candidate("2026-11-21")
    gate = gates.run_gate(url, "2026-11-21")
    assert {"candidate_commitment_status", "candidate_commitment_lists"} <= {
        v["validation"] for v in gate.validations
    }
    assert not [f for f in gate.failures if f["validation"].startswith("candidate_commitment")], (
        gate.summary()
    )
    # crafted: the penalty behind CN-500115-000005 points elsewhere, a red-listed subject is grey too
    query(
        url,
        f"""update {schemas.CANDIDATE}.commitment_status set penalty_decision_no = '渝长市场罚〔2026〕999号'
                   where commitment_no = 'CN-500115-000005'""",
    )
    query(
        url,
        f"""insert into {schemas.CANDIDATE}.commitment_grey_list
                   select entity_key, uscc, entity_name, 'crafted', commitment_nos, commitment_count, start_date,
                          end_date, source_feed, source_file, source_row, evaluation_date
                   from {schemas.CANDIDATE}.commitment_red_list where uscc = '91500115D7AC8HG445'""",
    )
    gate = gates.run_gate(url, "2026-11-21")
    failures = {f["validation"]: f for f in gate.failures}
    assert failures["candidate_commitment_status"]["unexpected_count"] == 1
    assert not failures["candidate_commitment_status"]["approvable"]
    assert [e["problem"] for e in failures["candidate_commitment_status"]["examples"]] == [
        "not among the windowed penalties"
    ]
    assert failures["candidate_commitment_lists"]["unexpected_count"] == 1


def test_the_next_publication_lists_only_what_broke_since_the_last(published):
    url, _, _ = published
    result = pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate("2026-12-04")))
    files = result["artifacts"]["commitment_lists"]

    def entries(code):
        with open(files[code], encoding="utf-8-sig", newline="") as fh:
            return [(r["名单"], r["承诺编号"]) for r in csv.DictReader(fh)]

    # CN-500115-000017 (容缺受理, due 2026-12-03, still 履约中) broke on 2026-12-04: overdue and new
    assert entries("agriculture") == [("已逾期", "CN-500115-000017"), ("新增失信", "CN-500115-000017")]
    # the market regulator's broken commitments were already on its last list: nothing new, nothing due
    assert entries("market") == []
    assert entries("housing") == [("已逾期", "CN-500115-000002")]


def test_the_first_file_alone_gives_the_states_of_2026_11_20(pg_server, tmp_path, monkeypatch):
    with new_database(pg_server) as url:
        monkeypatch.setenv("XINYONG_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("XINYONG_LANDING", str(tmp_path / "landing"))
        monkeypatch.setenv("XINYONG_WAREHOUSE_URL", url)
        (tmp_path / "landing").mkdir()
        settings = config.load()
        drop_samples(settings.landing, [p.name for p in SAMPLES.iterdir() if p.name != SECOND])
        for contract in contracts.load_all().values():
            ingest.ingest_feed(contract, settings, url)
        assert query(url, "select count(*) from raw.commitment") == [(19,)]
        pipeline.build_candidate("2026-11-20")
        assert states(url, schemas.CANDIDATE) == ON_20
