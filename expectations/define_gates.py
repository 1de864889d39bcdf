"""The gate's Great Expectations project as code: run this to (re)write the files in gx/.

    .venv/bin/python expectations/define_gates.py

Defines, through GX's API (`context.data_sources`, `.suites`, `.validation_definitions`,
`.checkpoints`), the warehouse datasource's assets, one suite per concern, one validation
definition per asset and suite and the checkpoint listing them all; GX writes the files
in gx/. A rerun changes nothing unless a definition changed: what is as declared is kept
with its id. GX tries each asset against the warehouse when it is added, so this needs one
(the embedded server is started as `xinyong` starts it). The files are what runs.

One home per gate: an invariant inside one model is a dbt test (dbt_project/models/**/*.yml,
dbt_project/tests/), run by `dbt build` before the gate. What is here checks across runs
(tier shift, feed volumes), across tables or schemas (personal data anywhere in the
candidate, penalty windows recomputed from raw), or may be released by a person
(`meta.approvable: true`, `xinyong publish --approve`); every other failure blocks.

Nothing here names the candidate schema or a bound. The candidate's tables are unqualified
and the queries say `current_schema()`: gates.py points the gate's connection at the
candidate with `search_path`. Bounds are suite parameters from gate_policy.yml or seeds
that the SQL functions read (expectations/sql/gates.sql); the evaluation date and the SQL
knobs reach the queries as session settings (`current_setting('xinyong.evaluation_date')`).
Results and Data Docs go to `${XINYONG_GX_HOME}`, set by gates.py under XINYONG_HOME.
A check that has offending rows is a findings query (expectations/sql/gates.sql) as a
query asset with `expect_table_row_count_to_equal` 0: GX runs it once (`count(*)` over it;
GX's unexpected-rows expectation runs its query twice, once for the count and once for the
rows), and gates.py reads the first rows of a failed one as its examples. Every check is
set-based SQL returning only what offends; no check reads a big table row by row in Python.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import yaml

from xinyong.publication import gates, schemas

GX = Path(__file__).resolve().parent / "gx"
NS = uuid.UUID("6f1c2d1e-0000-4000-8000-786e796f6e67")
CHECKPOINT = gates.CHECKPOINT
STATE = "${" + gates.GX_HOME_ENV + "}"
# Validation results the Data Docs index lists (about ten runs); older pages stay on disk.
DATA_DOCS_INDEX_RESULTS = 100


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


def setting(name: str, cast: str) -> str:
    """A knob of this gate run, as the SQL reads it (gates.py sets it on the session)."""
    return f"current_setting('xinyong.{name}')::{cast}"


# ------------------------------------------------------------------ assets
# (schema, table); schema None = the candidate (the connection's search_path). None today:
# the checks inside one candidate table are dbt tests, the rest are queries.
TABLE_ASSETS: dict[str, tuple[str | None, str]] = {}
# Every penalty with its window (disclosed or not), as dbt builds it for the candidate: the
# intermediate schema is not swapped, so it holds the candidate's build.
WINDOWED_PENALTIES = "intermediate.int_penalties_windowed"
# Every current domain rating with its mapped class (null when the seed has no mapping yet).
CURRENT_DOMAIN_RATINGS = "intermediate.int_domain_ratings_current"
QUERY_ASSETS = {
    # every table of the candidate schema, found at run time
    "candidate_schema": """select table_name::text from information_schema.tables
        where table_schema = current_schema()""",
    # findings: each row offends (see `findings` below)
    "candidate_personal_data": "select f.* from audit.personal_data_findings(current_schema()) f",
    "candidate_penalty_disclosure": f"""select f.* from audit.penalty_window_findings(
        current_schema(), {setting("evaluation_date", "date")}) f""",
    "candidate_commitment_status": f"""select f.* from audit.commitment_penalty_findings(
        current_schema(), '{WINDOWED_PENALTIES}') f""",
    "candidate_commitment_lists": "select f.* from audit.commitment_list_overlap(current_schema()) f",
    "domain_rating_scales": f"select f.* from audit.domain_scale_findings('{CURRENT_DOMAIN_RATINGS}') f",
    # measures compared with bounds
    "candidate_tier_shift": f"select * from audit.tier_shift(current_schema(), '{schemas.LIVE}')",
    "feed_file_volumes": f"""select * from audit.feed_file_volumes(
        {setting("feed_volume_min_previous_rows", "bigint")})""",
    "tax_credit_latest_file": """select t._source_file as file_name, count(*) as rows_loaded,
        round(count(*) filter (where t.tax_grade = 'D')::numeric / count(*), 4) as grade_d_share
        from raw.tax_credit t
        where t._file_id = (select max(file_id) from audit.feed_files
                            where feed = 'tax_credit' and status in ('loaded', 'loaded_with_rejects'))
        group by t._source_file""",
}


def E(type_: str, approvable: bool = False, note: str = "", **kwargs) -> dict:
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {"approvable": approvable, "note": note},
        "severity": "critical",
    }


def P(name: str) -> dict:
    return {"$PARAMETER": name}


def findings(note: str, approvable: bool = False) -> dict:
    """The check of a findings asset: no row. One `count(*)` over its query; gates.py shows
    the first rows of a failed one."""
    return E("expect_table_row_count_to_equal", approvable, note, value=0)


# ------------------------------------------------------------------ suites: (asset, suite) -> expectations
VALIDATIONS: dict[str, tuple[str, str, list[dict]]] = {
    "candidate_schema": (
        "candidate_schema",
        "publish_candidate_schema",
        [
            E(
                "expect_table_row_count_to_be_between",
                min_value=P("min_candidate_rows"),
                note="the candidate has tables",
            ),
        ],
    ),
    "candidate_personal_data": (
        "candidate_personal_data",
        "publish_personal_data",
        [
            findings(
                "no unmasked 身份证 number or natural person's full name in any text column of any table"
            ),
        ],
    ),
    "candidate_tier_shift": (
        "candidate_tier_shift",
        "publish_tier_shift",
        [
            E(
                "expect_column_values_to_be_between",
                approvable=True,
                note="each tier's share moves by at most the bound in gate_policy.yml against the live publication",
                column="share_shift",
                min_value=P("min_tier_share_shift"),
                max_value=P("max_tier_share_shift"),
            ),
        ],
    ),
    "candidate_penalty_disclosure": (
        "candidate_penalty_disclosure",
        "publish_penalty_disclosure",
        [
            findings(
                "no penalty disclosed outside its window on the evaluation date "
                "(maximum months per 失信程度 from policy.publicity_periods, 公示截止期, repair)"
            ),
        ],
    ),
    "candidate_commitment_status": (
        "candidate_commitment_status",
        "publish_commitment_status",
        [
            findings(
                "a commitment judged broken by a penalty points to a penalty of the same subject among the "
                "warehouse's windowed penalties (disclosed or not), decided after the 承诺日期"
            ),
        ],
    ),
    "candidate_commitment_lists": (
        "candidate_commitment_lists",
        "publish_commitment_lists",
        [
            findings("践诺红名单 and 践诺灰名单 are disjoint: no subject on both"),
        ],
    ),
    "domain_rating_scales": (
        "domain_rating_scales",
        "domain_rating_scales",
        [
            findings(
                "every current domain rating's scale (评价等级体系) and grade map to a class in the seed "
                "domain_grade_classes; an unmapped one loaded and waits until the credit office maps it "
                "(or releases this publication)",
                approvable=True,
            ),
        ],
    ),
    "feed_file_volumes": (
        "feed_file_volumes",
        "feed_volume",
        [
            E(
                "expect_column_values_to_be_between",
                approvable=True,
                note="rows in each feed's latest delivery (the files of one as-of date) against its previous one",
                column="volume_ratio",
                min_value=P("min_feed_volume_ratio"),
                max_value=P("max_feed_volume_ratio"),
            ),
        ],
    ),
    "tax_credit_latest_file": (
        "tax_credit_latest_file",
        "feed_tax_credit",
        [
            E(
                "expect_column_values_to_be_between",
                approvable=True,
                note="share of tax grade D in the latest tax_credit file",
                column="grade_d_share",
                max_value=P("max_tax_grade_d_share"),
            ),
        ],
    ),
}


def _store(class_name: str, base_directory: str, **extra) -> dict:
    return {
        "class_name": class_name,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            **extra,
            "base_directory": base_directory,
        },
    }


def project_config(data_context_id: str | None) -> dict:
    """Definitions live in the checkout; what a run writes (results, Data Docs) in XINYONG_HOME."""
    return {
        "config_version": 4.0,
        "config_variables_file_path": None,
        "plugins_directory": "plugins/",
        "stores": {
            "expectations_store": _store("ExpectationsStore", "expectations/"),
            "validation_results_store": _store("ValidationResultsStore", f"{STATE}/validations/"),
            "checkpoint_store": _store("CheckpointStore", "checkpoints/", suppress_store_backend_id=True),
            "validation_definition_store": _store("ValidationDefinitionStore", "validation_definitions/"),
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {
            "local_site": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": True,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": f"{STATE}/data_docs/local_site/",
                },
                # the index lists the newest results only: it reads each one it lists
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": DATA_DOCS_INDEX_RESULTS,
                },
            }
        },
        "analytics_enabled": None,
        "data_context_id": data_context_id or _id("data_context"),
    }


# GX tests a table asset against its table when it is added. The candidate exists only during
# a build, so the definitions are made against empty stand-ins in this scratch schema
# (the candidate's tables are unqualified: the connection's search_path names the schema).
SCRATCH_SCHEMA = "gx_definitions"


def write() -> None:
    """Define everything through GX's API in the file context gx/; GX writes the files."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from xinyong.runtime import warehouse

    config_path = GX / "great_expectations.yml"
    existing = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    existing = existing or {}
    # The project config (stores, Data Docs site) is GX's YAML; its datasources are GX's to write.
    config = {**project_config(existing.get("data_context_id")), "fluent_datasources": {}}
    if existing.get("fluent_datasources"):
        config["fluent_datasources"] = existing["fluent_datasources"]
    config_path.write_text(
        "# Great Expectations file context of Xinyong's gates; the assets, suites, validation\n"
        "# definitions and checkpoint are defined by expectations/define_gates.py through GX's API.\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )

    url = warehouse.url()
    with warehouse.transaction(url) as conn, conn.cursor() as cur:
        cur.execute(f"create schema if not exists {SCRATCH_SCHEMA}")
        for schema, table in TABLE_ASSETS.values():
            cur.execute(f"create table if not exists {schema or SCRATCH_SCHEMA}.{table} ()")
    os.environ[gates.WAREHOUSE_URL_ENV] = gates.session_url(url, SCRATCH_SCHEMA, {})
    # Defining runs nothing, so it writes no results: a home of its own, removed afterwards
    # (one left in the temporary folder per run, before).
    scratch_home = None
    if gates.GX_HOME_ENV not in os.environ:
        scratch_home = tempfile.TemporaryDirectory(prefix="gx-define-")
        os.environ[gates.GX_HOME_ENV] = scratch_home.name
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    try:
        context = gx.get_context(mode="file", project_root_dir=str(GX.parent))
        if "warehouse" in context.data_sources.all():
            source = context.data_sources.get("warehouse")  # replacing it would drop its assets' ids
        else:
            source = context.data_sources.add_postgres(
                "warehouse", connection_string="${" + gates.WAREHOUSE_URL_ENV + "}"
            )
        for name in set(source.get_asset_names()) - set(TABLE_ASSETS) - set(QUERY_ASSETS):
            source.delete_asset(name)
        for name, (schema, table) in TABLE_ASSETS.items():
            _asset(source, name, "table", table_name=table, **({"schema_name": schema} if schema else {}))
        for name, query in QUERY_ASSETS.items():
            _asset(source, name, "query", query=" ".join(query.split()))

        for old in set(s.name for s in context.suites.all()) - {
            suite for _, suite, _ in VALIDATIONS.values()
        }:
            context.suites.delete(old)
        for old in set(v.name for v in context.validation_definitions.all()) - set(VALIDATIONS):
            context.validation_definitions.delete(old)
        definitions = []
        for vd_name, (asset, suite_name, expectations) in VALIDATIONS.items():
            suite = _suite(context, suite_name, [ExpectationConfiguration(**e) for e in expectations])
            batch = source.get_asset(asset).get_batch_definition("whole_table")
            definitions.append(
                context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=vd_name, id=_id("vd", vd_name), data=batch, suite=suite)
                )
            )
        context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=CHECKPOINT,
                id=_id("checkpoint", CHECKPOINT),
                validation_definitions=definitions,
                actions=[UpdateDataDocsAction(name="update_data_docs")],
                result_format={"result_format": "COMPLETE"},
            )
        )
    finally:
        with warehouse.transaction(url) as conn, conn.cursor() as cur:
            cur.execute(f"drop schema if exists {SCRATCH_SCHEMA} cascade")
        if scratch_home is not None:
            del os.environ[gates.GX_HOME_ENV]
            scratch_home.cleanup()


def _suite(context, name: str, expectations: list):
    """The suite as declared: kept (with its expectations' ids) when it is, else replaced."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    def plain(configurations) -> list[dict]:
        return [{k: v for k, v in c.to_json_dict().items() if k != "id"} for c in configurations]

    try:
        existing = context.suites.get(name)
        if plain(e.configuration for e in existing.expectations) == plain(expectations):
            return existing
    except DataContextError:
        pass
    suite = gx.ExpectationSuite(name=name, id=_id("suite", name), expectations=[])
    for configuration in expectations:
        suite.expectations.append(configuration.to_domain_obj())
    return context.suites.add_or_update(suite)


def _asset(source, name: str, kind: str, **fields):
    """The asset as declared: kept (with its id) when it is, made anew when it changed."""
    if name in source.get_asset_names():
        asset = source.get_asset(name)
        if asset.type == kind and all(getattr(asset, k) == v for k, v in fields.items()):
            return asset
        source.delete_asset(name)
    add = source.add_table_asset if kind == "table" else source.add_query_asset
    asset = add(name, **fields)
    asset.add_batch_definition_whole_table("whole_table")
    return asset


if __name__ == "__main__":
    write()
    print(f"wrote {len(VALIDATIONS)} validation definitions and the checkpoint {CHECKPOINT} into {GX}")
