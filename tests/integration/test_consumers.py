"""The consumer declaration on a real warehouse: connected as every declared role, each reads
exactly the tables, rows and columns its declaration names; the outbox carries the same."""

import csv
import dataclasses
import re

import psycopg2
import pyarrow.parquet as pq
import pytest
from psycopg2 import sql

from tests.conftest import EVALUATION_DATE, ingested_samples, query, role_url
from xinyong.api import clients
from xinyong.app import pipeline
from xinyong.publication import consumers, outbox, roles
from xinyong.runtime import warehouse

pytestmark = pytest.mark.integration

RIC = re.compile(r"[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]")
NOT_LIVE = ("raw", "audit", "staging", "intermediate", "policy", "publish_prev")


@pytest.fixture(scope="module")
def published(pg_server, tmp_path_factory):
    """The samples ingested and published twice (so `publish_prev` exists); built once per module."""
    with ingested_samples(pg_server, tmp_path_factory.mktemp("consumers")) as (url, settings):
        first = pipeline.publish_candidate(
            pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
        )
        second = pipeline.publish_candidate(
            pipeline.audit_candidate(pipeline.build_candidate(EVALUATION_DATE))
        )
        clients.prepare(url)  # the API role's grants outside the publication, as `xinyong api` makes them
        assert query(url, "select count(*) from pg_namespace where nspname = 'publish_prev'") == [(1,)]
        yield {"url": url, "settings": settings, "first": first, "second": second}


def as_role(url: str, role: str):
    conn = psycopg2.connect(role_url(url, role))
    conn.autocommit = True
    return conn


def refused(conn, statement) -> bool:
    with conn.cursor() as cur:
        try:
            cur.execute(statement)
        except psycopg2.errors.InsufficientPrivilege:
            return True
    return False


def tables(url: str, schema: str) -> list[str]:
    return [
        t
        for (t,) in query(
            url,
            """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                                        where n.nspname = %s and c.relkind in ('r', 'v', 'm') order by 1""",
            (schema,),
        )
    ]


def columns(url: str, table: str) -> list[str]:
    return [
        c
        for (c,) in query(
            url,
            """select column_name from information_schema.columns
                                       where table_schema = 'publish' and table_name = %s
                                       order by ordinal_position""",
            (table,),
        )
    ]


def readers() -> list[consumers.Consumer]:
    return [c for c in consumers.load() if c.grants]


def test_every_declared_role_exists_and_the_publication_has_its_grants(published):
    url = published["url"]
    declared = {c.role for c in readers()}
    assert declared == {"bi_reader", "loan_platform", "public_website", "credit_api"}
    assert {
        r for (r,) in query(url, "select rolname from pg_roles where rolname = any(%s)", (list(declared),))
    } == declared
    granted = query(
        url,
        """select artifacts->'grants' from audit.publications where publication_id = %s""",
        (published["second"]["publication_id"],),
    )[0][0]
    assert granted == {c.role: [t for t in c.tables if t in tables(url, "publish")] for c in readers()}


@pytest.mark.parametrize("role", ["bi_reader", "loan_platform", "public_website", "credit_api"])
def test_role_logs_in_with_its_own_password_only(published, role):
    """Every role asks for its password: none, a guess or the platform's are refused."""
    params = warehouse.connection_parameters(role_url(published["url"], role))
    psycopg2.connect(**params).close()
    platform_password = warehouse.connection_parameters(published["url"])["password"]
    for password in (None, "guess", platform_password):
        with pytest.raises(
            psycopg2.OperationalError, match="no password supplied|password authentication failed"
        ):
            psycopg2.connect(**{**params, "password": password})


@pytest.mark.parametrize("role", ["bi_reader", "loan_platform", "public_website", "credit_api"])
def test_role_reads_exactly_its_declared_tables_rows_and_columns(published, role):
    url = published["url"]
    consumer = next(c for c in readers() if c.role == role)
    conn = as_role(url, role)
    live = tables(url, "publish")
    assert set(consumer.tables) <= set(live), "a declared table is not built"
    for table in live:
        target = sql.Identifier("publish", table)
        if table not in consumer.tables:
            assert refused(conn, sql.SQL("select 1 from {} limit 1").format(target)), (role, table)
            continue
        access = consumer.tables[table]
        visible = [c for c in columns(url, table) if c not in access.hidden_columns]
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("select {} from {}").format(sql.SQL(", ").join(map(sql.Identifier, visible)), target)
            )
            seen = sorted(cur.fetchall(), key=repr)
        # the row filter holds: the role sees exactly the rows its declaration grants, no more
        expected = query(
            url,
            sql.SQL("select {} from {} where {}").format(
                sql.SQL(", ").join(map(sql.Identifier, visible)), target, sql.SQL(access.rows)
            ),
        )
        assert seen == sorted(expected, key=repr), (role, table)
        for hidden in access.hidden_columns:
            assert refused(conn, sql.SQL("select {} from {}").format(sql.Identifier(hidden), target)), (
                role,
                hidden,
            )
        if access.hidden_columns:
            assert refused(conn, sql.SQL("select * from {}").format(target))
        # asked, not tried: a view over kept rows (macros/published_rows.sql) refuses a delete
        # for want of a table before it asks about privileges
        assert not query(url, "select has_table_privilege(%s, %s, 'delete')", (role, f"publish.{table}"))[0][
            0
        ]
    for schema in NOT_LIVE:
        others = tables(url, schema)
        assert others or schema == "policy", schema
        for table in others:
            granted = next(
                (p for p, names in roles.API_PRIVILEGES.items() if f"{schema}.{table}" in names), ""
            )
            if consumer.api and granted == "select, insert":
                continue  # the API appends to its audit table (tests/integration/test_api.py)
            if consumer.api and granted.startswith("select ("):
                # the publication's day and time for the credit report, no other column of it
                target = sql.Identifier(schema, table)
                assert refused(conn, sql.SQL("select * from {}").format(target)), (role, schema, table)
                continue
            assert refused(conn, sql.SQL("select 1 from {} limit 1").format(sql.Identifier(schema, table))), (
                role,
                schema,
                table,
            )
    conn.close()


def test_public_website_never_sees_a_natural_persons_key(published):
    url = published["url"]
    people = query(url, "select count(*) from publish.penalty_disclosure where subject_category = '自然人'")[
        0
    ][0]
    assert people > 0
    website = as_role(url, "public_website")
    with website.cursor() as cur:
        cur.execute("select count(*) from publish.penalty_disclosure where subject_category = '自然人'")
        assert cur.fetchone()[0] == people  # the disclosure itself (masked) is public
    assert refused(website, "select entity_key from publish.penalty_disclosure")
    assert refused(website, "select count(*) from publish.penalty_disclosure where entity_key is not null")
    website.close()


def loan_platform_view(url: str) -> dict[str, list[dict]]:
    """Every row and column the loan platform can read, read as the loan platform."""
    conn = as_role(url, "loan_platform")
    view = {}
    with conn.cursor() as cur:
        for table, access in consumers_of("loan_platform").tables.items():
            visible = [c for c in columns(url, table) if c not in access.hidden_columns]
            cur.execute(
                sql.SQL("select {} from {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, visible)), sql.Identifier("publish", table)
                )
            )
            names = [d.name for d in cur.description]
            view[table] = [dict(zip(names, row, strict=False)) for row in cur.fetchall()]
    conn.close()
    return view


def consumers_of(name: str) -> consumers.Consumer:
    return next(c for c in consumers.load() if c.name == name)


def test_loan_platform_sees_individual_businesses_everywhere_and_no_person(published):
    url = published["url"]
    assert "rural_credit_household" not in consumers_of("loan_platform").tables
    view = loan_platform_view(url)
    # an 个体工商户 is a business: visible in the profile and among the candidates alike
    for table in ("entity_credit_profile", "loan_candidates"):
        everyone = query(
            url,
            sql.SQL("select count(*) from {} where entity_type = '个体工商户'").format(
                sql.Identifier("publish", table)
            ),
        )[0][0]
        assert everyone > 0, table
        assert sum(r["entity_type"] == "个体工商户" for r in view[table]) == everyone, table
    # never a natural person: every subject has a 统一社会信用代码 and a published profile
    profiled = {r["entity_key"] for r in view["entity_credit_profile"]}
    for table, rows in view.items():
        assert rows, table
        assert {r["entity_key"] for r in rows} <= profiled, table
        assert all(r["uscc"] for r in rows if "uscc" in r), table
    # and no operator's personal field: no name of a 经营者/法定代表人, no ID number, in any cell
    operators = {
        n
        for (n,) in query(
            url, "select legal_representative from raw.entity_register where legal_representative is not null"
        )
    }
    assert len(operators) > 10
    cells = [v for rows in view.values() for r in rows for v in r.values() if isinstance(v, str)]
    assert not [v for v in cells if v in operators or RIC.search(v)]


def test_row_security_keeps_a_natural_person_from_the_loan_platform(published):
    """A natural person slipped into the published tables (no USCC) stays invisible to the
    loan platform on every filtered table, and visible to BI (the owner is not filtered)."""
    url = published["url"]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""insert into publish.entity_credit_profile (entity_key, uscc, entity_name, entity_type, score, tier)
                       values ('person-probe', null, '张*', '自然人', 900, 'A')""")
        cur.execute("""insert into publish.loan_candidates (entity_key, uscc, entity_name, entity_type, tier)
                       values ('person-probe', null, '张*', '自然人', 'A')""")
        cur.execute("""insert into publish.black_list (entity_key, uscc, entity_name, reason_code)
                       values ('person-probe', null, '张*', 'PEN_SERIOUS')""")
    try:
        filtered = [
            t for t, a in consumers_of("loan_platform").tables.items() if a.rows != consumers.ALL_ROWS
        ]
        assert set(filtered) == {"entity_credit_profile", "loan_candidates", "black_list"}
        loan, bi = as_role(url, "loan_platform"), as_role(url, "bi_reader")
        for table in filtered:
            probe = sql.SQL("select count(*) from {} where entity_key = 'person-probe'").format(
                sql.Identifier("publish", table)
            )
            with loan.cursor() as cur:
                cur.execute(probe)
                assert cur.fetchone()[0] == 0, table
            with bi.cursor() as cur:
                cur.execute(probe)
                assert cur.fetchone()[0] == 1, table
        loan.close()
        bi.close()
    finally:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            for table in ("entity_credit_profile", "loan_candidates", "black_list"):
                cur.execute(
                    sql.SQL("delete from {} where entity_key = 'person-probe'").format(
                        sql.Identifier("publish", table)
                    )
                )


def test_no_role_reads_a_published_table_the_declaration_does_not_name(published):
    url = published["url"]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        assert roles.undeclared_readers(cur) == []
        # no declared role reads anything outside `publish`, but the API what it keeps there
        cur.execute(
            """select r.rolname, n.nspname, c.relname from pg_class c
                       join pg_namespace n on n.oid = c.relnamespace cross join pg_roles r
                       where r.rolname = any(%s) and n.nspname <> 'publish'
                         and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%%'
                         and c.relkind in ('r', 'p', 'v', 'm')
                         and has_any_column_privilege(r.oid, c.oid, 'select')""",
            ([c.role for c in readers()],),
        )
        api_objects = {
            (roles.api_role(), *name.split("."))
            for privilege, names in roles.API_PRIVILEGES.items()
            if privilege.startswith("select")
            for name in names
        }
        assert set(cur.fetchall()) == api_objects
        # the check sees a grant nobody declared, whoever makes it
        cur.execute("""do $$ begin
                         if not exists (select 1 from pg_roles where rolname = 'stray_reader') then
                           create role stray_reader;
                         end if;
                       end $$""")
        cur.execute("grant select (score) on publish.red_list to stray_reader")
        cur.execute("grant select on publish.rural_credit_household to loan_platform")
        assert roles.undeclared_readers(cur) == [
            ("loan_platform", "rural_credit_household"),
            ("stray_reader", "red_list"),
        ]
        cur.execute("grant select on publish.parking_credit to public")
        assert {("loan_platform", "parking_credit"), ("public_website", "parking_credit")} <= set(
            roles.undeclared_readers(cur)
        )
        # re-applying the declaration takes every undeclared privilege away again
        roles.apply(cur, "publish")
        assert roles.undeclared_readers(cur) == []
        conn.rollback()


def test_loan_platform_outbox_holds_exactly_its_declared_tables_rows_and_columns(published):
    url, settings = published["url"], published["settings"]
    pid = published["second"]["publication_id"]
    folders = published["second"]["artifacts"]["outbox"]
    assert set(folders) == {c.name for c in consumers.load() if c.outbox} == {"loan_platform"}
    folder = outbox.folder(settings, "loan_platform", pid)
    assert folders["loan_platform"] == str(folder) and folder.parent.name == "loan_platform"
    declared = consumers_of("loan_platform").tables
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(["manifest.json"] + [f"{t}.{s}" for t in declared for s in ("csv", "parquet")])
    view = loan_platform_view(url)
    for table in declared:
        extract = pq.read_table(folder / f"{table}.parquet").to_pylist()
        assert list(extract[0]) == list(view[table][0]), table  # the same columns, in order
        assert sorted(map(repr, extract)) == sorted(map(repr, view[table])), table
        with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == list(view[table][0]) and len(rows) - 1 == len(view[table]), table
    assert outbox.write(url, settings, pid, EVALUATION_DATE) == {
        "loan_platform": folder
    }  # once per publication


def test_a_row_filter_on_a_mart_published_as_a_view_is_refused_by_name(published, monkeypatch):
    """Row-level security needs a table: the views over kept rows (macros/published_rows.sql)
    cannot carry a consumer's row filter, and saying so beats a bare PostgreSQL error."""
    declared = consumers.load()
    filtered = [
        dataclasses.replace(
            c,
            tables={**c.tables, "credit_score_explanation": consumers.TableAccess(rows="points < 0")},
        )
        if c.role == "bi_reader"
        else c
        for c in declared
    ]
    monkeypatch.setattr(roles.declaration, "load", lambda: tuple(filtered))
    with warehouse.transaction(published["url"]) as conn, conn.cursor() as cur:
        with pytest.raises(ValueError, match="credit_score_explanation is published as a view"):
            roles.apply(cur)
        conn.rollback()
