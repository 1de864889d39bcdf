"""The gate's Great Expectations project as code: run this to (re)write the files in gx/.

    .venv/bin/python expectations/define_gates.py

Writes the warehouse datasource's assets (in gx/great_expectations.yml), one suite per
concern (gx/expectations/), one validation definition per asset and suite
(gx/validation_definitions/) and the checkpoint `publish_candidate_gate` listing them all
(gx/checkpoints/). Ids are derived from names, so a rerun changes nothing unless a
definition changed. The files are what runs; this script only keeps them consistent.

Checks that span tables or need discovery at run time (personal data in every text
column, tier shift, penalty windows) are SQL functions in xinyong/sql/bootstrap.sql called
from `UnexpectedRowsExpectation` or from query assets; bounds come from gate_policy.yml as
suite parameters. Unexpected-rows queries name the candidate tables instead of GX's `{batch}`:
GX substitutes `{batch}` with and without an alias depending on the metric, which no
single query form accepts on PostgreSQL before 16 (the batch is the whole table anyway).
`meta.approvable: true` marks a failure a person may release with
`xinyong publish --approve`; every other failure blocks.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml

GX = Path(__file__).resolve().parent / "gx"
NS = uuid.UUID("6f1c2d1e-0000-4000-8000-786e796f6e67")
CHECKPOINT = "publish_candidate_gate"
CANDIDATE = "publish_candidate"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


# ------------------------------------------------------------------ assets
TABLE_ASSETS = {
    "candidate_entity_credit_profile": (CANDIDATE, "entity_credit_profile"),
    "candidate_credit_score_explanation": (CANDIDATE, "credit_score_explanation"),
    "candidate_penalty_disclosure": (CANDIDATE, "penalty_disclosure"),
    "staging_entity_register": ("staging", "stg_entity_register__entities"),
    "staging_tax_credit": ("staging", "stg_tax_credit__ratings"),
    "staging_penalty": ("staging", "stg_penalty__decisions"),
}
QUERY_ASSETS = {
    # every table of the candidate schema, found at run time
    "candidate_schema": f"""select table_name::text from information_schema.tables
        where table_schema = '{CANDIDATE}'""",
    "candidate_tier_shift": f"select * from audit.tier_shift('{CANDIDATE}', 'publish')",
    "feed_file_volumes": "select * from audit.feed_file_volumes",
    "tax_credit_latest_file": """select t._source_file as file_name, count(*) as rows_loaded,
        round(count(*) filter (where t.tax_grade = 'D')::numeric / count(*), 4) as grade_d_share
        from raw.tax_credit t
        where t._file_id = (select max(file_id) from audit.feed_files
                            where feed = 'tax_credit' and status in ('loaded', 'loaded_with_rejects'))
        group by t._source_file""",
}


def E(type_: str, approvable: bool = False, note: str = "", **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"approvable": approvable, "note": note},
            "severity": "critical"}


def P(name: str) -> dict:
    return {"$PARAMETER": name}


def rows(query: str, note: str, approvable: bool = False) -> dict:
    return E("unexpected_rows_expectation", approvable, note, unexpected_rows_query=" ".join(query.split()))


# ------------------------------------------------------------------ suites: (asset, suite) -> expectations
VALIDATIONS: dict[str, tuple[str, str, list[dict]]] = {
    "candidate_entity_credit_profile": ("candidate_entity_credit_profile", "publish_entity_credit_profile", [
        E("expect_table_row_count_to_be_between", min_value=1),
        E("expect_column_values_to_be_unique", column="entity_key"),
        E("expect_column_values_to_be_unique", column="uscc"),
        *[E("expect_column_values_to_not_be_null", column=c)
          for c in ("entity_key", "uscc", "entity_name", "score", "tier")],
        E("expect_column_values_to_be_in_set", column="tier", value_set=["A", "B", "C", "D"]),
        E("expect_column_values_to_be_between", column="score", min_value=0.0, max_value=1000.0),
        E("expect_column_values_to_match_regex", column="uscc", regex="^[0-9A-HJ-NPQRTUW-Y]{18}$"),
        rows(f"""select b.uscc, count(distinct b.tier) as tiers from {CANDIDATE}.entity_credit_profile b group by b.uscc
                having count(distinct b.tier) > 1""", "one tier per entity"),
        rows(f"""select p.entity_key, p.score, p.tier from {CANDIDATE}.entity_credit_profile p
                where not p.tier_overridden and p.tier <> (select t.tier from policy.credit_tiers t
                      where p.score >= t.min_score order by t.min_score desc limit 1)""",
             "the tier follows the score thresholds (policy.credit_tiers) unless overridden"),
        rows(f"""select p.entity_key, p.score, coalesce(sum(e.points), 0) as explained
                 from {CANDIDATE}.entity_credit_profile p
                 left join {CANDIDATE}.credit_score_explanation e on e.entity_key = p.entity_key
                 group by p.entity_key, p.score having p.score <> coalesce(sum(e.points), 0)""",
             "explanations add up to the score"),
    ]),
    "candidate_credit_score_explanation": ("candidate_credit_score_explanation", "publish_credit_score_explanation", [
        E("expect_table_row_count_to_be_between", min_value=1),
        *[E("expect_column_values_to_not_be_null", column=c) for c in ("entity_key", "rule_id", "points", "reason")],
        rows(f"""select e.entity_key, e.rule_id from {CANDIDATE}.credit_score_explanation e
                 where not exists (select 1 from {CANDIDATE}.entity_credit_profile p
                                   where p.entity_key = e.entity_key)""",
             "every explanation belongs to a published entity"),
    ]),
    "candidate_schema": ("candidate_schema", "publish_personal_data", [
        E("expect_table_row_count_to_be_between", min_value=1, note="the candidate has tables"),
        rows(f"""select f.* from audit.personal_data_findings('{CANDIDATE}') f""",
             "no unmasked 身份证 number or natural person's full name in any text column of any table"),
    ]),
    "candidate_tier_shift": ("candidate_tier_shift", "publish_tier_shift", [
        E("expect_column_values_to_be_between", approvable=True,
          note="each tier's share moves by at most the bound in gate_policy.yml against the live publication",
          column="share_shift", min_value=P("min_tier_share_shift"), max_value=P("max_tier_share_shift")),
    ]),
    "candidate_penalty_disclosure": ("candidate_penalty_disclosure", "publish_penalty_disclosure", [
        rows(f"""select f.* from audit.penalty_window_findings('{CANDIDATE}', 12, 36) f""",
             "no penalty disclosed outside its window (一般 12, 严重 36 months max, 公示截止期, repair)"),
        rows(f"""select column_name from information_schema.columns
                 where table_schema = '{CANDIDATE}' and table_name = 'penalty_disclosure'
                   and column_name ~ '(address|^id_number$|legal_representative_id)'""",
             "no personal address or legal representative's ID column"),
    ]),
    "feed_file_volumes": ("feed_file_volumes", "feed_volume", [
        E("expect_column_values_to_be_between", approvable=True,
          note="rows in each feed's latest file against its previous file",
          column="volume_ratio", min_value=P("min_feed_volume_ratio"), max_value=P("max_feed_volume_ratio")),
    ]),
    "tax_credit_latest_file": ("tax_credit_latest_file", "feed_tax_credit", [
        E("expect_column_values_to_be_between", approvable=True,
          note="share of tax grade D in the latest tax_credit file",
          column="grade_d_share", min_value=0.0, max_value=P("max_tax_grade_d_share")),
    ]),
    "staging_entity_register_keys": ("staging_entity_register", "staging_entity_register_keys", [
        E("expect_column_values_to_be_unique", column="uscc"),
    ]),
    "staging_tax_credit_keys": ("staging_tax_credit", "staging_tax_credit_keys", [
        E("expect_compound_columns_to_be_unique", column_list=["uscc", "evaluation_year"]),
    ]),
    "staging_penalty_keys": ("staging_penalty", "staging_penalty_keys", [
        E("expect_compound_columns_to_be_unique", column_list=["decision_no", "authority_uscc"]),
    ]),
}


def write() -> None:
    config_path = GX / "great_expectations.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    assets = {}
    for name, (schema, table) in TABLE_ASSETS.items():
        assets[name] = {"type": "table", "id": _id("asset", name), "batch_metadata": {},
                        "batch_definitions": {"whole_table": {"id": _id("batch", name), "partitioner": None}},
                        "table_name": table, "schema_name": schema}
    for name, query in QUERY_ASSETS.items():
        assets[name] = {"type": "query", "id": _id("asset", name), "batch_metadata": {},
                        "batch_definitions": {"whole_table": {"id": _id("batch", name), "partitioner": None}},
                        "query": " ".join(query.split())}
    config["fluent_datasources"] = {"warehouse": {
        "type": "postgres", "id": _id("datasource", "warehouse"), "assets": assets,
        "connection_string": "${XINYONG_GX_WAREHOUSE_URL}"}}
    config_path.write_text("# Great Expectations file context of Xinyong's gates; the assets, suites, validation\n"
                           "# definitions and checkpoint are written by expectations/define_gates.py.\n"
                           + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")

    for folder in ("expectations", "validation_definitions", "checkpoints"):
        for old in (GX / folder).glob("*.json"):
            old.unlink()
    vd_refs = []
    for vd_name, (asset, suite, expectations) in VALIDATIONS.items():
        suite_doc = {
            "name": suite, "id": _id("suite", suite), "notes": None,
            "meta": {"great_expectations_version": "1.24.1"},
            "expectations": [{**e, "id": _id("expectation", suite, str(i))} for i, e in enumerate(expectations)],
        }
        (GX / "expectations" / f"{suite}.json").write_text(json.dumps(suite_doc, ensure_ascii=False, indent=2),
                                                          encoding="utf-8")
        vd = {"name": vd_name, "id": _id("vd", vd_name),
              "data": {"datasource": {"name": "warehouse", "id": _id("datasource", "warehouse")},
                       "asset": {"name": asset, "id": _id("asset", asset)},
                       "batch_definition": {"name": "whole_table", "id": _id("batch", asset)}},
              "suite": {"name": suite, "id": _id("suite", suite)}}
        (GX / "validation_definitions" / f"{vd_name}.json").write_text(json.dumps(vd, ensure_ascii=False, indent=2),
                                                                       encoding="utf-8")
        vd_refs.append({"name": vd_name, "id": vd["id"]})
    checkpoint = {"name": CHECKPOINT, "id": _id("checkpoint", CHECKPOINT),
                  "actions": [{"name": "update_data_docs", "site_names": [], "type": "update_data_docs"}],
                  "result_format": {"result_format": "COMPLETE"}, "validation_definitions": vd_refs}
    (GX / "checkpoints" / f"{CHECKPOINT}.json").write_text(json.dumps(checkpoint, indent=2), encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {len(VALIDATIONS)} validation definitions and the checkpoint {CHECKPOINT} into {GX}")
