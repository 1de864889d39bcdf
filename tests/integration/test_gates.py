"""The gates take their bounds from policy and their inputs as arguments, and keep their
state under XINYONG_HOME; the invariants inside one model are dbt tests reading the seeds."""

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import EVALUATION_DATE, query
from xinyong.app import pipeline
from xinyong.publication import build, gates, schemas

pytestmark = pytest.mark.integration
DBT_VARS = json.dumps({"evaluation_date": EVALUATION_DATE, "publish_schema": schemas.CANDIDATE})


def dbt(settings, url: str, *args: str) -> dict[str, tuple[str, int]]:
    """Run dbt on the test's project copy; {node name: (status, failing rows)}."""
    result = build.run_dbt([*args, "--vars", DBT_VARS], url, settings, settings.home / "dbt" / "test")
    assert result.exception is None, result.exception
    return {
        r.node.name: (str(r.status), r.failures or 0)
        for r in result.result
        if r.node.resource_type in ("seed", "test")
    }


def edit_seed(project: Path, seed: str, old: str, new: str) -> None:
    path = project / "seeds" / f"{seed}.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_penalty_gate_follows_the_seed_maximum_and_the_date_it_is_given(loaded, dbt_project, settings):
    pipeline.build_candidate(EVALUATION_DATE)
    gate = gates.run_gate(loaded, EVALUATION_DATE)
    assert "candidate_penalty_disclosure" in {v["validation"] for v in gate.validations} and gate.success
    disclosed = query(loaded, f"select count(*) from {schemas.CANDIDATE}.penalty_disclosure")[0][0]
    # policy changes the maximum for 一般 to one month after the candidate was built: the gate
    # follows the seed (a literal 12 would still pass every one of these)
    edit_seed(dbt_project, "publicity_periods", "一般,3,12,", "一般,1,1,")
    assert dbt(settings, loaded, "seed", "--select", "publicity_periods")["publicity_periods"][0] == "success"
    overdue = query(
        loaded,
        f"""select count(*) from {schemas.CANDIDATE}.penalty_disclosure
                                where dishonesty_level = '一般'
                                  and decision_date + interval '1 month' <= date '{EVALUATION_DATE}'""",
    )[0][0]
    assert 0 < overdue < disclosed
    gate = gates.run_gate(loaded, EVALUATION_DATE)
    [failure] = [f for f in gate.failures if f["validation"] == "candidate_penalty_disclosure"]
    assert failure["unexpected_count"] == overdue and not failure["approvable"]
    assert {e["problem"] for e in failure["examples"]} == {"window ended"}
    # the evaluation date is the argument, not the publication row's (2026-11-22)
    gate = gates.run_gate(loaded, "2000-01-01")
    [failure] = [f for f in gate.failures if f["validation"] == "candidate_penalty_disclosure"]
    assert failure["unexpected_count"] == disclosed
    assert {e["problem"] for e in failure["examples"]} == {"decision after the evaluation date"}
    assert gate.as_dict()["evaluation_date"] == "2000-01-01"


def test_the_gate_checks_the_schema_it_is_given(loaded):
    pipeline.build_candidate(EVALUATION_DATE)
    query(loaded, f"alter schema {schemas.CANDIDATE} rename to candidate_elsewhere")
    gate = gates.run_gate(loaded, EVALUATION_DATE, candidate_schema="candidate_elsewhere")
    assert gate.success and not gate.skipped, gate.summary()
    assert {"candidate_tier_shift", "candidate_schema", "candidate_penalty_disclosure"} <= {
        v["validation"] for v in gate.validations
    }
    # the default candidate is gone: its validations are skipped or fail, none passes on other data
    gate = gates.run_gate(loaded, EVALUATION_DATE)
    assert {s["validation"] for s in gate.skipped} >= {
        "candidate_tier_shift",
        "candidate_penalty_disclosure",
        "candidate_commitment_status",
    }
    assert [f["validation"] for f in gate.failures] == ["candidate_schema"]


def files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_gate_results_and_data_docs_live_under_each_home(warehouse_url, tmp_path, monkeypatch):
    uncommitted = gates.GX_ROOT / "gx" / "uncommitted"
    before = files(uncommitted)
    for name in ("home_a", "home_b"):
        home = tmp_path / name
        monkeypatch.setenv("XINYONG_HOME", str(home))
        gate = gates.run_gate(warehouse_url, EVALUATION_DATE)  # no candidate: some skipped, one fails
        assert gate.validations and gate.results == str(home / "gx" / "validations")
        assert gate.data_docs.startswith((home / "gx" / "data_docs").as_uri())
        results = {p for p in files(home / "gx" / "validations") if p.suffix == ".json"}
        assert len(results) == len(gate.validations)  # one result per validation run, only this home's
        for v in gate.validations:
            assert v["data_docs"].startswith((home / "gx").as_uri()), v
    assert files(uncommitted) == before
    assert files(tmp_path / "home_a") and files(tmp_path / "home_b")


def test_dbt_tests_take_score_and_tier_bounds_from_the_seeds(loaded, dbt_project, settings):
    pipeline.build_candidate(EVALUATION_DATE)
    # an empty published table is dbt's to refuse (it was a GX row count before): the build
    # runs these tests, so an empty one stops the build before the gate
    emptiness = ["not_empty_entity_credit_profile_", "not_empty_credit_score_explanation_"]
    assert dbt(settings, loaded, "test", "--select", "test_name:not_empty") == {
        t: ("pass", 0) for t in emptiness
    }
    # the mart is a view over kept rows (macros/published_rows.sql): an empty table in its place
    explanation = f"{schemas.CANDIDATE}.credit_score_explanation"
    query(
        loaded,
        f"create table {explanation}_empty as select * from {explanation} where false;"
        f" drop view {explanation};"
        f" alter table {explanation}_empty rename to credit_score_explanation",
    )
    assert dbt(settings, loaded, "test", "--select", "test_name:not_empty") == {
        emptiness[0]: ("pass", 0),
        emptiness[1]: ("fail", 1),
    }
    new_tests = [
        "assert_scores_within_floor_and_ceiling",
        "assert_tiers_follow_policy_thresholds",
        "assert_published_fields_present",
        "assert_published_uscc_valid",
        "assert_penalty_disclosure_has_no_personal_columns",
    ]
    assert dbt(settings, loaded, "test", "--select", *new_tests) == {t: ("pass", 0) for t in new_tests}
    # a lower ceiling and a higher threshold for A, in the seeds only (the marts keep the old ones)
    edit_seed(dbt_project, "scoring_rules", "SCORE_CEILING,bound,1000,", "SCORE_CEILING,bound,750,")
    edit_seed(dbt_project, "credit_tiers", "A,诚信,800,", "A,诚信,2000,")
    seeded = dbt(settings, loaded, "seed", "--select", "scoring_rules", "credit_tiers")
    assert {status for status, _ in seeded.values()} == {"success"}
    above = query(
        loaded, f"select count(*) from {schemas.CANDIDATE}.entity_credit_profile where score > 750"
    )[0][0]
    top = query(
        loaded,
        f"""select count(*) from {schemas.CANDIDATE}.entity_credit_profile
                            where tier = 'A' and not tier_overridden""",
    )[0][0]
    assert above and top
    outcome = dbt(settings, loaded, "test", "--select", *new_tests[:2])
    assert outcome == {
        "assert_scores_within_floor_and_ceiling": ("fail", above),
        "assert_tiers_follow_policy_thresholds": ("fail", top),
    }


def test_one_test_checks_a_models_columns_and_the_failure_names_them(loaded, settings):
    """column_values: a model's not_null and accepted_values checks are one dbt node; a failure
    counts the failing values and the build's message names the model and the columns."""
    pipeline.build_candidate(EVALUATION_DATE)
    select = ["--select", "test_name:column_values,entity_credit_profile"]
    [name] = dbt(settings, loaded, "test", *select)
    assert name == "column_values_entity_credit_profile"
    [first, second] = [
        row[0]
        for row in query(loaded, f"select entity_key from {schemas.CANDIDATE}.entity_credit_profile limit 2")
    ]
    query(
        loaded,
        f"update {schemas.CANDIDATE}.entity_credit_profile set tier = 'Z' where entity_key = '{first}'",
    )
    query(
        loaded,
        f"update {schemas.CANDIDATE}.entity_credit_profile set score = null where entity_key = '{second}'",
    )
    result = build.run_dbt(
        ["test", *select, "--vars", DBT_VARS], loaded, settings, settings.home / "dbt" / "test"
    )
    [failed] = [r for r in result.result if r.node.resource_type == "test"]
    assert (str(failed.status), failed.failures) == ("fail", 2)
    assert build._failing_columns(loaded, failed) == " (score: 1 rows, tier: 1 rows)"


def _gx_files(root: Path) -> dict[str, object]:
    """What gx/ defines, parsed (GX orders the keys its own way)."""
    import yaml

    found = {}
    for path in sorted(root.rglob("*")):
        if path.suffix == ".json":
            found[str(path.relative_to(root))] = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".yml":
            found[str(path.relative_to(root))] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return found


def _define_gates_on_a_copy(tmp_path, monkeypatch):
    """expectations/define_gates.py, writing into a copy of the committed gx/ folder."""
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location("define_gates", gates.GX_ROOT / "define_gates.py")
    define_gates = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(define_gates)
    copy = tmp_path / "gx"
    shutil.copytree(gates.GX_ROOT / "gx", copy, ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.setattr(define_gates, "GX", copy)
    return define_gates, copy


def test_define_gates_reproduces_the_committed_gx_files_through_gx_api(warehouse_url, tmp_path, monkeypatch):
    """The files in gx/ are what GX writes from define_gates.py's declarations: a rerun keeps
    them (with their ids), and a changed declaration changes them."""
    define_gates, copy = _define_gates_on_a_copy(tmp_path, monkeypatch)
    committed = gates.GX_ROOT / "gx"
    monkeypatch.setenv("XINYONG_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv(gates.WAREHOUSE_URL_ENV, "")
    monkeypatch.setenv(gates.GX_HOME_ENV, str(tmp_path / "state"))

    define_gates.write()
    assert _gx_files(copy) == _gx_files(committed)

    volume = define_gates.VALIDATIONS["feed_file_volumes"][2][0]
    monkeypatch.setitem(volume, "kwargs", {**volume["kwargs"], "column": "rows_ratio"})
    define_gates.write()
    changed = _gx_files(copy)
    assert changed["expectations/feed_volume.json"]["expectations"][0]["kwargs"]["column"] == "rows_ratio"
    assert {k: v for k, v in changed.items() if k != "expectations/feed_volume.json"} == {
        k: v for k, v in _gx_files(committed).items() if k != "expectations/feed_volume.json"
    }


def test_define_gates_leaves_no_scratch_home_behind(warehouse_url, tmp_path, monkeypatch):
    """Run as a person runs it (`python expectations/define_gates.py`, no GX home set), defining
    the gates uses a home of its own and removes it: none is left in the temporary folder, and
    the setting is not left behind."""
    import tempfile

    define_gates, _ = _define_gates_on_a_copy(tmp_path, monkeypatch)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setenv("XINYONG_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv(gates.WAREHOUSE_URL_ENV, "")
    monkeypatch.delenv(gates.GX_HOME_ENV, raising=False)

    define_gates.write()
    assert list(temporary.iterdir()) == []
    assert gates.GX_HOME_ENV not in os.environ


def test_feed_volume_compares_whole_deliveries_not_the_last_part_of_a_split_export(warehouse_url):
    """A big export comes in parts of one as-of date (the XLSX row limit): the volume check
    sums them, so a normal day split in two passes and a short day still fails."""
    gates.prepare(warehouse_url)
    deliveries = [
        # (feed, as_of, file name, rows): a previous day in one file, today in two parts
        ("credit_household", "2026-11-20", "credit_household_20261120.xlsx", 1000),
        ("credit_household", "2026-11-21", "credit_household_20261121_1.xlsx", 700),
        ("credit_household", "2026-11-21", "credit_household_20261121_2.xlsx", 290),
        # a previous day in three parts, today a tenth of it in two
        ("domain_rating", "2026-11-20", "domain_rating_20261120_1.xlsx", 400),
        ("domain_rating", "2026-11-20", "domain_rating_20261120_2.xlsx", 400),
        ("domain_rating", "2026-11-20", "domain_rating_20261120_3.xlsx", 200),
        ("domain_rating", "2026-11-21", "domain_rating_20261121_1.xlsx", 60),
        ("domain_rating", "2026-11-21", "domain_rating_20261121_2.xlsx", 40),
    ]
    for feed, as_of, name, rows in deliveries:
        query(
            warehouse_url,
            """insert into audit.feed_files (feed, file_name, sha256, as_of, status, rows_read,
                                             rows_loaded, started_at)
               values (%s, %s, md5(%s), %s, 'loaded', %s, %s, now())""",
            (feed, name, name, as_of, rows, rows),
        )
    assert query(warehouse_url, "select * from audit.feed_file_volumes(100) order by feed") == [
        (
            "credit_household",
            "credit_household_20261121_1.xlsx … credit_household_20261121_2.xlsx (2 files)",
            990,
            "credit_household_20261120.xlsx",
            1000,
            Decimal("0.9900"),
        ),
        (
            "domain_rating",
            "domain_rating_20261121_1.xlsx … domain_rating_20261121_2.xlsx (2 files)",
            100,
            "domain_rating_20261120_1.xlsx … domain_rating_20261120_3.xlsx (3 files)",
            1000,
            Decimal("0.1000"),
        ),
    ]
