"""The one-entity credit report (信用报告): one market entity as the live publication shows it.

`render_html(conn, uscc)` reads every published table about the entity in one read-only
snapshot of `publish` (identity, score and every rule behind it with its source, tier and,
when the domains issue's `domain_supervision` table is published, the domain classes; the
lists; penalties inside their publicity window; the repair history; commitments) and
renders `templates/credit_report.html.j2`, a self-contained page with a print stylesheet
whose page margins carry the publication id and date on every printed page.
`render_pdf(...)` prints that page with headless Chromium (`--print-to-pdf`).

Masked as for the public: it shows only what the published tables carry (natural persons
and legal representatives masked there), and every value passes `public_text`, which masks
anything that is a valid 居民身份证号码 as the warehouse does (`500115********5354`), so
no ID number leaves unmasked even from a free-text field.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import jinja2
import markupsafe
import psycopg2.extensions
from psycopg2 import sql
from stdnum.cn import ric

from xinyong.publication import publish
from xinyong.publication.schemas import LIVE

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "credit_report.html.j2"
CHROMIUM_TIMEOUT_SECONDS = 120
# Published tables the report reads when they are there (other issues add some of them).
DOMAIN_TABLE = "domain_supervision"
LISTS = (
    ("black_list", "严重失信主体名单（黑名单）"),
    ("red_list", "守信激励名单（红名单）"),
    ("commitment_red_list", "践诺红名单"),
    ("commitment_grey_list", "践诺灰名单"),
)
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


class ReportError(RuntimeError):
    """The report cannot be made, in one sentence (no live publication, Chromium missing)."""


class EntityNotFound(LookupError):
    """No market entity with that USCC in the live publication."""


def public_text(value) -> str:
    """A value as the public may read it: any valid 身份证号码 masked as xy.mask does.
    Markup the template itself made (the page's own header text) passes as it is."""
    if value is None:
        return ""
    if isinstance(value, markupsafe.Markup):
        return value
    text = str(value)
    return _ID_NUMBER.sub(
        lambda m: m[0][:6] + "*" * 8 + m[0][-4:] if ric.is_valid(m[0].upper()) else m[0], text
    )


@contextmanager
def _snapshot(conn):
    """One read-only REPEATABLE READ snapshot on the caller's connection (or the caller's own
    transaction, when one is open): every table of the report from the same publication."""
    status = conn.info.transaction_status
    cur = conn.cursor()
    try:
        if conn.autocommit:
            cur.execute("begin isolation level repeatable read read only")
            try:
                yield cur
            finally:
                cur.execute("rollback")
        elif status == psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            cur.execute("set transaction isolation level repeatable read read only")
            try:
                yield cur
            finally:
                conn.rollback()
        else:
            yield cur
    finally:
        cur.close()


def _exists(cur, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f"{LIVE}.{table}",))
    return cur.fetchone()[0]


def _rows(cur, query: sql.Composable, params) -> list[dict]:
    cur.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _select(cur, table: str, columns: str, key: str, order: str) -> list[dict]:
    if not _exists(cur, table):
        return []
    return _rows(
        cur,
        sql.SQL("select {} from {} where entity_key = %s order by {}").format(
            sql.SQL(columns), sql.Identifier(LIVE, table), sql.SQL(order)
        ),
        (key,),
    )


def _domain_classes(cur, key: str) -> tuple[list[str], list[dict]] | None:
    """The domains issue's table, whatever its columns: None when it is not published."""
    if not _exists(cur, DOMAIN_TABLE):
        return None
    cur.execute(
        """select column_name from information_schema.columns
           where table_schema = %s and table_name = %s order by ordinal_position""",
        (LIVE, DOMAIN_TABLE),
    )
    columns = [c for (c,) in cur.fetchall() if c not in ("entity_key", "uscc", "evaluation_date")]
    rows = _rows(
        cur,
        sql.SQL("select {} from {} where entity_key = %s order by 1").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(LIVE, DOMAIN_TABLE)
        ),
        (key,),
    )
    return columns, rows


def report_data(conn, uscc: str, publication_id: int | None = None) -> dict:
    """Everything the report shows about `uscc`, from one snapshot of the live publication
    (which must be `publication_id` when given)."""
    with _snapshot(conn) as cur:
        live = publish._publication_of(cur, LIVE)
        if live is None:
            raise ReportError("no publication is live yet: run `xinyong run` first")
        if publication_id is not None and live != publication_id:
            raise ReportError(f"publication {publication_id} is not the live one (live: {live})")
        cur.execute(
            "select evaluation_date, finished_at from audit.publications where publication_id = %s", (live,)
        )
        evaluation_date, published_at = cur.fetchone()
        profile = _rows(
            cur,
            sql.SQL("select * from {} where uscc = %s").format(sql.Identifier(LIVE, "entity_credit_profile")),
            (uscc,),
        )
        if not profile:
            raise EntityNotFound(f"no market entity with 统一社会信用代码 {uscc} in publication {live}")
        [profile] = profile
        key = profile["entity_key"]
        lists = []
        for table, label in LISTS:
            for row in _select(cur, table, "*", key, "start_date"):
                lists.append({"list": label, **row})
        return {
            "publication_id": live,
            "evaluation_date": evaluation_date,
            "published_at": published_at,
            "profile": profile,
            "explanation": _select(
                cur,
                "credit_score_explanation",
                "rule_id, dimension, points, reason, source_feed, source_file, source_row",
                key,
                "points desc, rule_id, source_file, source_row",
            ),
            "domains": _domain_classes(cur, key),
            "lists": lists,
            "penalties": _select(
                cur,
                "penalty_disclosure",
                """decision_no, authority, decision_date, violation_type, penalty_types, penalty_content,
                   fine_wan, dishonesty_level, legal_representative, publicity_start, publicity_last_day""",
                key,
                "decision_date desc, decision_no",
            ),
            "repairs": _select(
                cur,
                "credit_repair_history",
                """decision_no, authority, decision_date, dishonesty_level, repaired_on, repair_authority,
                   repair_method, publicity_end, source_file, source_row""",
                key,
                "repaired_on desc, decision_no",
            ),
            "commitments": _select(
                cur,
                "commitment_status",
                """commitment_no, commitment_type, matter, acceptor, domain, committed_on, due_on,
                   fulfilment_state, broken_reason, source_file, source_row""",
                key,
                "committed_on desc, commitment_no",
            ),
        }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Every value goes through the public mask; autoescape still escapes what it returns.
    env.finalize = public_text
    env.filters["amount"] = lambda value: "" if value is None else f"{value:,.4f}".rstrip("0").rstrip(".")
    return env


def _page(data: dict) -> str:
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            **data,
            # printed in every page's margin (CSS @page): digits and fixed words, nothing to escape
            running_head=f"发布编号 {data['publication_id']} · 评价基准日 {data['evaluation_date']}",
        )
    )


def render_html(conn, uscc: str, publication_id: int | None = None) -> str:
    """The report of `uscc` from the live publication (which must be `publication_id` when
    given), as one self-contained HTML page. Raises EntityNotFound, ReportError."""
    return _page(report_data(conn, uscc.strip().upper(), publication_id))


def chromium() -> str:
    """The headless Chromium the report is printed with: XINYONG_CHROMIUM, else on the PATH."""
    found = os.environ.get("XINYONG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ReportError("Chromium not found: run scripts/install_chromium.sh or set XINYONG_CHROMIUM")
    return found


def print_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print a page to PDF with headless Chromium (nothing fetched: the page is self-contained)."""
    with tempfile.TemporaryDirectory(prefix="xinyong-chromium-") as profile:
        done = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=CHROMIUM_TIMEOUT_SECONDS,
        )
    if done.returncode != 0 or not pdf_path.is_file():
        raise ReportError(f"Chromium could not print the report: {done.stderr.strip()[-400:]}")
    return pdf_path


def render_pdf(conn, uscc: str, publication_id: int | None = None) -> bytes:
    """The report of `uscc` as PDF bytes, printed by headless Chromium."""
    page = render_html(conn, uscc, publication_id)
    with tempfile.TemporaryDirectory(prefix="xinyong-report-") as folder:
        html_path = Path(folder) / "report.html"
        html_path.write_text(page, encoding="utf-8")
        return print_pdf(html_path, Path(folder) / "report.pdf").read_bytes()


def write(conn, uscc: str, out: Path, publication_id: int | None = None, pdf: bool = True) -> list[Path]:
    """Write `credit_report_<USCC>_publication_<id>.html` (and `.pdf`) into `out`; returns the files."""
    uscc = uscc.strip().upper()
    data = report_data(conn, uscc, publication_id)
    page = _page(data)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"credit_report_{uscc}_publication_{data['publication_id']}"
    html_path = out / f"{stem}.html"
    partial = out / f".{stem}.html.tmp-{os.getpid()}"
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, html_path)
    written = [html_path]
    if pdf:
        pdf_path = out / f"{stem}.pdf"
        partial = out / f".{stem}.pdf.tmp-{os.getpid()}.pdf"
        print_pdf(html_path, partial)
        os.replace(partial, pdf_path)
        written.append(pdf_path)
    return written
