"""The departments seed: one row per recipient, one sender per feed, agreeing with the generator."""

import csv
import re

import pytest

from synthetic.agencies import AGENCIES, CREDIT_OFFICE
from tests.unit.test_contracts import FEEDS_README
from xinyong.ingest import contracts, departments, reports
from xinyong.runtime import config

SEED_TEXT = departments.SEED.read_text(encoding="utf-8")


def broken_seed(tmp_path, old: str, new: str):
    assert SEED_TEXT.count(old) == 1, old
    path = tmp_path / "departments.csv"
    path.write_text(SEED_TEXT.replace(old, new), encoding="utf-8")
    return path, SEED_TEXT[: SEED_TEXT.index(old)].count("\n") + 1


def load_error(path) -> str:
    with pytest.raises(departments.DepartmentError) as failure:
        departments.load(path)
    return str(failure.value)


def test_every_feed_has_exactly_one_sender_and_reports_route_to_its_outbox():
    for feed in contracts.load_all():
        sender = departments.sender(feed)
        assert [d for d in departments.recipients() if feed in d.feeds] == [sender]
    settings = config.Settings(
        home=config.PROJECT_ROOT / "h",
        landing=config.PROJECT_ROOT / "l",
        warehouse_url=None,
        embedded_port=1,
        evaluation_date=None,
    )
    assert (
        reports.department_report_path(settings, "penalty", "penalty_20261120.csv")
        == settings.reports / "departments" / "credit_office" / "penalty" / "penalty_20261120.csv.html"
    )


def test_the_credit_office_receives_reports_and_sends_what_passes_through_the_platform():
    office = next(d for d in departments.recipients() if d.department_code == "credit_office")
    assert office.uscc == CREDIT_OFFICE.uscc and office.name == CREDIT_OFFICE.name
    assert set(office.feeds) == {"penalty", "credit_repair", "commitment", "domain_rating", "list_exchange"}


def test_the_generators_agencies_are_the_seeds_departments():
    seed = {(d.name, d.uscc) for d in departments.recipients()}
    assert {(a.name, a.uscc) for a in AGENCIES.values()} <= seed


def test_every_supervision_domain_of_the_readme_has_one_department():
    said = re.search(r"supervises in (\d+) domains: ([^.]+)\.", FEEDS_README.read_text(encoding="utf-8"))
    domains = [d.strip() for d in said.group(2).replace("\n", " ").split(",")]
    assert len(domains) == int(said.group(1))
    covered = [domain for d in departments.recipients() for domain in d.domains]
    assert sorted(covered) == sorted(domains)


def test_a_feed_without_a_sender_fails_loading(tmp_path):
    path, _ = broken_seed(tmp_path, ",parking,", ",,")
    assert load_error(path) == (
        f"{path}: feed 'parking' is sent by no department; exactly one row must list it in feeds"
    )


def test_a_feed_with_two_senders_fails_loading(tmp_path):
    path, _ = broken_seed(tmp_path, ",生态环境,,", ",生态环境,parking,")
    assert load_error(path) == (
        f"{path}: feed 'parking' is sent by 2 departments (urban, environment); "
        "exactly one row must list it in feeds"
    )


def test_a_feed_without_a_contract_fails_loading(tmp_path):
    path, line = broken_seed(tmp_path, ",tax_credit,", ",tax_credit|tax_arrears,")
    assert load_error(path).startswith(f"{path}, line {line}: tax: feed 'tax_arrears' has no contract in ")


def test_a_wrong_check_character_fails_loading(tmp_path):
    path, line = broken_seed(tmp_path, "11500115820C05051L,", "11500115820C05051M,")
    assert load_error(path).startswith(
        f"{path}, line {line}: market: uscc: Value error, '11500115820C05051M' "
        "is not a valid 统一社会信用代码"
    )


def test_an_outbox_shared_by_two_departments_fails_loading(tmp_path):
    path, line = broken_seed(tmp_path, ",departments/police,", ",departments/urban,")
    urban = SEED_TEXT[: SEED_TEXT.index(",departments/urban,")].count("\n") + 1
    assert load_error(path) == (
        f"{path}, line {line}: police: outbox_folder 'departments/urban' is already on line {urban}"
    )


def test_every_supervision_domain_has_exactly_one_department_and_one_policy():
    """The 16 domains are enumerated by the domain_rating contract (and commitment's 监管领域);
    each is covered by one department of the seed and has one combine rule."""
    domains = contracts.load("domain_rating").column("domain").values
    assert len(domains) == 16 and contracts.load("commitment").column("domain").values == domains
    covering = [d for dept in departments.load() for d in dept.domains]
    assert sorted(covering) == sorted(domains)
    with (departments.SEED.parent / "domain_supervision_policy.csv").open(encoding="utf-8", newline="") as fh:
        assert sorted(row["domain"] for row in csv.DictReader(fh)) == sorted(domains)
