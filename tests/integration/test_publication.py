"""Write-audit-publish on a real warehouse: gates, audit trail, roles, outbox, approval, rollback, kill."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import EVALUATION_DATE, SAMPLES, query, role_url
from tests.integration.publication_fixtures import publish_once
from tests.integration.test_check_functions import uscc_check
from xinyong import ingest
from xinyong.app import cases, pipeline
from xinyong.ingest import contracts
from xinyong.publication import gates, outbox, publish
from xinyong.runtime import faults

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def as_role(url: str, role: str) -> psycopg2.extensions.connection:
    """A connection as a downstream role, with its password."""
    conn = psycopg2.connect(role_url(url, role))
    conn.autocommit = True
    return conn


def denied(conn, sql: str) -> bool:
    with conn.cursor() as cur:
        try:
            cur.execute(sql)
        except psycopg2.errors.InsufficientPrivilege:
            return True
    return False


def live_id(url: str) -> str:
    return query(
        url, "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = 'publish'"
    )[0][0]


def test_clean_run_records_everything_delivers_outbox_and_grants_roles(loaded, settings):
    result = publish_once()
    pid = result["publication_id"]
    status, gate_results, counts, artifacts = query(
        loaded, "select status, gate_results, row_counts, artifacts from audit.publications"
    )[0]
    assert status == "published"
    gx = gate_results["gx"]
    assert gx["success"] and not gx["failures"] and not gx["skipped"]
    assert gx["checked"] == sum(v["expectations"] for v in gx["validations"]) >= 8
    ran = {v["validation"] for v in gx["validations"]}
    assert {
        "candidate_schema",
        "candidate_personal_data",
        "candidate_tier_shift",
        "candidate_penalty_disclosure",
        "feed_file_volumes",
        "tax_credit_latest_file",
    } <= ran
    assert counts["entity_credit_profile"] == 30 and counts["penalty_disclosure"] > 0
    for key in ("dbt_target", "report"):
        assert Path(artifacts[key]).exists(), key
    assert artifacts["data_docs"].startswith((settings.home / "gx").as_uri())
    assert artifacts["gx_results"] == str(settings.home / "gx" / "validations")
    assert Path(artifacts["data_docs"][len("file://") :]).is_file()

    # outbox: complete folder, manifest hashes match, every market entity (tests/integration/test_consumers.py)
    folder = Path(artifacts["outbox"]["loan_platform"])
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["publication_id"] == pid and manifest["schema_version"]
    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["file"]).read_bytes()).hexdigest() == f["sha256"]
    assert manifest["row_counts"]["entity_credit_profile"] == 30
    import pyarrow.parquet as pq

    extract = pq.read_table(folder / "entity_credit_profile.parquet").to_pydict()
    assert "个体工商户" in extract["entity_type"] and len(extract["uscc"]) == 30
    assert outbox.write(loaded, settings, pid, EVALUATION_DATE) == {"loan_platform": folder}  # idempotent

    # the report's table counts are the ones recorded at the swap, equal to the live tables'
    live_counts = {table: query(loaded, f'select count(*) from publish."{table}"')[0][0] for table in counts}
    assert live_counts == counts
    report = Path(artifacts["report"]).read_text(encoding="utf-8")
    shown = dict(re.findall(r"<tr><td>([a-z_]+)</td><td>-</td><td>(\d+)</td>", report))
    assert {t: int(n) for t, n in shown.items()} == counts

    # roles, connected for real
    loan = as_role(loaded, "loan_platform")
    assert denied(loan, "select * from raw.entity_register limit 1")
    assert denied(loan, "select * from audit.publications limit 1")
    assert denied(loan, "select * from publish.rural_credit_household limit 1")
    with loan.cursor() as cur:
        cur.execute("select entity_type, count(*) from publish.entity_credit_profile group by 1")
        seen = dict(cur.fetchall())
    assert seen["个体工商户"] > 0 and sum(seen.values()) == 30
    bi = as_role(loaded, "bi_reader")
    with bi.cursor() as cur:
        cur.execute("select count(*) from publish.entity_credit_profile")
        assert cur.fetchone()[0] == 30
        cur.execute("select count(*) from publish.credit_score_explanation")
        assert cur.fetchone()[0] == counts["credit_score_explanation"]
    assert denied(bi, "update publish.entity_credit_profile set score = 0")
    assert denied(bi, "select * from raw.entity_register limit 1")
    loan.close()
    bi.close()


def test_distorted_tier_mix_fails_then_is_approved_then_rolled_back(loaded, dbt_project, monkeypatch):
    first = publish_once()
    before = query(loaded, "select tier, count(*) from publish.entity_credit_profile group by 1 order by 1")
    # a policy change that moves every A and B entity to C: a real, large tier shift
    tiers = dbt_project / "seeds" / "credit_tiers.csv"
    text = tiers.read_text(encoding="utf-8")
    tiers.write_text(
        text.replace("A,诚信,800,", "A,诚信,2000,").replace("B,良好,700,", "B,良好,1999,"), encoding="utf-8"
    )
    candidate = pipeline.build_candidate(EVALUATION_DATE)
    with pytest.raises(pipeline.GateFailed) as failure:
        pipeline.audit_candidate(candidate)
    message = str(failure.value)
    assert "expect_column_values_to_be_between" in message and "share_shift" in message
    assert "all approvable" in message and "Data Docs: file://" in message
    assert "publication report:" in message
    # publish untouched
    assert live_id(loaded) == f"xinyong publication {first['publication_id']}"
    assert (
        query(loaded, "select tier, count(*) from publish.entity_credit_profile group by 1 order by 1")
        == before
    )
    pid = candidate["publication_id"]
    status, held, gate_results = query(
        loaded,
        "select status, held_schema, gate_results from audit.publications where publication_id = %s",
        (pid,),
    )[0]
    assert status == "failed" and held == f"publish_held_{pid}"
    assert [f["validation"] for f in gate_results["gx"]["failures"]] == ["candidate_tier_shift"]
    assert {e["tier"] for e in gate_results["gx"]["failures"][0]["examples"]} >= {"B", "C"}
    assert denied(as_role(loaded, "bi_reader"), f"select * from {held}.entity_credit_profile")

    with pytest.raises(publish.PublishError):
        publish.approve(loaded, pid, "  ")
    approved = publish.approve(loaded, pid, "new tier thresholds from the 2026 policy", by="chen.li")
    pipeline.deliver(loaded, pid, EVALUATION_DATE)
    assert approved["approved_by"] == "chen.li"
    assert live_id(loaded) == f"xinyong publication {pid}"
    assert (
        query(loaded, "select count(*) from publish.entity_credit_profile where tier in ('A', 'B')")[0][0]
        == 0
    )
    row = query(
        loaded,
        """select status, approved_by, approved_reason, approved_at is not null,
                                  gate_results->'approval'->'released' from audit.publications
                           where publication_id = %s""",
        (pid,),
    )[0]
    assert row == (
        "published",
        "chen.li",
        "new tier thresholds from the 2026 policy",
        True,
        ["expect_column_values_to_be_between"],
    )
    # grants were re-applied to the schema that became live
    with as_role(loaded, "loan_platform").cursor() as cur:
        cur.execute("select count(*) from publish.entity_credit_profile")
        assert cur.fetchone()[0] > 0

    restored = publish.rollback(loaded, by="chen.li")
    assert restored == {"restored": first["publication_id"], "rolled_back": pid, "by": "chen.li"}
    assert live_id(loaded) == f"xinyong publication {first['publication_id']}"
    assert (
        query(loaded, "select tier, count(*) from publish.entity_credit_profile group by 1 order by 1")
        == before
    )
    assert query(loaded, "select publication_id, status from audit.publications order by 1") == [
        (first["publication_id"], "published"),
        (pid, "rolled_back"),
    ]
    with as_role(loaded, "bi_reader").cursor() as cur:
        cur.execute("select count(*) from publish.entity_credit_profile")
        assert cur.fetchone()[0] == 30
    with pytest.raises(publish.PublishError, match="no previous publication"):
        publish.rollback(loaded)


def test_personal_data_blocks_and_cannot_be_approved(loaded):
    candidate = pipeline.build_candidate(EVALUATION_DATE)
    person = query(
        loaded,
        "select legal_representative from raw.entity_register where legal_representative is not null limit 1",
    )[0][0]
    query(
        loaded,
        """update publish_candidate.entity_credit_profile
                     set entity_name = entity_name || ' 500115199003071234'
                     where entity_key = (select min(entity_key) from publish_candidate.entity_credit_profile)""",
    )
    query(
        loaded,
        """update publish_candidate.entity_credit_profile set town = %s
                     where entity_key = (select max(entity_key) from publish_candidate.entity_credit_profile)""",
        (person,),
    )
    with pytest.raises(pipeline.GateFailed) as failure:
        pipeline.audit_candidate(candidate)
    message = str(failure.value)
    assert "no unmasked 身份证 number" in message
    assert "500115********1234" in message and "500115199003071234" not in message
    assert f"'masked_value': '{person[0]}" in message and f"'{person}'" not in message
    assert "approvable" not in message.split("\n")[0]
    findings = query(
        loaded, "select table_name, column_name, kind from audit.personal_data_findings('publish_candidate')"
    )
    assert ("entity_credit_profile", "entity_name", "id_number") in findings
    assert ("entity_credit_profile", "town", "person_name") in findings
    row = query(loaded, "select status, held_schema from audit.publications")[0]
    assert row == ("failed", None)
    with pytest.raises(publish.PublishError, match="no approval can release"):
        publish.approve(loaded, candidate["publication_id"], "looks fine to me")
    assert query(loaded, "select count(*) from pg_namespace where nspname = 'publish'")[0][0] == 0


def test_feed_volume_gate_names_the_feed_and_file(loaded, settings, monkeypatch):
    # a delivery of 3 new entities after one of 30 (a file of known records only would be a
    # correction, which the volume check leaves alone: see audit.feed_files.rows_updating_known)
    sample = (SAMPLES / "entity_register_20261120.csv").read_text(encoding="utf-8-sig")
    lines = sample.splitlines()
    fresh = []
    for i, line in enumerate(lines[1:4]):
        body = "9150011500000000" + str(i)
        fresh.append(line.replace(line.split(",")[0], body + uscc_check(body), 1))
    (settings.landing / "entity_register" / "entity_register_20261121.csv").write_text(
        "\n".join([lines[0], *fresh]) + "\n", encoding="utf-8"
    )
    ingest.ingest_feed(contracts.load("entity_register"), settings, loaded)
    policy = gates.policy()
    policy["sql_parameters"]["feed_volume_min_previous_rows"] = 10  # the samples are small files
    monkeypatch.setattr(gates, "policy", lambda: policy)
    gate = gates.run_gate(loaded, EVALUATION_DATE)
    assert not gate.success
    # no candidate was built here: the candidate-schema check fails too (and blocks)
    assert {f["validation"] for f in gate.failures if not f["approvable"]} == {"candidate_schema"}
    [failure] = [f for f in gate.failures if f["validation"] == "feed_file_volumes"]
    assert failure["approvable"]
    assert sorted(failure["examples"], key=lambda e: e["feed"]) == [
        # the samples' second commitment file: 3 rows after 19, one of them a new commitment
        {
            "feed": "commitment",
            "latest_file": "commitment_20261121.csv",
            "previous_file": "commitment_20261120.csv",
            "volume_ratio": "0.1579",
        },
        {
            "feed": "entity_register",
            "latest_file": "entity_register_20261121.csv",
            "previous_file": "entity_register_20261120.csv",
            "volume_ratio": "0.1000",
        },
    ]
    # the samples' one-row parking file only updates a known record: a correction, not compared
    assert query(
        loaded,
        "select rows_loaded, rows_updating_known from audit.feed_files "
        "where file_name = 'parking_20261121.csv'",
    ) == [(1, 1)]
    # the candidate validations were skipped (no candidate built), and said so
    assert any(s["validation"] == "candidate_penalty_disclosure" for s in gate.skipped)


KILL_SCRIPT = """
import sys
from xinyong.publication import publish
candidate = {candidate!r}
publish.swap({url!r}, candidate["publication_id"], publish.CANDIDATE, candidate["gate_results"], candidate["artifacts"])
print("swap finished", flush=True)
"""


def test_killed_inside_the_swap_leaves_the_old_publication_and_the_rerun_completes(loaded):
    first = publish_once()
    before = query(loaded, "select entity_key, score, tier from publish.entity_credit_profile order by 1")
    # a newer version of a tier-A entity's tax rows, graded D (raw only grows: a new file's rows,
    # by a file id above every other)
    query(
        loaded,
        """insert into raw.tax_credit
           select (jsonb_populate_record(null::raw.tax_credit, to_jsonb(t) || jsonb_build_object(
               'tax_grade', 'D', '_file_id', nextval('audit.feed_files_file_id_seq')))).*
           from raw.tax_credit as t
           where t.uscc = (select uscc from publish.entity_credit_profile where tier = 'A' limit 1)""",
    )
    candidate = pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
    child = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT.format(candidate=candidate, url=loaded)],
        env={**os.environ, faults.FAULT_ENV: "swap:between_renames"},
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert child.returncode == -9, child.stdout + child.stderr  # SIGKILLed between the two renames
    assert "swap finished" not in child.stdout
    # publish is the old publication, whole: same schema comment, same rows; the candidate is intact
    assert live_id(loaded) == f"xinyong publication {first['publication_id']}"
    assert (
        query(loaded, "select entity_key, score, tier from publish.entity_credit_profile order by 1")
        == before
    )
    assert query(loaded, "select count(*) from publish_candidate.entity_credit_profile")[0][0] == 30
    assert (
        query(
            loaded,
            "select status from audit.publications where publication_id = %s",
            (candidate["publication_id"],),
        )[0][0]
        == "running"
    )
    with as_role(loaded, "bi_reader").cursor() as cur:
        cur.execute("select count(*) from publish.entity_credit_profile")
        assert cur.fetchone()[0] == 30
    # the rerun of the publish step completes
    pipeline.publish_candidate(candidate)
    assert live_id(loaded) == f"xinyong publication {candidate['publication_id']}"
    assert (
        query(loaded, "select entity_key, score, tier from publish.entity_credit_profile order by 1")
        != before
    )
    assert query(loaded, "select publication_id, status from audit.publications order by 1") == [
        (first["publication_id"], "superseded"),
        (candidate["publication_id"], "published"),
    ]


LIVE_DOCUMENTS_NOT_IN_HISTORY = """
    with live as (
        select p.entity_key, to_jsonb(p) - 'evaluation_date' as profile, coalesce(e.rules, '[]'::jsonb) as explanation
        from publish.entity_credit_profile p
        left join (select entity_key,
                          jsonb_agg(to_jsonb(x) - 'entity_key' order by x.rule_id, x.source_file, x.source_row) as rules
                   from publish.credit_score_explanation x group by entity_key) e using (entity_key)
    ),
    newest as (
        select distinct on (entity_key) entity_key, profile, explanation
        from history.entity_profile_versions order by entity_key, publication_id desc
    )
    select count(*) from live full join newest using (entity_key)
    where live.profile is distinct from newest.profile or live.explanation is distinct from newest.explanation"""


def _history_recorded(url: str, publication_id: int) -> dict:
    return query(
        url,
        "select artifacts -> 'history_versions' from audit.publications where publication_id = %s",
        (publication_id,),
    )[0][0]


def test_history_compares_only_the_entities_a_daily_publication_may_change(loaded, dbt_project):
    """The history's newest row of every entity is what the live publication shows, whether a
    publication compared every entity (the first; a new explanation mart; after a rollback) or only those whose profile
    row or score-explanation rows changed since the live one (a later day, incremental)."""
    first = publish_once()["publication_id"]
    entities = query(loaded, "select count(*) from publish.entity_credit_profile")[0][0]
    assert _history_recorded(loaded, first) == {"rows": entities, "entities_compared": "all"}
    assert query(loaded, LIVE_DOCUMENTS_NOT_IN_HISTORY) == [(0,)]
    # the day a market entity's penalty leaves its publicity window: the date alone changes it
    [(window_end,)] = query(
        loaded,
        """select min(p.publicity_end) from intermediate.int_penalties_windowed p
           join publish.entity_credit_profile e using (uscc)
           where p.is_public and p.publicity_end > %s""",
        (EVALUATION_DATE,),
    )
    # and an objection to a tax grade: the profile says so, the score explanation does not change
    [(objected,)] = query(
        loaded,
        "select uscc from publish.entity_credit_profile where tax_grade is not null order by uscc limit 1",
    )
    cases.open_case(
        loaded, "objection", "tax_grade", objected, "申请人", "等级有误", by="clerk", on=window_end
    )
    later = pipeline.build_candidate(window_end.isoformat())
    second = pipeline.publish_candidate(pipeline.audit_candidate(later))["publication_id"]
    recorded = _history_recorded(loaded, second)
    assert 0 < recorded["rows"] <= recorded["entities_compared"] < entities, recorded
    assert query(
        loaded,
        """select profile -> 'under_objection' from history.entity_profile_versions
           where uscc = %s and publication_id = %s""",
        (objected, second),
    ) == [(True,)]
    assert query(loaded, LIVE_DOCUMENTS_NOT_IN_HISTORY) == [(0,)]
    # a release that changes the explanation mart alone: the stored rows stay, every document
    # changes, so every entity is compared
    mart = dbt_project / "models" / "marts" / "publish" / "credit_score_explanation.sql"
    mart.write_text(mart.read_text().replace("reason::text as reason", "(reason || '。')::text as reason"))
    third = publish_once()["publication_id"]
    assert _history_recorded(loaded, third) == {"rows": entities, "entities_compared": "all"}
    assert query(loaded, LIVE_DOCUMENTS_NOT_IN_HISTORY) == [(0,)]
    # after a rollback the history's newest rows are the rolled-back publication's: all compared
    publish.rollback(loaded, by="test")
    fourth = publish_once()["publication_id"]
    assert _history_recorded(loaded, fourth)["entities_compared"] == "all"
    assert query(loaded, LIVE_DOCUMENTS_NOT_IN_HISTORY) == [(0,)]
