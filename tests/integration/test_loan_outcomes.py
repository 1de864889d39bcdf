"""Loan outcomes (融资授信结果反馈) on the shared samples: the rows NOTES.md loads and rejects,
each lender's borrowers, the BI tables adding up, and candidate deliveries (the outbox's and
an API-like one) counted per institution; one warehouse built and published twice."""

import psycopg2
import pyarrow.parquet as pq
import pytest

from tests.conftest import ingested_samples, query
from tests.integration.publication_fixtures import publish_once
from xinyong.publication import deliveries, outbox
from xinyong.runtime import warehouse

pytestmark = pytest.mark.integration

FIRST, SECOND = "loan_outcome_20261120.csv", "loan_outcome_20261121.csv"
CCB, SANXIA, RURAL = "915001159D62H8FE0E", "91500115B19B28GH47", "9150011567E0CD1E70"
# What the samples say per institution (XYD-500115-000009 rejected, -000007 now 通过 500):
# (applications, pending, approvals, refusals, granted 万元, lent 万元, first loans, credit loans)
BY_LENDER = {
    CCB: (4, 0, 3, 1, 800, 300, 0, 3),  # -000001, -000006 未通过, -000007, -000010 结清
    SANXIA: (2, 0, 2, 0, 1500, 1150, 1, 1),  # -000002 (首贷), -000012 (1,200 / 1,000, not 信用)
    RURAL: (5, 1, 3, 1, 100, 50, 3, 3),  # -000003, -000004 (nothing lent), -000005, -000008, -000011
}
# An API page delivered to the construction bank's client before its borrowers applied
# (-000001 on 09-03, -000006 on 10-28, -000007 on 11-16); -000010's borrower applied in 2025.
API_DELIVERED_ON = "2026-09-01"
API_DELIVERED = ("91500115D7AC8HG445", "92500115019586494B", "915001151HDD9D579M", "91500115E2FA291G9E")


def entity_keys(url: str, usccs) -> list[str]:
    """The entity keys of registered entities, as the profiles carry them."""
    return [
        key
        for (key,) in query(
            url,
            "select entity_key from publish.entity_credit_profile where uscc = any(%s)",
            (list(usccs),),
        )
    ]


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    """The samples ingested; publication 1 (its outbox logs a delivery); an API page logged;
    publication 2, whose BI tables count both."""
    home = tmp_path_factory.mktemp("loans")
    with ingested_samples(pg_server, home) as (url, settings):
        first = publish_once()
        with warehouse.transaction(url) as conn, conn.cursor() as cur:
            deliveries.log_candidate_delivery(
                cur,
                publication_id=first["publication_id"],
                evaluation_date=API_DELIVERED_ON,
                channel=deliveries.API,
                recipient="ccb-test-client",
                lender_uscc=CCB,
                entity_keys=entity_keys(url, API_DELIVERED),
            )
        second = publish_once()
        yield url, settings, first, second


def test_the_samples_load_and_reject_the_rows_the_notes_name(published):
    url, _, _, _ = published
    assert query(
        url,
        """select file_name, status, rows_read, rows_loaded, rows_rejected from audit.feed_files
           where feed = 'loan_outcome' order by file_name""",
    ) == [(FIRST, "loaded_with_rejects", 12, 11, 1), (SECOND, "loaded", 1, 1, 0)]
    assert query(
        url,
        "select file_name, row_number, column_name, value, reason from audit.rejected_rows where feed = 'loan_outcome'",
    ) == [(FIRST, 10, "放款金额（万元）", "80", "放款金额大于授信金额")]
    outcomes = {
        no: (decision, granted, lent, source)
        for no, decision, granted, lent, source in query(
            url,
            """select application_no, decision, granted_wan::float, lent_wan::float, source_file
               from staging.stg_loan_outcome__applications""",
        )
    }
    assert len(outcomes) == 11 and "XYD-500115-000009" not in outcomes
    assert outcomes["XYD-500115-000007"] == ("通过", 500, 0, SECOND)  # the newer file wins
    assert outcomes["XYD-500115-000004"] == ("通过", 50, 0, FIRST)  # nothing lent yet
    assert outcomes["XYD-500115-000012"] == ("通过", 1200, 1000, FIRST)  # thousands separators
    assert outcomes["XYD-500115-000005"][0] == "未通过"


def test_the_bi_tables_add_up(published):
    url, _, _, _ = published
    columns = "applications, pending, approvals, refusals, granted_wan::float, lent_wan::float, first_loans, credit_loans"
    by_lender = {
        uscc: tuple(rest)
        for uscc, *rest in query(url, f"select lender_uscc, {columns} from publish.loan_outcome_by_lender")
    }
    assert by_lender == BY_LENDER
    by_product = query(
        url,
        f"""select lender_uscc, {", ".join(f"sum({c.split('::')[0]})::float" for c in columns.split(", "))}
            from publish.loan_outcome_by_product group by 1""",
    )
    assert {uscc: tuple(int(v) for v in rest) for uscc, *rest in by_product} == BY_LENDER
    assert query(
        url,
        """select product, applications, approvals, first_loans, first_loan_share::float,
                  credit_loan_share::float, approval_rate::float
           from publish.loan_outcome_by_product where lender_uscc = %s order by product""",
        (RURAL,),
    ) == [("旺农贷", 4, 2, 2, 1.0, 1.0, 0.6667), ("渝快贷", 1, 1, 1, 1.0, 1.0, 1.0)]
    assert query(
        url,
        "select first_loan_share::float, credit_loan_share::float from publish.loan_outcome_by_lender where lender_uscc = %s",
        (SANXIA,),
    ) == [(0.5, 0.5)]


def test_deliveries_are_logged_once_per_outbox_folder_and_counted_per_institution(published):
    url, settings, first, _ = published
    folder = first["artifacts"]["outbox"]["loan_platform"]
    outbox_keys = set(pq.read_table(f"{folder}/loan_candidates.parquet").column("entity_key").to_pylist())
    assert outbox_keys
    rows = query(
        url,
        """select publication_id, channel, recipient, lender_uscc, candidate_count, new_candidates,
                  evaluation_date::text
           from audit.candidate_deliveries order by delivery_id""",
    )
    everyone = len(outbox_keys)
    assert rows[0] == (
        first["publication_id"],
        "outbox",
        "loan_platform",
        None,
        everyone,
        everyone,
        "2026-11-22",
    )
    assert rows[1][1:] == ("api", "ccb-test-client", CCB, 4, 4, API_DELIVERED_ON)  # the bank's own audience
    # publication 2's outbox is a delivery of its own, of candidates the platform had: none new
    assert rows[2][1:] == ("outbox", "loan_platform", None, everyone, 0, "2026-11-22")
    assert len(rows) == 3
    outbox.write(url, settings, rows[2][0], "2026-11-22")  # checked again: not a new delivery
    assert query(url, "select count(*) from audit.candidate_deliveries") == [(3,)]
    # only first deliveries are kept: the platform's candidates once, the bank's page once
    assert query(url, "select count(*) from audit.delivered_candidates") == [(everyone + 4,)]

    api_keys = set(entity_keys(url, API_DELIVERED))
    delivered = {
        uscc: (deliveries_, candidates, applicants, rate)
        for uscc, deliveries_, candidates, applicants, rate in query(
            url,
            """select lender_uscc, deliveries, candidates_delivered, delivered_applicants, conversion_rate::float
               from publish.loan_outcome_by_lender""",
        )
    }
    # publication 2 counts what was delivered up to its evaluation date: publication 1's
    # outbox (to every institution on the platform) and the bank's API page
    assert delivered[SANXIA] == (1, everyone, 0, 0.0)  # the outbox came after every application
    assert delivered[RURAL] == (1, everyone, 0, 0.0)
    ccb_candidates = len(outbox_keys | api_keys)
    assert delivered[CCB] == (2, ccb_candidates, 3, round(3 / ccb_candidates, 4))


def test_each_lender_watches_its_open_borrowers_and_pending_applicants(published):
    url, _, _, _ = published
    watched = {
        (lender, uscc)
        for lender, uscc in query(
            url, "select lender_uscc, uscc from publish.loan_borrowers where is_watched"
        )
    }
    assert {u for lender, u in watched if lender == CCB} == {"91500115D7AC8HG445", "915001151HDD9D579M"}
    # -000008 still 审批中, -000011 逾期 (open); -000005 refused
    assert {u for lender, u in watched if lender == RURAL} == {
        "935001156A27805D21",
        "N2500115C303796B2J",
        "935001158DC3AD799U",
        "92500115GCFF5HF27F",
    }
    assert query(
        url,
        """select latest_decision, troubled_loans, granted_wan::float, lent_wan::float
           from publish.loan_borrowers where uscc = '92500115GCFF5HF27F'""",
    ) == [("通过", 1, 20.0, 20.0)]
    # the published table is the intermediate model, row for row
    assert query(
        url,
        """select count(*) from (select lender_uscc, entity_key from intermediate.int_loan_borrowers
                                 except select lender_uscc, entity_key from publish.loan_borrowers) d""",
    ) == [(0,)]


def test_a_repeated_delivery_writes_only_new_or_earlier_first_deliveries(warehouse_url):
    """Candidates already delivered on or before the day are not touched (not even locked: a
    daily outbox repeats millions); a new one is added, an earlier day moves a first delivery back."""

    def deliver(publication_id, day, keys):
        with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
            deliveries.log_candidate_delivery(
                cur,
                publication_id=publication_id,
                evaluation_date=day,
                channel=deliveries.OUTBOX,
                recipient="loan_platform",
                entity_keys=keys,
            )

    def delivered():
        rows = query(
            warehouse_url,
            "select entity_key, first_delivered_on::text, xmax::text = '0' from audit.delivered_candidates",
        )
        return {key: (day, untouched) for key, day, untouched in rows}

    deliver(1, "2026-11-22", ["k1", "k2", "k2", "k\\3\t"])
    deliver(2, "2026-11-23", ["k1", "k2", "k\\3\t", "k4"])
    assert delivered() == {
        "k1": ("2026-11-22", True),
        "k2": ("2026-11-22", True),
        "k\\3\t": ("2026-11-22", True),
        "k4": ("2026-11-23", True),
    }
    deliver(3, "2026-11-21", ["k2", "k4"])  # a past day, rebuilt and delivered later
    assert {k: day for k, (day, _) in delivered().items()} == {
        "k1": "2026-11-22",
        "k2": "2026-11-21",
        "k\\3\t": "2026-11-22",
        "k4": "2026-11-21",
    }
    assert query(
        warehouse_url,
        "select publication_id, candidate_count, new_candidates from audit.candidate_deliveries order by 1",
    ) == [(1, 3, 3), (2, 4, 1), (3, 2, 0)]


def test_a_delivery_is_refused_outside_a_transaction(warehouse_url):
    """Its temporary key tables last the caller's transaction: in autocommit they would not."""
    conn = psycopg2.connect(warehouse_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur, pytest.raises(ValueError, match="autocommit"):
            deliveries.log_candidate_delivery(
                cur,
                publication_id=1,
                evaluation_date="2026-11-22",
                channel=deliveries.OUTBOX,
                recipient="loan_platform",
                entity_keys=["k1"],
            )
        assert query(warehouse_url, "select count(*) from audit.candidate_deliveries") == [(0,)]
    finally:
        conn.close()
