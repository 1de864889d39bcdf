"""The credit query API against a real publication: the server runs as `xinyong api` (uvicorn,
in a subprocess, as the API's database role) over the samples published twice with a policy
change between, then rolled back. Built once per module."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg2
import pytest

from tests.conftest import EVALUATION_DATE, free_port, ingested_samples, query, role_url
from tests.integration.publication_fixtures import export_dbt_project
from xinyong.api import clients
from xinyong.app import pipeline
from xinyong.publication import build, publish

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
LENDER_A, LENDER_B, LENDER_C = "91500000202869177Y", "91500000709406101T", "91500000MA5UC5XG16"


def publish_with_base_score(project: Path, points: int) -> int:
    seed = project / "seeds" / "scoring_rules.csv"
    text = seed.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines[1] = f"BASE,base,{points},1,,基础分：每个市场主体的起始分值\n"
    seed.write_text("".join(lines), encoding="utf-8")
    result = pipeline.publish_candidate(pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE)))
    return result["publication_id"]


@pytest.fixture(scope="module")
def api(pg_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("api")
    project = export_dbt_project(home)
    with ingested_samples(pg_server, home) as (url, settings), pytest.MonkeyPatch.context() as env:
        env.setattr(build, "DBT_PROJECT", project)
        env.setenv("XINYONG_TEST_DBT_PROJECT", str(project))
        first = publish_with_base_score(project, 700)
        clients.prepare(url)
        keys = {}
        for name, uscc, limit in (
            ("A", LENDER_A, "1000/minute"),
            ("B", LENDER_B, "1000/minute"),
            ("C", LENDER_C, "3/minute"),
        ):
            client, keys[name] = clients.add_client(url, f"银行{name}", uscc, limit)
            keys[name + "_id"] = client.client_id
        port = free_port()
        log = (home / "api.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "xinyong.app.cli", "api", "--port", str(port)],
            env={
                **os.environ,
                "PYTHONPATH": str(REPO),
                "XINYONG_API_WAREHOUSE_URL": role_url(url, "credit_api"),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, (home / "api.log").read_text()
                time.sleep(0.1)
            yield {
                "url": url,
                "base": base,
                "keys": keys,
                "first": first,
                "project": project,
                "settings": settings,
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


def get(api, path: str, key: str | None = "A", **params) -> httpx.Response:
    headers = {"X-API-Key": api["keys"][key]} if key else {}
    return httpx.get(api["base"] + path, headers=headers, params=params, timeout=30)


def post(api, path: str, body: dict, key: str = "A") -> httpx.Response:
    return httpx.post(api["base"] + path, headers={"X-API-Key": api["keys"][key]}, json=body, timeout=30)


def audit_rows(api, since_id: int = 0) -> list[tuple]:
    return query(
        api["url"],
        """select client_id, endpoint, subject_uscc, subject_key, purpose, authorisation_id, publication_id,
                  status from audit.api_queries where query_id > %s order by query_id""",
        (since_id,),
    )


def last_audit_id(api) -> int:
    return query(api["url"], "select coalesce(max(query_id), 0) from audit.api_queries")[0][0]


def subject(api, entity_type: str) -> str:
    return query(
        api["url"],
        "select uscc from publish.entity_credit_profile where entity_type = %s order by uscc limit 1",
        (entity_type,),
    )[0][0]


def test_health_docs_and_unauthenticated_calls(api):
    health = httpx.get(api["base"] + "/health").json()
    assert health == {"status": "ok", "publication_id": api["first"]}
    assert "X-API-Key" in httpx.get(api["base"] + "/openapi.json").text
    assert httpx.get(api["base"] + "/docs").status_code == 200
    for path in ("/v1/entities/" + subject(api, "企业"), "/v1/loan-candidates"):
        assert get(api, path, key=None).status_code == 401
        assert httpx.get(api["base"] + path, headers={"X-API-Key": "xy_0.guess"}).status_code == 401


def test_individual_business_needs_an_authorisation_then_answers_with_one_audit_row(api):
    business = subject(api, "个体工商户")
    before = last_audit_id(api)
    refused = get(api, f"/v1/entities/{business}")
    assert refused.status_code == 403 and "authorisation" in refused.json()["detail"]
    assert refused.json()["publication_id"] == api["first"]
    today = dt.date.today()
    registered = post(
        api,
        "/v1/authorisations",
        {
            "authorisation_no": "SQ-2026-0001",
            "subject_uscc": business,
            "purpose": "贷前审核",
            "valid_from": str(today - dt.timedelta(days=1)),
            "valid_to": str(today + dt.timedelta(days=30)),
        },
    )
    assert registered.status_code == 201, registered.text
    authorisation_id = registered.json()["authorisation_id"]
    assert (
        post(
            api,
            "/v1/authorisations",
            {
                "authorisation_no": "SQ-2026-0001",
                "subject_uscc": business,
                "purpose": "贷前审核",
                "valid_from": str(today),
                "valid_to": str(today),
            },
        ).status_code
        == 409
    )
    # another lender's authorisation does not count
    assert get(api, f"/v1/entities/{business}", key="B").status_code == 403
    after_refusals = last_audit_id(api)
    answer = get(api, f"/v1/entities/{business}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["publication_id"] == api["first"] and body["authorisation_id"] == authorisation_id
    assert body["profile"]["uscc"] == business and body["profile"]["entity_type"] == "个体工商户"
    assert sum(r["points"] for r in body["score_explanation"]) == body["profile"]["score"]
    assert set(body["lists"]) == {"black_list", "red_list", "commitment_red_list", "commitment_grey_list"}
    # the domains it is rated or active in, as publish.domain_supervision has them
    [(domains,)] = query(
        api["url"], "select count(*) from publish.domain_supervision where uscc = %s", (business,)
    )
    assert len(body["domain_tiers"]) == domains
    rows = audit_rows(api, after_refusals)
    assert rows == [
        (api["keys"]["A_id"], "entity", business, None, "贷前审核", authorisation_id, api["first"], 200)
    ]
    statuses = [(r[0], r[-1]) for r in audit_rows(api, before)]
    assert statuses[:4] == [
        (api["keys"]["A_id"], 403),
        (api["keys"]["A_id"], 201),
        (api["keys"]["A_id"], 409),
        (api["keys"]["B_id"], 403),
    ]
    # who looked at me: one SQL, the README's
    looked = query(
        api["url"],
        """select c.name, c.institution_uscc, q.purpose, q.status, q.asked_at
                                  from audit.api_queries q join api.clients c using (client_id)
                                  where q.subject_uscc = %s order by q.asked_at""",
        (business,),
    )
    assert [(n, s) for n, _, _, s, _ in looked] == [
        ("银行A", 403),
        ("银行A", 201),
        ("银行A", 409),
        ("银行B", 403),
        ("银行A", 200),
    ]


def test_an_enterprise_needs_no_authorisation_and_penalties_are_in_window(api):
    penalised = query(
        api["url"],
        """select p.uscc from publish.entity_credit_profile p
                                     where p.active_penalty_count > 0 and p.entity_type = '企业' limit 1""",
    )[0][0]
    body = get(api, f"/v1/entities/{penalised}").json()
    assert body["authorisation_id"] is None and body["publication_id"] == api["first"]
    assert len(body["penalties_in_window"]) == body["profile"]["active_penalty_count"] > 0
    assert get(api, "/v1/entities/91500000000000000X").status_code == 404


def test_a_client_cannot_read_another_clients_watched_list(api):
    enterprise = subject(api, "企业")
    today = dt.date.today()
    assert (
        post(
            api,
            "/v1/authorisations",
            {
                "authorisation_no": "B-1",
                "subject_uscc": enterprise,
                "purpose": "贷中跟踪",
                "valid_from": str(today),
                "valid_to": str(today + dt.timedelta(days=365)),
            },
            key="B",
        ).status_code
        == 201
    )
    a_id, b_id = api["keys"]["A_id"], api["keys"]["B_id"]
    own = get(api, f"/v1/clients/{b_id}/watched", key="B")
    assert own.status_code == 200 and [b["uscc"] for b in own.json()["borrowers"]] == [enterprise]
    for path in (f"/v1/clients/{b_id}/watched", f"/v1/clients/{b_id}/watched/changes"):
        other = get(api, path, key="A", since=api["first"])
        assert other.status_code == 403 and "own" in other.json()["detail"]
        assert enterprise not in other.text
    assert enterprise not in get(api, f"/v1/clients/{a_id}/watched").text


def test_loan_candidates_page_by_page(api):
    total = query(api["url"], "select count(*) from publish.loan_candidates where uscc is not null")[0][0]
    seen, page = [], 1
    while page:
        body = get(api, "/v1/loan-candidates", page=page, page_size=4).json()
        assert body["publication_id"] == api["first"]
        seen += [c["uscc"] for c in body["candidates"]]
        page = body["next_page"]
    assert len(seen) == len(set(seen)) == total > 4


def test_household_by_id_number_only_under_authorisation_or_town_agreement(api):
    id_number, town = query(
        api["url"],
        """select id_number, town from raw.credit_household
                                           order by rating_year desc, id_number limit 1""",
    )[0]
    ask = {"id_number": id_number, "purpose": "贷前审核"}
    refused = post(api, "/v1/households/lookup", ask)
    assert refused.status_code == 403 and id_number not in refused.text
    clients.add_agreement(api["url"], api["keys"]["A_id"], "PL-1", town, "2026-01-01", "2099-12-31")
    answer = post(api, "/v1/households/lookup", ask)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["batch_agreement_no"] == "PL-1" and body["household"]["town"] == town
    assert (
        body["household"]["rating"] in ("AAA", "AA", "A", "未评级") and "village" in body and "town" in body
    )
    assert id_number not in answer.text and body["household"]["id_number_masked"].count("*") >= 8
    # lender B has no agreement: an authorisation for this household is its way in
    assert post(api, "/v1/households/lookup", ask, key="B").status_code == 403
    assert (
        post(
            api,
            "/v1/authorisations",
            {
                "authorisation_no": "B-H1",
                "id_number": id_number,
                "purpose": "贷前审核",
                "valid_from": "2026-01-01",
                "valid_to": "2099-12-31",
            },
            key="B",
        ).status_code
        == 201
    )
    assert post(api, "/v1/households/lookup", ask, key="B").status_code == 200
    # the ID number is nowhere in the API's tables, only the key derived from its keyed hash
    stored = query(
        api["url"], "select subject_person_key from api.authorisations where authorisation_no = 'B-H1'"
    )
    assert stored[0][0] and stored[0][0] != id_number
    assert (
        query(api["url"], "select count(*) from audit.api_queries where subject_key = %s", (stored[0][0],))[
            0
        ][0]
        >= 4
    )


def test_rate_limit_per_client(api):
    enterprise = subject(api, "企业")
    codes = [get(api, f"/v1/entities/{enterprise}", key="C").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert get(api, f"/v1/entities/{enterprise}", key="A").status_code == 200  # others are not limited
    assert (
        query(
            api["url"],
            "select count(*) from audit.api_queries where client_id = %s and status = 429",
            (api["keys"]["C_id"],),
        )[0][0]
        == 2
    )


def test_audit_is_append_only_for_the_api_role(api):
    conn = psycopg2.connect(role_url(api["url"], "credit_api"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("insert into audit.api_queries (endpoint, status) values ('probe', 200)")
        for statement in (
            "update audit.api_queries set status = 200",
            "delete from audit.api_queries",
            "truncate audit.api_queries",
            "update api.clients set rate_limit = '9/second'",
            "delete from api.authorisations",
            "delete from history.entity_profile_versions",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(statement)
    conn.close()


def test_report_route_serves_the_credit_report_of_the_live_publication(api):
    uscc = subject(api, "企业")
    response = get(api, f"/v1/entities/{uscc}/report")
    assert response.status_code == 200 and response.headers["X-Publication-Id"] == str(api["first"])
    assert uscc in response.text and f"发布编号 {api['first']}" in response.text


def test_as_of_answers_from_the_older_publication_and_history_survives_rollback(api):
    """Runs last: it publishes again (base score 700 -> 710) and rolls back."""
    url, enterprise = api["url"], subject(api, "企业")
    old_score = get(api, f"/v1/entities/{enterprise}").json()["profile"]["score"]
    between = query(url, "select now()")[0][0]
    second = publish_with_base_score(api["project"], 710)
    live = get(api, f"/v1/entities/{enterprise}").json()
    assert live["publication_id"] == second and live["profile"]["score"] == old_score + 10
    past = get(api, f"/v1/entities/{enterprise}", as_of=between.isoformat()).json()
    assert past["publication_id"] == api["first"] and past["profile"]["score"] == old_score
    assert sum(r["points"] for r in past["score_explanation"]) == old_score
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    day = get(api, f"/v1/entities/{enterprise}", as_of=str(today)).json()  # two went live today: the last
    assert day["publication_id"] == second and day["profile"]["score"] == old_score + 10
    assert get(api, f"/v1/entities/{enterprise}", as_of="2020-01-01").status_code == 404
    # compact: the second publication stored one row per entity whose score moved, nothing else
    counts = dict(
        query(url, "select publication_id, count(*) from history.entity_profile_versions group by 1")
    )
    assert counts == {api["first"]: 30, second: 30}
    # the watched borrower's change is listed for its client
    b_id = api["keys"]["B_id"]
    changes = get(api, f"/v1/clients/{b_id}/watched/changes", key="B", since=api["first"]).json()
    assert changes["publication_id"] == second
    assert [(c["before"]["score"], c["after"]["score"]) for c in changes["changes"]] == [
        (old_score, old_score + 10)
    ]
    # a rollback makes the first live again; history still answers each period rightly
    during_second = query(url, "select now()")[0][0]
    publish.rollback(url, by="test")
    assert get(api, f"/v1/entities/{enterprise}").json()["profile"]["score"] == old_score
    assert (
        get(api, f"/v1/entities/{enterprise}", as_of=during_second.isoformat()).json()["publication_id"]
        == second
    )
    now = get(api, f"/v1/entities/{enterprise}", as_of=query(url, "select now()")[0][0].isoformat()).json()
    assert now["publication_id"] == api["first"] and now["profile"]["score"] == old_score
    tiers = query(
        url,
        "select publication_id, score from history.tier_history where uscc = %s order by publication_id",
        (enterprise,),
    )
    assert tiers == [(api["first"], old_score), (second, old_score + 10)]
    assert query(url, "select publication_id, cause from history.live_periods order by period_id") == [
        (api["first"], "published"),
        (second, "published"),
        (api["first"], "rolled_back_to"),
    ]
