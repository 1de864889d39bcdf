"""dbt reads every feed fact from the contracts' generated sources; its two vars are required."""

import json

from xinyong.publication import build, schemas

VARS = json.dumps({"evaluation_date": "2026-11-22", "publish_schema": schemas.CANDIDATE})


def compiled(target, name):
    (path,) = (target / "compiled").rglob(f"{name}.sql")
    return " ".join(path.read_text(encoding="utf-8").split())


def test_staging_compiles_with_the_keys_and_personal_ids_of_the_contracts(warehouse_url, settings, tmp_path):
    target = tmp_path / "dbt"
    result = build.run_dbt(
        ["compile", "--select", "staging", "int_parking_records_merged", "--vars", VARS],
        warehouse_url,
        settings,
        target,
    )
    assert result.success, result.exception
    household = compiled(target, "stg_credit_household__households")
    # the key of connectors/credit_household.yml, its ID number by the keyed hash
    assert "distinct on (id_number_hash, rating_year)" in household
    assert "digests_1.digest as id_number_hash" in household and "digests_2" not in household
    assert "distinct on (uscc, evaluation_year)" in compiled(target, "stg_tax_credit__ratings")
    assert "digests" not in compiled(target, "stg_tax_credit__ratings")
    assert "digests_1.digest as owner_id_hash" in compiled(target, "stg_parking__record_versions")
    assert "distinct on (record_no)" in compiled(target, "int_parking_records_merged")
    # the key test of each staging model, its feed taken from the model's name
    (key_test,) = (target / "compiled").rglob("unique_contract_key_stg_penalty__decisions_*.sql")
    assert "group by decision_no, authority_uscc" in " ".join(key_test.read_text(encoding="utf-8").split())


def test_dbt_without_the_evaluation_date_or_the_candidate_schema_says_how_to_pass_them(
    warehouse_url, settings, tmp_path
):
    # the schema is needed to parse; the date only to run (a new day keeps dbt's parse)
    result = build.run_dbt(
        ["parse", "--vars", json.dumps({"evaluation_date": "2026-11-22"})],
        warehouse_url,
        settings,
        tmp_path / "s",
    )
    assert not result.success
    message = str(result.exception)
    assert "dbt var 'publish_schema' is missing" in message and "--vars" in message, message

    parsed = build.run_dbt(
        ["parse", "--vars", json.dumps({"publish_schema": schemas.CANDIDATE})],
        warehouse_url,
        settings,
        tmp_path / "d",
    )
    assert parsed.success, parsed.exception
    result = build.run_dbt(
        [
            "compile",
            "--select",
            "int_penalties_windowed",
            "--vars",
            json.dumps({"publish_schema": schemas.CANDIDATE}),
        ],
        warehouse_url,
        settings,
        tmp_path / "d",
    )
    assert not result.success
    message = " ".join(str(r.message) for r in result.result or []) + str(result.exception or "")
    assert "the evaluation date is missing" in message and build.EVALUATION_DATE_ENV in message, message


def test_a_kept_staging_model_refuses_a_column_that_depends_on_the_date(
    warehouse_url, settings, dbt_project, tmp_path
):
    # kept from build to build (macros/latest_kept_version.sql), such a column would keep the
    # day its row was written
    model = next(dbt_project.rglob("stg_tax_credit__ratings.sql"))
    text = model.read_text(encoding="utf-8")
    assert "        data_date,\n" in text
    model.write_text(
        text.replace(
            "        data_date,\n",
            "        data_date,\n        data_date < {{ evaluation_date() }} as is_past,\n",
        ),
        encoding="utf-8",
    )
    result = build.run_dbt(
        ["compile", "--select", "stg_tax_credit__ratings", "--vars", VARS],
        warehouse_url,
        settings,
        tmp_path / "dbt",
    )
    assert not result.success
    messages = [str(result.exception)] + [r.message or "" for r in (result.result or [])]
    assert any("stg_tax_credit__ratings keeps the latest versions" in m for m in messages), messages
