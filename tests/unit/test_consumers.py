"""The consumer declaration (dbt_project/models/exposures.yml): validated on load, and the
README's readers block is the one it generates."""

import re
import shutil
from pathlib import Path

import pytest

from xinyong.publication import consumers

REPO = Path(__file__).resolve().parents[2]


def test_readme_readers_block_is_generated_from_the_declaration():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- consumers:start -->\n(.*?)\n<!-- consumers:end -->", readme, re.DOTALL)
    assert block, "README.md has no <!-- consumers:start --> ... <!-- consumers:end --> block"
    assert block.group(1) == consumers.readers_table(), (
        "README.md's readers block differs from the declaration; paste the output of "
        "`python -c 'from xinyong.publication import consumers; print(consumers.readers_table())'`"
    )


def test_the_declaration_loads():
    loaded = {c.name: c for c in consumers.load()}
    assert set(loaded) == {"bi_dashboards", "loan_platform", "public_website", "credit_query_api"}
    assert set(loaded["bi_dashboards"].tables) == set(consumers.published_models())


@pytest.fixture
def project(tmp_path):
    """A copy of the declaration and the published models' YAML and SQL, to break."""
    for path in [
        consumers.DECLARATION,
        *(
            p.relative_to(consumers.DBT_PROJECT)
            for p in (consumers.DBT_PROJECT / consumers.PUBLISHED_MODELS).rglob("*")
        ),
    ]:
        source, target = consumers.DBT_PROJECT / path, tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copy(source, target)
    return tmp_path


def broken(project: Path, old: str, new: str) -> str:
    declaration = project / consumers.DECLARATION
    text = declaration.read_text(encoding="utf-8")
    assert old in text
    declaration.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(consumers.DeclarationError) as failure:
        consumers.load(project)
    return str(failure.value)


def line_of(project: Path, needle: str) -> int:
    lines = (project / consumers.DECLARATION).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_copy_loads(project):
    assert [c.name for c in consumers.load(project)] == [c.name for c in consumers.load()]


def test_an_unknown_key_fails_with_file_line_and_consumer(project):
    message = broken(project, "black_list: {rows: uscc is not null}", "black_list: {row: uscc is not null}")
    assert str(project / consumers.DECLARATION) in message
    assert f"line {line_of(project, 'black_list: {row:')}" in message
    assert "consumer loan_platform" in message and "config.meta.tables.black_list.row: unknown key" in message


def test_meta_outside_config_is_an_unknown_key(project):
    message = broken(
        project,
        "    config:\n      meta:\n        role: public_website",
        "    meta:\n        role: public_website",
    )
    assert "consumer public_website" in message and "meta: unknown key" in message


def test_a_table_that_is_not_a_published_model_fails(project):
    message = broken(
        project,
        "- ref('government_dishonesty')\n    config:\n      meta:\n        role: public_website",
        "- ref('int_households_rated')\n    config:\n      meta:\n        role: public_website",
    )
    assert (
        "consumer public_website" in message and "'int_households_rated' is not a published model" in message
    )


def test_a_hidden_column_that_does_not_exist_fails(project):
    message = broken(project, "hidden_columns: [entity_key]", "hidden_columns: [id_number]")
    assert "'id_number' is not a column of penalty_disclosure" in message
    assert f"line {line_of(project, 'hidden_columns: [id_number]')}" in message


def test_a_row_filter_naming_a_missing_column_or_another_table_fails(project):
    message = broken(
        project, "black_list: {rows: uscc is not null}", "black_list: {rows: entity_type = '企业'}"
    )
    assert "'entity_type' is not a column of black_list" in message
    message = broken(
        project,
        "black_list: {rows: entity_type = '企业'}",
        "black_list: {rows: uscc in (select uscc from entity_credit_profile)}",
    )
    assert "no subqueries" in message


def test_a_table_policy_for_a_table_it_does_not_read_fails(project):
    message = broken(
        project,
        "penalty_disclosure: {hidden_columns: [entity_key]}",
        "parking_credit: {hidden_columns: [owner_display]}",
    )
    assert "config.meta.tables.parking_credit: parking_credit is not in depends_on" in message


def test_grants_without_a_role_fail(project):
    message = broken(project, "        role: public_website\n", "")
    assert "consumer public_website: config.meta: a consumer that receives `grants` needs a `role`" in message


def test_two_consumers_sharing_a_role_fail(project):
    message = broken(project, "role: public_website", "role: loan_platform")
    assert "share the role loan_platform" in message


def test_filter_names_reads_columns_not_sql():
    assert consumers.filter_names(
        "uscc is not null and lower(entity_type) <> '个体 工商户' "
        "and score::numeric(5, 2) between 1 and 2 and \"Town\" in ('a')"
    ) == ["uscc", "entity_type", "score", "Town"]
