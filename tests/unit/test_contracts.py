import re
from pathlib import Path

import pytest

from xinyong.ingest import contracts
from xinyong.ingest.contracts import normalise_header
from xinyong.ingest.readers import map_header

# The departments' interface, a copy of shared/feeds/README.md: one `## <feed> — <title> (...)`
# section per feed with a `| header | required | meaning |` table; the feeds after the
# "## Second stage" heading are agreed but not all built yet.
FEEDS_README = Path(__file__).parents[1] / "data" / "feeds_contract_README.md"
SECTION = re.compile(r"^## (\w+) — ", re.M)


def readme_feeds() -> dict[str, dict]:
    """Feed -> {"stage": 1 | 2, "headers": {header: required ("yes")}}, read from the README."""
    text = FEEDS_README.read_text(encoding="utf-8")
    second_stage = text.index("\n## Second stage")
    heads = list(SECTION.finditer(text))
    feeds = {}
    for head, following in zip(heads, [*heads[1:], None], strict=False):
        body = text[head.end() : following.start() if following else len(text)]
        rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|", body, re.M)
        headers = {h: req == "yes" for h, req in rows if h != "header" and not h.startswith("---")}
        feeds[head.group(1)] = {"stage": 1 if head.start() < second_stage else 2, "headers": headers}
    return feeds


README_FEEDS = readme_feeds()


def test_the_readme_is_read_as_intended():
    assert sum(f["stage"] == 1 for f in README_FEEDS.values()) >= 7
    assert all(f["headers"] for f in README_FEEDS.values())


def test_every_first_stage_feed_has_a_contract_and_every_contract_is_a_readme_feed():
    built = set(contracts.load_all())
    assert {feed for feed, f in README_FEEDS.items() if f["stage"] == 1} <= built
    assert built <= set(README_FEEDS)


@pytest.mark.parametrize("feed", sorted(contracts.load_all()))
def test_contract_headers_and_required_columns_are_the_readmes(feed):
    contract = contracts.load(feed)
    ours = {normalise_header(c.header): c.required for c in contract.columns}
    theirs = {normalise_header(h): req for h, req in README_FEEDS[feed]["headers"].items()}
    assert ours == theirs


def test_header_variants_compare_equal():
    assert normalise_header(" 罚款金额(万元)\u3000") == normalise_header("罚款金额（万元）")


def test_header_map_reports_missing_required_and_unknown_columns():
    contract = contracts.load("entity_register")
    header = ["社会信用代码", "主体名称", "主体类型", "成立日期", "登记状态", "所属镇街", "联系电话"]
    mapped = map_header(contract, header)
    assert mapped.missing_required == ["统一社会信用代码"]
    assert "联系电话" in mapped.extra and "社会信用代码" in mapped.extra
    assert mapped.positions["entity_name"] == 1


# ---------------------------------------------------------------- strict validation


def broken_copy(tmp_path, feed: str, old: str, new: str) -> tuple[Path, int]:
    """The real contract with one edit, and the line (1-based) the edit is on."""
    text = (contracts.CONTRACTS_DIR / f"{feed}.yml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / f"{feed}.yml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, text[: text.index(old)].count("\n") + 1


def load_error(path: Path) -> str:
    with pytest.raises(contracts.ContractError) as failure:
        contracts.load_file(path)
    return str(failure.value)


def test_misspelt_key_fails_with_file_line_and_reason(tmp_path):
    path, line = broken_copy(
        tmp_path, "credit_household", "required: true, personal: id}", "required: true, personl: id}"
    )
    assert load_error(path) == (
        f"{path}, line {line}: columns[1] (id_number): unknown key 'personl' (allowed: name, header, "
        "type, required, aliases, values, min, max, personal, personal_when)"
    )


def test_misspelt_personal_value_fails(tmp_path):
    path, line = broken_copy(tmp_path, "credit_household", "personal: id}", "personal: ID}")
    message = load_error(path)
    assert message.startswith(f"{path}, line {line}: columns[1] (id_number).personal: ")
    assert "'name', 'id' or 'address'" in message and "not 'ID'" in message


def test_personal_when_naming_a_missing_column_fails(tmp_path):
    path, line = broken_copy(
        tmp_path, "parking", 'personal_when: "{owner_type}', 'personal_when: "{owner_kind}'
    )
    assert load_error(path) == (
        f"{path}, line {line}: columns[3] (owner_id).personal_when: "
        "personal_when names {owner_kind}, which is not a column"
    )


def test_key_column_that_does_not_exist_fails(tmp_path):
    path, line = broken_copy(tmp_path, "tax_credit", "key: [uscc, evaluation_year]", "key: [uscc, eval_year]")
    assert load_error(path) == f"{path}, line {line}: key[1]: key column 'eval_year' is not a column"


def test_duplicate_header_fails_even_with_other_brackets(tmp_path):
    path, line = broken_copy(tmp_path, "parking", "header: 已缴金额（元）", "header: 应缴金额(元)")
    assert load_error(path) == (
        f"{path}, line {line}: columns[8] (amount_paid_yuan).header: header "
        "'应缴金额(元)' is already used by columns[7] (amount_due_yuan)"
    )


def test_alias_repeating_another_columns_header_fails(tmp_path):
    path, line = broken_copy(
        tmp_path, "parking", "header: 泊位编号,", "header: 泊位编号, aliases: [车位编号, 车牌号],"
    )
    assert load_error(path).startswith(
        f"{path}, line {line}: columns[4] (berth_no).aliases[1]: header '车牌号' "
        "is already used by columns[1] (plate_no)"
    )


def test_check_on_a_missing_column_fails(tmp_path):
    path, line = broken_copy(tmp_path, "parking", "  - column: left_at\n", "  - column: left_time\n")
    assert load_error(path) == f"{path}, line {line}: checks[3].column: column 'left_time' is not a column"


def test_feed_must_be_the_file_name(tmp_path):
    path, line = broken_copy(tmp_path, "parking", "feed: parking", "feed: parkings")
    assert (
        load_error(path) == f"{path}, line {line}: feed 'parkings' does not match the file name 'parking.yml'"
    )


def test_a_key_given_twice_is_not_silently_dropped(tmp_path):
    path, line = broken_copy(
        tmp_path, "tax_credit", "cadence_days: 31\n", "cadence_days: 31\ncadence_days: 1\n"
    )
    assert load_error(path) == f"{path}, line {line}: cadence_days: key 'cadence_days' appears twice"


def test_contracts_no_longer_name_their_department(tmp_path):
    path, line = broken_copy(
        tmp_path, "tax_credit", "cadence_days: 31\n", "department: 区税务局\ncadence_days: 31\n"
    )
    assert load_error(path).startswith(
        f"{path}, line {line}: unknown key 'department' (allowed: feed, title,"
    )


def test_unknown_type_is_a_contract_error():
    with pytest.raises(
        contracts.ContractError, match=r"columns\[0\] \(a\)\.type: Input should be .*not 'money'"
    ):
        contracts.parse(
            {
                "feed": "x",
                "title": "甲",
                "cadence_days": 1,
                "reject_threshold": 0.1,
                "key": ["a"],
                "columns": [{"name": "a", "header": "甲", "type": "money"}],
            }
        )


def test_a_key_column_must_be_required():
    """Rows of one file are matched on their whole key (repeated keys are rejected)."""
    with pytest.raises(contracts.ContractError, match="must be required"):
        contracts.parse(
            {
                "feed": "x",
                "title": "x",
                "cadence_days": 1,
                "reject_threshold": 0.1,
                "key": ["a"],
                "columns": [{"name": "a", "header": "A", "type": "code"}],
            }
        )
