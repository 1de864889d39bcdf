"""The personal-data scan reads a declared candidate table in proportion to what was rewritten
in its source (expectations/sql/gates.sql): sound only while that table is a row-for-row copy
of the source and nothing else, or a view over the rows of a kept model a build publishes
whose store is the source, which is what the model files say."""

import re

from xinyong.publication import build, gates

REF = re.compile(r"\{\{\s*ref\('([^']+)'\)\s*\}\}")
# the rows of a kept model a build publishes (macros/published_rows.sql), from its store
PUBLISHED_ROWS = re.compile(r"\{\{\s*published_rows\(ref\('([^']+)'\)\)\s*\}\}")


def test_each_incrementally_scanned_table_copies_its_declared_source_and_nothing_else():
    declared = gates.policy()["personal_data_incremental"]
    assert declared, "nothing declared: every table is scanned whole"
    for table, spec in declared.items():
        sql = (build.DBT_PROJECT / "models" / "marts" / "publish" / f"{table}.sql").read_text(
            encoding="utf-8"
        )
        code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
        schema, source = spec["source"].split(".")
        assert schema == "intermediate"
        # one source, no join, no filter, no grouping: each row of the table is one source row
        if PUBLISHED_ROWS.search(code):
            assert source == f"{table}__rows", table  # the view's store, which the build writes
            [kept] = PUBLISHED_ROWS.findall(code)
            assert not REF.findall(code), table
        else:
            assert REF.findall(code) == [source], table
            kept = source
        assert not re.search(r"\b(join|where|group by|union|distinct|having)\b", code, re.I), table
        assert re.search(rf"\b{spec['key']}\b", code), table
        model = next((build.DBT_PROJECT / "models" / "intermediate").rglob(f"{kept}.sql")).read_text(
            encoding="utf-8"
        )
        # kept from build to build and rewritten per entity (macros/incremental_by_entity.sql)
        assert "incremental_strategy='changed_entities'" in model.replace('"', "'"), kept
