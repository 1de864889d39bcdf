"""Risk warnings end to end: two publications on one warehouse, a subject moving from B to D
between them (a second day's tax file), one warning to the tax bureau, one mail to it through
a local SMTP server (aiosmtpd), none on a rerun; notifications and the department page."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import openpyxl
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import EVALUATION_DATE, SAMPLES, free_port, ingested_samples, query
from tests.e2e.test_publication_report import CHROMIUM, chromium
from tests.integration.publication_fixtures import export_dbt_project, publish_once
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts, departments
from xinyong.publication import build, mailer, risk_warnings

pytestmark = pytest.mark.integration
TAX_SAMPLE = SAMPLES / "tax_credit_20261120.csv"
DOMAIN_SAMPLE = SAMPLES / "domain_rating_20261120.xlsx"
DOMAIN_DROP_USCC = "91500115D7AC8HG445"  # 重庆川渝鑫旺建材有限公司, 低风险 in 市场监管
SECOND_DAY_TAX = "tax_credit_20261121.csv"


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def tax_file_turning(uscc: str) -> bytes:
    """A second day's tax file: the first day's (GBK) sent again with `uscc` rated D for 2025
    (a whole file, so the gate on the share of grade D in the latest file still passes)."""
    lines = TAX_SAMPLE.read_bytes().decode("gbk").splitlines()
    turned = [line.split(",") for line in lines]
    for cells in turned[1:]:
        if cells[0] == uscc:
            cells[3:5] = ["D", "17"]
        cells[-1] = "2026-11-21"
    return "\r\n".join(",".join(cells) for cells in turned).encode("gbk") + b"\r\n"


@pytest.fixture(scope="module")
def two_publications(pg_server, tmp_path_factory, smtp_inbox):
    """Baseline publication, then a tax file moves one B subject to D, then a second one."""
    home = tmp_path_factory.mktemp("warnings")
    controller, _ = smtp_inbox
    with ingested_samples(pg_server, home) as (url, settings), pytest.MonkeyPatch.context() as env:
        env.setattr(build, "DBT_PROJECT", export_dbt_project(home))
        env.setenv(
            "AIRFLOW_CONN_XINYONG_SMTP",
            f"smtp://127.0.0.1:{controller.port}?disable_tls=true&disable_ssl=true"
            "&from_email=xyb%40xinyong-changshou.example&retry_limit=0",
        )
        first = publish_once()
        baseline_mails = pipeline.notify_departments()["mails"]
        # a B subject with a tax rating and nothing else against it
        [(uscc,)] = query(
            url,
            """select p.uscc from publish.entity_credit_profile p
               where p.tier = 'B' and p.tax_grade in ('A', 'B') and p.active_penalty_count = 0
                 and p.entity_type <> '个体工商户'
                 and not exists (select 1 from publish.black_list b where b.entity_key = p.entity_key)
               order by p.uscc limit 1""",
        )
        landing = settings.landing / "tax_credit"
        landing.mkdir(parents=True, exist_ok=True)
        (landing / SECOND_DAY_TAX).write_bytes(tax_file_turning(uscc))
        [outcome] = ingest.ingest_feed(contracts.load("tax_credit"), settings, url)
        assert outcome.rows_loaded > 10, outcome
        second = publish_once()
        yield {
            "url": url,
            "settings": settings,
            "first": first,
            "second": second,
            "uscc": uscc,
            # the file's row number of the subject (header = row 1)
            "row": 1
            + [line.split(",")[0] for line in TAX_SAMPLE.read_bytes().decode("gbk").splitlines()].index(uscc),
            "baseline_mails": baseline_mails,
        }


def test_baseline_warns_nobody(two_publications):
    url = two_publications["url"]
    assert two_publications["baseline_mails"]["sent"] == 0
    assert query(url, "select count(*) from publish_prev.risk_warnings")[0][0] == 0


def test_b_to_d_raises_one_warning_routed_to_the_tax_bureau_and_the_credit_office(two_publications):
    url, uscc = two_publications["url"], two_publications["uscc"]
    rows = query(
        url,
        """select kind, uscc, detail, evidence_feed, evidence_file, evidence_row, recipients, compared_with
           from publish.risk_warnings""",
    )
    # no domain of its own: also the departments of every domain the subject is rated or active in
    domains = {
        code
        for (code,) in query(
            url, "select department_code from publish.domain_supervision where uscc = %s", (uscc,)
        )
    }
    assert rows == [
        (
            "entered_tier_d",
            uscc,
            "B → D",
            "tax_credit",
            SECOND_DAY_TAX,
            two_publications["row"],
            "|".join(sorted({"credit_office", "tax"} | domains)),
            f"xinyong publication {two_publications['first']['publication_id']}",
        )
    ]
    tax = departments.sender("tax_credit")
    written = Path(two_publications["second"]["artifacts"]["risk_warnings"]["tax"])
    assert written.parent == tax.outbox(two_publications["settings"]) / "warnings"
    assert uscc in written.read_text(encoding="utf-8-sig")
    assert set(two_publications["second"]["artifacts"]["risk_warnings"]) == {"tax", "credit_office"} | domains
    # the report counts them in the database: one warning, once for each of its recipients
    report = Path(two_publications["second"]["artifacts"]["report"]).read_text(encoding="utf-8")
    assert "风险预警：1 条" in report
    per_department = report.split('id="warnings-per-department"')[1].split("</table>")[0]
    assert per_department.count("<td>1</td>") == len({"credit_office", "tax"} | domains)


def test_one_mail_per_recipient_and_none_on_a_rerun(two_publications, smtp_inbox):
    _, inbox = smtp_inbox
    url, uscc = two_publications["url"], two_publications["uscc"]
    before = len(inbox.messages)
    sent = pipeline.notify_departments()["mails"]
    new = inbox.messages[before:]
    warning_mails = [m for m in new if "风险预警" in m["Subject"]]
    tax = departments.sender("tax_credit")
    to_tax = [m for m in warning_mails if m["To"] == tax.email]
    # one to each recipient: the tax bureau, the credit office, the departments of its domains
    recipients = query(url, "select recipients from publish.risk_warnings")[0][0].split("|")
    assert len(to_tax) == 1 and len(warning_mails) == len(recipients) >= 2
    body = to_tax[0].get_body(("html",)).get_content()
    assert uscc in body and "B → D" in body
    assert [a.get_filename() for a in to_tax[0].iter_attachments()] == [
        f"risk_warnings_{EVALUATION_DATE}_publication_{two_publications['second']['publication_id']}.csv"
    ]
    assert sent["sent"] == len(new) and sent["failed"] == 0
    ledger = query(url, "select department, status from audit.mail_ledger where event = 'risk_warnings'")
    assert sorted(ledger) == [(code, "sent") for code in sorted(recipients)]

    again = pipeline.notify_departments()["mails"]
    assert again["sent"] == 0 and again["already"] >= sent["sent"]
    assert len(inbox.messages) == before + len(new)  # nothing twice


def test_many_warnings_are_counted_and_shown_first_per_department(two_publications):
    """A department's mail and page show its first warnings and say how many there are; the
    counts come from the database, one per recipient of each warning."""
    import psycopg2

    url = two_publications["url"]
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("create schema many_warnings")
            cur.execute("create table many_warnings.risk_warnings as select * from publish.risk_warnings")
            # five more of the one warning: four to the tax bureau alone, one to it and the credit office
            cur.execute(
                """insert into many_warnings.risk_warnings
                   select (w).* from (
                       select jsonb_populate_record(w, jsonb_build_object(
                                  'warning_key', 'extra-' || n,
                                  'uscc', '91500000EXTRA000' || n,
                                  'recipients', case when n = 5 then 'credit_office|tax' else 'tax' end)) as w
                       from publish.risk_warnings w, generate_series(1, 5) n) as extra"""
            )
            counts = risk_warnings.counts(cur, "many_warnings")
            recipients = query(url, "select recipients from publish.risk_warnings")[0][0].split("|")
            assert counts["tax"] == 6 and counts["credit_office"] == 2
            assert set(counts) == set(recipients)
            shown = risk_warnings.first_per_department(cur, "many_warnings", limit=3)
            assert [len(shown[code]) for code in ("tax", "credit_office")] == [3, 2]
            # the files' order: by kind, then USCC
            assert [w["uscc"] for w in shown["tax"]] == sorted(w["uscc"] for w in shown["tax"])
            only = risk_warnings.first_per_department(cur, "many_warnings", limit=3, department="tax")
            assert only == {"tax": shown["tax"]}
    finally:
        conn.rollback()
        conn.close()


def test_a_domain_grade_two_classes_down_warns_that_domains_departments(two_publications, tmp_path):
    """Against the live publication, a candidate whose new domain rating (低风险 to 高风险 in
    市场监管) drops the subject's supervision class there raises one warning for that domain."""
    url, settings = two_publications["url"], two_publications["settings"]
    sheet = openpyxl.load_workbook(DOMAIN_SAMPLE).active
    header, rated = [list(row) for row in sheet.iter_rows(min_row=1, max_row=2, values_only=True)][0], None
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if row[0] == DOMAIN_DROP_USCC and row[2] == "市场监管":
            rated = list(row)
    rated[3:7] = ["高风险", "风险四级", "2026-11-21", "2027-11-20"]
    book = openpyxl.Workbook()
    book.active.append(header)
    book.active.append(rated)
    (settings.landing / "domain_rating").mkdir(parents=True, exist_ok=True)
    book.save(settings.landing / "domain_rating" / "domain_rating_20261121.xlsx")
    [outcome] = ingest.ingest_feed(contracts.load("domain_rating"), settings, url)
    assert outcome.rows_loaded == 1, outcome
    before = query(
        url,
        "select supervision_class from publish.domain_supervision where uscc = %s and domain = '市场监管'",
        (DOMAIN_DROP_USCC,),
    )
    pipeline.build_candidate(EVALUATION_DATE)
    rows = query(
        url,
        """select kind, uscc, detail, domain, evidence_file, evidence_row, recipients
           from publish_candidate.risk_warnings where kind = 'dropped_domain_classes'""",
    )
    market = sorted(
        {"credit_office"}
        | {
            code
            for (code,) in query(
                url, "select department_code from policy.departments where domains like '%%市场监管%%'"
            )
        }
    )
    assert rows == [
        (
            "dropped_domain_classes",
            DOMAIN_DROP_USCC,
            f"市场监管：{before[0][0]} → D",
            "市场监管",
            "domain_rating_20261121.xlsx",
            2,
            "|".join(market),
        )
    ]


def test_quarantine_and_held_publication_notify_through_the_same_ledger(two_publications, smtp_inbox):
    _, inbox = smtp_inbox
    url, settings = two_publications["url"], two_publications["settings"]
    landing = settings.landing / "tax_credit"
    (landing / "tax_credit_20261122.csv").write_bytes(b"not,a,tax,file\r\n1,2,3,4\r\n")
    [outcome] = ingest.ingest_feed(contracts.load("tax_credit"), settings, url)
    assert outcome.status in ("quarantined", "unreadable"), outcome
    before = len(inbox.messages)
    pipeline.notify_departments()
    new = [m for m in inbox.messages[before:] if "数据文件整体退回" in m["Subject"]]
    assert sorted(m["To"] for m in new) == sorted(
        [departments.sender("tax_credit").email, departments.sender("penalty").email]
    )
    pipeline.notify_departments()
    assert len([m for m in inbox.messages if "数据文件整体退回" in m["Subject"]]) == 2


def test_without_an_smtp_connection_nothing_is_recorded(two_publications, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_XINYONG_SMTP")
    message = mailer.Message("probe:1", "probe", "tax", "x@example.org", "probe", "<p>probe</p>")
    assert mailer.send(two_publications["url"], [message])["not_configured"] == 1
    assert (
        query(two_publications["url"], "select count(*) from audit.mail_ledger where event = 'probe'")[0][0]
        == 0
    )


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: run scripts/install_chromium.sh")
def test_department_page_in_headless_chromium(two_publications, tmp_path):
    settings = two_publications["settings"]
    pages = pipeline.notify_departments()["department_pages"]
    tax_page = Path(pages["tax"])
    assert tax_page == departments.sender("tax_credit").outbox(settings) / "index.html"
    dom = chromium(tmp_path, "--dump-dom", tax_page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for section in ("deliveries", "freshness", "warnings", "mails"):
        assert f'id="{section}"' in html, section
    assert html.count('class="warning"') == 1 and two_publications["uscc"] in html
    # the quarantined file of the notification test (or the sample's rejects) link to reports
    links = html.split('class="report-link" href="')[1:]
    assert links
    report = (tax_page.parent / links[0].split('"')[0]).resolve()
    assert report.is_file() and report.suffix == ".html"
    recipients = set(
        query(two_publications["url"], "select recipients from publish.risk_warnings")[0][0].split("|")
    )
    others = sorted(set(pages) - recipients)
    assert others  # a department the warning is not for does not see it on its page
    for code in others:
        assert 'class="warning"' not in Path(pages[code]).read_text(encoding="utf-8"), code
