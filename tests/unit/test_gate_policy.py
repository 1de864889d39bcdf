"""The personal-data scan reads a declared candidate table in proportion to what was rewritten
in its source (expectations/sql/gates.sql): sound only while each row of that table, and every
text in it, comes from one row of the source (a copy or a filter of it, or a view over the rows
of a kept model a build publishes whose store is the source), which is what the model files say."""

import re

from xinyong.publication import build, gates

PUBLISH = build.DBT_PROJECT / "models" / "marts" / "publish"
REF = re.compile(r"\{\{\s*ref\('([^']+)'\)\s*\}\}")
# the rows of a kept model a build publishes (macros/published_rows.sql), from its store
PUBLISHED_ROWS = re.compile(r"\{\{\s*published_rows\(ref\('([^']+)'\)\)\s*\}\}")
MACRO_CALL = re.compile(r"\{\{\s*(\w+)\(")
# what would take rows, or text, from more than one source row (a subquery over a model shows
# as a second ref)
MIXING = re.compile(
    r"\b(join|group by|union|intersect|except|distinct|having|lag|lead|first_value|last_value|nth_value"
    r"|string_agg|array_agg|json_agg|jsonb_agg)\b",
    re.I,
)
# macros a declared model may call; objection_flag_join's join adds the flag and the case id
# of an objection beside the row, never text (checked below)
ALLOWED_MACROS = {"ref", "published_rows", "evaluation_date", "objection_flag_join", "objection_flag_columns"}


def _code(path) -> str:
    return "\n".join(line.split("--", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())


def test_each_incrementally_scanned_table_takes_its_rows_and_texts_from_one_source_row():
    declared = gates.policy()["personal_data_incremental"]
    assert declared, "nothing declared: every table is scanned whole"
    for table, spec in declared.items():
        code = _code(PUBLISH / f"{table}.sql")
        schema, source = spec["source"].split(".")
        assert schema == "intermediate"
        if PUBLISHED_ROWS.search(code):
            assert source == f"{table}__rows", table  # the view's store, which the build writes
            [kept] = PUBLISHED_ROWS.findall(code)
            assert not REF.findall(code), table
        else:
            assert REF.findall(code) == [source], table
            kept = source
        # filtered and numbered, never joined, grouped or mixed across rows
        assert not MIXING.search(code), (table, MIXING.search(code))
        assert set(MACRO_CALL.findall(code)) <= ALLOWED_MACROS, table
        assert re.search(rf"\b{spec['key']}\b", code), table
        model = next((build.DBT_PROJECT / "models" / "intermediate").rglob(f"{kept}.sql")).read_text(
            encoding="utf-8"
        )
        # kept from build to build and rewritten per entity (macros/incremental_by_entity.sql)
        assert "incremental_strategy='changed_entities'" in model.replace('"', "'"), kept


def test_an_objections_flag_beside_a_scanned_row_carries_no_text():
    macros = (build.DBT_PROJECT / "macros" / "objection_flag.sql").read_text(encoding="utf-8")
    columns = macros.split("macro objection_flag_columns", 1)[1].split("endmacro", 1)[0]
    casts = re.findall(r"::(\w+)", columns)
    assert casts and set(casts) <= {"boolean", "bigint"}, casts


def test_every_view_over_published_rows_is_scanned_in_proportion():
    """Its store is there to be read by the day's changes; a view left out is read whole."""
    declared = gates.policy()["personal_data_incremental"]
    views = {path.stem for path in PUBLISH.glob("*.sql") if PUBLISHED_ROWS.search(_code(path))}
    assert views, "no view over published rows found: the pattern no longer matches the marts"
    assert views <= set(declared), sorted(views - set(declared))
