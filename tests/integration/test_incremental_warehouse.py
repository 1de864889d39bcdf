"""The incremental warehouse gives the publication a full build gives, on the same data.

One warehouse for the module: the samples without the second day's parking file, plus a tax
file dated the day after day 1 (sent ahead of its day), built whole for day 1; then the parking
file loaded and an incremental build for a later day 2, chosen so that a market entity's
penalty leaves its publicity window in between (the date alone changes its score, and makes
the early tax file known); then a full rebuild of the same data and day. Every table of the
candidate schema, and every staging table kept from build to build, must be the same, row for
row, after the incremental build and after the full one.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import openpyxl
import psycopg2
import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, drop_samples, new_database, query
from tests.integration.publication_fixtures import export_dbt_project
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
from xinyong.publication import build, schemas
from xinyong.runtime import config

pytestmark = pytest.mark.integration

SECOND_DAY_PARKING = "parking_20261121.csv"
INCREMENTAL_COPY = "incremental_candidate"


def _edited_sample(
    landing, feed: str, day: datetime.date, row: int, cells_changed: dict[int, str], sample: str | None = None
) -> str:
    """A file of `feed` dated `day` with one row of the sample's (its `row`-th; `sample`, the
    file's name, where the feed has several), some cells changed (the key's kept); returns the
    row's first cell."""
    [sample] = [SAMPLES / sample] if sample else SAMPLES.glob(f"{feed}_*.*")
    if sample.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(sample, read_only=True).active
        lines = [",".join("" if v is None else str(v) for v in r) for r in sheet.iter_rows(values_only=True)]
    else:
        data = sample.read_bytes()
        try:  # UTF-8, with or without a BOM, else GB18030, as the contract allows
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        lines = text.splitlines()
    cells = lines[row].split(",")
    for position, value in cells_changed.items():
        cells[position] = value
    (landing / feed).mkdir(parents=True, exist_ok=True)
    (landing / feed / f"{feed}_{day:%Y%m%d}.csv").write_text(
        f"{lines[0]}\n{','.join(cells)}\n", encoding="utf-8"
    )
    return cells[0]


def _tax_grade(url: str, uscc: str) -> str:
    return query(url, "select tax_grade from staging.stg_tax_credit__ratings where uscc = %s", (uscc,))[0][0]


def _registration_status(url: str, uscc: str) -> str:
    return query(
        url, "select registration_status from staging.stg_entity_register__entities where uscc = %s", (uscc,)
    )[0][0]


def _tables(url: str, schema: str) -> list[str]:
    return [
        name
        for (name,) in query(
            url,
            "select table_name from information_schema.tables"
            " where table_schema = %s and table_type in ('BASE TABLE', 'VIEW') order by 1",
            (schema,),
        )
    ]


def _build(url: str, settings, label: str, day: str, full_refresh: bool = False) -> None:
    result = build.build_candidate(url, settings, label, day, full_refresh=full_refresh)
    assert result.success, result.failures


def _household_rating(url: str, village: str) -> list[tuple]:
    return query(
        url,
        "select rating, count(*) from intermediate.int_households_rated where village = %s group by 1 order by 1",
        (village,),
    )


def _profile(url: str, uscc: str) -> tuple:
    return query(
        url,
        f"select score, tier, active_penalty_count from {schemas.CANDIDATE}.entity_credit_profile where uscc = %s",
        (uscc,),
    )[0]


def _kept_tables(target: Path) -> list[tuple[str, str]]:
    """(schema, table) of every incremental model, from the build's manifest."""
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"].values()
    return sorted(
        (node["schema"], node["alias"])
        for node in nodes
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    )


def _kept_per_entity(target: Path) -> list[dict]:
    """The models kept per entity (strategy changed_entities), from the build's manifest: each
    one's name, key, the model holding its changed keys and that model's key column."""
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"].values()
    return [
        {
            "name": node["alias"],
            "key": node["config"]["unique_key"],
            "changed_in": node["config"]["meta"].get("changed_in", "int_entities_changed"),
            "changed_key": node["config"]["meta"]["changed_key"],
            "every_changed_row_differs": bool(node["config"]["meta"].get("every_changed_row_differs")),
        }
        for node in nodes
        if node["resource_type"] == "model"
        and node["config"].get("incremental_strategy") == "changed_entities"
    ]


KEPT_BEFORE_DAY_2 = "incremental_kept_before_day_2"


def _rows_of_changed_entities(url: str, model: dict) -> dict:
    """A kept model's rows of the changed entities after the daily build, against the copy taken
    before it (with each row's xmin, `written_by`): equal rows still written by the same
    transaction (kept), equal rows written again, and rows that are new or differ."""
    [(kept, rewritten, written)] = query(
        url,
        f"""select count(*) filter (where s.written_by = r.xmin::text),
                   count(*) filter (where s.written_by <> r.xmin::text),
                   count(*) filter (where s.written_by is null)
            from intermediate.{model["name"]} r
            left join {KEPT_BEFORE_DAY_2}.{model["name"]} s on to_jsonb(s) - 'written_by' = to_jsonb(r)
            where r.{model["key"]} in (select {model["changed_key"]} from intermediate.{model["changed_in"]})""",
    )
    return {
        "kept": kept,
        "rewritten_as_they_were": rewritten,
        "written": written,
        "every_changed_row_differs": model["every_changed_row_differs"],
    }


def _candidate_tables(url: str) -> list[str]:
    return [
        name
        for (name,) in query(
            url,
            "select table_name from information_schema.tables where table_schema = %s order by 1",
            (schemas.CANDIDATE,),
        )
    ]


DAY_1_KEPT, DAY_1_ROWS = "incremental_day_1", "incremental_day_1_rows"
VIEWS = "select table_name from information_schema.views where table_schema = %s order by 1"


ANALYZED_PARTIES, ANALYZED_PROFILES = (
    "intermediate.int_entities_resolved",
    "intermediate.int_entity_credit_profile",
)


def _analyses(url: str) -> dict[str, tuple[int, int]]:
    """Per intermediate table: how many times it was analyzed (by hand or by a build) and its
    rows written since the last time."""
    rows = query(
        url,
        "select schemaname || '.' || relname, analyze_count, n_mod_since_analyze from pg_stat_user_tables "
        "where schemaname = 'intermediate'",
    )
    return {name: (count, written) for name, count, written in rows}


def _differing_rows(url: str, schema: str, copy: str, table: str) -> int:
    """Rows of one table and not the other, each way (as multisets)."""
    return query(
        url,
        f"""select (select count(*) from (select * from {schema}.{table} except all
                                         select * from {copy}.{table}) a)
                 + (select count(*) from (select * from {copy}.{table} except all
                                          select * from {schema}.{table}) b)""",
    )[0][0]


def _store_rows(url: str, views: list[str], where: str) -> dict[str, int]:
    """Per published-rows store (dbt_project/macros/published_rows.sql), its rows `where`."""
    return {
        view: query(url, f"select count(*) from intermediate.{view}__rows where {where}")[0][0]
        for view in views
    }


STAGING_COPY = "incremental_staging"
PARTIES_COPY = "incremental_parties"
# the village of credit_household_20261120.xlsx's second household
REVISED_HOUSEHOLD_VILLAGE = "柚子村"
# the data source unit of penalty_20261120.csv, a subject of no feed's row
MOVED_PENALTY_SUBJECT = "11500115820C05051L"
# parking_20261120.csv's sixth record, re-sent naming the owner of its fourth: the owner it
# leaves (three records there) must be recomputed too, by nothing the new file names
REOWNED_PARKING_ROW, NEW_PARKING_OWNER = 6, "500115195111093141"


def _ran(target_dir) -> dict[str, list[str]]:
    """The nodes a build ran (run_results.json), each with the nodes it read (manifest.json)."""
    results = json.loads((target_dir / "run_results.json").read_text(encoding="utf-8"))
    nodes = json.loads((target_dir / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    return {
        r["unique_id"]: nodes[r["unique_id"]]["depends_on"].get("nodes", [])
        for r in results["results"]
        if r["unique_id"] in nodes  # not the exposures
    }


def _compiled_tests(target_dir) -> dict[str, str]:
    """Each data test's SQL as the build ran it (run_results.json), by test name."""
    results = json.loads((target_dir / "run_results.json").read_text(encoding="utf-8"))
    return {
        r["unique_id"].split(".")[2]: r["compiled_code"]
        for r in results["results"]
        if r["unique_id"].startswith("test.")
    }


@pytest.fixture(scope="module")
def three_builds(pg_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("incremental")
    with new_database(pg_server) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("XINYONG_HOME", str(home / "home"))
        env.setenv("XINYONG_LANDING", str(home / "landing"))
        env.setenv("XINYONG_WAREHOUSE_URL", url)
        env.setenv("XINYONG_EVALUATION_DATE", EVALUATION_DATE)
        env.setattr(build, "DBT_PROJECT", export_dbt_project(home))
        (home / "landing").mkdir()
        settings = config.load()
        day_1 = EVALUATION_DATE
        first_day = datetime.date.fromisoformat(day_1)
        # a tax file dated the day after day 1 (sent ahead of its day), loaded first, so that the
        # sample's tax file, known on day 1, has the greater file id: only the date can reveal it
        early_taxpayer = _edited_sample(
            settings.landing, "tax_credit", first_day + datetime.timedelta(days=1), 1, {3: "D", 4: "35"}
        )
        ingest.ingest_feed(contracts.load("tax_credit"), settings, url)
        drop_samples(
            settings.landing,
            [p.name for p in SAMPLES.iterdir() if p.name != SECOND_DAY_PARKING],
        )
        for contract in contracts.load_all().values():
            ingest.ingest_feed(contract, settings, url)

        _build(url, settings, "day1_full", day_1, full_refresh=True)
        grade_day_1 = _tax_grade(url, early_taxpayer)
        # the first market entity whose penalty leaves its publicity window after day 1
        [(uscc, window_end)] = query(
            url,
            """select p.uscc, min(p.publicity_end)
               from intermediate.int_penalties_windowed as p
               join intermediate.int_entities_resolved as e on e.uscc = p.uscc and e.is_market_entity
               where p.is_public and not p.is_natural_person
               group by p.uscc order by 2, 1 limit 1""",
        )
        day_2 = window_end.isoformat()
        before = _profile(url, uscc)
        entities = query(url, "select count(*) from intermediate.int_entities_tiered")[0][0]
        # day 1's candidate kept aside, as a swap keeps a publication, with a copy of its views' rows
        views = [name for (name,) in query(url, VIEWS, (schemas.CANDIDATE,))]
        query(url, f"create schema {DAY_1_ROWS}")
        for view in views:
            query(url, f"create table {DAY_1_ROWS}.{view} as select * from {schemas.CANDIDATE}.{view}")
        query(url, f"alter schema {schemas.CANDIDATE} rename to {DAY_1_KEPT}")

        drop_samples(settings.landing, [SECOND_DAY_PARKING])
        [parking] = ingest.ingest_feed(contracts.load("parking"), settings, url)
        assert parking.rows_loaded > 0, parking
        _edited_sample(
            settings.landing,
            "parking",
            first_day,
            REOWNED_PARKING_ROW,
            {3: NEW_PARKING_OWNER},
            sample="parking_20261120.csv",
        )
        [reowned_file] = ingest.ingest_feed(contracts.load("parking"), settings, url)
        assert reowned_file.rows_loaded == 1, reowned_file
        # with it, a tax file dated day 1 (new by its file id) and a register file dated before
        # the sample's (its row older than the version kept, which must stay)
        late_taxpayer = _edited_sample(settings.landing, "tax_credit", first_day, 2, {3: "D", 4: "35"})
        older_entity = _edited_sample(
            settings.landing, "entity_register", first_day - datetime.timedelta(days=3), 1, {5: "注销"}
        )
        # and a penalty decision (its window long past) corrected to name another subject, a
        # party no feed named before: the subject it named before must lose the mention
        _edited_sample(settings.landing, "penalty", first_day, 3, {2: MOVED_PENALTY_SUBJECT})
        # and a household the village committee now rates 差 (from 优): rated again, its town's
        # and village's shares change
        _edited_sample(settings.landing, "credit_household", first_day, 2, {10: "差"})
        rating_before = _household_rating(url, REVISED_HOUSEHOLD_VILLAGE)
        for feed in ("tax_credit", "entity_register", "penalty", "credit_household"):
            [loaded] = ingest.ingest_feed(contracts.load(feed), settings, url)
            assert loaded.rows_loaded == 1, loaded
        kept_before = (_tax_grade(url, late_taxpayer), _registration_status(url, older_entity))
        # a table's own autovacuum parameters count: the tax feed's make any write worth an ANALYZE
        query(
            url,
            "alter table raw.tax_credit set "
            "(autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0)",
        )
        for _name, definition in _unique_indexes(url):
            query(url, f"drop index intermediate.{definition.split()[3]}")
        assert _unique_indexes(url) == []
        kept_per_entity = _kept_per_entity(settings.home / "dbt" / "day1_full")
        query(url, f"create schema {KEPT_BEFORE_DAY_2}")
        for model in kept_per_entity:
            query(
                url,
                f"create table {KEPT_BEFORE_DAY_2}.{model['name']} as "
                f"select t.*, t.xmin::text as written_by from intermediate.{model['name']} t",
            )
        # two kept tables with fresh statistics, as a steady state leaves them (the full build's
        # own writes count as made after its ANALYZE); the parties' own parameters make any
        # write worth one, and day 2 adds a party (the moved penalty's new subject)
        query(url, f"analyze {ANALYZED_PARTIES}, {ANALYZED_PROFILES}")
        query(
            url,
            f"alter table {ANALYZED_PARTIES} set "
            "(autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0)",
        )
        analyses_before_day_2 = _analyses(url)
        _build(url, settings, "day2_incremental", day_2)
        analyses_after_day_2 = _analyses(url)
        rows_of_changed_entities = {
            model["name"]: _rows_of_changed_entities(url, model) for model in kept_per_entity
        }
        unique_indexes_after_day_2 = _unique_indexes(url)
        unanalyzed_writes = dict(
            query(
                url,
                "select relname, n_mod_since_analyze from pg_stat_user_tables "
                "where schemaname = 'raw' and relname in ('parking', 'tax_credit', 'penalty')",
            )
        )
        changed = query(url, "select count(*) from intermediate.int_entities_changed where uscc is not null")[
            0
        ][0]
        rule_hit_entities = query(url, "select count(distinct uscc) from intermediate.int_entity_rule_hits")[
            0
        ][0]
        after = _profile(url, uscc)
        ratings = (rating_before, _household_rating(url, REVISED_HOUSEHOLD_VILLAGE))
        parties_touched = query(url, "select count(*) from intermediate.int_parties_touched")[0][0]
        [(superseded_owners, households_touched)] = query(
            url,
            "select (select count(*) from intermediate.int_parking_owners_superseded),"
            " (select count(*) from intermediate.int_households_touched)",
        )
        parties = query(url, "select count(*) from intermediate.int_entities_resolved")[0][0]
        grade_day_2 = _tax_grade(url, early_taxpayer)
        kept_after = (_tax_grade(url, late_taxpayer), _registration_status(url, older_entity))
        tables = _candidate_tables(url)
        staging_tables = _tables(url, "staging")
        day_1_views_after_day_2 = {view: _differing_rows(url, DAY_1_KEPT, DAY_1_ROWS, view) for view in views}
        closed_by_day_2 = _store_rows(url, views, "valid_to is not null")
        query(url, f"drop schema {DAY_1_KEPT} cascade")  # no schema shows day 1's rows any more
        for copy, schema, names in (
            (INCREMENTAL_COPY, schemas.CANDIDATE, tables),
            (STAGING_COPY, "staging", staging_tables),
            (PARTIES_COPY, "intermediate", ["int_entities_resolved"]),
        ):
            query(url, f"drop schema if exists {copy} cascade; create schema {copy}")
            for table in names:
                query(url, f"create table {copy}.{table} as select * from {schema}.{table}")

        _build(url, settings, "day2_full", day_2, full_refresh=True)
        [(full_version,)] = query(url, "select max(version) from intermediate.build_versions")
        yield {
            "views": views,
            "day_1_views_after_day_2": day_1_views_after_day_2,
            "closed_by_day_2": closed_by_day_2,
            "closed_after_full": _store_rows(url, views, "valid_to is not null"),
            "added_by_full": _store_rows(url, views, f"valid_from = {full_version}"),
            "tests_compiled": {
                label: _compiled_tests(settings.home / "dbt" / label)
                for label in ("day2_incremental", "day2_full")
            },
            "ran": {
                label: _ran(settings.home / "dbt" / label)
                for label in ("day1_full", "day2_incremental", "day2_full")
            },
            "dbt_log": {
                label: (settings.home / "dbt" / label / "logs" / "dbt.log").read_text(encoding="utf-8")
                for label in ("day1_full", "day2_incremental", "day2_full")
            },
            "url": url,
            "uscc": uscc,
            "day_1": day_1,
            "day_2": day_2,
            "before": before,
            "after": after,
            "entities": entities,
            "changed": changed,
            "rule_hit_entities": rule_hit_entities,
            "parties_touched": (parties_touched, parties),
            "superseded_owners": superseded_owners,
            "households_touched": households_touched,
            "household_ratings": ratings,
            "unique_indexes_after_day_2": unique_indexes_after_day_2,
            "incremental_tables": tables,
            "kept_tables": _kept_tables(settings.home / "dbt" / "day2_full"),
            "staging_tables": staging_tables,
            "early_tax_grades": (grade_day_1, grade_day_2),
            "kept_versions": (kept_before, kept_after),
            "unanalyzed_writes": unanalyzed_writes,
            "analyses": (analyses_before_day_2, analyses_after_day_2),
            "rows_of_changed_entities": rows_of_changed_entities,
        }


def test_the_date_alone_changes_a_score_between_the_builds(three_builds):
    assert datetime.date.fromisoformat(three_builds["day_2"]) > datetime.date.fromisoformat(
        three_builds["day_1"]
    )
    (score_1, tier_1, public_1), (score_2, tier_2, public_2) = three_builds["before"], three_builds["after"]
    assert public_2 < public_1, three_builds
    assert (score_2, tier_2) != (score_1, tier_1), three_builds


def test_a_new_day_reuses_dbts_parse_of_the_project(three_builds):
    # the date reaches dbt outside --vars, and the saved parse follows the builds
    assert "Starting full parse" in three_builds["dbt_log"]["day1_full"]
    day_2 = three_builds["dbt_log"]["day2_incremental"]
    assert "Nothing changed, skipping partial parsing" in day_2
    assert "Starting full parse" not in day_2 and "Unable to do partial parsing" not in day_2


def test_a_daily_build_analyzes_only_the_raw_tables_written_past_autovacuums_threshold(three_builds):
    day_1, day_2 = three_builds["dbt_log"]["day1_full"], three_builds["dbt_log"]["day2_incremental"]
    assert "analyze raw.penalty;" in day_1 and "analyze raw.parking;" in day_1  # never analyzed
    # day 2 brought a parking, a tax, a register and a penalty file of one row each, and nothing
    # else: the tax table's own parameters make one row enough; one parking row of 31, or one
    # penalty row of 13, is not (50 + 10 %), so those tables stay written and not analyzed
    assert "analyze raw.tax_credit;" in day_2
    assert "analyze raw.parking;" not in day_2 and "analyze raw.penalty;" not in day_2
    writes = three_builds["unanalyzed_writes"]
    assert writes["parking"] >= 1 and writes["penalty"] == 1 and writes["tax_credit"] == 0, writes


def test_a_daily_build_analyzes_a_kept_table_only_when_its_writes_pass_autovacuums_threshold(three_builds):
    before, after = three_builds["analyses"]
    # the profiles' day-2 rows (a handful, the changed entities') are written, below 50 + 10 %
    assert after[ANALYZED_PROFILES][1] > 0, after[ANALYZED_PROFILES]
    assert after[ANALYZED_PROFILES][0] == before[ANALYZED_PROFILES][0]
    # the parties' new row, written in the model's own transaction, passes their threshold of 0
    assert after[ANALYZED_PARTIES][0] == before[ANALYZED_PARTIES][0] + 1
    # every intermediate model has statistics, those the build created anew too (a new
    # table's counts start again)
    built = [
        "intermediate." + node.rsplit(".", 1)[-1]
        for node in three_builds["ran"]["day2_incremental"]
        if node.startswith("model.")
    ]
    analyzed = {name: after[name][0] for name in built if name in after}
    assert len(analyzed) > 10 and min(analyzed.values()) >= 1, analyzed


def test_a_daily_build_leaves_the_policy_the_last_build_loaded(three_builds):
    ran = three_builds["ran"]
    seeds = {node for node in ran["day1_full"] if node.startswith("seed.")}
    seed_tests = {node for node, reads in ran["day1_full"].items() if reads and set(reads) <= seeds}
    mixed_tests = {
        node
        for node, reads in ran["day1_full"].items()
        if node.startswith("test.") and set(reads) & seeds and not set(reads) <= seeds
    }
    assert len(seeds) == 20 and len(seed_tests) >= 40 and len(mixed_tests) >= 5, (seeds, mixed_tests)
    # unchanged policy: neither loaded nor tested again; a test that also reads a model still runs
    assert not (seeds | seed_tests) & set(ran["day2_incremental"])
    assert mixed_tests <= set(ran["day2_incremental"])
    assert seeds | seed_tests | mixed_tests <= set(ran["day2_full"])  # --full-refresh loads all


def test_a_full_refresh_drops_each_kept_table_before_building_it_again(three_builds):
    # dbt's own --full-refresh builds the new table beside the old and swaps them (`__dbt_backup`):
    # at city scale the old copies are the disk the rebuild lacks
    kept = three_builds["kept_tables"]
    assert len(kept) >= 15 and ("intermediate", "int_parking_records_merged") in kept, kept
    full, daily = three_builds["dbt_log"]["day2_full"], three_builds["dbt_log"]["day2_incremental"]
    for schema, table in kept:
        dropped = re.compile(f'drop table if exists "[^"]+"."{schema}"."{table}" cascade;')
        assert dropped.search(full) and f"{table}__dbt_backup" not in full, table
        assert not dropped.search(daily), table  # a daily build keeps them


def test_the_incremental_build_recomputed_only_the_changed_entities(three_builds):
    assert 0 < three_builds["changed"] < three_builds["entities"], three_builds
    # ... while every entity is still scored
    assert three_builds["rule_hit_entities"] == three_builds["entities"]


def test_a_daily_build_rewrites_only_the_kept_rows_that_differ(three_builds):
    rows = three_builds["rows_of_changed_entities"]
    compared = {name: r for name, r in rows.items() if not r["every_changed_row_differs"]}
    assert compared and len(compared) < len(rows), rows
    # a changed entity's row that came out as it was is left as it was ...
    assert all(r["rewritten_as_they_were"] == 0 for r in compared.values()), rows
    assert sum(r["kept"] for r in compared.values()) > 0, rows
    # ... and one that differs is written
    assert sum(r["written"] for r in compared.values()) > 0, rows
    # a model that declares its touched rows all differ rewrites them without comparing
    assert all(r["kept"] == 0 for r in rows.values() if r["every_changed_row_differs"]), rows


def _differing(url: str, copy: str, schema: str, tables: list[str]) -> dict[str, tuple[int, int]]:
    """Per table, the rows only the incremental build's copy has and those only the full build's has."""
    differing = {}
    for table in tables:
        # no column is per run: every one is compared (by name: a kept table's columns may be
        # in another order than a freshly created one's)
        columns = ", ".join(
            f'"{c}"'
            for (c,) in query(
                url,
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by 1",
                (schema, table),
            )
        )
        only_incremental, only_full = (
            query(
                url,
                f"select count(*) from (select {columns} from {a}.{table}"
                f" except all select {columns} from {b}.{table}) as d",
            )[0][0]
            for a, b in ((copy, schema), (schema, copy))
        )
        if only_incremental or only_full:
            differing[table] = (only_incremental, only_full)
    return differing


def test_incremental_and_full_builds_publish_the_same_tables(three_builds):
    url = three_builds["url"]
    tables = _candidate_tables(url)
    assert tables == three_builds["incremental_tables"]
    assert {"entity_credit_profile", "credit_score_explanation", "parking_credit"} <= set(tables)
    assert _differing(url, INCREMENTAL_COPY, schemas.CANDIDATE, tables) == {}


def test_a_kept_publication_shows_its_builds_rows_while_later_builds_change_them(three_builds):
    views = three_builds["views"]
    assert {"credit_score_explanation", "domain_supervision", "rural_credit_household"} <= set(views)
    # day 2 changed rows of each (closed their day-1 versions); day 1's views did not move
    assert all(three_builds["closed_by_day_2"][view] > 0 for view in views), three_builds["closed_by_day_2"]
    assert three_builds["day_1_views_after_day_2"] == dict.fromkeys(views, 0)


def test_a_full_rebuild_versions_no_row_the_incremental_build_left_right(three_builds):
    # with day 1's schema gone, no closed row was kept; and the full rebuild of day 2's data
    # found every row as the incremental build had left it, so it added none
    assert three_builds["closed_after_full"] == dict.fromkeys(three_builds["views"], 0)
    assert three_builds["added_by_full"] == dict.fromkeys(three_builds["views"], 0)


def test_the_merge_names_the_owners_its_re_sent_parking_records_had(three_builds):
    """Two records re-sent on day 2 (the sample's second file, and the one naming another
    owner): the owners they had, and no others, are recomputed for them. The tables above are
    equal only if the owner left behind was recomputed."""
    assert three_builds["superseded_owners"] == 2


def test_incremental_and_full_builds_resolve_the_same_parties(three_builds):
    """The kept parties, row for row: the corrected penalty's new subject gained a row, and its old
    subject's mentions are counted again, on the daily build as on the full one."""
    touched, parties = three_builds["parties_touched"]
    assert 0 < touched < parties / 4, three_builds["parties_touched"]  # the day's few, not every party
    url = three_builds["url"]
    moved_to = query(
        url,
        f"select feeds from {PARTIES_COPY}.int_entities_resolved where uscc = %s",
        (MOVED_PENALTY_SUBJECT,),
    )
    assert moved_to == [("penalty",)]
    assert _differing(url, PARTIES_COPY, "intermediate", ["int_entities_resolved"]) == {}


def _unique_indexes(url: str) -> list[tuple[str, str]]:
    return query(
        url,
        """select c.relname, pg_get_indexdef(i.indexrelid) from pg_index as i
           join pg_class as c on c.oid = i.indrelid
           join pg_namespace as n on n.oid = c.relnamespace
           where n.nspname = 'intermediate' and i.indisunique
               and c.relname in ('int_entities_resolved', 'int_households_rated')
           order by 1""",
    )


def test_the_kept_parties_and_households_get_their_unique_index_back(three_builds):
    # dropped before the daily build, as on a table that turned incremental in place (dbt's
    # `indexes` would not make it again); after the full refresh, the index is made while the
    # replaced table still holds the old one's name
    for indexed in (three_builds["unique_indexes_after_day_2"], _unique_indexes(three_builds["url"])):
        assert [name for name, _ in indexed] == ["int_entities_resolved", "int_households_rated"], indexed
        assert all(definition.endswith("(entity_key)") for _, definition in indexed), indexed


def test_a_daily_build_rates_a_revised_household_again(three_builds):
    # int_households_rated is kept: the household's new rating must replace its old one (the
    # candidate's rural tables, compared with the full build's above, are built from it)
    before, after = three_builds["household_ratings"]
    assert sum(n for _, n in before) == sum(n for _, n in after)
    assert before != after, before
    # and only it: the persons other feeds touched (a parking owner, a penalty's subject) are not
    # rated again (int_parties_touched named more)
    assert three_builds["households_touched"] == 1
    assert three_builds["parties_touched"][0] > 1


def test_a_file_sent_ahead_of_its_day_counts_from_that_day(three_builds):
    # loaded before day 1's build (before the tax file day 1 knows), dated after day 1: the kept
    # staging table took it on day 2, when no tax file was new and only the date had moved
    assert three_builds["early_tax_grades"] == ("A", "D")


def test_a_daily_build_takes_a_new_files_versions_and_keeps_newer_ones(three_builds):
    # day 1's tax file is new by its id; the register file is older than the version kept
    assert three_builds["kept_versions"] == (("A", "存续"), ("D", "存续"))


def test_a_build_marks_the_state_until_it_ends(three_builds):
    day_2 = three_builds["dbt_log"]["day2_incremental"]
    assert "set running_invocation = '" in day_2
    assert query(three_builds["url"], "select running_invocation from intermediate.build_state") == [(None,)]


def test_incremental_and_full_builds_keep_the_same_staging_tables(three_builds):
    url = three_builds["url"]
    tables = _tables(url, "staging")
    assert tables == three_builds["staging_tables"]
    assert {"stg_entity_register__entities", "stg_tax_credit__ratings", "stg_penalty__decisions"} <= set(
        tables
    )
    assert _differing(url, STAGING_COPY, "staging", tables) == {}


NARROWED = '"int_entities_changed"'
# singular tests narrowed by macro changed_entities_only (macros/tests/tests_on_changed_rows.sql)
PER_ENTITY_SINGULAR = {
    "assert_explanations_add_up_to_score",
    "assert_published_fields_present",
    "assert_published_uscc_valid",
    "assert_tiers_follow_policy_thresholds",
}


def test_the_incremental_build_tests_only_the_changed_entities_rows(three_builds):
    incremental, full = (three_builds["tests_compiled"][k] for k in ("day2_incremental", "day2_full"))
    # every test but those of the policy alone (test_a_daily_build_leaves_the_policy_...)
    assert incremental.keys() < full.keys() and len(full) - len(incremental) < 50
    narrowed = {name for name, sql in incremental.items() if NARROWED in sql}
    # per-row and per-entity tests of the kept models and of the marts that copy them ...
    assert {
        "unique_int_entities_tiered_entity_key",
        "column_values_int_entity_rule_hits",
        "unique_entity_credit_profile_uscc",
        "relationships_credit_score_explanation_entity_key__entity_key__ref_entity_credit_profile_",
    } <= narrowed, sorted(narrowed)
    # ... and the singular tests of one entity's rows in the marts that copy them ...
    assert PER_ENTITY_SINGULAR <= narrowed, sorted(narrowed)
    # ... not a test that needs every row, nor a model rebuilt whole, nor a mart that is no copy
    assert not any(name.startswith(("not_empty_", "assert_")) for name in narrowed - PER_ENTITY_SINGULAR), (
        sorted(narrowed)
    )
    whole = {"column_values_int_entities_resolved", "column_values_parking_credit"}
    assert whole <= incremental.keys() and not whole & narrowed
    # the merged parking records: the records of the files merged since the last build
    parking = {name for name, sql in incremental.items() if "file_id >" in sql}
    assert {
        "column_values_int_parking_records_merged",
        "unique_contract_key_int_parking_records_merged_parking",
    } <= parking, sorted(parking)
    # a full build tests every row
    assert not [name for name, sql in full.items() if NARROWED in sql or "file_id >" in sql]


def test_a_narrowed_uniqueness_test_still_catches_a_changed_entitys_duplicate(three_builds):
    """The narrowed test as the incremental build ran it, on a kept table given two duplicates:
    one of an entity in the changed set (caught) and one of an entity outside it, whose rows the
    strategy never rewrites on such a build (left to the build that last changed it)."""
    sql = three_builds["tests_compiled"]["day2_incremental"]["unique_int_entities_tiered_entity_key"]
    conn = psycopg2.connect(three_builds["url"])
    try:
        with conn.cursor() as cur:
            cur.execute("select entity_key from intermediate.int_entities_tiered order by entity_key limit 2")
            [(changed,), (unchanged,)] = cur.fetchall()
            cur.execute("delete from intermediate.int_entities_changed where entity_key <> %s", (changed,))
            cur.execute(
                """insert into intermediate.int_entities_tiered
                   select * from intermediate.int_entities_tiered where entity_key in (%s, %s)""",
                (changed, unchanged),
            )
            cur.execute(f"select unique_field from ({sql}) as failures")
            assert cur.fetchall() == [(changed,)]
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("model", ["int_entities_resolved", "int_households_rated"])
def test_a_kept_model_refuses_a_duplicate_entity_by_its_unique_index(three_builds, model):
    """No dbt test checks these keys' uniqueness: the index the post-hook keeps refuses a duplicate."""
    conn = psycopg2.connect(three_builds["url"])
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute(f"insert into intermediate.{model} select * from intermediate.{model} limit 1")
    finally:
        conn.rollback()
        conn.close()


def test_a_narrowed_singular_test_still_catches_a_changed_entitys_broken_score(three_builds):
    """assert_explanations_add_up_to_score as the incremental build ran it, on a candidate whose
    score no longer adds up for two entities: one in the changed set (caught), one outside it."""
    sql = three_builds["tests_compiled"]["day2_incremental"]["assert_explanations_add_up_to_score"]
    conn = psycopg2.connect(three_builds["url"])
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"select entity_key from {schemas.CANDIDATE}.entity_credit_profile order by entity_key limit 2"
            )
            [(changed,), (unchanged,)] = cur.fetchall()
            cur.execute("delete from intermediate.int_entities_changed where entity_key <> %s", (changed,))
            cur.execute(
                f"update {schemas.CANDIDATE}.entity_credit_profile set score = score + 1 where entity_key in (%s, %s)",
                (changed, unchanged),
            )
            cur.execute(f"select entity_key from ({sql}) as failures")
            assert cur.fetchall() == [(changed,)]
    finally:
        conn.rollback()
        conn.close()


def test_a_build_that_never_ended_makes_the_next_recompute_everything(loaded, dbt_project):
    """A build killed after its start runs no on-run-end: it may have committed some kept tables
    and not others, so the state it found vouches for nothing and the next build recomputes
    every entity (its mark, left on the state, says so)."""

    def written() -> set[str]:
        return {
            x for (x,) in query(loaded, "select distinct xmin::text from intermediate.int_entities_tiered")
        }

    pipeline.build_candidate(EVALUATION_DATE)  # raises when dbt fails
    first = written()
    pipeline.build_candidate(EVALUATION_DATE)
    assert written() == first  # nothing changed: the kept rows stay
    query(loaded, "update intermediate.build_state set running_invocation = 'a-build-that-was-killed'")
    pipeline.build_candidate(EVALUATION_DATE)
    assert not written() & first  # every row written again
    assert query(loaded, "select running_invocation from intermediate.build_state") == [(None,)]


def test_a_changed_macro_recomputes_every_entity(loaded, dbt_project):
    """dbt checksums model and seed files, not the macros they call: a release that changes a
    macro (a scoring date rule, the latest-version rule) must not keep rows the old SQL wrote."""

    def rewritten() -> int:
        # rows written since the previous call (a kept row keeps its xmin)
        [(count,)] = query(
            loaded,
            "select count(*) filter (where xmin::text <> all(coalesce(%s, array[]::text[]))) "
            "from intermediate.int_entities_tiered",
            (seen or None,),
        )
        seen[:] = [
            x for (x,) in query(loaded, "select distinct xmin::text from intermediate.int_entities_tiered")
        ]
        return count

    def policy_loads() -> list[str]:
        return [x for (x,) in query(loaded, "select distinct xmin::text from policy.scoring_rules")]

    seen: list[str] = []
    pipeline.build_candidate(EVALUATION_DATE)  # raises when dbt fails
    entities = rewritten()
    assert entities > 0
    policy = policy_loads()
    pipeline.build_candidate(EVALUATION_DATE)  # raises when dbt fails
    assert rewritten() == 0  # nothing changed: the kept rows stay
    assert policy_loads() == policy  # nor the seeds: the policy is as the last build loaded it
    macro = dbt_project / "macros" / "latest_version.sql"
    macro.write_text(macro.read_text(encoding="utf-8") + "\n{# a release's change #}\n", encoding="utf-8")
    pipeline.build_candidate(EVALUATION_DATE)  # raises when dbt fails
    assert rewritten() == entities
    assert policy_loads() != policy  # a release loads the seeds again


def test_a_kept_publication_keeps_its_rows_through_later_builds(loaded, dbt_project):
    """A closed row stays while a schema built to show it exists: here across two later builds,
    the second of which deletes the closed rows no schema shows (macros/published_rows.sql)."""
    later = (datetime.date.fromisoformat(EVALUATION_DATE) + datetime.timedelta(days=3 * 365)).isoformat()
    pipeline.build_candidate(EVALUATION_DATE)  # raises when dbt fails
    views = [name for (name,) in query(loaded, VIEWS, (schemas.CANDIDATE,))]
    query(loaded, f"create schema {DAY_1_ROWS}")
    for view in views:
        query(loaded, f"create table {DAY_1_ROWS}.{view} as select * from {schemas.CANDIDATE}.{view}")
    query(loaded, f"alter schema {schemas.CANDIDATE} rename to {DAY_1_KEPT}")
    pipeline.build_candidate(later)  # three years on: windows end, registrations age
    closed = _store_rows(loaded, views, "valid_to is not null")
    assert closed["credit_score_explanation"] > 0, closed
    pipeline.build_candidate(later)
    assert _store_rows(loaded, views, "valid_to is not null") == closed
    assert {view: _differing_rows(loaded, DAY_1_KEPT, DAY_1_ROWS, view) for view in views} == dict.fromkeys(
        views, 0
    )


def test_a_store_whose_columns_changed_is_replaced_and_the_old_one_kept_while_read(loaded, dbt_project):
    """A kept model's columns changed (here: its store gained one): a new store is built and
    swapped in by name; the kept schema's view goes on reading the old one, which is dropped
    once no view reads it (macros/published_rows.sql)."""
    mart = "rural_credit_household"

    def retired() -> list[str]:
        return [
            name
            for (name,) in query(
                loaded,
                "select relname from pg_class where relname like %s",
                (f"{mart}\\_\\_rows\\_\\_retired\\_%",),
            )
        ]

    pipeline.build_candidate(EVALUATION_DATE)  # raises when dbt fails
    query(loaded, f"create schema {DAY_1_ROWS}")
    query(loaded, f"create table {DAY_1_ROWS}.{mart} as select * from {schemas.CANDIDATE}.{mart}")
    query(loaded, f"alter schema {schemas.CANDIDATE} rename to {DAY_1_KEPT}")
    query(loaded, f"alter table intermediate.{mart}__rows add column stale integer")
    pipeline.build_candidate(EVALUATION_DATE)
    assert len(retired()) == 1
    columns = query(
        loaded,
        "select column_name from information_schema.columns"
        " where table_schema = 'intermediate' and table_name = %s",
        (f"{mart}__rows",),
    )
    assert ("stale",) not in columns
    assert _differing_rows(loaded, DAY_1_KEPT, DAY_1_ROWS, mart) == 0  # the old store, still read
    assert _differing_rows(loaded, schemas.CANDIDATE, DAY_1_ROWS, mart) == 0  # the new one: same data
    query(loaded, f"drop schema {DAY_1_KEPT} cascade")
    pipeline.build_candidate(EVALUATION_DATE)
    assert retired() == []
