"""The credit warehouse on the shared samples: evaluation, lists, disclosure, rural credit,
past-day rebuilds and the incremental parking facts, on a real database."""

import re

import openpyxl
import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, drop_samples, ingested_samples, query
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
from xinyong.publication import build

pytestmark = pytest.mark.integration

RIC = re.compile(r"[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]")


def ingest_all(settings, url):
    for contract in contracts.load_all().values():
        ingest.ingest_feed(contract, settings, url)


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    """The shared samples ingested, built for 2026-11-22, through the gates and published;
    built once for the read-only tests of this module (a build takes a while)."""
    with ingested_samples(pg_server, tmp_path_factory.mktemp("credit_warehouse")) as (url, _):
        pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE)))
        yield url


def test_sample_cases_hold(published):
    url = published
    # the penalty repaired in credit_repair_20261120.csv (after its 3-month minimum) is not
    # disclosed; penalties of 2026 still inside their year are
    disclosed = {d for (d,) in query(url, "select decision_no from publish.penalty_disclosure")}
    assert "渝长生态罚〔2026〕101号" not in disclosed
    assert {"渝长生态罚〔2026〕107号", "渝长市场罚〔2026〕106号", "渝长交罚〔2026〕88号"} <= disclosed
    # decided long ago: past any window
    assert not disclosed & {"渝长生态罚〔2023〕104号", "渝长市场罚〔2024〕103号", "渝长交通罚〔2025〕102号"}
    # 重大税收违法失信主体 = 是 in the tax sample: D and on the black list with its source row
    assert query(url, "select tier from publish.entity_credit_profile where uscc = '91500115E13H32BC7P'") == [
        ("D",)
    ]
    # (it is also on the court's list and on 四川省广安市's black list: one row per reason)
    assert set(
        query(
            url,
            """select reason_code, source_file, source_row from publish.black_list
                             where uscc = '91500115E13H32BC7P'""",
        )
    ) == {
        ("TAX_MAJOR_VIOLATOR", "tax_credit_20261120.csv", 11),
        ("COURT_DISHONEST", "court_dishonest_20261120.csv", 2),
        ("EXCHANGE_BLACK", "list_exchange_20261120.csv", 6),
    }
    # the 严重 penalty inside its window: D, black-listed, not a loan candidate
    serious = query(
        url,
        """select p.tier, p.tier_overridden or p.score < 600, b.reason_code
                            from publish.entity_credit_profile p join publish.black_list b using (entity_key)
                            where p.uscc = '91500115B501GD678P'""",
    )
    assert serious == [("D", True, "PEN_SERIOUS")]
    assert query(url, "select count(*) from publish.loan_candidates where uscc = '91500115B501GD678P'") == [
        (0,)
    ]


def test_every_entity_one_profile_one_tier_and_explained(published):
    url = published
    registered = {u for (u,) in query(url, "select distinct uscc from raw.entity_register")}
    profile = query(url, "select uscc, tier from publish.entity_credit_profile")
    assert sorted(u for u, _ in profile) == sorted(registered)  # exactly one row each
    assert {t for _, t in profile} <= {"A", "B", "C", "D"}
    unexplained = query(
        url,
        """select p.entity_key from publish.entity_credit_profile p
                                left join publish.credit_score_explanation e using (entity_key)
                                group by p.entity_key, p.score having p.score <> coalesce(sum(e.points), 0)""",
    )
    assert unexplained == []
    # every rule row but base and bounds traces to a record that exists in raw
    untraced = query(
        url,
        """select e.rule_id, e.source_feed, e.source_file, e.source_row
                             from publish.credit_score_explanation e
                             where e.dimension not in ('base', 'bound') and not exists (
                                 select 1 from audit.feed_files f
                                 where f.feed = e.source_feed and f.file_name = e.source_file
                                   and e.source_row between 2 and f.rows_read + 1)""",
    )
    assert untraced == []
    # a penalty in its window keeps an entity out of A, and A/B alone are loan candidates
    assert query(
        url,
        """select count(*) from publish.entity_credit_profile
                         where tier = 'A' and active_penalty_count > 0""",
    ) == [(0,)]
    assert {t for (t,) in query(url, "select distinct tier from publish.loan_candidates")} <= {"A", "B"}


def test_natural_persons_get_no_tier_and_appear_only_masked(published):
    url = published
    # natural persons (penalty 自然人, parking 个人, households) are never in the profile
    persons = query(
        url,
        """select count(*) from publish.entity_credit_profile p
                            join intermediate.int_entities_resolved r using (entity_key)
                            where r.party_kind = 'natural_person'""",
    )
    assert persons == [(0,)]
    assert (
        query(
            url, "select count(*) from intermediate.int_entities_resolved where party_kind = 'natural_person'"
        )[0][0]
        > 24
    )
    # the natural person's penalty is disclosed masked
    assert query(
        url,
        """select subject_name, id_number_masked from publish.penalty_disclosure
                         where decision_no = '渝长交罚〔2026〕88号'""",
    ) == [("吕**", "500115********5354")]
    # no ID number from raw anywhere in publish, staging or intermediate
    numbers = {
        n
        for (n,) in query(
            url,
            """select id_number from raw.penalty where id_number is not null
                                           union select owner_id from raw.parking where owner_type = '个人'
                                           union select id_number from raw.credit_household""",
        )
    }
    assert len(numbers) > 30
    columns = query(
        url,
        """select table_schema, table_name, column_name from information_schema.columns
                            where table_schema in ('publish', 'staging', 'intermediate')
                              and data_type in ('text', 'character varying')""",
    )
    for schema, table, column in columns:
        values = {v for (v,) in query(url, f'select distinct "{column}" from "{schema}"."{table}"') if v}
        leaked = {v for v in values if RIC.search(v) and RIC.search(v).group(0) in numbers}
        assert not leaked, f"{schema}.{table}.{column} holds an ID number"


def test_rural_credit_rolls_up_yunji_town(published):
    url = published
    # independent count from the sample file: a 信用户 has 村委会评价 优/良 and no overdue loan
    # (the household_ratings seed: AAA, AA and A all ask for that)
    sheet = openpyxl.load_workbook(SAMPLES / "credit_household_20261120.xlsx", read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = [h.strip() for h in rows[0]]
    expected: dict[str, list[int]] = {}
    for row in rows[1:]:
        record = dict(zip(header, row, strict=False))
        tally = expected.setdefault(record["所属村"].strip(), [0, 0])
        tally[0] += 1
        tally[1] += record["村委会评价"] in ("优", "良") and int(record["贷款逾期次数"] or 0) == 0
    villages = query(
        url,
        """select village, rated_households, credit_households, is_credit_village
                             from publish.rural_credit_village where town = '云集镇' order by village""",
    )
    assert {v: [r, c] for v, r, c, _ in villages} == expected == {"柚子村": [12, 5], "桃花村": [12, 7]}
    assert all(flag == (c >= 0.7 * r) for _, r, c, flag in villages)
    assert query(
        url,
        """select rated_villages, credit_villages, is_credit_town, rated_households, credit_households
                         from publish.rural_credit_town where town = '云集镇'""",
    ) == [(2, 0, False, 24, 12)]
    households = query(
        url, """select rating, is_credit_household, householder_name from publish.rural_credit_household"""
    )
    assert len(households) == 24
    assert all(credit == (rating != "未评级") for rating, credit, _ in households)
    assert all(re.fullmatch(r".\*+", name) for _, _, name in households)


def run_dbt_build(url, settings, day, label, *extra):
    """`dbt build` with its unit tests, the date passed as a build passes it (the environment;
    the unit tests' own vars override it)."""
    result = build.run_dbt(
        ["build", *extra, "--vars", build.dbt_vars(live_schema=False)],
        url,
        settings,
        settings.home / "dbt" / label,
        evaluation_date=day,
    )
    assert result.success, [str(r.message) for r in result.result or [] if str(r.status) in ("error", "fail")]
    return result


def test_a_past_day_is_rebuilt_from_raw_history(settings, warehouse_url, tmp_path):
    """A later file changes an entity; evaluating the earlier day gives the earlier state."""
    drop_samples(settings.landing)
    sample = (SAMPLES / "entity_register_20261120.csv").read_text(encoding="utf-8-sig").splitlines()
    changed = next(line for line in sample if line.startswith("91500115D0F57DC31X,"))
    assert ",存续," in changed
    (settings.landing / "entity_register" / "entity_register_20261121.csv").write_text(
        sample[0] + "\n" + changed.replace(",存续,", ",吊销,") + "\n", encoding="utf-8"
    )
    ingest_all(settings, warehouse_url)

    def state():
        return query(
            warehouse_url,
            """select p.registration_status, p.tier from publish_candidate.entity_credit_profile p
                                       where p.uscc = '91500115D0F57DC31X'""",
        )[0]

    run_dbt_build(warehouse_url, settings, "2026-11-22", "now")
    assert state() == ("吊销", "D")
    run_dbt_build(warehouse_url, settings, "2026-11-20", "past")
    assert state() == ("存续", "A")


def test_parking_facts_are_incremental(settings, warehouse_url):
    """A daily parking file is merged into the kept facts: only its rows are read and the
    newer state of a record wins, also against a late file; the result equals a full rebuild."""
    drop_samples(
        settings.landing, [p.name for p in SAMPLES.iterdir() if not p.name.startswith("parking_20261121")]
    )
    ingest_all(settings, warehouse_url)
    run_dbt_build(warehouse_url, settings, "2026-11-22", "first")
    record = (
        "select payment_status, source_file from intermediate.int_parking_records_merged where record_no = %s"
    )
    assert query(warehouse_url, record, ("BSP2026111900003",)) == [("欠费", "parking_20261120.csv")]

    drop_samples(settings.landing, ["parking_20261121.csv"])
    ingest_all(settings, warehouse_url)
    result = run_dbt_build(
        warehouse_url, settings, "2026-11-22", "delta", "--select", "int_parking_records_merged"
    )
    # the incremental run inserted the one row of the delta file, not the 31 of all history
    (node,) = [r for r in result.result if r.node.name == "int_parking_records_merged"]
    assert node.adapter_response.get("rows_affected") == 1
    assert query(warehouse_url, record, ("BSP2026111900003",)) == [("催缴后补缴", "parking_20261121.csv")]

    # a late file with an older data date does not override the newer state it competes with
    lines = (SAMPLES / "parking_20261120.csv").read_text(encoding="utf-8-sig").splitlines()
    (settings.landing / "parking" / "parking_20261119.csv").write_text(
        "\n".join([lines[0]] + [line for line in lines if line.startswith("BSP2026111900003,")]) + "\n",
        encoding="utf-8",
    )
    ingest_all(settings, warehouse_url)
    run_dbt_build(warehouse_url, settings, "2026-11-22", "late", "--select", "int_parking_records_merged")
    assert query(warehouse_url, record, ("BSP2026111900003",)) == [("催缴后补缴", "parking_20261121.csv")]
    incremental = query(
        warehouse_url, "select * from intermediate.int_parking_records_merged order by record_no"
    )

    run_dbt_build(
        warehouse_url,
        settings,
        "2026-11-22",
        "full",
        "--full-refresh",
        "--select",
        "int_parking_records_merged",
    )
    rebuilt = query(warehouse_url, "select * from intermediate.int_parking_records_merged order by record_no")
    assert len(rebuilt) == 30 and incremental == rebuilt
