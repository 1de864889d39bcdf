"""The dbt sources and the Citus distribution are derived from the feed contracts."""

import importlib.util

import yaml

from xinyong.ingest import contracts
from xinyong.publication import dbt_sources
from xinyong.runtime.config import PROJECT_ROOT


def test_a_personal_id_key_column_reaches_staging_as_its_hash():
    household = contracts.load("credit_household")
    text = dbt_sources.render({"credit_household": household})
    assert text.startswith("# Generated from connectors/*.yml")
    (source,) = yaml.safe_load(text)["sources"]
    (table,) = source["tables"]
    assert source["name"] == table["name"] == "credit_household" and source["schema"] == "raw"
    assert source["description"].startswith("信用户评定")
    assert table["config"]["meta"] == {
        "contract_key": ["id_number", "rating_year"],
        "staging_key": ["id_number_hash", "rating_year"],
        "personal_id_columns": ["id_number"],
    }
    assert table["config"]["loaded_at_field"] == "_loaded_at"
    assert table["config"]["freshness"] == {"warn_after": {"count": 366, "period": "day"}}
    assert [(c["name"], c["description"]) for c in table["columns"]] == [
        (c.name, c.header) for c in household.columns
    ]


def test_a_key_without_personal_ids_is_staging_key_as_is():
    assert dbt_sources.staging_key(contracts.load("tax_credit")) == ["uscc", "evaluation_year"]
    # parking's owner_id is personal, but not part of its key
    assert dbt_sources.staging_key(contracts.load("parking")) == ["record_no"]
    assert contracts.load("parking").personal_ids == ["owner_id"]


def test_every_feed_is_a_source_and_the_file_is_written_only_when_it_changed(tmp_path):
    (tmp_path / dbt_sources.SOURCES_FILE).parent.mkdir(parents=True)
    everything = contracts.load_all()
    assert dbt_sources.write(tmp_path, everything)
    path = tmp_path / dbt_sources.SOURCES_FILE
    assert {s["name"] for s in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]} == set(everything)
    written = path.stat().st_mtime_ns
    assert not dbt_sources.write(tmp_path, everything)
    assert path.stat().st_mtime_ns == written
    fewer = {feed: c for feed, c in everything.items() if feed != "parking"}
    assert dbt_sources.write(tmp_path, fewer)
    assert "parking" not in {s["name"] for s in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]}


def _citus_generator():
    spec = importlib.util.spec_from_file_location(
        "distribute_raw", PROJECT_ROOT / "deploy/citus/distribute_raw.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_citus_distribution_is_the_generated_one():
    generator = _citus_generator()
    assert generator.SQL_FILE.read_text(encoding="utf-8") == generator.render(contracts.load_all()), (
        "regenerate with: python deploy/citus/distribute_raw.py"
    )


def test_citus_distribution_keeps_its_keys_and_colocation():
    sql = _citus_generator().render(contracts.load_all())
    statements = {line for line in sql.splitlines() if line.startswith("select create_distributed_table")}
    assert statements == {
        "select create_distributed_table('raw.parking', 'record_no');",
        "select create_distributed_table('raw.entity_register', 'uscc');",
        "select create_distributed_table('raw.tax_credit', 'uscc', colocate_with => 'raw.entity_register');",
        "select create_distributed_table('raw.rural_cooperative', 'uscc', colocate_with => 'raw.entity_register');",
        "select create_distributed_table('raw.penalty', 'decision_no');",
        "select create_distributed_table('raw.credit_repair', 'decision_no', colocate_with => 'raw.penalty');",
        "select create_distributed_table('raw.commitment', 'commitment_no');",
        "select create_distributed_table('raw.court_dishonest', 'case_no');",
        "select create_distributed_table('raw.domain_rating', 'uscc', colocate_with => 'raw.entity_register');",
        "select create_distributed_table('raw.list_exchange', 'uscc', colocate_with => 'raw.entity_register');",
        "select create_distributed_table('raw.loan_outcome', 'application_no');",
        "select create_distributed_table('raw.personal_id_digests', 'id_value');",
        "select create_distributed_table('raw.credit_household', 'id_number', "
        "colocate_with => 'raw.personal_id_digests');",
    }
    # a table is distributed before anything is co-located with it
    order = [
        line.split("'")[1] for line in sql.splitlines() if line.startswith("select create_distributed_table")
    ]
    for line in sql.splitlines():
        if "colocate_with" in line:
            assert order.index(line.split("colocate_with => '")[1].split("'")[0]) < order.index(
                line.split("'")[1]
            )


def test_the_intermediate_schema_is_the_one_dbt_builds_into():
    # xinyong reads the incremental build's state there (build.policy_loaded)
    from xinyong.publication import schemas

    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["models"]["xinyong"]["intermediate"]["+schema"] == schemas.INTERMEDIATE
