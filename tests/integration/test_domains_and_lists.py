"""Supervision by domain, the court's list and other regions' lists on the shared samples:
the classes, list entries and 政务失信 case NOTES.md implies, the rejected rows, expiry and
removal dates, the cap at D, the exchange outbox, and an unmapped scale holding publication
through the approvable gate; one warehouse built for the module, on a real database."""

import csv

import openpyxl
import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, ingested_samples, query
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
from xinyong.publication import exchange_lists

pytestmark = pytest.mark.integration

RATINGS, COURT, EXCHANGE = (
    "domain_rating_20261120.xlsx",
    "court_dishonest_20261120.csv",
    "list_exchange_20261120.csv",
)
# Each current rating of domain_rating_20261120.xlsx with the class the seed maps it to. Row 12
# (91500115FC8CB0E16X, 食品药品) expired on 2025-05-09; rows 13 and 26 are rejected.
DOMAIN_CLASSES = {
    ("91500115B501GD678P", "市场监管"): "D",  # 风险四级 高风险
    ("91500115EGC964D31Y", "市场监管"): "C",  # 较高风险
    ("91500115D7AC8HG445", "市场监管"): "A",  # 低风险
    ("915001157DF1DB1G5M", "市场监管"): "B",  # 一般风险
    ("9250011543B7H03E35", "市场监管"): "B",
    ("91500115D0F57DC31X", "市场监管"): "A",  # no 有效期至
    ("91500115B501GD678P", "食品药品"): "C",  # A-D四级
    ("91500115463F2F15XM", "食品药品"): "B",
    ("91500115E2FA291G9E", "食品药品"): "A",
    ("92500115HFAHA0DE4T", "食品药品"): "C",
    ("915001151HDD9D579M", "工程建设"): "A",  # AAA-C五级 AA
    ("91500115D7AC8HG445", "工程建设"): "B",  # A
    ("915001155H0FHC9H40", "工程建设"): "C",  # B
    ("915001153BCBACBB1J", "生态环境"): "C",
    ("915001155H0FHC9H40", "生态环境"): "B",
    ("91500115F39350584R", "生态环境"): "B",
    ("935001156A27805D21", "生态环境"): "A",  # no 有效期至
    ("915001153BCBACBB1J", "安全生产"): "B",  # 一级-五级 三级
    ("915001151HDD9D579M", "安全生产"): "B",  # 二级
    ("925001153EDF1A8F7P", "安全生产"): "C",  # 四级
    ("92500115GCFF5HF27F", "交通运输"): "B",  # AAA-C五级 A
    ("91500115EGC964D31Y", "交通运输"): "A",  # AA
}
# Listed on the court's list on the evaluation date: rows 2-5, 7, 8 and the old case of row 9
# (组织机构代码 5H0FHC9H4 = characters 9-17 of 915001155H0FHC9H40); row 6 left on 2026-08-15.
COURT_LISTED = {
    "91500115E13H32BC7P",
    "915001157DF1DB1G5M",
    "91500115524A9AD42K",
    "91500115A51AFD9H67",
    "93500115ACD517D536",
    "9150011596EBA5H93C",
    "915001155H0FHC9H40",
}
COURT_REMOVED = "91500115463F2F15XM"
GOVERNMENT_CASE = ("（2026）渝0115执2215号", "115001153578F48207")
EXCHANGE_BLACK = {("91500115E13H32BC7P", "四川省广安市", "川渝信用互认〔2024〕3号")}  # row 6; row 7 left
EXCHANGE_RED = {
    ("915001151HDD9D579M", "四川省成都市新都区", "川渝信用互认〔2023〕8号"),
    ("91500115D7AC8HG445", "四川省成都市新都区", "川渝信用互认〔2023〕8号"),
}


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    """Every sample ingested, built for the tests' evaluation date and published."""
    home = tmp_path_factory.mktemp("domains")
    with ingested_samples(pg_server, home) as (url, settings):
        result = pipeline.publish_candidate(
            pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
        )
        yield url, settings, result


def test_the_samples_give_the_domain_classes_the_notes_imply(published):
    url, _, _ = published
    rated = {
        (uscc, domain): grade
        for uscc, domain, grade in query(
            url, "select uscc, domain, domain_grade from publish.domain_supervision where is_rated"
        )
    }
    assert rated == DOMAIN_CLASSES
    # the expired rating no longer counts: no 食品药品 row rated for the subject
    assert not query(
        url,
        """select 1 from publish.domain_supervision
           where uscc = '91500115FC8CB0E16X' and domain = '食品药品' and is_rated""",
    )
    # the class follows the domain's rule: worse of the two, or the department's alone (安全生产)
    for domain_grade, public_tier, supervision_class, rule in query(
        url,
        """select domain_grade, public_tier, supervision_class, combine_rule
           from publish.domain_supervision where is_rated""",
    ):
        expected = max(domain_grade, public_tier) if rule == "worse_of" else domain_grade
        assert supervision_class == expected, (domain_grade, public_tier, rule)
    assert {
        d
        for (d,) in query(
            url, "select distinct combine_rule from publish.domain_supervision where domain = '安全生产'"
        )
    } == {"domain_first"}
    # unrated subjects keep their public tier in their active domains
    assert query(
        url,
        """select count(*) from publish.domain_supervision
           where not is_rated and (supervision_class <> public_tier or not is_in_scope)""",
    ) == [(0,)]


def test_rejected_rows_are_rejected_with_their_reasons(published):
    url, _, _ = published
    rejected = query(
        url,
        """select file_name, row_number, column_name from audit.rejected_rows
           where feed in ('domain_rating', 'court_dishonest', 'list_exchange') order by 1, 2""",
    )
    assert rejected == [(RATINGS, 13, "统一社会信用代码"), (RATINGS, 26, "监管领域")]
    assert query(
        url,
        """select file_name, rows_loaded, rows_rejected from audit.feed_files
           where feed in ('domain_rating', 'court_dishonest', 'list_exchange') order by 1""",
    ) == [(COURT, 10, 0), (RATINGS, 23, 2), (EXCHANGE, 8, 0)]


def test_the_court_list_black_lists_and_caps_at_d_until_removal(published):
    url, _, _ = published
    listed = {
        u for (u,) in query(url, "select uscc from publish.black_list where reason_code = 'COURT_DISHONEST'")
    }
    assert listed == COURT_LISTED and COURT_REMOVED not in listed
    tiers = dict(
        query(
            url, "select uscc, tier from publish.entity_credit_profile where uscc = any(%s)", (list(listed),)
        )
    )
    assert set(tiers.values()) == {"D"} and len(tiers) == len(COURT_LISTED)
    [(method, code)] = query(
        url,
        """select match_method, organisation_code from intermediate.int_court_cases_matched
           where uscc = '915001155H0FHC9H40'""",
    )
    assert (method, code) == ("organisation_code", "5H0FHC9H4")
    # the natural person: keyed hash and masked name in the warehouse, published nowhere
    [(name, id_masked, has_key)] = query(
        url,
        """select debtor_name, id_number_masked, entity_key is not null
           from intermediate.int_court_cases_matched where is_natural_person""",
    )
    assert name == "覃**" and id_masked == "500115********5219" and has_key
    assert query(url, "select count(*) from publish.black_list where entity_name like '覃%%'") == [(0,)]


def test_the_government_body_is_a_government_dishonesty_case(published):
    url, _, _ = published
    assert query(url, "select case_no, uscc, is_cleared, days_listed from publish.government_dishonesty") == [
        (*GOVERNMENT_CASE, False, 37)
    ]  # published 2026-10-16, 37 days to 2026-11-22
    assert not query(url, "select 1 from publish.black_list where uscc = %s", (GOVERNMENT_CASE[1],))


def test_exchanged_entries_apply_to_subjects_registered_here(published):
    url, _, _ = published
    black = set(
        query(
            url,
            """select uscc, source_region, agreement_no from publish.black_list
               where reason_code = 'EXCHANGE_BLACK'""",
        )
    )
    red = set(
        query(
            url,
            "select uscc, source_region, agreement_no from publish.red_list where reason_code = 'EXCHANGE_RED'",
        )
    )
    assert black == EXCHANGE_BLACK and red == EXCHANGE_RED
    assert sorted(
        query(
            url,
            """select list_name, entries_received, entries_applied, entries_not_registered_here,
                      entries_not_in_force from publish.list_exchange_received""",
        )
    ) == [
        ("严重违法失信企业名单", 4, 1, 2, 1),
        ("守合同重信用企业", 2, 2, 0, 0),
        ("纳税信用A级纳税人", 2, 0, 2, 0),
    ]


def test_inspection_frames_are_drawn_per_domain_from_the_classes(published):
    url, _, _ = published
    frames = query(
        url,
        """select domain, supervision_class, frame_size, sample_size, inspection_ratio,
                  count(*), count(*) filter (where is_selected)
           from publish.inspection_sampling group by 1, 2, 3, 4, 5""",
    )
    assert frames and all(n == size and chosen == sample for _, _, size, sample, _, n, chosen in frames)
    assert all(sample == -(-float(ratio) * size // 1) for _, _, size, sample, ratio, _, _ in frames)
    # every active subject is in the frame of each domain it is rated or active in, with the
    # class domain_supervision gives it there; and nobody else is
    assert query(
        url,
        """select count(*) from publish.domain_supervision d
           full join publish.inspection_sampling s using (entity_key, domain)
           where (d.registration_status in ('存续', '在业') or d.entity_key is null)
             and s.supervision_class is distinct from d.supervision_class""",
    ) == [(0,)]
    assert query(
        url,
        """select count(*) from publish.inspection_sampling
           where domain = '安全生产' and domain_grade is not null""",
    ) != [(0,)]
    # every active subject is in at least one frame (市场监管 and 税务 cover every type)
    assert query(
        url,
        """select count(*) from publish.entity_credit_profile p
           where p.registration_status in ('存续', '在业')
             and not exists (select 1 from publish.inspection_sampling s where s.entity_key = p.entity_key)""",
    ) == [(0,)]


def test_the_district_lists_go_to_the_outbox_in_the_exchange_format(published):
    url, settings, result = published
    files = result["artifacts"]["list_exchange"]
    assert files
    header = [c.header for c in contracts.load("list_exchange").columns]
    for path in files.values():
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows and list(rows[0]) == header
        keys = [(r["统一社会信用代码"], r["名单名称"], r["认定单位统一社会信用代码"]) for r in rows]
        assert len(keys) == len(set(keys))
        own_black = {
            u for (u,) in query(url, "select uscc from publish.black_list where source_region is null")
        }
        assert {r["统一社会信用代码"] for r in rows if r["名单类型"] == "黑名单"} == own_black
        # other regions' entries are theirs to send, not ours
        assert not {r["来源地区"] for r in rows} - {exchange_lists.own_region()}


def test_an_unmapped_scale_loads_and_holds_publication_until_approved(published):
    url, settings, _ = published
    # the next week a department rates on a scale the seed does not know
    book = openpyxl.load_workbook(SAMPLES / RATINGS)
    sheet = book.active
    sheet.append(
        [
            "91500115E2FA291G9E",
            "重庆宏泰兴隆餐饮有限公司",
            "文化旅游",
            "三星",
            "星级五级",
            "2026-11-21",
            None,
            "重庆市长寿区文化和旅游发展委员会",
            "11500115MB1931109W",
        ]
    )
    sheet.delete_rows(2, sheet.max_row - 2)  # keep the header and the new row
    folder = settings.landing / "domain_rating"
    book.save(folder / "domain_rating_20261121.xlsx")
    ingest.ingest_feed(contracts.load("domain_rating"), settings, url)
    assert query(
        url, "select rows_loaded from audit.feed_files where file_name = 'domain_rating_20261121.xlsx'"
    ) == [(1,)]
    candidate = pipeline.build_candidate(EVALUATION_DATE)
    with pytest.raises(pipeline.GateFailed, match="domain_rating_scales"):
        pipeline.audit_candidate(candidate)
    [(status, held, gates)] = query(
        url,
        "select status, held_schema, gate_results from audit.publications where publication_id = %s",
        (candidate["publication_id"],),
    )
    assert status == "failed" and held
    failures = gates["gx"]["failures"]
    assert [f["validation"] for f in failures] == ["domain_rating_scales"] and failures[0]["approvable"]
    assert "星级五级" in str(failures[0])
