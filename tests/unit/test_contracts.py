import pytest

from xinyong.ingest import contracts
from xinyong.ingest.contracts import normalise_header
from xinyong.ingest.readers import map_header

FEEDS = {"entity_register", "tax_credit", "penalty", "parking", "rural_cooperative",
         "credit_household", "credit_repair"}


def test_every_feed_of_the_department_contract_has_a_contract():
    assert set(contracts.load_all()) == FEEDS


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_contract_keys_and_checks_name_real_columns(feed):
    contract = contracts.load(feed)
    names = {c.name for c in contract.columns}
    assert set(contract.key) <= names
    assert len(names) == len(contract.columns), "column names must be unique"
    assert len({c.header for c in contract.columns}) == len(contract.columns)


def test_header_variants_compare_equal():
    assert normalise_header(" 罚款金额(万元)\u3000") == normalise_header("罚款金额（万元）")


def test_header_map_reports_missing_required_and_unknown_columns():
    contract = contracts.load("entity_register")
    header = ["社会信用代码", "主体名称", "主体类型", "成立日期", "登记状态", "所属镇街", "联系电话"]
    mapped = map_header(contract, header)
    assert mapped.missing_required == ["统一社会信用代码"]
    assert "联系电话" in mapped.extra and "社会信用代码" in mapped.extra
    assert mapped.positions["entity_name"] == 1


def test_unknown_type_is_a_contract_error():
    with pytest.raises(contracts.ContractError):
        contracts.parse({"feed": "x", "title": "", "department": "", "cadence_days": 1,
                         "reject_threshold": 0.1, "key": ["a"],
                         "columns": [{"name": "a", "header": "甲", "type": "money"}]})


def test_a_key_column_must_be_required():
    """Rows of one file are matched on their whole key (repeated keys are rejected)."""
    with pytest.raises(contracts.ContractError, match="must be required"):
        contracts.parse({"feed": "x", "title": "", "department": "", "cadence_days": 1,
                         "reject_threshold": 0.1, "key": ["a"], "columns": [{"name": "a", "header": "A", "type": "code"}]})
