"""The documentation of a publication: column descriptions as PostgreSQL comments on the live
tables (persist_docs, carried through the swap) and dbt's static docs with the index page."""

import yaml

from tests.conftest import query
from tests.integration.publication_fixtures import publish_once
from xinyong.app import pipeline
from xinyong.publication import build, schemas


def _described(model: str) -> dict:
    spec = yaml.safe_load((build.DBT_PROJECT / "models" / "marts" / "publish" / f"{model}.yml").read_text())
    (entry,) = [m for m in spec["models"] if m["name"] == model]
    return entry


def test_descriptions_are_comments_on_the_live_tables_and_docs_are_written(loaded, settings):
    published = publish_once()
    model = _described("entity_credit_profile")
    tier = next(c for c in model["columns"] if c["name"] == "tier")
    rows = query(
        loaded,
        """select obj_description(c.oid, 'pg_class'), col_description(c.oid, a.attnum)
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = c.oid and a.attname = 'tier'
           where n.nspname = %s and c.relname = 'entity_credit_profile'""",
        (schemas.LIVE,),
    )
    assert rows == [(model["description"].strip(), tier["description"].strip())]
    # as the BI consumer's tools read them: every column of every live table commented
    (uncommented,) = query(
        loaded,
        """select count(*) from information_schema.columns
           where table_schema = %s and col_description(format('%%I.%%I', table_schema, table_name)::regclass,
                                                      ordinal_position) is null""",
        (schemas.LIVE,),
    )[0]
    assert uncommented == 0

    written = pipeline.document_publication(published)
    index = settings.home / "docs" / "index.html"
    assert written == {"docs": str(index)}
    page = index.read_text(encoding="utf-8")
    assert 'href="dbt.html"' in page and f"publication_{published['publication_id']}.html" in page
    assert "Data Docs" in page and "index.html" in page
    dbt_docs = (index.parent / "dbt.html").read_text(encoding="utf-8")
    assert "entity_credit_profile" in dbt_docs and len(dbt_docs) > 500_000  # one self-contained file


def test_a_docs_failure_is_logged_not_raised(settings, monkeypatch):
    # dbt cannot even load its project: the task returns the error instead of failing the run
    monkeypatch.setenv("XINYONG_WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(build, "DBT_PROJECT", settings.home / "no-such-project")
    outcome = pipeline.document_publication({"publication_id": 7, "evaluation_date": "2026-11-22"})
    assert outcome["docs"] is None and "no-such-project" in outcome["error"]
    assert not (settings.home / "docs" / "index.html").exists()
