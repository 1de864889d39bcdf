"""dbt build, the GX gate and the atomic publication on the shared samples, on a real database."""

import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, query
from tests.integration.publication_fixtures import publish_once
from xinyong import ingest
from xinyong.app import pipeline
from xinyong.ingest import contracts
from xinyong.publication import publish

pytestmark = pytest.mark.integration


def test_build_gate_publish_on_samples(loaded):
    result = publish_once()
    profile = query(loaded, "select uscc, score, tier, tier_overridden from publish.entity_credit_profile")
    assert len(profile) == 30 == result["row_counts"]["entity_credit_profile"]
    assert {tier for _, _, tier, _ in profile} <= {"A", "B", "C", "D"}
    by_uscc = {u: (s, t, o) for u, s, t, o in profile}
    # 重大税收违法失信主体 (tax sample row 11) and 吊销 registrations are D whatever their score
    assert by_uscc["91500115E13H32BC7P"][1] == "D"
    assert by_uscc["9150011596EBA5H93C"][1] == "D"  # 吊销, although its tax grade is A
    # every score is explained to the point, with the source record
    mismatches = query(
        loaded,
        """select p.entity_key from publish.entity_credit_profile p
                                  join publish.credit_score_explanation e using (entity_key)
                                  group by p.entity_key, p.score having p.score <> sum(e.points)""",
    )
    assert mismatches == []
    source = query(
        loaded,
        """select source_file, source_row from publish.credit_score_explanation e
                              join publish.entity_credit_profile p using (entity_key)
                              where p.uscc = '91500115E13H32BC7P' and rule_id = 'TAX_MAJOR_VIOLATOR'""",
    )
    assert source == [("tax_credit_20261120.csv", 11)]
    status = query(loaded, "select status, row_counts->>'entity_credit_profile' from audit.publications")
    assert status == [("published", "30")]


def test_failed_gate_leaves_the_last_publication_in_place(loaded, monkeypatch):
    first = publish_once()
    candidate = pipeline.build_candidate(EVALUATION_DATE)
    # a defect only the GX gate looks for (across every table): an unmasked ID number
    query(
        loaded,
        "update publish_candidate.entity_credit_profile set town = '500115199003071234' "
        "where entity_key = (select min(entity_key) from publish_candidate.entity_credit_profile)",
    )
    with pytest.raises(pipeline.GateFailed) as failure:
        pipeline.audit_candidate(candidate)
    # the personal-data check is one query expected to return no rows; its rows come masked
    assert "candidate_personal_data" in str(failure.value) and "500115********1234" in str(failure.value)
    assert publish.current(loaded)["publication_id"] == first["publication_id"]
    assert (
        query(loaded, "select count(*) from publish.entity_credit_profile where town ~ '^[0-9]{18}$'")[0][0]
        == 0
    )
    attempts = query(loaded, "select status, reason from audit.publications order by publication_id")
    assert attempts[0][0] == "published" and attempts[1][0] == "failed"
    assert "身份证" in attempts[1][1]
    # The scan reads the big per-entity copies in proportion to what was written since the
    # last clean scan (expectations/sql/gates.sql): the published build vouched for the kept rows...
    cleared = {table for (table,) in query(loaded, "select source_table from audit.personal_data_cleared")}
    assert {
        "intermediate.int_entity_credit_profile",
        "intermediate.credit_score_explanation__rows",
    } <= cleared
    # ...and a row written into a kept table since then, of an entity no input changed (the
    # daily build copies it as it is), is read again
    query(
        loaded,
        "update intermediate.int_entity_credit_profile set town = '500115199003071234' "
        "where uscc = (select max(uscc) from intermediate.int_entity_credit_profile)",
    )
    with pytest.raises(pipeline.GateFailed) as failure:
        pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
    assert "candidate_personal_data" in str(failure.value) and "500115********1234" in str(failure.value)
    assert publish.current(loaded)["publication_id"] == first["publication_id"]


def test_a_clean_incremental_scan_records_every_xmin_its_sources_hold(loaded):
    """The incremental scan lists each source's xmins in the pass that finds its rewritten
    rows, and a clean scan records that list: it must be every xmin the source holds now,
    the new ones and the earlier ones, or a row would later be vouched for unread."""
    publish_once()
    # a kept row rewritten as it was: a new xmin, nothing to find
    [(rewritten,)] = query(
        loaded,
        "update intermediate.int_entity_credit_profile set town = town "
        "where uscc = (select max(uscc) from intermediate.int_entity_credit_profile) returning xmin::text",
    )
    publish_once()
    recorded = dict(query(loaded, "select source_table, xids::text[] from audit.personal_data_cleared"))
    assert rewritten in recorded["intermediate.int_entity_credit_profile"]
    for source, xids in recorded.items():
        held = {x for (x,) in query(loaded, f"select distinct xmin::text from {source}")}
        assert set(xids) == held, source


def test_a_name_first_sent_after_a_publication_is_caught_by_the_next_gate(loaded, settings):
    publish_once()
    name = "欧阳明月"
    assert query(loaded, "select count(*) from audit.natural_person_names")[0][0] > 0
    assert not query(loaded, "select 1 from audit.natural_person_names where person_name = %s", (name,))
    # a registered entity's new legal representative, in a register file of one row
    header, first = (
        (SAMPLES / "entity_register_20261120.csv").read_text(encoding="utf-8-sig").splitlines()[:2]
    )
    row = first.split(",")
    row[3] = name
    (settings.landing / "entity_register" / "entity_register_20261121.csv").write_text(
        header + "\n" + ",".join(row) + "\n", encoding="utf-8"
    )
    ingest.ingest_feed(contracts.load("entity_register"), settings, loaded)
    # a probe: a name of the files read before, taken out of the table; read whole again, it
    # would come back
    [(earlier,)] = query(
        loaded,
        "delete from audit.natural_person_names where person_name = %s returning person_name",
        (first.split(",")[3],),
    )
    candidate = pipeline.build_candidate(EVALUATION_DATE)
    query(
        loaded,
        """update publish_candidate.entity_credit_profile set town = %s
           where entity_key = (select min(entity_key) from publish_candidate.entity_credit_profile)""",
        (name,),
    )
    with pytest.raises(pipeline.GateFailed) as failure:
        pipeline.audit_candidate(candidate)
    assert "'masked_value': '欧***'" in str(failure.value) and name not in str(failure.value)
    findings = query(
        loaded, "select table_name, column_name, kind from audit.personal_data_findings('publish_candidate')"
    )
    assert ("entity_credit_profile", "town", "person_name") in findings
    # the names were read through the new file, not read whole again
    [(newest,)] = query(loaded, "select max(_file_id) from raw.entity_register")
    read = query(
        loaded,
        "select through_file_id from audit.natural_person_names_read where reader like '%%from raw.entity_register %%'",
    )
    assert read == [(newest,)]
    assert not query(loaded, "select 1 from audit.natural_person_names where person_name = %s", (earlier,))


def test_a_new_name_equal_to_a_value_of_rows_no_build_rewrote_is_caught_in_all_of_them(loaded, settings):
    """A cleared row is read again only against the new names its table's clean scans saw as
    values (audit.personal_data_cleared_values): a value that becomes a person's name (a town
    a representative is named after, here) is found in the rows no build rewrote too."""
    publish_once()
    [(town, rows)] = query(
        loaded,
        """select town, count(*) from publish.entity_credit_profile
           where char_length(town) between 2 and 4 group by town order by 2 desc, 1 limit 1""",
    )
    assert rows > 1
    assert ("entity_credit_profile", town) in query(
        loaded, "select table_name, value from audit.personal_data_cleared_values"
    )
    assert not query(loaded, "select 1 from audit.natural_person_names where person_name = %s", (town,))
    # one entity of that town gets a representative of that name: its rows are rewritten, the
    # town's other entities' are not
    header, *rows_of_file = (
        (SAMPLES / "entity_register_20261120.csv").read_text(encoding="utf-8-sig").splitlines()
    )
    row = next(line for line in rows_of_file if line.split(",")[-1] == town).split(",")
    row[3] = town
    (settings.landing / "entity_register" / "entity_register_20261121.csv").write_text(
        header + "\n" + ",".join(row) + "\n", encoding="utf-8"
    )
    ingest.ingest_feed(contracts.load("entity_register"), settings, loaded)
    candidate = pipeline.build_candidate(EVALUATION_DATE)
    with pytest.raises(pipeline.GateFailed):
        pipeline.audit_candidate(candidate)
    # what the gate's scan found (audit.personal_data_findings outside a gate run scans whole)
    found = dict(
        query(
            loaded,
            """select table_name || '.' || column_name, occurrences from audit.personal_data_scan_findings
               where candidate_schema = 'publish_candidate' and kind = 'person_name'""",
        )
    )
    assert found["entity_credit_profile.town"] == rows


def test_policy_is_data_a_seed_change_changes_results(loaded, monkeypatch, tmp_path):
    publish_once()
    before = dict(query(loaded, "select uscc, score from publish.entity_credit_profile"))
    # policy lives in the seed CSV: change it there and rebuild, no code involved
    rules = pipeline.build.DBT_PROJECT / "seeds" / "scoring_rules.csv"
    original = rules.read_text(encoding="utf-8")
    try:
        rules.write_text(original.replace("BASE,base,700,", "BASE,base,710,"), encoding="utf-8")
        publish_once()
    finally:
        rules.write_text(original, encoding="utf-8")
    after = dict(query(loaded, "select uscc, score from publish.entity_credit_profile"))
    changed = [u for u in before if after[u] != before[u]]
    assert changed, "raising the base points must raise scores"
    assert all(after[u] - before[u] in (10, 0) or after[u] in (0, 1000) for u in before)
    # the policy changed, so every entity was recomputed and the explanations' store compared
    # whole: each BASE row was closed and its new version added, so every score is still explained
    explained = query(
        loaded,
        """select e.rule_id, e.points, count(*) from publish.credit_score_explanation e
           where e.rule_id = 'BASE' group by 1, 2""",
    )
    assert explained == [("BASE", 710, len(before))], explained
    mismatches = query(
        loaded,
        """select p.uscc from publish.entity_credit_profile p
           join publish.credit_score_explanation e using (entity_key)
           group by p.uscc, p.score having p.score <> sum(e.points) and p.score not in (0, 1000)""",
    )
    assert mismatches == []
