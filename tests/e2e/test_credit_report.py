"""The one-entity credit report on a real publication: an entity with a penalty in its
window, a repaired one, commitments and a score explanation; the page drawn in headless
Chromium, the PDF printed and read back (pypdf): the score, the publication id on every
page, nothing unmasked."""

import csv
import re
import subprocess
import sys
import unicodedata

import psycopg2
import pytest
from pypdf import PdfReader
from stdnum.cn import ric

from tests.conftest import SAMPLES, ingested_samples, query
from tests.e2e.test_publication_report import CHROMIUM, chromium, png_pixels
from tests.integration.publication_fixtures import publish_once
from xinyong import ingest
from xinyong.ingest import contracts
from xinyong.publication import credit_report

pytestmark = pytest.mark.e2e

# 重庆长寿天健化工有限公司: its 2026-07-23 penalty (penalty_20261120.csv row 3) is repaired by
# credit_repair_20261120.csv; a second penalty (below) is inside its window; it keeps commitments.
USCC = "915001153BCBACBB1J"
REPAIRED = "渝长生态罚〔2026〕101号"
PENALISED = "渝长市场罚〔2026〕120号"
LEGAL_REPRESENTATIVE = "方军"  # as registered; the report shows it masked only


def second_penalty_file(folder) -> None:
    """penalty_20261121.csv: one penalty of the entity, decided 2026-11-02, still public."""
    with (SAMPLES / "penalty_20261120.csv").open(encoding="gb18030", newline="") as fh:
        header, template = list(csv.reader(fh))[:2]
    row = dict(zip(header, template, strict=True))
    row.update(
        {
            "行政相对人名称": "重庆长寿天健化工有限公司",
            "统一社会信用代码": USCC,
            "法定代表人": LEGAL_REPRESENTATIVE,
            "行政处罚决定书文号": PENALISED,
            "处罚决定日期": "2026-11-02",
            "处罚有效期": "2027-11-02",
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "penalty_20261121.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerow([row[h] for h in header])


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("credit_report")
    with ingested_samples(pg_server, home) as (url, settings):
        second_penalty_file(settings.landing / "penalty")
        ingest.ingest_feed(contracts.load("penalty"), settings, url)
        result = publish_once()
        yield url, result["publication_id"]


@pytest.fixture
def conn(published):
    connection = psycopg2.connect(published[0])
    yield connection
    connection.close()


def visible_text(page: str) -> str:
    body = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def unmasked_id_numbers(text: str) -> list[str]:
    return [t for t in re.findall(r"\d{17}[\dXx]", text) if ric.is_valid(t.upper())]


def test_the_report_shows_every_section_from_the_live_publication(published, conn):
    url, publication_id = published
    [(score, tier)] = query(
        url, "select score, tier from publish.entity_credit_profile where uscc = %s", (USCC,)
    )
    rules = query(
        url,
        """select e.rule_id, e.points from publish.credit_score_explanation e
           join publish.entity_credit_profile p using (entity_key) where p.uscc = %s""",
        (USCC,),
    )
    assert sum(points for _, points in rules) == score and len(rules) >= 3
    page = credit_report.render_html(conn, USCC)
    text = visible_text(page)
    assert f'id="score">{score}<' in page and f"tier-{tier}" in page
    assert f'id="publication-id">{publication_id}<' in page
    assert f"发布编号 {publication_id} · 评价基准日 2026-11-22" in page  # every printed page's margin
    for rule_id, _ in rules:
        assert rule_id in text
    assert "credit_repair_20261120.csv 第 2 行" in text  # the repair and its source
    penalties = text[text.index("行政处罚信息") : text.index("信用修复记录")]
    repairs = text[text.index("信用修复记录") : text.index("信用承诺及履约")]
    assert PENALISED in penalties and REPAIRED not in penalties  # repaired: no longer public
    assert REPAIRED in repairs and "2026-11-18" in repairs
    assert "践诺红名单" in text and "CN-500115-" in text
    assert LEGAL_REPRESENTATIVE not in page and "方*" in page
    # the report reads the live publication only
    with pytest.raises(credit_report.ReportError):
        credit_report.render_html(conn, USCC, publication_id=publication_id + 1)
    with pytest.raises(credit_report.EntityNotFound):
        credit_report.render_html(conn, "91500115MA5U7PDX11")  # a bank, not in the register


def test_a_caller_in_autocommit_gets_one_snapshot_and_its_connection_back(published, conn):
    conn.autocommit = True
    assert str(published[1]) in credit_report.render_html(conn, USCC)
    with conn.cursor() as cur:  # no transaction left open
        cur.execute("select 1")
        assert conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_valid_id_numbers_are_masked_in_any_value():
    number = "11010519491231002X"
    assert ric.is_valid(number)
    assert credit_report.public_text(f"经营者 {number}") == "经营者 110105********002X"
    assert credit_report.public_text("915001154086499923") == "915001154086499923"  # a USCC stays


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: run scripts/install_chromium.sh")
def test_the_report_prints_with_the_publication_on_every_page_and_draws_on_screen(published, tmp_path):
    url, publication_id = published
    [(score,)] = query(url, "select score from publish.entity_credit_profile where uscc = %s", (USCC,))
    done = subprocess.run(
        [sys.executable, "-m", "xinyong.app.cli", "report", USCC, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    html_path, pdf_path = (
        tmp_path / "out" / f"credit_report_{USCC}_publication_{publication_id}.{s}" for s in ("html", "pdf")
    )
    assert done.stdout.split() == [str(html_path), str(pdf_path)]
    assert not list((tmp_path / "out").glob(".*"))  # nothing partial left

    # Chromium's CJK fonts map some characters to radicals (⽇ for 日): compare after NFKC, and
    # the decision numbers by their digits
    pages = [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(pdf_path).pages]
    whole = "\n".join(pages)
    assert f"信用分 {score}" in whole and f"合计 {score}" in whole
    # a long decision number may wrap inside its table cell
    compact = "".join(whole.split())
    assert PENALISED[-10:] in compact and REPAIRED[-10:] in compact
    for number, page in enumerate(pages, start=1):
        assert f"发布编号 {publication_id}" in page and "2026-11-22" in page, f"page {number}"
    assert unmasked_id_numbers(whole) == [] and LEGAL_REPRESENTATIVE not in whole

    shot = tmp_path / "report.png"
    result = chromium(tmp_path, "--window-size=1000,1400", f"--screenshot={shot}", html_path.as_uri())
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    width, height, raw = png_pixels(shot)
    assert (width, height) == (1000, 1400)
    assert len(set(raw)) > 64  # drawn: text, table rules, the tier badge; a blank page has a few values
